"""Probes for every verified object of the driver table, and calls for its factories.

Closed-ness is read from the client and cross-checked on the server (PostgreSQL:
`pg_stat_activity` by application_name; MariaDB: `information_schema.PROCESSLIST` by thread id).
Visibility of a write is read from an independent autocommit connection.
Buffering: a big result is executed, the server session is killed, then the rows are fetched —
a client-side cursor still returns every row, a streaming one cannot. In-process drivers count
rows produced with a user function: one after the first fetch is lazy, all is client-side.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any, Callable

from dbleak.knowledge.drivers import Buffering, FactorySpec, MethodSpec

from driver_probing import Env, Probe, maybe, new_marker, probe, wait_until
from driver_servers import missing, module_or_skip

FACTORY_CALLS: dict[str, Callable[[Env, FactorySpec], Any]] = {}


def factory_call(*qualnames: str) -> Callable[[Callable[[Env, FactorySpec], Any]], Callable[[Env, FactorySpec], Any]]:
    def register(fn: Callable[[Env, FactorySpec], Any]) -> Callable[[Env, FactorySpec], Any]:
        for name in qualnames:
            FACTORY_CALLS[name] = fn
        return fn

    return register


def _cached(env: Env, key: str, make: Callable[[], Any], close: Callable[[Any], Any]) -> Any:
    if not hasattr(env, key):
        value = make()
        setattr(env, key, value)
        env.cleanups.insert(0, lambda: close(value))  # closed last
    return getattr(env, key)


# Drivers with native dependencies are not in the `test` extra (`drivers-native`): what to install
# when one cannot be imported. Their tests skip saying so, and fail in CI (`CI=true`).
NATIVE_DRIVERS = {
    "MySQLdb": ("MySQLdb", ("install the Debian packages `libmariadb-dev pkg-config`, then "
                            "`pip install -e '.[drivers-native]'` (mysqlclient builds from source)")),
    "pyodbc": ("pyodbc", ("install the Debian packages `unixodbc unixodbc-dev odbc-postgresql`, "
                          "then `pip install -e '.[drivers-native]'`")),
}


def need_driver(driver: str) -> None:
    """Skip (fail in CI) when a native driver of the table cannot be imported here."""
    if driver in NATIVE_DRIVERS:
        module, install = NATIVE_DRIVERS[driver]
        module_or_skip(module, install)


# --- SQLite (sqlite3, aiosqlite) ---------------------------------------------------------------

def sqlite_path(env: Env) -> str:
    path = env.tmp / "marks.sqlite"
    if not path.exists():
        with sqlite3.connect(path) as setup:
            setup.execute("create table marks (v text)")
        setup.close()
    return str(path)


def sqlite_visible(env: Env, marker: str) -> bool:
    reader = sqlite3.connect(sqlite_path(env))
    try:
        return reader.execute("select count(*) from marks where v = ?", (marker,)).fetchone()[0] > 0
    finally:
        reader.close()


class Ticks:
    """A user function that counts the rows a query has produced so far."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, value: Any) -> Any:
        self.count += 1
        return value


ROWS = 5000


def lazy_or_client(produced_after_first_row: int) -> Buffering:
    if produced_after_first_row >= ROWS:
        return Buffering.CLIENT
    return Buffering.LAZY


def _sqlite_closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("select 1")
    except sqlite3.ProgrammingError:
        return True
    return False


@probe("sqlite3.Connection")
class Sqlite3Connection(Probe):
    method_args = {"execute": ("select 1",), "executemany": ("insert into marks values (?)", []),
                   "executescript": ("select 1;",)}

    def open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(sqlite_path(self.env))
        self.env.cleanups.append(conn.close)
        return conn

    def closed(self, obj: sqlite3.Connection) -> bool:
        return _sqlite_closed(obj)

    def write(self, obj: sqlite3.Connection, marker: str) -> None:
        obj.execute("insert into marks values (?)", (marker,))

    def visible(self, marker: str) -> bool:
        return sqlite_visible(self.env, marker)

    def finish(self, obj: sqlite3.Connection) -> None:
        if not _sqlite_closed(obj):
            obj.commit()
            obj.close()


@probe("sqlite3.Cursor")
class Sqlite3Cursor(Probe):
    method_args = {"execute": ("select 1",)}

    def open(self) -> sqlite3.Cursor:
        self.conn = Sqlite3Connection(self.env).open()
        return self.conn.cursor()

    def closed(self, obj: sqlite3.Cursor) -> bool:
        try:
            obj.execute("select 1")
        except sqlite3.ProgrammingError:
            return True
        return False

    def finish(self, obj: sqlite3.Cursor) -> None:
        self.conn.close()

    def buffering(self) -> Buffering:
        conn = self.open()
        ticks = Ticks()
        self.conn.create_function("tick", 1, ticks)
        cursor = self.conn.execute(
            f"with recursive n(i) as (select 1 union all select i + 1 from n where i < {ROWS}) "
            "select tick(i) from n")
        cursor.fetchone()
        seen = ticks.count
        assert len(cursor.fetchall()) == ROWS - 1
        self.finish(conn)
        return lazy_or_client(seen)


async def _aiosqlite_closed(conn: Any) -> bool:
    try:
        await conn.execute("select 1")
    except ValueError:  # "no active connection"
        return True
    return False


@probe("aiosqlite.Connection")
class AiosqliteConnection(Probe):
    method_args = {"execute": ("select 1",)}

    async def open(self) -> Any:
        import aiosqlite

        conn = await aiosqlite.connect(sqlite_path(self.env))
        self.env.cleanups.append(conn.close)
        return conn

    async def closed(self, obj: Any) -> bool:
        return await _aiosqlite_closed(obj)

    async def write(self, obj: Any, marker: str) -> None:
        await obj.execute("insert into marks values (?)", (marker,))

    def visible(self, marker: str) -> bool:
        return sqlite_visible(self.env, marker)

    async def finish(self, obj: Any) -> None:
        if not await _aiosqlite_closed(obj):
            await obj.commit()
            await obj.close()


@probe("aiosqlite.Cursor")
class AiosqliteCursor(Probe):
    async def open(self) -> Any:
        conn = self.parent
        if conn is None:
            conn = await AiosqliteConnection(self.env).open()
        self.conn = conn
        return await conn.cursor()

    async def closed(self, obj: Any) -> bool:
        try:
            await obj.execute("select 1")
        except (sqlite3.ProgrammingError, ValueError):
            return True
        return False

    async def write(self, obj: Any, marker: str) -> None:
        await obj.execute("insert into marks values (?)", (marker,))

    def visible(self, marker: str) -> bool:
        return sqlite_visible(self.env, marker)

    async def finish(self, obj: Any) -> None:
        conn = getattr(self, "conn", self.parent)
        if not await _aiosqlite_closed(conn):
            await conn.commit()
            await conn.close()

    async def buffering(self) -> Buffering:
        cursor = await self.open()
        ticks = Ticks()
        await self.conn.create_function("tick", 1, ticks)
        await cursor.execute(
            f"with recursive n(i) as (select 1 union all select i + 1 from n where i < {ROWS}) "
            "select tick(i) from n")
        await cursor.fetchone()
        seen = ticks.count
        assert len(await cursor.fetchall()) == ROWS - 1
        await self.finish(cursor)
        return lazy_or_client(seen)


# aiosqlite: `conn.cursor()` / `conn.execute()` children bind to the parent connection.
def _aiosqlite_child(self: Probe, method: MethodSpec, parent: Any) -> Probe:
    child = AiosqliteCursor(self.env, parent=parent, parent_probe=self)
    child.conn = parent
    return child


AiosqliteConnection.child = _aiosqlite_child  # type: ignore[method-assign]


