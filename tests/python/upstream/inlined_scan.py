"""DuckLake 0.3 ended a filtered scan of a table's inlined rows at the first
2048-row vector in which no row passed the filter: ten inlined 300-row
inserts, `WHERE seq > 7` found none of the 600 rows of inserts 8 and 9."""
import tempfile

from lakes import arguments, connect, verdict

a = arguments(__doc__)
with tempfile.TemporaryDirectory() as d:
    con = connect(a.extensions, f"{d}/c.ducklake", f"{d}/files/")
    con.execute("CREATE TABLE l.t (seq INTEGER, h VARCHAR)")
    for i in range(10):
        con.execute(f"INSERT INTO l.t SELECT {i}, md5(({i} * 1000 + r)::VARCHAR) FROM range(300) t(r)")
    files = con.execute("SELECT count(*) FROM ducklake_list_files('l', 't')").fetchone()[0]
    late = con.execute("SELECT count(*) FROM l.t WHERE seq > 7").fetchone()[0]
    last = con.execute("SELECT count(*) FROM l.t WHERE h = md5((9 * 1000 + 299)::VARCHAR)").fetchone()[0]
    verdict(files == 0 and late == 600 and last == 1,
            f"3,000 inlined rows ({files} files): seq > 7 finds {late} of 600, the last row's hash {last} of 1")
