"""Data access: two connections whose `with` only ends the transaction."""

import sqlite3

import psycopg2


class Repository:
    def __init__(self, path):
        self.path = path

    def count(self):
        with sqlite3.connect(self.path) as conn:
            return conn.execute("select count(*) from items").fetchone()[0]


def load(dsn):
    with psycopg2.connect(dsn) as conn:
        cur = conn.cursor()
        cur.execute("select 1")
        register(conn)


def register(conn):
    pass