@factory_call("sqlite3.connect", "aiosqlite.connect")
def _sqlite_connect(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(sqlite_path(env))


# --- DuckDB ------------------------------------------------------------------------------------

def _duck_path(env: Env) -> str:
    import duckdb

    path = env.tmp / "marks.duckdb"
    if not path.exists():
        setup = duckdb.connect(str(path))
        setup.execute("create table marks (v varchar)")
        setup.close()
    return str(path)


def _duck_closed(conn: Any) -> bool:
    import duckdb

    try:
        conn.execute("select 1")
    except duckdb.ConnectionException:
        return True
    return False


@probe("duckdb.DuckDBPyConnection")
class DuckConnection(Probe):
    method_args = {"execute": ("select 1",)}

    def open(self) -> Any:
        import duckdb

        conn = duckdb.connect(_duck_path(self.env))
        self.env.cleanups.append(conn.close)
        return conn

    def closed(self, obj: Any) -> bool:
        return _duck_closed(obj)

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("begin transaction")  # DuckDB autocommits each statement otherwise
        obj.execute("insert into marks values (?)", [marker])

    def visible(self, marker: str) -> bool:
        import duckdb

        reader = duckdb.connect(_duck_path(self.env))
        try:
            row = reader.execute("select count(*) from marks where v = ?", [marker]).fetchone()
            return bool(row and row[0])
        finally:
            reader.close()

    def finish(self, obj: Any) -> None:
        if not _duck_closed(obj):
            try:
                obj.execute("commit")
            except Exception:  # no transaction open
                pass
            obj.close()

    def buffering(self) -> Buffering:
        from duckdb.sqltypes import BIGINT

        conn = self.open()
        ticks = Ticks()
        conn.create_function("tick", ticks, [BIGINT], BIGINT, side_effects=True)
        result = conn.execute(f"select tick(range) from range({ROWS})")
        result.fetchone()
        seen = ticks.count
        assert len(result.fetchall()) == ROWS - 1
        conn.close()
        return lazy_or_client(seen)


# --- APSW (SQLite's own Python wrapper) ------------------------------------------------------------

def _apsw_closed(conn: Any) -> bool:
    import apsw

    try:
        conn.execute("select 1")
    except apsw.ConnectionClosedError:
        return True
    return False


@probe("apsw.Connection")
class ApswConnection(Probe):
    method_args = {"execute": ("select 1",), "executemany": ("insert into marks values (?)", [])}

    def open(self) -> Any:
        import apsw

        conn = apsw.Connection(sqlite_path(self.env))
        self.env.cleanups.append(conn.close)
        return conn

    def closed(self, obj: Any) -> bool:
        return _apsw_closed(obj)

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("insert into marks values (?)", (marker,))

    def visible(self, marker: str) -> bool:
        return sqlite_visible(self.env, marker)

    def finish(self, obj: Any) -> None:
        if not _apsw_closed(obj):
            obj.close()


@probe("apsw.Cursor")
class ApswCursor(Probe):
    method_args = {"execute": ("select 1",), "executemany": ("insert into marks values (?)", [])}

    def open(self) -> Any:
        self.conn = ApswConnection(self.env).open()
        return self.conn.cursor()

    def closed(self, obj: Any) -> bool:
        import apsw

        try:
            obj.execute("select 1")
        except apsw.CursorClosedError:
            return True
        return False

    def finish(self, obj: Any) -> None:
        self.conn.close()


@factory_call("apsw.Connection")
def _apsw_connection(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(sqlite_path(env))


@factory_call("duckdb.connect")
def _duck_connect(env: Env, factory: FactorySpec) -> Any:
    import duckdb

    return duckdb.connect(_duck_path(env))


# --- dataset (over SQLAlchemy, here on SQLite) ------------------------------------------------

def _dataset_path(env: Env) -> str:
    path = env.tmp / "marks-dataset.sqlite"  # its own file: dataset turns WAL mode on
    if not path.exists():
        with closing(sqlite3.connect(path)) as setup, setup:
            setup.execute("create table marks (v text)")
    return str(path)


def _dataset_closed(db: Any) -> bool:
    try:
        db.executable  # noqa: B018 - raises once the database is closed
    except RuntimeError:  # "Database is closed"
        return True
    return False


@probe("dataset.Database")
class DatasetDatabase(Probe):
    def open(self) -> Any:
        import dataset

        db = dataset.connect(f"sqlite:///{_dataset_path(self.env)}")
        self.env.cleanups.append(db.close)
        return db

    def closed(self, obj: Any) -> bool:
        return _dataset_closed(obj)

    def write(self, obj: Any, marker: str) -> None:
        obj.query("insert into marks values (:v)", v=marker)

    def visible(self, marker: str) -> bool:
        with closing(sqlite3.connect(_dataset_path(self.env))) as reader:
            return reader.execute("select count(*) from marks where v = ?", (marker,)).fetchone()[0] > 0

    def finish(self, obj: Any) -> None:
        if not _dataset_closed(obj):
            obj.commit()
            obj.close()


@factory_call("dataset.connect", "dataset.Database")
def _dataset_connect(env: Env, factory: FactorySpec) -> Any:
    import dataset

    url = f"sqlite:///{_dataset_path(env)}"
    return dataset.connect(url) if factory.qualname == "dataset.connect" else dataset.Database(url)


# --- PostgreSQL --------------------------------------------------------------------------------

PG_ROWS = 20000
PG_BIG = f"select g, repeat('x', 100) from generate_series(1, {PG_ROWS}) g"


def pg_admin(env: Env) -> Any:
    import psycopg2

    def make() -> Any:
        conn = psycopg2.connect(env.server("postgres").dsn, application_name="dbleak-admin")
        conn.autocommit = True
        conn.cursor().execute("create table if not exists marks (v text)")
        return conn

    return _cached(env, "_pg_admin", make, lambda c: c.close())


def pg_count(env: Env, app: str) -> int:
    cur = pg_admin(env).cursor()
    cur.execute("select count(*) from pg_stat_activity where application_name = %s", (app,))
    return int(cur.fetchone()[0])


def pg_visible(env: Env, marker: str) -> bool:
    cur = pg_admin(env).cursor()
    cur.execute("select count(*) from marks where v = %s", (marker,))
    return int(cur.fetchone()[0]) > 0


def pg_terminate(env: Env, app: str) -> None:
    cur = pg_admin(env).cursor()
    cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where application_name = %s",
                (app,))
    assert wait_until(lambda: pg_count(env, app) == 0)


def pg_checked(env: Env, app: str, client_says_closed: bool) -> bool:
    """The client's view of closed-ness, confirmed by the server's backend list."""
    if client_says_closed:
        assert wait_until(lambda: pg_count(env, app) == 0), "closed on the client, open on the server"
    else:
        assert pg_count(env, app) >= 1, "open on the client, gone on the server"
    return client_says_closed


def new_app() -> str:
    return "dbleak-" + new_marker()[:12]


def pg_buffering(env: Env, app: str, fetch_all: Callable[[], Any]) -> Buffering:
    """Kill the session after execute(); a client-side result is still fully readable."""
    pg_terminate(env, app)
    try:
        rows = fetch_all()
    except Exception:
        return Buffering.SERVER
    return Buffering.CLIENT if len(rows) == PG_ROWS else Buffering.SERVER


class PgProbe(Probe):
    def visible(self, marker: str) -> bool:
        return pg_visible(self.env, marker)


@probe("psycopg2.connection")
class Psycopg2Connection(PgProbe):
    def open(self) -> Any:
        import psycopg2

        pg_admin(self.env)
        self.app = new_app()
        conn = psycopg2.connect(self.env.server("postgres").dsn, application_name=self.app)
        self.env.cleanups.append(conn.close)
        return conn

    def closed(self, obj: Any) -> bool:
        return pg_checked(self.env, self.app, obj.closed != 0)

    def write(self, obj: Any, marker: str) -> None:
        obj.cursor().execute("insert into marks values (%s)", (marker,))

    def finish(self, obj: Any) -> None:
        if not obj.closed:
            obj.commit()
            obj.close()


@probe("psycopg2.cursor")
class Psycopg2Cursor(PgProbe):
    def open(self) -> Any:
        self.conn_probe = Psycopg2Connection(self.env)
        self.conn = self.conn_probe.open()
        return self.conn.cursor()

    def closed(self, obj: Any) -> bool:
        return bool(obj.closed)

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("insert into marks values (%s)", (marker,))

    def finish(self, obj: Any) -> None:
        self.conn_probe.finish(self.conn)

    def buffering(self) -> Buffering:
        cursor = self.open()
        cursor.execute(PG_BIG)
        return pg_buffering(self.env, self.conn_probe.app, cursor.fetchall)


@probe("psycopg2.named_cursor")
class Psycopg2NamedCursor(Psycopg2Cursor):
    read_only = True

    def open(self) -> Any:
        self.conn_probe = Psycopg2Connection(self.env)
        self.conn = self.conn_probe.open()
        self.name = "c_" + new_marker()[:8]
        cursor = self.conn.cursor(name=self.name)
        cursor.execute("select 1")
        return cursor

    def closed(self, obj: Any) -> bool:
        if self.conn.closed:
            return True
        check = self.conn.cursor()
        check.execute("select count(*) from pg_cursors where name = %s", (self.name,))
        portal_gone = check.fetchone()[0] == 0
        assert portal_gone == bool(obj.closed), "client and server disagree about the cursor"
        return portal_gone

    def buffering(self) -> Buffering:
        self.open()
        cursor = self.conn.cursor(name="big")
        cursor.execute(PG_BIG)
        return pg_buffering(self.env, self.conn_probe.app, cursor.fetchall)


@probe("psycopg2.pool.AbstractConnectionPool")
class Psycopg2Pool(PgProbe):
    def open(self) -> Any:
        import psycopg2.pool

        pg_admin(self.env)
        self.app = new_app()
        pool = psycopg2.pool.SimpleConnectionPool(1, 3, self.env.server("postgres").dsn,
                                                  application_name=self.app)
        self.env.cleanups.append(lambda: pool.closed or pool.closeall())
        return pool

    def closed(self, obj: Any) -> bool:
        return pg_checked(self.env, self.app, bool(obj.closed))

    def finish(self, obj: Any) -> None:
        if not obj.closed:
            obj.closeall()


@probe("psycopg2.pool.connection")
class Psycopg2PoolConnection(Psycopg2Connection):
    def open(self) -> Any:
        if self.parent is not None:
            self.pool = self.parent
            self.app = self.parent_probe.app  # type: ignore[union-attr]
            return self.pool.getconn()
        pool_probe = Psycopg2Pool(self.env)
        self.pool = pool_probe.open()
        self.app = pool_probe.app
        return self.pool.getconn()

    def closed(self, obj: Any) -> bool:
        return bool(obj.closed)

    def returned(self, obj: Any) -> bool:
        return any(c is obj for c in self.pool._pool) and id(obj) not in self.pool._rused

    def finish(self, obj: Any) -> None:
        if not obj.closed:
            obj.commit()
        if not self.pool.closed:
            self.pool.closeall()


@factory_call("psycopg2.connect")
def _psycopg2_connect(env: Env, factory: FactorySpec) -> Any:
    import psycopg2

    return psycopg2.connect(env.server("postgres").dsn)


@factory_call("psycopg2.pool.SimpleConnectionPool", "psycopg2.pool.ThreadedConnectionPool")
def _psycopg2_pool(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(1, 2, env.server("postgres").dsn)


# psycopg 3 ---------------------------------------------------------------------------------------

@probe("psycopg.Connection")
class PsycopgConnection(PgProbe):
    method_args = {"execute": ("select 1",)}

    def open(self) -> Any:
        import psycopg

        pg_admin(self.env)
        self.app = new_app()
        conn = psycopg.connect(self.env.server("postgres").dsn, application_name=self.app)
        self.env.cleanups.append(conn.close)
        return conn

    def closed(self, obj: Any) -> bool:
        if self.parent is not None:  # a pooled connection: the pool keeps other backends
            return bool(obj.closed)
        return pg_checked(self.env, self.app, bool(obj.closed))

    def returned(self, obj: Any) -> bool:
        pool = self.parent
        return pool is not None and any(c is obj for c in pool._pool)

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("insert into marks values (%s)", (marker,))

    def finish(self, obj: Any) -> None:
        if not obj.closed:
            obj.commit()
            if self.parent is None:
                obj.close()


@probe("psycopg.Cursor")
class PsycopgCursor(PgProbe):
    def open(self) -> Any:
        self.conn_probe = PsycopgConnection(self.env)
        self.conn = self.conn_probe.open()
        return self.make(self.conn)

    def make(self, conn: Any) -> Any:
        return conn.cursor()

    def closed(self, obj: Any) -> bool:
        return bool(obj.closed)

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("insert into marks values (%s)", (marker,))

    def finish(self, obj: Any) -> None:
        self.conn_probe.finish(self.conn)

    def buffering(self) -> Buffering:
        cursor = self.open()
        cursor.execute(PG_BIG)
        return pg_buffering(self.env, self.conn_probe.app, cursor.fetchall)


@probe("psycopg.ServerCursor")
class PsycopgServerCursor(PsycopgCursor):
    read_only = True

    def make(self, conn: Any) -> Any:
        self.name = "c_" + new_marker()[:8]
        cursor = conn.cursor(name=self.name)
        cursor.execute("select 1")
        return cursor

    def closed(self, obj: Any) -> bool:
        if self.conn.closed:
            return True
        row = self.conn.execute("select count(*) from pg_cursors where name = %s",
                                (self.name,)).fetchone()
        assert (row[0] == 0) == bool(obj.closed), "client and server disagree about the cursor"
        return bool(obj.closed)


@probe("psycopg.AsyncConnection")
class PsycopgAsyncConnection(PgProbe):
    method_args = {"execute": ("select 1",)}

    async def open(self) -> Any:
        import psycopg

        pg_admin(self.env)
        self.app = new_app()
        conn = await psycopg.AsyncConnection.connect(self.env.server("postgres").dsn,
                                                     application_name=self.app)
        self.env.cleanups.append(conn.close)
        return conn

    def closed(self, obj: Any) -> bool:
        if self.parent is not None:
            return bool(obj.closed)
        return pg_checked(self.env, self.app, bool(obj.closed))

    def returned(self, obj: Any) -> bool:
        pool = self.parent
        return pool is not None and any(c is obj for c in pool._pool)

    async def write(self, obj: Any, marker: str) -> None:
        await obj.execute("insert into marks values (%s)", (marker,))

    async def finish(self, obj: Any) -> None:
        if not obj.closed:
            await obj.commit()
            if self.parent is None:
                await obj.close()


@probe("psycopg.AsyncCursor")
class PsycopgAsyncCursor(PgProbe):
    async def open(self) -> Any:
        self.conn_probe = PsycopgAsyncConnection(self.env)
        self.conn = await self.conn_probe.open()
        return await self.make(self.conn)

    async def make(self, conn: Any) -> Any:
        return conn.cursor()

    def closed(self, obj: Any) -> bool:
        return bool(obj.closed)

    async def write(self, obj: Any, marker: str) -> None:
        await obj.execute("insert into marks values (%s)", (marker,))

    async def finish(self, obj: Any) -> None:
        await self.conn_probe.finish(self.conn)

    async def buffering(self) -> Buffering:
        cursor = await self.open()
        await cursor.execute(PG_BIG)
        pg_terminate(self.env, self.conn_probe.app)
        try:
            rows = await cursor.fetchall()
        except Exception:
            return Buffering.SERVER
        return Buffering.CLIENT if len(rows) == PG_ROWS else Buffering.SERVER


@probe("psycopg.AsyncServerCursor")
class PsycopgAsyncServerCursor(PsycopgAsyncCursor):
    read_only = True

    async def make(self, conn: Any) -> Any:
        cursor = conn.cursor(name="c_" + new_marker()[:8])
        await cursor.execute("select 1")
        return cursor


class _PsycopgPoolBase(PgProbe):
    def pool_kwargs(self) -> dict[str, Any]:
        pg_admin(self.env)
        self.app = new_app()
        return {"conninfo": self.env.server("postgres").dsn, "min_size": 1, "max_size": 2,
                "kwargs": {"application_name": self.app}}

    def returned_count(self, obj: Any) -> int:
        return len(obj._pool)


@probe("psycopg_pool.ConnectionPool")
class PsycopgPool(_PsycopgPoolBase):
    def open(self) -> Any:
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(open=True, **self.pool_kwargs())
        pool.wait()
        self.env.cleanups.append(pool.close)
        return pool

    def closed(self, obj: Any) -> bool:
        return pg_checked(self.env, self.app, bool(obj.closed))

    def finish(self, obj: Any) -> None:
        obj.close()

    def child(self, method: MethodSpec, parent: Any) -> Probe:
        return PsycopgConnection(self.env, parent=parent, parent_probe=self)


@probe("psycopg_pool.Connection")
class PsycopgPoolConnection(PsycopgConnection):
    def open(self) -> Any:
        self.pool_probe = PsycopgPool(self.env)
        self.pool = self.pool_probe.open()
        self.parent = self.pool
        self.app = self.pool_probe.app
        return self.pool.getconn()

    def finish(self, obj: Any) -> None:
        if not obj.closed:
            obj.commit()
        self.pool.close()


@probe("psycopg_pool.AsyncConnectionPool")
class PsycopgAsyncPool(_PsycopgPoolBase):
    async def open(self) -> Any:
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(open=False, **self.pool_kwargs())
        await pool.open(wait=True)
        self.env.cleanups.append(pool.close)
        return pool

    def closed(self, obj: Any) -> bool:
        return pg_checked(self.env, self.app, bool(obj.closed))

    async def finish(self, obj: Any) -> None:
        await obj.close()

    def child(self, method: MethodSpec, parent: Any) -> Probe:
        return PsycopgAsyncConnection(self.env, parent=parent, parent_probe=self)


@probe("psycopg_pool.AsyncConnection")
class PsycopgAsyncPoolConnection(PsycopgAsyncConnection):
    async def open(self) -> Any:
        self.pool_probe = PsycopgAsyncPool(self.env)
        self.pool = await self.pool_probe.open()
        self.parent = self.pool
        self.app = self.pool_probe.app
        return await self.pool.getconn()

    async def finish(self, obj: Any) -> None:
        if not obj.closed:
            await obj.commit()
        await self.pool.close()


@factory_call("psycopg.connect", "psycopg.Connection.connect", "psycopg.AsyncConnection.connect")
def _psycopg_connect(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(env.server("postgres").dsn)


@factory_call("psycopg_pool.ConnectionPool", "psycopg_pool.AsyncConnectionPool")
def _psycopg_pool(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(env.server("postgres").dsn, min_size=1, max_size=1, open=False)


# DBUtils: PooledDB over psycopg2 on PostgreSQL (over sqlite3 too, for the cursor's buffering) --

def _dbutils_pool(env: Env, app: str, mincached: int = 0) -> Any:
    import psycopg2
    from dbutils.pooled_db import PooledDB

    pg_admin(env)
    return PooledDB(psycopg2, mincached=mincached, maxconnections=2,
                    dsn=env.server("postgres").dsn, application_name=app)


@probe("dbutils.pooled_db.PooledDB")
class DbutilsPool(PgProbe):
    def open(self) -> Any:
        self.app = new_app()
        pool = _dbutils_pool(self.env, self.app, mincached=1)  # an idle connection to close
        self.env.cleanups.append(pool.close)
        return pool

    def closed(self, obj: Any) -> bool:
        return pg_checked(self.env, self.app, not obj._idle_cache)

    def finish(self, obj: Any) -> None:
        obj.close()

    def child(self, method: MethodSpec, parent: Any) -> Probe:
        return DbutilsConnection(self.env, parent=parent, parent_probe=self)


@probe("dbutils.PooledConnection")
class DbutilsConnection(PgProbe):
    def open(self) -> Any:
        if self.parent is None:
            self.app = new_app()
            self.parent = _dbutils_pool(self.env, self.app)
            self.env.cleanups.append(self.parent.close)
        else:
            self.app = self.parent_probe.app  # type: ignore[union-attr]
        conn = self.parent.connection()
        self.steady = conn._con
        return conn

    def closed(self, obj: Any) -> bool:
        return obj._con is None  # the proxy let go of its connection

    def returned(self, obj: Any) -> bool:
        """In the pool's idle cache, and still open on the server."""
        idle = any(c is self.steady for c in self.parent._idle_cache)
        if idle:
            assert pg_count(self.env, self.app) >= 1, "back in the pool, but closed on the server"
        return idle

    def write(self, obj: Any, marker: str) -> None:
        cursor = obj.cursor()
        cursor.execute("insert into marks values (%s)", (marker,))
        cursor.close()

    def finish(self, obj: Any) -> None:
        if obj._con is not None:
            obj.commit()
            obj.close()
        self.parent.close()


@probe("dbutils.Cursor")
class DbutilsCursor(PgProbe):
    def open(self) -> Any:
        self.connection_probe = DbutilsConnection(self.env)
        self.connection = self.connection_probe.open()
        self.app = self.connection_probe.app
        return self.connection.cursor()

    def closed(self, obj: Any) -> bool:
        return bool(obj._closed)

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("insert into marks values (%s)", (marker,))

    def finish(self, obj: Any) -> None:
        if not obj._closed:
            obj.close()
        self.connection_probe.finish(self.connection)

    def buffering(self) -> Buffering:
        """DRIVER: as the creator's own cursor is (psycopg2's reads the whole result at
        execute(), sqlite3's produces rows as they are fetched)."""
        from dbutils.pooled_db import PooledDB

        cursor = self.open()
        cursor.execute(PG_BIG)
        pg_seen = pg_buffering(self.env, self.app, cursor.fetchall)
        cursor.close()
        self.connection.close()  # its session was killed: the pool discards it on reuse
        self.parent_pool = self.connection_probe.parent
        self.parent_pool.close()

        ticks = Ticks()
        pool = PooledDB(sqlite3, maxconnections=1, database=sqlite_path(self.env))
        conn = pool.connection()
        conn._con._con.create_function("tick", 1, ticks)  # the raw sqlite3 connection
        lite = conn.cursor()
        lite.execute(f"with recursive n(i) as (select 1 union all select i + 1 from n "
                     f"where i < {ROWS}) select tick(i) from n")
        lite.fetchone()
        lite_seen = lazy_or_client(ticks.count)
        lite.close()
        conn.close()
        pool.close()
        from dbleak.knowledge.drivers import builtin_table

        table = builtin_table()
        if pg_seen == table.object("psycopg2.cursor").buffering \
                and lite_seen == table.object("sqlite3.Cursor").buffering:
            return Buffering.DRIVER
        return pg_seen


@factory_call("dbutils.pooled_db.PooledDB")
def _dbutils_pooled_db(env: Env, factory: FactorySpec) -> Any:
    return _dbutils_pool(env, new_app())


# asyncpg -------------------------------------------------------------------------------------------

@probe("asyncpg.Connection")
class AsyncpgConnection(PgProbe):
    async def open(self) -> Any:
        import asyncpg

        pg_admin(self.env)
        self.app = new_app()
        conn = await asyncpg.connect(host=self.env.server("postgres").socket_dir, user="postgres",
                                     database="postgres",
                                     server_settings={"application_name": self.app})
        self.env.cleanups.append(conn.close)
        return conn

    def closed(self, obj: Any) -> bool:
        return pg_checked(self.env, self.app, obj.is_closed())

    async def write(self, obj: Any, marker: str) -> None:
        await obj.execute("insert into marks values ($1)", marker)

    async def finish(self, obj: Any) -> None:
        await obj.close()

    def call(self, obj: Any, method: MethodSpec) -> Any:
        if method.name == "cursor":
            self.tx = obj.transaction()  # asyncpg cursors live inside a transaction
            return self._cursor_in_transaction(obj)
        return super().call(obj, method)

    async def _cursor_in_transaction(self, obj: Any) -> Any:
        await self.tx.start()
        return await obj.cursor("select 1")


@probe("asyncpg.Transaction")
class AsyncpgTransaction(PgProbe):
    async def open(self) -> Any:
        self.conn_probe = AsyncpgConnection(self.env)
        self.conn = await self.conn_probe.open()
        self.tx = self.conn.transaction()
        return self.tx

    async def open_for_release(self) -> Any:
        tx = await self.open()
        await tx.start()
        return tx

    def closed(self, obj: Any) -> bool:
        # `async with tx` binds None: read the transaction the probe made.
        return self.tx._state.name in ("COMMITTED", "ROLLEDBACK", "FAILED")

    async def write(self, obj: Any, marker: str) -> None:
        await self.conn.execute("insert into marks values ($1)", marker)

    async def finish(self, obj: Any) -> None:
        await self.conn.close()


@probe("asyncpg.Cursor")
class AsyncpgCursor(PgProbe):
    read_only = True

    async def open(self) -> Any:
        self.conn_probe = AsyncpgConnection(self.env)
        self.conn = await self.conn_probe.open()
        self.tx = self.conn.transaction()
        await self.tx.start()
        return await self.conn.cursor(PG_BIG)

    async def finish(self, obj: Any) -> None:
        await self.conn.close()

    async def buffering(self) -> Buffering:
        cursor = await self.open()
        pg_terminate(self.env, self.conn_probe.app)
        try:
            rows = await cursor.fetch(PG_ROWS)
        except Exception:
            return Buffering.SERVER
        return Buffering.CLIENT if len(rows) == PG_ROWS else Buffering.SERVER


@probe("asyncpg.Pool")
class AsyncpgPool(PgProbe):
    async def open(self) -> Any:
        import asyncpg

        pg_admin(self.env)
        self.app = new_app()
        pool = await asyncpg.create_pool(host=self.env.server("postgres").socket_dir,
                                         user="postgres", database="postgres", min_size=1,
                                         max_size=2, server_settings={"application_name": self.app})
        self.env.cleanups.append(pool.terminate)  # close() would wait for unreleased connections
        return pool

    def closed(self, obj: Any) -> bool:
        app = getattr(self, "app", None) or getattr(self.env, "last_app")
        return pg_checked(self.env, app, obj.is_closing())

    async def finish(self, obj: Any) -> None:
        await obj.close()

    def child(self, method: MethodSpec, parent: Any) -> Probe:
        child = AsyncpgPoolConnection(self.env, parent=parent, parent_probe=self)
        child.pool = parent
        return child


@probe("asyncpg.PoolConnection")
class AsyncpgPoolConnection(AsyncpgConnection):

    async def open(self) -> Any:
        self.pool = await AsyncpgPool(self.env).open()
        return await self.pool.acquire()

    def closed(self, obj: Any) -> bool:
        return obj._con is None  # the proxy is detached once given back (unusable after)

    def returned(self, obj: Any) -> bool:
        return self.pool.get_idle_size() == self.pool.get_size()

    async def write(self, obj: Any, marker: str) -> None:
        # asyncpg autocommits each statement: open a transaction so the block's end decides.
        await obj.execute("begin")
        await obj.execute("insert into marks values ($1)", marker)

    async def finish(self, obj: Any) -> None:
        if obj._con is not None:
            if obj.is_in_transaction():
                await obj.execute("commit")
            await self.pool.release(obj)
        await self.pool.close()


@factory_call("asyncpg.connect", "asyncpg.create_pool")
def _asyncpg_connect(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    kwargs: dict[str, Any] = {"host": env.server("postgres").socket_dir, "user": "postgres",
                              "database": "postgres"}
    if factory.qualname.endswith("create_pool"):
        pg_admin(env)
        app = new_app()
        env.last_app = app  # type: ignore[attr-defined]
        kwargs.update(min_size=1, max_size=1, server_settings={"application_name": app})
    return resolve(factory.qualname)(**kwargs)


# --- MariaDB (PyMySQL, MySQLdb, mysql-connector-python, aiomysql) ----------------------------

MY_ROWS = 3000
MY_BIG = f"select seq, repeat('x', 10000) from seq_1_to_{MY_ROWS}"  # 30 MB: more than a socket holds


def my_admin(env: Env) -> Any:
    import pymysql

    def make() -> Any:
        conn = pymysql.connect(unix_socket=env.server("mariadb").socket, user="root", autocommit=True)
        with conn.cursor() as cur:
            cur.execute("create database if not exists t")
            cur.execute("create table if not exists t.marks (v varchar(64)) engine=InnoDB")
        return conn

    return _cached(env, "_my_admin", make, lambda c: c.close())


def my_alive(env: Env, thread_id: int) -> bool:
    with my_admin(env).cursor() as cur:
        cur.execute("select count(*) from information_schema.processlist where id = %s", (thread_id,))
        return int(cur.fetchone()[0]) > 0


def my_visible(env: Env, marker: str) -> bool:
    with my_admin(env).cursor() as cur:
        cur.execute("select count(*) from t.marks where v = %s", (marker,))
        return int(cur.fetchone()[0]) > 0


def my_checked(env: Env, thread_id: int, client_says_closed: bool) -> bool:
    if client_says_closed:
        assert wait_until(lambda: not my_alive(env, thread_id)), "closed on the client, open on the server"
    else:
        assert my_alive(env, thread_id), "open on the client, gone on the server"
    return client_says_closed


def my_kill(env: Env, thread_id: int) -> None:
    with my_admin(env).cursor() as cur:
        cur.execute(f"kill {int(thread_id)}")
    assert wait_until(lambda: not my_alive(env, thread_id))


def my_buffering(env: Env, thread_id: int, fetch_all: Callable[[], Any]) -> Buffering:
    my_kill(env, thread_id)
    try:
        rows = fetch_all()
    except Exception:
        return Buffering.SERVER
    return Buffering.CLIENT if len(rows) == MY_ROWS else Buffering.SERVER


def defuse(cursor: Any) -> None:
    """Forget a broken unbuffered result, so that its __del__ reads nothing from a dead socket."""
    result = getattr(cursor, "_result", None)
    if result is not None and getattr(result, "unbuffered_active", False):
        result.unbuffered_active = False
    if hasattr(cursor, "connection") and getattr(cursor, "_result", None) is not None:
        cursor._result = None


def my_kwargs(env: Env) -> dict[str, Any]:
    my_admin(env)
    return {"unix_socket": env.server("mariadb").socket, "user": "root", "database": "t"}


class MyProbe(Probe):
    def visible(self, marker: str) -> bool:
        return my_visible(self.env, marker)


@probe("pymysql.Connection")
class PymysqlConnection(MyProbe):
    def open(self) -> Any:
        import pymysql

        conn = pymysql.connect(**my_kwargs(self.env))
        self.thread_id = conn.thread_id()
        self.env.cleanups.append(lambda: conn.open and conn.close())
        return conn

    def closed(self, obj: Any) -> bool:
        return my_checked(self.env, self.thread_id, not obj.open)

    def write(self, obj: Any, marker: str) -> None:
        with obj.cursor() as cur:
            cur.execute("insert into marks values (%s)", (marker,))

    def finish(self, obj: Any) -> None:
        if obj.open:
            obj.commit()
            obj.close()


@probe("pymysql.Cursor")
class PymysqlCursor(MyProbe):
    """A DB-API cursor of a MySQL driver (MySQLdb's cursors reuse this, with its connection)."""

    connection_probe: type[Any] = PymysqlConnection

    def open(self) -> Any:
        self.conn_probe = self.connection_probe(self.env)
        self.conn = self.conn_probe.open()
        return self.make(self.conn)

    def make(self, conn: Any) -> Any:
        return conn.cursor()

    def closed(self, obj: Any) -> bool:
        return obj.connection is None

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("insert into marks values (%s)", (marker,))

    def finish(self, obj: Any) -> None:
        if self.conn.open:
            try:
                self.conn.commit()
            except Exception:  # an unread streaming result
                pass
            self.conn.close()

    def buffering(self) -> Buffering:
        cursor = self.open()
        cursor.execute(MY_BIG)
        try:
            return my_buffering(self.env, self.conn_probe.thread_id, cursor.fetchall)
        finally:
            defuse(cursor)
            cursor.connection = None  # the connection died with the kill


@probe("pymysql.SSCursor")
class PymysqlSSCursor(PymysqlCursor):
    def make(self, conn: Any) -> Any:
        import pymysql.cursors

        return conn.cursor(pymysql.cursors.SSCursor)


@factory_call("pymysql.connect", "pymysql.Connect", "pymysql.Connection",
              "pymysql.connections.Connection")
def _pymysql_connect(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(**my_kwargs(env))


def _connector_kwargs(env: Env) -> dict[str, Any]:
    kwargs = my_kwargs(env)
    return {"unix_socket": kwargs["unix_socket"], "user": "root", "database": "t"}


@probe("mysql.connector.Connection")
class ConnectorConnection(MyProbe):
    def open(self) -> Any:
        import mysql.connector

        conn = mysql.connector.connect(**_connector_kwargs(self.env))
        self.thread_id = conn.connection_id
        self.env.cleanups.append(conn.close)
        return conn

    def closed(self, obj: Any) -> bool:
        return my_checked(self.env, self.thread_id, not obj.is_connected())

    def write(self, obj: Any, marker: str) -> None:
        cur = obj.cursor()
        cur.execute("insert into marks values (%s)", (marker,))
        cur.close()

    def finish(self, obj: Any) -> None:
        if obj.is_connected():
            obj.commit()
            obj.close()


@probe("mysql.connector.cursor")
class ConnectorCursor(MyProbe):
    def open(self) -> Any:
        self.conn_probe = ConnectorConnection(self.env)
        self.conn = self.conn_probe.open()
        return self.make(self.conn)

    def make(self, conn: Any) -> Any:
        return conn.cursor()

    def closed(self, obj: Any) -> bool:
        try:
            obj.execute("select 1")
            obj.fetchall()
        except Exception:
            return True
        return False

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("insert into marks values (%s)", (marker,))

    def finish(self, obj: Any) -> None:
        try:
            if self.conn.is_connected():
                self.conn.commit()
        except Exception:  # an unread streaming result
            pass
        self.conn.close()

    def buffering(self) -> Buffering:
        cursor = self.open()
        cursor.execute(MY_BIG)
        return my_buffering(self.env, self.conn_probe.thread_id, cursor.fetchall)


@probe("mysql.connector.buffered_cursor")
class ConnectorBufferedCursor(ConnectorCursor):
    def make(self, conn: Any) -> Any:
        return conn.cursor(buffered=True)


@probe("mysql.connector.pooling.MySQLConnectionPool")
class ConnectorPool(MyProbe):
    def open(self) -> Any:
        from mysql.connector.pooling import MySQLConnectionPool

        pool = MySQLConnectionPool(pool_name="p" + new_marker()[:8], pool_size=1,
                                   **_connector_kwargs(self.env))
        self.env.cleanups.append(lambda: pool._remove_connections())
        return pool

    def finish(self, obj: Any) -> None:
        obj._remove_connections()


@probe("mysql.connector.PooledMySQLConnection")
class ConnectorPooledConnection(MyProbe):
    def open(self) -> Any:
        self.pool = self.parent if self.parent is not None else ConnectorPool(self.env).open()
        conn = self.pool.get_connection()
        self.thread_id = conn.connection_id
        return conn

    def closed(self, obj: Any) -> bool:
        return obj._cnx is None

    def returned(self, obj: Any) -> bool:
        # Back in the queue, and the server connection is still there.
        return self.pool._cnx_queue.qsize() == 1 and my_alive(self.env, self.thread_id)

    def write(self, obj: Any, marker: str) -> None:
        cur = obj.cursor()
        cur.execute("insert into marks values (%s)", (marker,))
        cur.close()

    def finish(self, obj: Any) -> None:
        if obj._cnx is not None:
            obj.commit()
            obj.close()
        pool = getattr(self, "pool", None) or obj._cnx_pool
        pool._remove_connections()


@factory_call("mysql.connector.connect", "mysql.connector.MySQLConnection",
              "mysql.connector.connection.MySQLConnection")
def _connector_connect(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    kwargs = _connector_kwargs(env)
    if factory.when_keyword is not None:
        kwargs[factory.when_keyword] = "p" + new_marker()[:8] if factory.when_keyword == "pool_name" else 1
    return resolve(factory.qualname)(**kwargs)


@factory_call("mysql.connector.pooling.MySQLConnectionPool")
def _connector_pool(env: Env, factory: FactorySpec) -> Any:
    from mysql.connector.pooling import MySQLConnectionPool

    return MySQLConnectionPool(pool_name="p" + new_marker()[:8], pool_size=1, **_connector_kwargs(env))


@probe("MySQLdb.Connection")
class MysqldbConnection(MyProbe):
    def open(self) -> Any:
        MySQLdb = module_or_skip(*NATIVE_DRIVERS["MySQLdb"])
        conn = MySQLdb.connect(**my_kwargs(self.env))
        self.thread_id = conn.thread_id()
        self.env.cleanups.append(lambda: conn.open and conn.close())
        return conn

    def closed(self, obj: Any) -> bool:
        return my_checked(self.env, self.thread_id, not obj.open)

    def write(self, obj: Any, marker: str) -> None:
        cur = obj.cursor()
        cur.execute("insert into marks values (%s)", (marker,))
        cur.close()

    def finish(self, obj: Any) -> None:
        if obj.open:
            obj.commit()
            obj.close()


@probe("MySQLdb.Cursor")
class MysqldbCursor(PymysqlCursor):
    connection_probe = MysqldbConnection

    def buffering(self) -> Buffering:
        cursor = self.open()
        cursor.execute(MY_BIG)
        return my_buffering(self.env, self.conn_probe.thread_id, cursor.fetchall)


@probe("MySQLdb.SSCursor")
class MysqldbSSCursor(MysqldbCursor):
    def make(self, conn: Any) -> Any:
        import MySQLdb.cursors

        return conn.cursor(MySQLdb.cursors.SSCursor)


@factory_call("MySQLdb.connect", "MySQLdb.Connect", "MySQLdb.Connection")
def _mysqldb_connect(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(**my_kwargs(env))


def _aiomysql_kwargs(env: Env) -> dict[str, Any]:
    kwargs = my_kwargs(env)
    return {"unix_socket": kwargs["unix_socket"], "user": "root", "db": "t"}


@probe("aiomysql.Connection")
class AiomysqlConnection(MyProbe):
    async def open(self) -> Any:
        import aiomysql

        conn = await aiomysql.connect(**_aiomysql_kwargs(self.env))
        self.thread_id = conn.thread_id()
        self.env.cleanups.append(conn.close)
        return conn

    def closed(self, obj: Any) -> bool:
        return my_checked(self.env, obj.thread_id(), obj.closed)

    async def write(self, obj: Any, marker: str) -> None:
        async with obj.cursor() as cur:
            await cur.execute("insert into marks values (%s)", (marker,))

    async def finish(self, obj: Any) -> None:
        if not obj.closed:
            await obj.commit()
            await obj.ensure_closed()


@probe("aiomysql.Cursor")
class AiomysqlCursor(MyProbe):
    async def open(self) -> Any:
        self.conn_probe = AiomysqlConnection(self.env)
        self.conn = await self.conn_probe.open()
        return await self.make(self.conn)

    async def make(self, conn: Any) -> Any:
        return await conn.cursor()

    def closed(self, obj: Any) -> bool:
        return obj.closed

    async def write(self, obj: Any, marker: str) -> None:
        await obj.execute("insert into marks values (%s)", (marker,))

    async def finish(self, obj: Any) -> None:
        if not self.conn.closed:
            try:
                await self.conn.commit()
            except Exception:  # an unread streaming result
                pass
            self.conn.close()

    async def buffering(self) -> Buffering:
        cursor = await self.open()
        await cursor.execute(MY_BIG)
        my_kill(self.env, self.conn_probe.thread_id)
        try:
            rows = await cursor.fetchall()
        except Exception:
            return Buffering.SERVER
        finally:
            defuse(cursor)
        return Buffering.CLIENT if len(rows) == MY_ROWS else Buffering.SERVER


@probe("aiomysql.SSCursor")
class AiomysqlSSCursor(AiomysqlCursor):
    async def make(self, conn: Any) -> Any:
        import aiomysql

        return await conn.cursor(aiomysql.SSCursor)


@probe("aiomysql.Pool")
class AiomysqlPool(MyProbe):
    async def open(self) -> Any:
        import aiomysql

        pool = await aiomysql.create_pool(minsize=1, maxsize=2, **_aiomysql_kwargs(self.env))
        self.env.cleanups.append(pool.terminate)  # close() would wait for unreleased connections
        return pool

    async def _close(self, pool: Any) -> None:
        pool.close()
        await pool.wait_closed()

    def closed(self, obj: Any) -> bool:
        return bool(obj._closing or obj._closed)

    async def finish(self, obj: Any) -> None:
        await self._close(obj)

    def child(self, method: MethodSpec, parent: Any) -> Probe:
        child = AiomysqlPoolConnection(self.env, parent=parent, parent_probe=self)
        child.pool = parent
        return child


@probe("aiomysql.PoolConnection")
class AiomysqlPoolConnection(MyProbe):
    async def open(self) -> Any:
        self.pool = await AiomysqlPool(self.env).open()
        return await self.pool.acquire()

    def closed(self, obj: Any) -> bool:
        return obj.closed

    def returned(self, obj: Any) -> bool:
        return any(c is obj for c in self.pool._free)

    async def write(self, obj: Any, marker: str) -> None:
        async with obj.cursor() as cur:
            await cur.execute("insert into marks values (%s)", (marker,))

    async def finish(self, obj: Any) -> None:
        if not obj.closed:
            await obj.commit()
        if obj in self.pool._used:
            await maybe(self.pool.release(obj))
        self.pool.close()
        await self.pool.wait_closed()


@factory_call("aiomysql.connect", "aiomysql.create_pool")
def _aiomysql_connect(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    kwargs = _aiomysql_kwargs(env)
    if factory.qualname.endswith("create_pool"):
        kwargs.update(minsize=1, maxsize=1)
    return resolve(factory.qualname)(**kwargs)


# --- pyodbc (over the PostgreSQL ODBC driver, psqlODBC, on the PostgreSQL server) -----------------

ODBC_PG_DRIVER = "PostgreSQL Unicode"


def odbc_pg(env: Env, app: str, options: str = "") -> str:
    """A pyodbc connection string for the test server; the session is named ``app``."""
    pyodbc = module_or_skip(*NATIVE_DRIVERS["pyodbc"])
    if ODBC_PG_DRIVER not in pyodbc.drivers():
        missing(f"the ODBC driver `{ODBC_PG_DRIVER}` is not registered with unixODBC: install "
                "the Debian package `odbc-postgresql`")
    pg_admin(env)
    server = env.server("postgres")
    return (f"DRIVER={{{ODBC_PG_DRIVER}}};Servername={server.socket_dir};Port=5432;"
            f"Database=postgres;UID=postgres;pqopt={{application_name={app}}};{options}")


def _odbc_connect(env: Env, options: str = "") -> tuple[Any, str]:
    import pyodbc

    app = new_app()
    conn = pyodbc.connect(odbc_pg(env, app, options))
    env.cleanups.append(conn.close)
    return conn, app


@probe("pyodbc.Connection")
class PyodbcConnection(PgProbe):
    method_args = {"execute": ("select 1",)}

    def open(self) -> Any:
        conn, self.app = _odbc_connect(self.env)
        return conn

    def closed(self, obj: Any) -> bool:
        return pg_checked(self.env, self.app, obj.closed)

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("insert into marks values (?)", marker)

    def finish(self, obj: Any) -> None:
        if not obj.closed:
            obj.commit()
            obj.close()


@probe("pyodbc.Cursor")
class PyodbcCursor(PgProbe):
    def open(self) -> Any:
        self.conn_probe = PyodbcConnection(self.env)
        self.conn = self.conn_probe.open()
        return self.conn.cursor()

    def closed(self, obj: Any) -> bool:
        import pyodbc

        try:
            obj.execute("select 1")
        except pyodbc.ProgrammingError:  # "Attempt to use a closed cursor."
            return True
        obj.fetchall()
        return False

    def write(self, obj: Any, marker: str) -> None:
        obj.execute("insert into marks values (?)", marker)

    def finish(self, obj: Any) -> None:
        self.conn_probe.finish(self.conn)

    def _seen(self, options: str) -> Buffering:
        conn, app = _odbc_connect(self.env, options)
        cursor = conn.cursor()
        cursor.execute(PG_BIG)
        return pg_buffering(self.env, app, cursor.fetchall)

    def buffering(self) -> Buffering:
        """DRIVER: the same pyodbc cursor is client-side or streaming as the ODBC driver is set up.

        psqlODBC reads the whole result at execute() by default, and fetches through a server
        cursor (DECLARE / FETCH, 100 rows at a time) with UseDeclareFetch=1.
        """
        default = self._seen("")
        declare_fetch = self._seen("UseDeclareFetch=1;Fetch=100;")
        if default is Buffering.CLIENT and declare_fetch is Buffering.SERVER:
            return Buffering.DRIVER
        return default


@factory_call("pyodbc.connect")
def _pyodbc_connect(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(odbc_pg(env, new_app()))


# --- SQLAlchemy (over PostgreSQL with psycopg2 / asyncpg; results also over SQLite) ----------------

def sa_url(env: Env, driver: str = "psycopg2") -> str:
    pg_admin(env)
    return f"postgresql+{driver}://postgres@/postgres?host={env.server('postgres').socket_dir}"


def sa_engine(env: Env) -> Any:
    import sqlalchemy

    engine = sqlalchemy.create_engine(sa_url(env))
    env.cleanups.append(engine.dispose)
    return engine


def sa_async_engine(env: Env) -> Any:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(sa_url(env, "asyncpg"))
    env.cleanups.append(engine.dispose)
    return engine


def _text(sql: str) -> Any:
    from sqlalchemy import text

    return text(sql)


INSERT = "insert into marks values (:v)"


@probe("sqlalchemy.Engine")
class SaEngine(PgProbe):
    def open(self) -> Any:
        engine = sa_engine(self.env)
        with engine.connect() as conn:  # one pooled connection to dispose of
            conn.execute(_text("select 1"))
        return engine

    def closed(self, obj: Any) -> bool:
        return obj.pool.checkedin() == 0

    def finish(self, obj: Any) -> None:
        obj.dispose()

    def child(self, method: MethodSpec, parent: Any) -> Probe:
        child = PROBE_CLASSES_BY_METHOD.get(method.returns, SaConnection)(self.env, parent=parent,
                                                                          parent_probe=self)
        child.engine = parent
        return child


@probe("sqlalchemy.Connection")
class SaConnection(PgProbe):
    method_args = {"execute": (_text("select 1"),), "exec_driver_sql": ("select 1",)}

    def open(self) -> Any:
        self.engine = sa_engine(self.env)
        return self.engine.connect()

    def closed(self, obj: Any) -> bool:
        return bool(obj.closed)

    def returned(self, obj: Any) -> bool:
        return self.engine.pool.checkedout() == 0 and self.engine.pool.checkedin() >= 1

    def write(self, obj: Any, marker: str) -> None:
        obj.execute(_text(INSERT), {"v": marker})

    def finish(self, obj: Any) -> None:
        if not obj.closed:
            obj.commit()
            obj.close()

    def buffering(self) -> Buffering:
        raise NotImplementedError


@probe("sqlalchemy.Transaction")
class SaTransaction(PgProbe):
    def open(self) -> Any:
        self.conn = SaConnection(self.env).open()
        return self.conn.begin()

    def closed(self, obj: Any) -> bool:
        return not obj.is_active

    def write(self, obj: Any, marker: str) -> None:
        self.conn.execute(_text(INSERT), {"v": marker})

    def finish(self, obj: Any) -> None:
        if obj.is_active:
            obj.commit()
        self.conn.close()


def _observed_result(result: Any, kill: Callable[[], None], total: int) -> Buffering:
    first = result.fetchone()
    assert first is not None
    kill()
    try:
        rest = result.fetchall()
    except Exception:
        return Buffering.SERVER
    return Buffering.CLIENT if len(rest) == total - 1 else Buffering.SERVER


@probe("sqlalchemy.CursorResult")
class SaResult(PgProbe):
    def open(self) -> Any:
        self.conn = SaConnection(self.env).open()
        return self.conn.execute(_text("select 1"))

    def closed(self, obj: Any) -> bool:
        return bool(obj.closed)

    def finish(self, obj: Any) -> None:
        self.conn.close()

    def buffering(self) -> Buffering:
        """DRIVER: the result buffers exactly as the DBAPI cursor under it (PostgreSQL, SQLite)."""
        import sqlalchemy

        from dbleak.knowledge.drivers import builtin_table

        table = builtin_table()
        # Over psycopg2: the result behaves as psycopg2's client-side cursor.
        app = new_app()
        engine = sqlalchemy.create_engine(sa_url(self.env), connect_args={"application_name": app})
        self.env.cleanups.append(engine.dispose)
        conn = engine.connect()
        pg_seen = _observed_result(conn.execute(_text(PG_BIG)),
                                   lambda: pg_terminate(self.env, app), PG_ROWS)
        conn.invalidate()  # its server session was killed
        conn.close()
        # ... and streams with stream_results=True (a server-side cursor).
        app2 = new_app()
        engine2 = sqlalchemy.create_engine(sa_url(self.env), connect_args={"application_name": app2})
        self.env.cleanups.append(engine2.dispose)
        conn = engine2.connect()
        streamed = _observed_result(
            conn.execution_options(stream_results=True).execute(_text(PG_BIG)),
            lambda: pg_terminate(self.env, app2), PG_ROWS)
        conn.invalidate()
        conn.close()
        # Over sqlite3: lazy, as sqlite3's cursor.
        lite = sqlalchemy.create_engine(f"sqlite:///{sqlite_path(self.env)}")
        self.env.cleanups.append(lite.dispose)
        ticks = Ticks()
        with lite.connect() as conn:
            conn.connection.driver_connection.create_function("tick", 1, ticks)
            result = conn.execute(_text(
                f"with recursive n(i) as (select 1 union all select i + 1 from n where i < {ROWS}) "
                "select tick(i) from n"))
            result.fetchone()
            lite_seen = lazy_or_client(ticks.count)
            result.close()
        if (pg_seen == table.object("psycopg2.cursor").buffering
                and streamed == table.object("psycopg2.named_cursor").buffering
                and lite_seen == table.object("sqlite3.Cursor").buffering):
            return Buffering.DRIVER
        return Buffering.NONE


@probe("sqlalchemy.PoolProxiedConnection")
class SaRawConnection(PgProbe):
    def open(self) -> Any:
        self.engine = self.parent if self.parent is not None else sa_engine(self.env)
        return self.engine.raw_connection()

    def closed(self, obj: Any) -> bool:
        return obj.dbapi_connection is None

    def returned(self, obj: Any) -> bool:
        return self.engine.pool.checkedout() == 0 and self.engine.pool.checkedin() >= 1

    def write(self, obj: Any, marker: str) -> None:
        obj.cursor().execute("insert into marks values (%s)", (marker,))

    def finish(self, obj: Any) -> None:
        if obj.dbapi_connection is not None:
            obj.commit()
            obj.close()


class _SaSessionBase(PgProbe):
    method_args = {"execute": (_text("select 1"),)}

    def closed(self, obj: Any) -> bool:
        return not obj.in_transaction() and self.engine.pool.checkedout() == 0

    def returned(self, obj: Any) -> bool:
        return self.engine.pool.checkedout() == 0 and self.engine.pool.checkedin() >= 1

    def write(self, obj: Any, marker: str) -> None:
        obj.execute(_text(INSERT), {"v": marker})

    def finish(self, obj: Any) -> None:
        if obj.in_transaction():
            obj.commit()
        obj.close()


@probe("sqlalchemy.orm.Session")
class SaSession(_SaSessionBase):
    def open(self) -> Any:
        from sqlalchemy.orm import Session

        if self.parent is not None:  # from a sessionmaker
            self.engine = self.parent.kw["bind"]
            return None
        self.engine = sa_engine(self.env)
        return Session(self.engine)

    def open_for_release(self) -> Any:
        session = self.open()
        session.execute(_text("select 1"))  # holds a connection from here on
        return session


@probe("sqlalchemy.orm.SessionTransaction")
class SaSessionTransaction(PgProbe):
    def open(self) -> Any:
        from sqlalchemy.orm import Session

        self.engine = sa_engine(self.env)
        self.session = Session(self.engine)
        return self.session.begin()

    def closed(self, obj: Any) -> bool:
        return not obj.is_active

    def write(self, obj: Any, marker: str) -> None:
        self.session.execute(_text(INSERT), {"v": marker})

    def finish(self, obj: Any) -> None:
        if obj.is_active:
            obj.commit()
        self.session.close()


@probe("sqlalchemy.SessionConnection")
class SaSessionConnection(PgProbe):
    def open(self) -> Any:
        from sqlalchemy.orm import Session

        self.session = Session(sa_engine(self.env))
        return self.session.connection()

    def closed(self, obj: Any) -> bool:
        return bool(obj.closed)

    def write(self, obj: Any, marker: str) -> None:
        obj.execute(_text(INSERT), {"v": marker})

    def finish(self, obj: Any) -> None:
        if self.session.in_transaction():
            try:
                self.session.commit()
            except Exception:  # its connection was closed under it
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "transaction already deassociated"
                    self.session.rollback()
        self.session.close()


@probe("sqlalchemy.orm.sessionmaker")
class SaSessionmaker(PgProbe):
    def open(self) -> Any:
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(bind=sa_engine(self.env))

    def child(self, method: MethodSpec, parent: Any) -> Probe:
        child = SaSession(self.env, parent=parent, parent_probe=self)
        child.engine = parent.kw["bind"]
        return child


@probe("sqlalchemy.orm.scoped_session")
class SaScopedSession(PgProbe):
    def open(self) -> Any:
        from sqlalchemy.orm import scoped_session, sessionmaker

        self.engine = sa_engine(self.env)
        registry = scoped_session(sessionmaker(bind=self.engine))
        registry().execute(_text("select 1"))  # this scope's session holds a connection
        return registry

    def closed(self, obj: Any) -> bool:
        return not obj.registry.has() and self.engine.pool.checkedout() == 0

    def finish(self, obj: Any) -> None:
        obj.remove()


@probe("sqlalchemy.orm.ScopedSession")
class SaScopedSessionSession(_SaSessionBase):
    def open(self) -> Any:
        from sqlalchemy.orm import scoped_session, sessionmaker

        self.engine = sa_engine(self.env)
        self.registry = scoped_session(sessionmaker(bind=self.engine))
        session = self.registry()
        session.execute(_text("select 1"))
        return session


class _SaAsyncBase(PgProbe):
    def returned(self, obj: Any) -> bool:
        pool = self.engine.sync_engine.pool
        return pool.checkedout() == 0 and pool.checkedin() >= 1

    async def write(self, obj: Any, marker: str) -> None:
        await obj.execute(_text(INSERT), {"v": marker})


@probe("sqlalchemy.ext.asyncio.AsyncEngine")
class SaAsyncEngine(PgProbe):
    async def open(self) -> Any:
        engine = sa_async_engine(self.env)
        async with engine.connect() as conn:
            await conn.execute(_text("select 1"))
        return engine

    def closed(self, obj: Any) -> bool:
        return obj.sync_engine.pool.checkedin() == 0

    async def finish(self, obj: Any) -> None:
        await obj.dispose()

    def child(self, method: MethodSpec, parent: Any) -> Probe:
        child = SaAsyncConnection(self.env, parent=parent, parent_probe=self)
        child.engine = parent
        return child


@probe("sqlalchemy.ext.asyncio.AsyncConnection")
class SaAsyncConnection(_SaAsyncBase):
    method_args = {"execute": (_text("select 1"),)}

    async def open(self) -> Any:
        self.engine = sa_async_engine(self.env)
        return await self.engine.connect()

    def closed(self, obj: Any) -> bool:
        return bool(obj.closed)

    async def finish(self, obj: Any) -> None:
        if not obj.closed:
            await obj.commit()
            await obj.close()


@probe("sqlalchemy.ext.asyncio.AsyncSession")
class SaAsyncSession(_SaAsyncBase):
    method_args = {"execute": (_text("select 1"),)}

    async def open(self) -> Any:
        from sqlalchemy.ext.asyncio import AsyncSession

        if self.parent is not None:
            self.engine = self.parent.kw["bind"]
            return None
        self.engine = sa_async_engine(self.env)
        session = AsyncSession(self.engine)
        await session.execute(_text("select 1"))
        return session

    def closed(self, obj: Any) -> bool:
        return not obj.in_transaction() and self.engine.sync_engine.pool.checkedout() == 0

    async def finish(self, obj: Any) -> None:
        if obj.in_transaction():
            await obj.commit()
        await obj.close()


@probe("sqlalchemy.ext.asyncio.async_sessionmaker")
class SaAsyncSessionmaker(PgProbe):
    def open(self) -> Any:
        from sqlalchemy.ext.asyncio import async_sessionmaker

        return async_sessionmaker(bind=sa_async_engine(self.env))

    def child(self, method: MethodSpec, parent: Any) -> Probe:
        child = SaAsyncSession(self.env, parent=parent, parent_probe=self)
        child.engine = parent.kw["bind"]
        return child


PROBE_CLASSES_BY_METHOD: dict[str, type[Probe]] = {
    "sqlalchemy.Connection": SaConnection,
    "sqlalchemy.PoolProxiedConnection": SaRawConnection,
}


@factory_call("sqlalchemy.create_engine", "sqlalchemy.engine.create_engine")
def _sa_create_engine(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(sa_url(env))


@factory_call("sqlalchemy.engine_from_config")
def _sa_engine_from_config(env: Env, factory: FactorySpec) -> Any:
    import sqlalchemy

    return sqlalchemy.engine_from_config({"sqlalchemy.url": sa_url(env)})


@factory_call("sqlalchemy.testing.engines.testing_engine")
def _sa_testing_engine(env: Env, factory: FactorySpec) -> Any:
    """SQLAlchemy's test plugin's engine, outside the plugin: the two settings it reads are
    given when no plugin run set them (tests/drivers/test_held_factories.py checks its reaper)."""
    from types import SimpleNamespace

    from sqlalchemy.testing import config
    from sqlalchemy.testing.engines import testing_engine

    if getattr(config, "db_opts", None) is None:
        config.db_opts = {}
    if getattr(config, "options", None) is None:
        config.options = SimpleNamespace(low_connections=False)
    return testing_engine(sa_url(env), options={"scope": "function"})


@factory_call("sqlalchemy.orm.Session", "sqlalchemy.orm.sessionmaker")
def _sa_session(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(bind=sa_engine(env))


@factory_call("sqlalchemy.orm.scoped_session")
def _sa_scoped(env: Env, factory: FactorySpec) -> Any:
    from sqlalchemy.orm import scoped_session, sessionmaker

    return scoped_session(sessionmaker(bind=sa_engine(env)))


@factory_call("sqlalchemy.ext.asyncio.create_async_engine")
def _sa_async_engine(env: Env, factory: FactorySpec) -> Any:
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(sa_url(env, "asyncpg"))


@factory_call("sqlalchemy.ext.asyncio.AsyncEngine")
def _sa_async_engine_over_sync(env: Env, factory: FactorySpec) -> Any:
    from sqlalchemy import create_engine

    from driver_probing import resolve

    return resolve(factory.qualname)(create_engine(sa_url(env, "asyncpg")))


@factory_call("sqlalchemy.ext.asyncio.AsyncSession", "sqlalchemy.ext.asyncio.async_sessionmaker")
def _sa_async_session(env: Env, factory: FactorySpec) -> Any:
    from driver_probing import resolve

    return resolve(factory.qualname)(bind=sa_async_engine(env))


# --- Django (sqlite3 backend) -----------------------------------------------------------------------

def django_ready(env: Env) -> None:
    import os

    import django
    from django.conf import settings

    # The claims run inside asyncio.run(); Django's sync-only guard is about request handlers.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    if not settings.configured:
        settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                                                  # a file: Django never closes :memory:
                                                  "NAME": str(env.tmp / "django.sqlite")}})
        django.setup()


@probe("django.db.ConnectionHandler")
class DjangoConnections(Probe):
    method_args = {"__getitem__": ("default",)}

    def open(self) -> Any:
        django_ready(self.env)
        from django.db import connections

        connections["default"].ensure_connection()
        return connections

    def closed(self, obj: Any) -> bool:
        return all(wrapper.connection is None for wrapper in obj.all(initialized_only=True))

    def finish(self, obj: Any) -> None:
        obj.close_all()


@probe("django.db.DatabaseWrapper")
class DjangoConnection(Probe):
    def open(self) -> Any:
        django_ready(self.env)
        from django.db import connection

        connection.ensure_connection()
        return connection

    def closed(self, obj: Any) -> bool:
        return obj.connection is None

    def finish(self, obj: Any) -> None:
        obj.close()


@probe("django.db.CursorWrapper")
class DjangoCursor(Probe):
    read_only = True  # the transaction belongs to Django's atomic(), not to the cursor

    def open(self) -> Any:
        django_ready(self.env)
        from django.db import connection

        self.connection = connection
        return connection.cursor()

    def closed(self, obj: Any) -> bool:
        try:
            obj.execute("select 1")
        except Exception:
            return True
        return False

    def finish(self, obj: Any) -> None:
        self.connection.close()

    def buffering(self) -> Buffering:
        """DRIVER: over the sqlite3 backend it is exactly as lazy as sqlite3's cursor."""
        from dbleak.knowledge.drivers import builtin_table

        cursor = self.open()
        ticks = Ticks()
        self.connection.connection.create_function("tick", 1, ticks)
        cursor.execute(
            f"with recursive n(i) as (select 1 union all select i + 1 from n where i < {ROWS}) "
            "select tick(i) from n")
        cursor.fetchone()
        seen = lazy_or_client(ticks.count)
        cursor.close()
        self.finish(cursor)
        sqlite_claim = builtin_table().object("sqlite3.Cursor").buffering
        return Buffering.DRIVER if seen == sqlite_claim else seen


__all__ = ["FACTORY_CALLS", "maybe"]
