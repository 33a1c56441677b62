-- expect: refused by the guard
EXPLAIN ANALYZE SELECT * FROM "query" ('SELECT 1')
