-- expect: accepted
SELECT 1 -- the wrapper must not be swallowed by this comment
