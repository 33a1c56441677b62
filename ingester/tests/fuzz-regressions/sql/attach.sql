-- expect: refused
ATTACH '/tmp/fuzz-evil.duckdb' AS evil
