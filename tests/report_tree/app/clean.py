import sqlite3
from contextlib import closing


def read(path):
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute("select 1").fetchall()
