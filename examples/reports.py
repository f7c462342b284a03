"""Monthly sales report over SQLite: an unbounded read that dbleak flags (DBL201).

`dbleak check examples/reports.py` reports the `fetchall()` of every order;
`dbleak check --fix examples/reports.py` iterates the cursor instead, with the same result.
Run it with `python examples/reports.py`.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from collections import defaultdict
from contextlib import closing
from pathlib import Path

ORDERS_BY_MONTH = """
    SELECT substr(created, 1, 7) AS month, customer, amount_cents
    FROM orders
    ORDER BY created
"""


def create_demo_database(path: str) -> None:
    """A small shop database: a few customers and a year of orders."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, created TEXT NOT NULL, "
                     "customer TEXT NOT NULL, amount_cents INTEGER NOT NULL)")
        conn.executemany(
            "INSERT INTO orders (created, customer, amount_cents) VALUES (?, ?, ?)",
            [(f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}", ("ada", "bob", "cy")[i % 3],
              100 + (i * 37) % 900) for i in range(600)],
        )


def monthly_report(path: str) -> dict[str, dict[str, int]]:
    """Revenue per month and customer, in cents."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with closing(sqlite3.connect(path)) as conn:
        cur = conn.cursor()
        cur.execute(ORDERS_BY_MONTH)
        # Every order of every year becomes one Python list before the first is added up.
        for month, customer, amount in cur.fetchall():
            totals[month][customer] += amount
    return {month: dict(by_customer) for month, by_customer in totals.items()}


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "shop.db")
        create_demo_database(path)
        for month, by_customer in sorted(monthly_report(path).items()):
            print(month, ", ".join(f"{name}: {cents / 100:.2f}"
                                   for name, cents in sorted(by_customer.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
