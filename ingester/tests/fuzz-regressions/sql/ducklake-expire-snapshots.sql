-- expect: refused
SELECT * FROM ducklake_expire_snapshots('lake', older_than => now())
