-- expect: refused by the guard
EXPLAIN ANALYZE SELECT * FROM query /* hide the call */ ('SELECT 1')
