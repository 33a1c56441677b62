"""Shared by the upstream reproductions: a stock DuckDB connection with a
DuckLake attached as `l`, the extensions loaded from a DuckDB-layout
directory (never downloaded)."""
import argparse
import subprocess

import duckdb


def arguments(description, pg=False, extra=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--extensions", required=True, help="extension directory (DuckDB layout)")
    if pg:
        p.add_argument("--pg", help="libpq conninfo of a PostgreSQL server (a fresh database is made in it)")
    if extra:
        extra(p)
    return p.parse_args()


def connect(extensions, metadata, data_path, inlining=1000):
    """`metadata`: a DuckDB file path or `postgres:<conninfo>`."""
    con = duckdb.connect(config={
        "extension_directory": extensions,
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
    })
    con.execute("LOAD ducklake")
    if metadata.startswith("postgres:"):
        con.execute("LOAD postgres_scanner")
    con.execute(
        f"ATTACH 'ducklake:{metadata}' AS l (DATA_PATH '{data_path}', DATA_INLINING_ROW_LIMIT {inlining})"
    )
    return con


def fresh_database(conninfo, name):
    """Recreates database `name` on the server of `conninfo`; returns its conninfo."""
    parts = dict(kv.split("=", 1) for kv in conninfo.split())
    admin = " ".join(f"{k}={v}" for k, v in parts.items() if k != "dbname") + " dbname=postgres"
    for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", "-q", "-d", admin, "-c", sql], check=True, capture_output=True)
    parts["dbname"] = name
    return " ".join(f"{k}={v}" for k, v in parts.items())


def verdict(ok, message):
    print(("fixed: " if ok else "BUG: ") + f"duckdb {duckdb.__version__}: {message}")
    raise SystemExit(0 if ok else 1)
