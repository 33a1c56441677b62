"""`ducklake_flush_inlined_data` while other writers insert small (inlined)
batches must neither lose nor duplicate a row. DuckLake 0.3 duplicated rows
a commit inserted during a flush in the same process (duckdb/ducklake#650),
and, across processes on a PostgreSQL catalog, left the flushed rows twice
when the flush's commit lost a race (its retry did not redo the delete)."""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

import duckdb

from lakes import arguments, connect, fresh_database, verdict

INSERTS, ROWS = 150, 20


def options(p):
    p.add_argument("--processes", action="store_true", help="two inserting processes and a flushing one (needs --pg)")
    p.add_argument("--role", help=argparse.SUPPRESS)
    p.add_argument("--metadata", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)


a = arguments(__doc__, pg=True, extra=options)


def insert(con, writer):
    for i in range(INSERTS):
        for _ in range(50):  # a write conflict rolls back: try again
            try:
                con.execute(f"INSERT INTO l.t SELECT {writer} * 1000000 + {i} * 100 + r FROM range({ROWS}) t(r)")
                break
            except duckdb.Error:
                time.sleep(0.02)


def flush_until(con, stop):
    n = 0
    while not stop():
        try:
            con.execute("CALL ducklake_flush_inlined_data('l')")
            n += 1
        except duckdb.Error:
            pass  # lost a race: nothing was committed
    return n


if a.role in ("insert0", "insert1"):
    insert(connect(a.extensions, a.metadata, a.data), int(a.role[-1]))
    raise SystemExit(0)
if a.role == "flush":
    n = flush_until(connect(a.extensions, a.metadata, a.data), lambda: os.path.exists(a.data + "stop"))
    print(n)
    raise SystemExit(0)

with tempfile.TemporaryDirectory() as d:
    data = f"{d}/files/"
    os.makedirs(data)
    if a.processes:
        if not a.pg:
            raise SystemExit("--processes needs --pg")
        metadata = "postgres:" + fresh_database(a.pg, "upstream_flush_race")
    else:
        metadata = f"{d}/c.ducklake"
    con = connect(a.extensions, metadata, data)
    con.execute("CREATE TABLE l.t (k BIGINT)")
    if a.processes:
        con.close()
        base = [sys.executable, __file__, "--extensions", a.extensions, "--metadata", metadata, "--data", data]
        writers = [subprocess.Popen(base + ["--role", f"insert{w}"]) for w in (0, 1)]
        flusher = subprocess.Popen(base + ["--role", "flush"], stdout=subprocess.PIPE, text=True)
        for w in writers:
            w.wait()
        open(data + "stop", "w").close()
        flushes = int(flusher.communicate()[0])
        con = connect(a.extensions, metadata, data)
        expected, what = 2 * INSERTS * ROWS, "two processes inserting, a third flushing"
    else:
        done = []
        writer = threading.Thread(target=lambda: insert(con.cursor(), 0))
        counted = []
        flusher = threading.Thread(target=lambda: counted.append(flush_until(con.cursor(), lambda: bool(done))))
        writer.start()
        flusher.start()
        writer.join()
        done.append(True)
        flusher.join()
        flushes = counted[0]
        expected, what = INSERTS * ROWS, "one connection inserting, another flushing"
    total, distinct = con.execute("SELECT count(*), count(DISTINCT k) FROM l.t").fetchone()
    verdict(total == expected == distinct and flushes > 0,
            f"{what}: {flushes} flushes, {total} rows ({distinct} distinct) for {expected} inserted")
