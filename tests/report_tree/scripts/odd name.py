import sqlite3


def main():
    with sqlite3.connect("ünïcode.db") as conn:  # a comment
        conn.execute("select 1")
