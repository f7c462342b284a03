"""DBL104's claim and fix, proven against the real sqlite3 module."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dbleak.api import check_source, fix_source
from dbleak.settings import Settings

PROGRAM = '''\
import sqlite3

def save(path, value):
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO t VALUES (?)", (value,))
    global LAST
    LAST = conn
'''
# `LAST` keeps the connection reachable so the test can probe it; it is set after the block,
# so DBL104 sees a use after the block. The probe program without it:
PLAIN = PROGRAM.replace("    global LAST\n    LAST = conn\n", "")

SETTINGS = Settings(select=("DBL104",))


def _run(source: str, db: Path) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(source, "program.py", "exec"), namespace)
    namespace["save"](str(db), 42)  # type: ignore[operator]
    return namespace


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t(x)")
    setup.close()
    return path


def _capture_connection(source: str) -> str:
    """Make the program hand its connection to the test through a module global after the block."""
    return source.replace(
        '        conn.execute("INSERT INTO t VALUES (?)", (value,))\n',
        '        conn.execute("INSERT INTO t VALUES (?)", (value,))\n'
        "    global LAST\n    LAST = conn\n",
    )


def test_original_with_block_leaves_the_connection_open(db: Path) -> None:
    namespace = _run(PROGRAM, db)
    conn = namespace["LAST"]
    assert isinstance(conn, sqlite3.Connection)
    # Still open: it executes queries after the block.
    assert conn.execute("SELECT x FROM t").fetchall() == [(42,)]
    conn.close()


def test_the_fixed_block_closes_it_and_keeps_the_commit(db: Path) -> None:
    result = check_source(PLAIN, "program.py", SETTINGS)
    assert [f.code for f in result.findings] == ["DBL104"]
    fixed = fix_source(PLAIN, "program.py", SETTINGS).text
    assert "closing(sqlite3.connect(path)) as conn, conn:" in fixed
    namespace = _run(_capture_connection(fixed), db)
    conn = namespace["LAST"]
    assert isinstance(conn, sqlite3.Connection)
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")
    # The inner `conn` item still committed: another connection sees the row.
    with sqlite3.connect(db) as other:
        assert other.execute("SELECT x FROM t").fetchall() == [(42,)]
    other.close()


def test_the_fixed_block_still_rolls_back_on_error(db: Path) -> None:
    source = PLAIN.replace(
        '        conn.execute("INSERT INTO t VALUES (?)", (value,))\n',
        '        conn.execute("INSERT INTO t VALUES (?)", (value,))\n        raise RuntimeError("boom")\n',
    )
    fixed = fix_source(source, "program.py", SETTINGS).text
    assert "closing(" in fixed
    with pytest.raises(RuntimeError):
        _run(fixed, db)
    with sqlite3.connect(db) as other:
        assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)
    other.close()
