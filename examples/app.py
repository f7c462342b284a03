"""A small inventory service over SQLite: the kind of code dbleak is for.

Run it with `python examples/app.py`; check it with `dbleak check examples/`.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL
);
"""


def init_db(path: str) -> None:
    # Looks like it closes the connection; sqlite3's `with` only commits.
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)


def add_item(path: str, name: str, quantity: int) -> int:
    with sqlite3.connect(path) as conn:
        cursor = conn.execute(
            "INSERT INTO items (name, quantity) VALUES (?, ?)", (name, quantity)
        )
        return int(cursor.lastrowid or 0)


def restock(path: str, item_id: int, amount: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE items SET quantity = quantity + ? WHERE id = ?", (amount, item_id)
        )


def item_count(path: str) -> int:
    # Never closed: the connection lives until garbage collection.
    conn = sqlite3.connect(path)
    return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])


def low_stock(path: str, threshold: int) -> list[str]:
    # Closed only when the query does not raise.
    conn = sqlite3.connect(path)
    names = [name for (name,) in conn.execute(
        "SELECT name FROM items WHERE quantity < ? ORDER BY name LIMIT 50", (threshold,))]
    conn.close()
    return names


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    path = str(folder / "inventory.db")
    init_db(path)
    first = add_item(path, "bolts", 100)
    add_item(path, "nuts", 250)
    restock(path, first, 20)
    print(f"{item_count(path)} items; low stock: {', '.join(low_stock(path, 200)) or 'none'}")
    with closing(sqlite3.connect(path)) as conn:
        for name, quantity in conn.execute("SELECT name, quantity FROM items ORDER BY id"):
            print(f"{name}: {quantity}")


if __name__ == "__main__":
    main()
