"""Borrowers leave the connection open; owners release it — as the table says, on real drivers."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dbleak.knowledge.drivers import OWNERS_VIA_WITH, builtin_table

TABLE = builtin_table()


def _closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("select 1")
    except sqlite3.ProgrammingError:
        return True
    return False


@pytest.fixture()
def conn(tmp_path: Path) -> Any:
    connection = sqlite3.connect(tmp_path / "b.sqlite")
    connection.execute("create table t (a int)")
    connection.executemany("insert into t values (?)", [(1,), (2,), (3,)])
    connection.commit()
    yield connection
    connection.close()


def test_pandas_borrowers_do_not_close(conn: sqlite3.Connection) -> None:
    import pandas as pd

    assert {"pandas.read_sql", "pandas.read_sql_query", "pandas.DataFrame.to_sql"} <= TABLE.borrowers
    frame = pd.read_sql("select a from t", conn)
    assert len(frame) == 3 and not _closed(conn)
    assert len(pd.read_sql_query("select a from t", conn)) == 3 and not _closed(conn)
    chunks = pd.read_sql("select a from t", conn, chunksize=2)
    assert sum(len(c) for c in chunks) == 3 and not _closed(conn)
    frame.to_sql("copy", conn, index=False)
    assert not _closed(conn)


def test_pandas_borrows_a_sqlalchemy_connection_too(tmp_path: Path) -> None:
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'e.sqlite'}")
    with engine.connect() as connection:
        pd.DataFrame({"a": [1, 2]}).to_sql("t", connection, index=False)
        assert len(pd.read_sql_table("t", connection)) == 2
        assert not connection.closed
    engine.dispose()


def test_psycopg2_extras_borrow_the_cursor_and_the_connection(postgres_server: Any) -> None:
    import psycopg2
    import psycopg2.extensions
    import psycopg2.extras

    helpers = {"psycopg2.extras.execute_values", "psycopg2.extras.execute_batch",
               "psycopg2.extras.register_uuid", "psycopg2.extras.register_default_jsonb",
               "psycopg2.extras.register_hstore", "psycopg2.extensions.register_type"}
    assert helpers <= TABLE.borrowers
    conn = psycopg2.connect(postgres_server.dsn)
    try:
        cur = conn.cursor()
        cur.execute("create temporary table t (a int)")
        ids = psycopg2.extras.execute_values(cur, "insert into t values %s returning a",
                                             [(1,), (2,)], fetch=True)
        assert [r[0] for r in ids] == [1, 2]
        psycopg2.extras.execute_batch(cur, "insert into t values (%s)", [(3,), (4,)])
        psycopg2.extras.register_uuid(conn_or_curs=cur)
        psycopg2.extras.register_default_jsonb(conn_or_curs=conn)
        cur.execute("create extension if not exists hstore")
        psycopg2.extras.register_hstore(cur)
        psycopg2.extensions.register_type(psycopg2.extensions.UNICODE, cur)
        assert not cur.closed and not conn.closed
        cur.execute("select count(*) from t")
        assert cur.fetchone()[0] == 4
        cur.close()
    finally:
        conn.close()


def test_closing_owns_and_closes(conn: sqlite3.Connection) -> None:
    assert "contextlib.closing" in TABLE.owners
    with contextlib.closing(conn):
        pass
    assert _closed(conn)


def test_exit_stack_callback_owns_and_closes(conn: sqlite3.Connection) -> None:
    assert "contextlib.ExitStack.callback" in TABLE.owners
    with contextlib.ExitStack() as stack:
        stack.callback(conn.close)
    assert _closed(conn)


@pytest.mark.parametrize("name", ["sqlite3.Connection", "duckdb.DuckDBPyConnection"])
def test_enter_context_releases_through_the_objects_own_with(name: str, tmp_path: Path) -> None:
    """ExitStack.enter_context closes only what the object's own `with` closes."""
    assert "contextlib.ExitStack.enter_context" in OWNERS_VIA_WITH <= TABLE.owners
    spec = TABLE.object(name)
    assert spec.with_ is not None
    if name == "sqlite3.Connection":
        obj: Any = sqlite3.connect(tmp_path / "x.sqlite")
        closed = lambda: _closed(obj)  # noqa: E731
    else:
        import duckdb

        obj = duckdb.connect(str(tmp_path / "x.duckdb"))

        def closed() -> bool:
            try:
                obj.execute("select 1")
            except duckdb.ConnectionException:
                return True
            return False

    with contextlib.ExitStack() as stack:
        stack.enter_context(obj)
    assert closed() == spec.with_.closes
    obj.close()


def test_async_engine_owns_the_sync_engine_it_wraps(tmp_path: Path) -> None:
    """`AsyncEngine(engine_from_config(...))`: disposing the AsyncEngine disposes the pool of
    the sync engine it was made over (the table lists it as an owner of its argument)."""
    import asyncio

    from sqlalchemy import create_engine, text
    from sqlalchemy.ext.asyncio import AsyncEngine

    assert "sqlalchemy.ext.asyncio.AsyncEngine" in TABLE.owners
    sync_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite'}")

    async def run() -> tuple[int, int]:
        engine = AsyncEngine(sync_engine)
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))
        pooled = sync_engine.pool.checkedin()
        await engine.dispose()
        return pooled, sync_engine.pool.checkedin()

    pooled, after = asyncio.run(run())
    assert pooled == 1 and after == 0
