-- expect: refused
COPY (SELECT 1) TO '/tmp/fuzz-copy.csv'
