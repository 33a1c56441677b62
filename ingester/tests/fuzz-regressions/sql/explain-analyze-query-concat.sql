-- expect: refused by the guard
-- EXPLAIN ANALYZE runs the call; on a lake the string could be 'duckl' || 'ake_expire_snapshots(...)'.
EXPLAIN ANALYZE SELECT * FROM query/**/('SELECT 4' || '2 AS answer')
