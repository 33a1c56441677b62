-- expect: refused
-- nothing but comments
/* and more */
