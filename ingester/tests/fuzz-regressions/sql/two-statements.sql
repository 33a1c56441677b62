-- expect: refused
SELECT 1; DROP TABLE mainnet.ledgers_row_v2
