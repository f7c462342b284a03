"""Cursor variants the table mentions in its notes, checked like the claims: kill the server
session after execute(); a client-side result is still fully readable, a streaming one is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dbleak.knowledge.drivers import Buffering, builtin_table

from driver_probes import (
    MY_BIG,
    MY_ROWS,
    PG_BIG,
    PG_ROWS,
    _connector_kwargs,
    my_buffering,
    my_kwargs,
    new_app,
    pg_admin,
    pg_buffering,
    defuse,
)
from driver_probing import Env

TABLE = builtin_table()


@pytest.fixture()
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    environment = Env(request, tmp_path)
    yield environment
    for cleanup in reversed(environment.cleanups):
        try:
            cleanup()
        except Exception:
            pass


@pytest.mark.parametrize("factory", ["DictCursor", "RealDictCursor", "NamedTupleCursor"])
@pytest.mark.parametrize("named", [False, True], ids=["client", "named"])
def test_psycopg2_extras_cursors(env: Env, factory: str, named: bool) -> None:
    import psycopg2
    import psycopg2.extras

    pg_admin(env)
    app = new_app()
    conn = psycopg2.connect(env.server("postgres").dsn, application_name=app)
    env.cleanups.append(conn.close)
    kwargs: dict[str, Any] = {"cursor_factory": getattr(psycopg2.extras, factory)}
    if named:
        kwargs["name"] = "extras"
    cursor = conn.cursor(**kwargs)
    cursor.execute(PG_BIG)
    spec = "psycopg2.named_cursor" if named else "psycopg2.cursor"
    assert pg_buffering(env, app, cursor.fetchall) == TABLE.object(spec).buffering


def test_psycopg_cursor_stream_streams(env: Env) -> None:
    import psycopg

    pg_admin(env)
    app = new_app()
    conn = psycopg.connect(env.server("postgres").dsn, application_name=app)
    env.cleanups.append(conn.close)
    rows = conn.cursor().stream(PG_BIG)
    next(rows)
    assert pg_buffering(env, app, lambda: [None, *rows]) is Buffering.SERVER
    assert "stream()" in TABLE.object("psycopg.Cursor").note


def test_pymysql_cursorclass_makes_every_cursor_streaming(env: Env) -> None:
    import pymysql
    import pymysql.cursors

    conn = pymysql.connect(cursorclass=pymysql.cursors.SSCursor, **my_kwargs(env))
    env.cleanups.append(lambda: conn.open and conn.close())
    cursor = conn.cursor()
    cursor.execute(MY_BIG)
    try:
        seen = my_buffering(env, conn.thread_id(), cursor.fetchall)
    finally:
        defuse(cursor)
        cursor.connection = None
    assert seen is Buffering.SERVER
    assert "cursorclass=SSCursor" in TABLE.object("pymysql.Connection").note


@pytest.mark.parametrize("buffered", [True, False])
def test_mysql_connector_connect_buffered_sets_every_cursor(env: Env, buffered: bool) -> None:
    import mysql.connector

    conn = mysql.connector.connect(buffered=buffered, **_connector_kwargs(env))
    thread_id = conn.connection_id
    env.cleanups.append(conn.close)
    cursor = conn.cursor()
    cursor.execute(MY_BIG)
    seen = my_buffering(env, thread_id, cursor.fetchall)
    assert seen is (Buffering.CLIENT if buffered else Buffering.SERVER)
    assert MY_ROWS > 0 and PG_ROWS > 0
    assert "buffered=True" in TABLE.object("mysql.connector.Connection").note
