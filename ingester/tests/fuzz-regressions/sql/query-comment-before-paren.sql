-- expect: refused by the guard
SELECT * FROM query/**/('SELECT 1')
