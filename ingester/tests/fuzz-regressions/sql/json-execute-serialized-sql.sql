-- expect: refused by the guard
-- Runs SQL built at run time; on a lake that could be 'duckl' || 'ake_expire_snapshots(...)'.
SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 4' || '2 AS answer'))
