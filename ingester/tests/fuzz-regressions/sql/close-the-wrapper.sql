-- expect: refused
SELECT * FROM mainnet.ledgers_row_v2) AS q LIMIT 1000000 --
