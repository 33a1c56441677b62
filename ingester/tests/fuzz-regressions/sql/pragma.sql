-- expect: refused
PRAGMA enable_profiling
