"""Export customers to CSV over SQLite: needless materialization that dbleak flags (DBL3xx).

`dbleak check examples/export.py` reports three lists built only to be walked, counted or read
once (DBL301, DBL303, DBL304); `dbleak check --fix examples/export.py` streams the generator
and counts without keeping rows, and `--unsafe-fixes` also takes the first row with `next()`.
The output is the same before and after. Run it with `python examples/export.py`.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from contextlib import closing
from typing import Iterator


def create_demo_database(conn: sqlite3.Connection) -> None:
    """A few customers, some of them inactive."""
    conn.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "email TEXT NOT NULL, active INTEGER NOT NULL)")
    conn.executemany(
        "INSERT INTO customer (name, email, active) VALUES (?, ?, ?)",
        [(f"customer {n}", f"c{n}@example.com", n % 3 != 0) for n in range(1, 11)],
    )


def active_customers(conn: sqlite3.Connection) -> Iterator[tuple[int, str, str]]:
    """Stream the active customers: one row in memory at a time."""
    for row in conn.execute("SELECT id, name, email FROM customer WHERE active ORDER BY id"):
        yield row


def export_csv(conn: sqlite3.Connection) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "name", "email"])
    # The generator streams; `list()` pulls every customer into memory first (DBL301).
    rows = list(active_customers(conn))
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def main() -> None:
    with closing(sqlite3.connect(":memory:")) as conn:
        create_demo_database(conn)
        print(export_csv(conn), end="")
        # A list of every customer, only to count them (DBL303).
        print("active customers:", len(list(active_customers(conn))))
        # A list of every customer, only to read the first (DBL304).
        print("first:", list(active_customers(conn))[0][1])


if __name__ == "__main__":
    main()
