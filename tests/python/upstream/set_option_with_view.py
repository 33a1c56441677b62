"""DuckLake 1.0 (DuckDB 1.5.5) crashes the process with SIGSEGV when
`ducklake_set_option(.., 'data_inlining_row_limit', ..)` is bound on a lake
whose schema holds a view: the option's validation walks every catalog entry
as a table (`ValidateNoReservedInliningColumns`). The bind runs while a
statement is prepared, so a server that prepared a query before refusing it
would die. The call runs in a child process, which the crash kills."""
import subprocess
import sys
import tempfile

from lakes import arguments, verdict

CHILD = """
import sys
sys.path.insert(0, {here!r})
from lakes import connect
con = connect({ext!r}, {d!r} + "/c.ducklake", {d!r} + "/files/")
con.execute("CREATE TABLE l.t (a INTEGER); CREATE VIEW l.v AS SELECT a FROM l.t")
con.execute("SELECT * FROM ducklake_set_option('l', 'data_inlining_row_limit', 5)").fetchall()
"""

a = arguments(__doc__)
here = sys.path[0]
with tempfile.TemporaryDirectory() as d:
    child = subprocess.run([sys.executable, "-c", CHILD.format(here=here, ext=a.extensions, d=d)],
                           capture_output=True, text=True)
    verdict(child.returncode == 0,
            f"ducklake_set_option('data_inlining_row_limit') on a lake with a view: exit {child.returncode}"
            + (f" ({child.stderr.strip()[-200:]})" if child.returncode not in (0, -11) else ""))
