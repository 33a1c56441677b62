-- expect: refused
SELECT 1) AS q; DROP TABLE mainnet.ledgers_row_v2; SELECT * FROM (SELECT 1
