"""Reads a DuckLake written by the ingester with the stock Python DuckDB
client (the bundled engine's release and the same extension wheels) and
prints, as one JSON object, the client's version, the lake's DuckLake format
version and the row count of each table: an independent reader of the
produced data.

Usage: read_lake.py --extensions DIR --catalog ducklake:... --data-path P
                    --schema S [--metadata-schema M]
                    [--s3-endpoint URL --s3-key-id K] TABLE...
The S3 secret comes from $LAKE_TEST_SECRET.
"""
import argparse
import json
import os

import duckdb

p = argparse.ArgumentParser()
p.add_argument("--extensions", required=True)
p.add_argument("--catalog", required=True)
p.add_argument("--data-path", required=True)
p.add_argument("--schema", required=True)
p.add_argument("--metadata-schema", help="the catalog's schema in a shared PostgreSQL")
p.add_argument("--s3-endpoint")
p.add_argument("--s3-key-id")
p.add_argument("tables", nargs="+")
a = p.parse_args()

con = duckdb.connect(config={
    "extension_directory": a.extensions,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
})
# parquet and json are compiled into the Python package.
con.execute("LOAD ducklake")
if a.catalog.startswith("ducklake:postgres:"):
    con.execute("LOAD postgres_scanner")
if a.s3_endpoint:
    con.execute("LOAD httpfs")
    con.execute("SET VARIABLE k = ?", [a.s3_key_id])
    con.execute("SET VARIABLE s = ?", [os.environ["LAKE_TEST_SECRET"]])
    con.execute("SET VARIABLE e = ?", [a.s3_endpoint.split("://", 1)[-1]])
    con.execute(
        "CREATE SECRET (TYPE s3, KEY_ID getvariable('k'), SECRET getvariable('s'), "
        "ENDPOINT getvariable('e'), REGION 'us-east-1', URL_STYLE 'path', USE_SSL false)"
    )
con.execute("SET VARIABLE m = ?", [a.catalog.removeprefix("ducklake:")])
con.execute("SET VARIABLE d = ?", [a.data_path])
con.execute("CREATE SECRET lake (TYPE ducklake, METADATA_PATH getvariable('m'), DATA_PATH getvariable('d'))")
options = "READ_ONLY"
if a.metadata_schema:
    options += ", METADATA_SCHEMA " + "'" + a.metadata_schema.replace("'", "''") + "'"
con.execute(f"ATTACH 'ducklake:lake' AS lake ({options})")
counts = {}
for t in a.tables:
    counts[t] = con.execute(f'SELECT count(*) FROM lake."{a.schema}"."{t}"').fetchone()[0]
version = con.execute("SELECT value FROM ducklake_options('lake') WHERE option_name = 'version'").fetchone()[0]
print(json.dumps({"duckdb_version": duckdb.__version__, "format_version": version, "counts": counts}))
