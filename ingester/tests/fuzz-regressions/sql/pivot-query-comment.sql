-- expect: refused by the guard
PIVOT (SELECT * FROM query/**/('SELECT 1 AS a')) ON a IN (1) USING count(*)
