import sqlite3


def nightly(path):
    with sqlite3.connect(
        path,
        timeout=30,
    ) as conn:
        conn.execute("delete from log")
    with sqlite3.connect(path) as conn:
        conn.execute("vacuum")


with sqlite3.connect("jobs.db") as conn:
    conn.execute("select 1")
