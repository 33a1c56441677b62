#!/usr/bin/env bash
# Fetches the DuckDB 1.5.5 extensions the ingester loads for DuckLake storage
# (ducklake; httpfs for s3:// data; postgres_scanner for a PostgreSQL catalog)
# from their PyPI wheels, duckdb-extension-<name>==1.5.5: DuckDB's own signed
# builds, which the ingester loads with signature checks on. Parquet and JSON
# are compiled into the ingester and need nothing here.
#
# They go into DuckDB's directory layout, DIR/v1.5.5/<platform>/<name>.duckdb_extension,
# so the stock DuckDB clients (Python, CLI) find them too.
#
# Usage: scripts/fetch-extensions.sh [DIR]   (default: .duckdb/extensions)
# Then set `ducklake.extension_directory: DIR` in the configuration, or
# DUCKLAKE_EXTENSION_DIR for the tests. The container image bakes the same
# files in. Re-running skips files present; files are written atomically.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${1:-.duckdb/extensions}"
DUCKDB="1.5.5"
case "$(uname -m)" in
  x86_64) PLATFORM=linux_amd64; WHEEL_PLATFORMS=(manylinux2014_x86_64 manylinux_2_28_x86_64) ;;
  aarch64) PLATFORM=linux_arm64; WHEEL_PLATFORMS=(manylinux2014_aarch64 manylinux_2_28_aarch64) ;;
  *) echo "ERROR: no DuckDB extension wheels for $(uname -m)" >&2; exit 1 ;;
esac
TARGET="$DIR/v$DUCKDB/$PLATFORM"
EXTENSIONS="ducklake httpfs postgres_scanner"

mkdir -p "$TARGET"
missing=()
for name in $EXTENSIONS; do
  [ -f "$TARGET/$name.duckdb_extension" ] || missing+=("$name")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "extensions present in $TARGET"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
specs=()
# PyPI spells the wheels with dashes: duckdb-extension-postgres-scanner.
for name in "${missing[@]}"; do specs+=("duckdb-extension-${name//_/-}==$DUCKDB"); done
platform_args=()
for p in "${WHEEL_PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
echo "fetching ${specs[*]} from PyPI"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  "${platform_args[@]}" --python-version 3.12 -d "$tmp" "${specs[@]}" || {
  echo "ERROR: pip could not download ${specs[*]} (PyPI reachable?)" >&2
  exit 1
}
python3 - "$tmp" "$TARGET" "$DUCKDB" "${missing[@]}" <<'EOF'
import glob, os, sys, zipfile
src, target, version, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
for name in wanted:
    wheels = glob.glob(os.path.join(src, f"duckdb_extension_{name}-{version}-*.whl"))
    if not wheels:
        sys.exit(f"ERROR: no wheel of duckdb-extension-{name}=={version} was downloaded")
    member = f"duckdb_extension_{name}/extensions/v{version}/{name}.duckdb_extension"
    with zipfile.ZipFile(wheels[0]) as z:
        if member not in z.namelist():
            sys.exit(f"ERROR: {os.path.basename(wheels[0])} holds no {member}")
        out = os.path.join(target, f"{name}.duckdb_extension")
        with z.open(member) as f, open(out + ".tmp", "wb") as o:
            o.write(f.read())
        os.replace(out + ".tmp", out)
        print("installed", out)
EOF
