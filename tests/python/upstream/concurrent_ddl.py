"""Processes creating tables and views in one PostgreSQL-catalogued lake at
once: DuckLake 0.3 joined the change lists of the snapshots that won without
a separator and failed to parse them ("Failed to parse catalog entry -
trailing data after quoted value", duckdb/ducklake#756)."""
import argparse
import subprocess
import sys
import tempfile

import duckdb

from lakes import arguments, connect, fresh_database, verdict

WORKERS, ROUNDS = 4, 15


def options(p):
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    p.add_argument("--metadata", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)


a = arguments(__doc__, pg=True, extra=options)
if a.worker is not None:
    con = connect(a.extensions, a.metadata, a.data)
    garbled = 0
    for i in range(ROUNDS):
        s = f'l."s{a.worker}_{i}"'
        try:
            con.execute(f'BEGIN; CREATE SCHEMA {s}; CREATE TABLE {s}."t x" (a INTEGER, "b c" VARCHAR); '
                        f'CREATE VIEW {s}."v y" AS SELECT * FROM {s}."t x"; COMMIT')
        except duckdb.Error as e:
            garbled += "Failed to parse catalog entry" in str(e)
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
    print(garbled)
    raise SystemExit(0)

if not a.pg:
    raise SystemExit("needs --pg")
with tempfile.TemporaryDirectory() as d:
    metadata = "postgres:" + fresh_database(a.pg, "upstream_concurrent_ddl")
    connect(a.extensions, metadata, f"{d}/files/").close()
    base = [sys.executable, __file__, "--extensions", a.extensions, "--metadata", metadata, "--data", f"{d}/files/"]
    workers = [subprocess.Popen(base + ["--worker", str(w)], stdout=subprocess.PIPE, text=True) for w in range(WORKERS)]
    garbled = sum(int(w.communicate()[0]) for w in workers)
    verdict(garbled == 0, f"{WORKERS} processes x {ROUNDS} transactions creating a schema, table and view: "
                          f"{garbled} failed with 'Failed to parse catalog entry'")
