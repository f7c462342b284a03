"""The hooks the runtime check puts into each driver, and how it takes them out again.

Every hook keeps what user code sees, as far as the driver lets it:

- sqlite3 and psycopg2 have factory hooks (sqlite3's ``factory=``, psycopg2's
  ``connection_factory=`` and ``cursor_factory=``): the connection (and its cursors) are made by a
  subclass of the class the caller asked for, named like it, that records ``close()`` and
  ``fetchall()`` (for sqlite3 the wrapper calls that subclass itself, as ``sqlite3.connect``
  calls its factory, with the same audit events: it is cheaper than passing ``factory=``). ``isinstance`` holds; ``type(conn) is sqlite3.Connection`` does not (the one
  visible difference, see docs/runtime.md).
- Drivers written in Python (psycopg 3, PyMySQL, mysqlclient's ``Connection``, mysql-connector,
  aiosqlite, asyncpg, SQLAlchemy): the methods ``__init__``, ``close`` and ``fetchall`` of the
  driver's own classes are wrapped in place; the objects are the driver's own, of the driver's own
  type.
- duckdb (a C++ extension): ``duckdb.connect`` is wrapped and returns the driver's own object.

Each wrapper calls the original first and records afterwards, so an error raised by the driver
reaches the caller unchanged; the records are weak references (see :mod:`.tracker`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

from dbleak.runtime.tracker import OWNER_LIBRARIES, Kind, Record, Tracker

_MISSING = object()


class Patches:
    """The attributes replaced, to be put back by :meth:`undo`."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []
        self._calls: list[Callable[[], None]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        self._undo.append((owner, name, vars(owner).get(name, _MISSING)))
        setattr(owner, name, value)

    def call(self, function: Callable[[], None]) -> None:
        """Call ``function`` at :meth:`undo` (after the attributes are put back)."""
        self._calls.append(function)

    def undo(self) -> None:
        for owner, name, old in reversed(self._undo):
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)
        self._undo.clear()
        for function in reversed(self._calls):
            function()
        self._calls.clear()


def _own(cls: type, name: str) -> Any:
    """``cls.name`` as the class defines it (a staticmethod/classmethod stays wrapped)."""
    return inspect.getattr_static(cls, name)


def _wrap_init(p: Patches, t: Tracker, cls: type, driver: str, kind: str,
               probe: Callable[[Any], bool] | None, tracks_close: bool,
               owners: tuple[str, ...] = OWNER_LIBRARIES) -> None:
    original = cls.__init__  # type: ignore[misc]
    what = Kind(driver, kind, probe, tracks_close)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        t.track(self, what, owners)

    p.set(cls, "__init__", __init__)


def _wrap_close(p: Patches, t: Tracker, cls: type, name: str = "close") -> None:
    original = getattr(cls, name)
    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def aclose(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = await original(self, *args, **kwargs)
            t.closed(self)
            return result

        p.set(cls, name, aclose)
        return

    @functools.wraps(original)
    def close(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        t.closed(self)
        return result

    p.set(cls, name, close)


def _wrap_read(p: Patches, t: Tracker, cls: Any, name: str, driver: str,
               owners: tuple[str, ...] | None = None,
               decorator: Callable[[Any], Any] | None = None) -> None:
    """Count the rows ``cls.name`` returns. ``decorator``: the one the driver put on a coroutine
    function to make it return an awaitable of its own (aiosqlite's ``contextmanager``, whose
    ``Result`` is also an async context manager): the coroutine function under it is wrapped, and
    decorated again, so the caller still gets the driver's own object."""
    original = getattr(cls, name)
    method = f"{name}()"
    inner = getattr(original, "__wrapped__", None)
    if (decorator is not None and not inspect.iscoroutinefunction(original)
            and inspect.iscoroutinefunction(inner)):
        redecorate, original = decorator, inner
    else:
        redecorate = None
    if inspect.iscoroutinefunction(original):
        coroutine_function = original

        @functools.wraps(original)
        async def aread(*args: Any, **kwargs: Any) -> Any:
            rows = await coroutine_function(*args, **kwargs)
            count = len(rows) if isinstance(rows, list) else 0
            if count > t.floor:
                t.read(count, driver, method, owners)
            return rows

        p.set(cls, name, aread if redecorate is None else redecorate(aread))
        return

    @functools.wraps(original)
    def read(*args: Any, **kwargs: Any) -> Any:
        rows = original(*args, **kwargs)
        try:
            count = len(rows)
        except TypeError:
            return rows  # an iterator (pandas with chunksize=): not one read
        if count > t.floor:
            t.read(count, driver, method, owners)
        return rows

    p.set(cls, name, read)


# -- sqlite3 ----------------------------------------------------------------------------------

def _sqlite3(p: Patches, t: Tracker) -> None:
    sqlite3: Any = importlib.import_module("sqlite3")
    importlib.import_module("sqlite3.dbapi2")

    def is_open(conn: Any) -> bool:
        try:
            conn.total_changes  # noqa: B018 - raises ProgrammingError once closed
        except sqlite3.ProgrammingError:
            return False
        return True

    cursors: dict[type, type] = {}
    connections: dict[type, type] = {}

    def cursor_class(base: type) -> type:
        made = cursors.get(base)
        if made is None:
            base_fetchall = base.fetchall  # type: ignore[attr-defined]

            def fetchall(self: Any) -> list[Any]:
                rows: list[Any] = base_fetchall(self)
                if len(rows) > t.floor:
                    t.read(len(rows), "sqlite3", "fetchall()")
                return rows

            made = type(base.__name__, (base,), {
                "__slots__": (), "__module__": base.__module__, "__qualname__": base.__qualname__,
                "__doc__": base.__doc__, "fetchall": fetchall})
            cursors[base] = made
        return made

    def connection_class(base: type) -> type:
        made = connections.get(base)
        if made is None:
            base_close, base_cursor = base.close, base.cursor  # type: ignore[attr-defined]

            live = t.live

            def close(self: Any) -> None:
                base_close(self)
                record = live.get(id(self))
                if record is not None and record() is self:
                    del live[record.key]

            default_cursor = cursor_class(sqlite3.Cursor)

            def cursor(self: Any, factory: type = sqlite3.Cursor) -> Any:
                return base_cursor(self, default_cursor if factory is sqlite3.Cursor
                                   else cursor_class(factory))

            # As the C methods do: a new cursor of the default class runs the statement.
            def execute(self: Any, sql: str, parameters: Any = (), /) -> Any:
                return base_cursor(self, default_cursor).execute(sql, parameters)

            def executemany(self: Any, sql: str, parameters: Any, /) -> Any:
                return base_cursor(self, default_cursor).executemany(sql, parameters)

            def executescript(self: Any, script: str, /) -> Any:
                return base_cursor(self, default_cursor).executescript(script)

            # sqlite3.Connection takes no weak reference: the subclass adds the slot (and no
            # __dict__), which the tracker needs.
            slots = () if base.__weakrefoffset__ else ("__weakref__",)
            made = type(base.__name__, (base,), {
                "__slots__": slots, "__module__": base.__module__, "__qualname__": base.__qualname__,
                "__doc__": base.__doc__, "close": close, "cursor": cursor, "execute": execute,
                "executemany": executemany, "executescript": executescript})
            connections[base] = made
        return made

    original = sqlite3.connect
    audit = sys.audit
    getframe = sys._getframe
    connection = sqlite3.Connection
    default = connection_class(connection)
    what = Kind("sqlite3", "connection", is_open, tracks_close=True)
    project_files = t.project_files
    live = t.live
    collected = t._collected

    def track(conn: Any, frame: Any) -> None:
        # Tracker.track, inlined (once per connection): the caller is usually the project's code.
        path = project_files.get(frame.f_code.co_filename)
        if path is not None:
            site = (path, frame.f_lineno)
        else:
            found = t.site_from(frame, OWNER_LIBRARIES)
            if found is None:
                return
            site = found
        record = Record(conn, collected)
        record.key = key = id(conn)
        record.what = what
        record.site = site
        record.owner = t.current
        live[key] = record

    def connect_with(database: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        factory = args[4] if len(args) > 4 else kwargs.get("factory", connection)
        if database is _MISSING or not (isinstance(factory, type) and issubclass(factory, connection)):
            # The driver's own error (or its own object, for a factory it would refuse).
            return original(*args, **kwargs) if database is _MISSING else original(database, *args, **kwargs)
        made = default if factory is connection else connection_class(factory)
        audit("sqlite3.connect", database)
        conn = made(database, *args, **kwargs)
        audit("sqlite3.connect/handle", conn)
        track(conn, getframe(2))
        return conn

    # What `sqlite3.connect` does (audit, call the factory with the same arguments, audit the
    # handle), with the factory's tracking subclass; calling the class directly rather than passing
    # `factory=` to `sqlite3.connect` costs a third less per connection. `connect(database)` alone,
    # the common call, takes the shortest path.
    @functools.wraps(original)
    def connect(database: Any = _MISSING, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or database is _MISSING:
            return connect_with(database, args, kwargs)
        audit("sqlite3.connect", database)
        conn = default(database)
        audit("sqlite3.connect/handle", conn)
        frame = getframe(1)
        path = project_files.get(frame.f_code.co_filename)
        if path is None:
            track(conn, frame)
            return conn
        record = Record(conn, collected)
        record.key = key = id(conn)
        record.what = what
        record.site = (path, frame.f_lineno)
        record.owner = t.current
        live[key] = record
        return conn

    p.set(sqlite3, "connect", connect)
    p.set(sqlite3.dbapi2, "connect", connect)


# -- psycopg2 ---------------------------------------------------------------------------------

def _not_closed(obj: Any) -> bool:
    return not obj.closed


def _psycopg2(p: Patches, t: Tracker) -> None:
    psycopg2: Any = importlib.import_module("psycopg2")
    ext: Any = importlib.import_module("psycopg2.extensions")

    cursors: dict[type, type] = {}
    connections: dict[type, type] = {}
    cursor_kind = Kind("psycopg2", "cursor", _not_closed, tracks_close=False)
    connection_kind = Kind("psycopg2", "connection", _not_closed, tracks_close=True)

    def cursor_class(base: type) -> type:
        made = cursors.get(base)
        if made is None:
            base_fetchall = base.fetchall  # type: ignore[attr-defined]

            def fetchall(self: Any) -> Any:
                rows = base_fetchall(self)
                if len(rows) > t.floor:
                    t.read(len(rows), "psycopg2", "fetchall()")
                return rows

            made = type(base.__name__, (base,), {
                "__module__": base.__module__, "__qualname__": base.__qualname__,
                "__doc__": base.__doc__, "fetchall": fetchall})
            cursors[base] = made
        return made

    def connection_class(base: type) -> type:
        made = connections.get(base)
        if made is None:
            base_close, base_cursor = base.close, base.cursor  # type: ignore[attr-defined]
            own_cursor = base.cursor is ext.connection.cursor  # type: ignore[attr-defined]

            def close(self: Any) -> None:
                base_close(self)
                t.closed(self)

            def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
                factory = kwargs.get("cursor_factory") or self.cursor_factory
                if factory is None and own_cursor:
                    factory = ext.cursor
                if factory is not None and isinstance(factory, type):
                    kwargs["cursor_factory"] = cursor_class(factory)
                cur = base_cursor(self, *args, **kwargs)
                t.track(cur, cursor_kind)
                return cur

            made = type(base.__name__, (base,), {
                "__module__": base.__module__, "__qualname__": base.__qualname__,
                "__doc__": base.__doc__, "close": close, "cursor": cursor})
            connections[base] = made
        return made

    original = psycopg2._connect

    @functools.wraps(original)
    def _connect(dsn: Any, connection_factory: Any = None, **kwargs: Any) -> Any:
        conn = original(dsn, connection_factory=connection_class(connection_factory or ext.connection),
                        **kwargs)
        t.track(conn, connection_kind)
        return conn

    p.set(psycopg2, "_connect", _connect)


# -- psycopg 3 --------------------------------------------------------------------------------

def _psycopg(p: Patches, t: Tracker) -> None:
    psycopg: Any = importlib.import_module("psycopg")

    cls: Any
    for cls in (psycopg.Connection, psycopg.AsyncConnection):
        _wrap_init(p, t, cls, "psycopg", "connection", lambda c: not c.closed, tracks_close=True)
        _wrap_close(p, t, cls)
    base = importlib.import_module("psycopg._cursor_base").BaseCursor
    # A cursor of a closed connection holds nothing, though its own `closed` stays False.
    _wrap_init(p, t, base, "psycopg", "cursor", lambda c: not c.closed and not c.connection.closed,
               tracks_close=False)
    for cls in (psycopg.Cursor, psycopg.ServerCursor, psycopg.AsyncCursor, psycopg.AsyncServerCursor,
                psycopg.ClientCursor, psycopg.AsyncClientCursor):
        if "fetchall" in vars(cls):
            _wrap_read(p, t, cls, "fetchall", "psycopg")


# -- MySQL drivers ----------------------------------------------------------------------------

def _pymysql(p: Patches, t: Tracker) -> None:
    importlib.import_module("pymysql.connections")
    importlib.import_module("pymysql.cursors")
    pymysql: Any = importlib.import_module("pymysql")

    conn = pymysql.connections.Connection
    _wrap_init(p, t, conn, "pymysql", "connection", lambda c: c.open, tracks_close=True)
    _wrap_close(p, t, conn)
    _wrap_init(p, t, pymysql.cursors.Cursor, "pymysql", "cursor",
               lambda c: c.connection is not None and c.connection.open, tracks_close=False)
    for cls in (pymysql.cursors.Cursor, pymysql.cursors.SSCursor):
        _wrap_read(p, t, cls, "fetchall", "pymysql")


def _mysqldb(p: Patches, t: Tracker) -> None:
    importlib.import_module("MySQLdb.connections")
    importlib.import_module("MySQLdb.cursors")
    MySQLdb: Any = importlib.import_module("MySQLdb")

    conn = MySQLdb.connections.Connection
    _wrap_init(p, t, conn, "mysqlclient", "connection", lambda c: bool(c.open), tracks_close=True)
    _wrap_close(p, t, conn)
    _wrap_init(p, t, MySQLdb.cursors.BaseCursor, "mysqlclient", "cursor",
               lambda c: c.connection is not None and bool(c.connection.open), tracks_close=False)
    for cls in (MySQLdb.cursors.CursorStoreResultMixIn, MySQLdb.cursors.CursorUseResultMixIn):
        _wrap_read(p, t, cls, "fetchall", "mysqlclient")


_POOLING = os.path.join("mysql", "connector", "pooling.py")
_POOL_METHODS = frozenset({"add_connection", "get_connection", "_get_pooled_connection", "set_config"})


def _wrap_connector_init(p: Patches, t: Tracker, cls: type) -> None:
    """`mysql.connector.connect` itself lives in pooling.py: only the pool's methods make the
    connections a pool owns."""
    original = cls.__init__  # type: ignore[misc]
    owners = tuple(m for m in OWNER_LIBRARIES if m != _POOLING)
    what = Kind("mysql-connector", "connection", None, tracks_close=True)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        frame: Any = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name in _POOL_METHODS and frame.f_code.co_filename.endswith(_POOLING):
                return
            frame = frame.f_back
        t.track(self, what, owners)

    p.set(cls, "__init__", __init__)


def _mysql_connector(p: Patches, t: Tracker) -> None:
    importlib.import_module("mysql.connector.connection")
    importlib.import_module("mysql.connector.cursor")
    importlib.import_module("mysql.connector.pooling")
    mysql: Any = importlib.import_module("mysql")

    classes: list[type] = [mysql.connector.connection.MySQLConnection]
    try:
        classes.append(importlib.import_module("mysql.connector.connection_cext").CMySQLConnection)
    except Exception:  # noqa: BLE001, S110 - the C extension is optional (and may not load)
        pass
    for cls in classes:
        _wrap_connector_init(p, t, cls)
        for name in ("close", "disconnect"):
            if name in vars(cls):
                _wrap_close(p, t, cls, name)
    # A connection taken from a pool: closing it gives it back (the pool's own is not tracked).
    pooled = mysql.connector.pooling.PooledMySQLConnection
    _wrap_init(p, t, pooled, "mysql-connector", "pooled connection", None, tracks_close=True,
               owners=())
    _wrap_close(p, t, pooled)
    for cls in vars(mysql.connector.cursor).values():
        if isinstance(cls, type) and "fetchall" in vars(cls) and cls.__module__ == "mysql.connector.cursor":
            _wrap_read(p, t, cls, "fetchall", "mysql-connector")


# -- duckdb, aiosqlite, asyncpg ---------------------------------------------------------------

def _duckdb(p: Patches, t: Tracker) -> None:
    duckdb: Any = importlib.import_module("duckdb")

    def is_open(conn: Any) -> bool:
        # A closed connection refuses to make a cursor; an open one makes a new handle on the same
        # database, which is closed at once (the connection's own result set is untouched).
        try:
            conn.cursor().close()
        except duckdb.ConnectionException:
            return False
        return True

    original = duckdb.connect
    what = Kind("duckdb", "connection", is_open, tracks_close=False)

    @functools.wraps(original)
    def connect(*args: Any, **kwargs: Any) -> Any:
        conn = original(*args, **kwargs)
        t.track(conn, what)
        return conn

    p.set(duckdb, "connect", connect)


_NOT_AIOSQLITE = tuple(m for m in OWNER_LIBRARIES if "aiosqlite" not in m)


def _aiosqlite(p: Patches, t: Tracker) -> None:
    importlib.import_module("aiosqlite.core")
    importlib.import_module("aiosqlite.cursor")
    aiosqlite: Any = importlib.import_module("aiosqlite")

    conn = aiosqlite.core.Connection
    _wrap_init(p, t, conn, "aiosqlite", "connection", lambda c: c._connection is not None,
               tracks_close=True, owners=_NOT_AIOSQLITE)
    _wrap_close(p, t, conn)
    # aiosqlite 0.20+: `execute_fetchall` returns its `Result` (awaitable, and an async context
    # manager) through `aiosqlite.context.contextmanager`.
    context: Any = importlib.import_module("aiosqlite.context")
    _wrap_read(p, t, conn, "execute_fetchall", "aiosqlite", _NOT_AIOSQLITE,
               decorator=getattr(context, "contextmanager", None))
    _wrap_read(p, t, aiosqlite.cursor.Cursor, "fetchall", "aiosqlite", _NOT_AIOSQLITE)


def _asyncpg(p: Patches, t: Tracker) -> None:
    importlib.import_module("asyncpg.connection")
    asyncpg: Any = importlib.import_module("asyncpg")

    conn = asyncpg.connection.Connection
    _wrap_init(p, t, conn, "asyncpg", "connection", lambda c: not c.is_closed(), tracks_close=True)
    _wrap_close(p, t, conn)
    _wrap_close(p, t, conn, "terminate")
    _wrap_read(p, t, conn, "fetch", "asyncpg")


# -- SQLAlchemy, pandas -----------------------------------------------------------------------

_SA_FIRST_CONNECT = os.path.join("sqlalchemy", "engine", "create.py")
_SA_ORM = os.sep + os.path.join("sqlalchemy", "orm") + os.sep


def _sqlalchemy(p: Patches, t: Tracker) -> None:
    importlib.import_module("sqlalchemy.engine")
    importlib.import_module("sqlalchemy.orm")
    sqlalchemy: Any = importlib.import_module("sqlalchemy")

    connection = sqlalchemy.engine.Connection
    original = connection.__init__
    alone = Kind("sqlalchemy", "connection", _not_closed, tracks_close=True)
    by_a_session = Kind("sqlalchemy", "connection", _not_closed, tracks_close=True,
                        alive_reportable=False)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if t.creation_site((_SA_FIRST_CONNECT,)) is None:
            return  # the engine's own, to read the server's settings on its first connection
        # A connection a Session checked out is reported through that Session while both are
        # alive; when it is collected unreturned, it is reported itself.
        by_session = t.creation_site((_SA_ORM,)) is None
        t.track(self, by_a_session if by_session else alone, owners=())

    p.set(connection, "__init__", __init__)
    _wrap_close(p, t, connection)
    _wrap_init(p, t, sqlalchemy.orm.Session, "sqlalchemy", "session",
               lambda s: s.in_transaction(), tracks_close=False, owners=())
    for cls in (sqlalchemy.engine.Result, sqlalchemy.engine.ScalarResult,
                sqlalchemy.engine.MappingResult, sqlalchemy.orm.Query):
        _wrap_read(p, t, cls, "all", "sqlalchemy")


_PANDAS_SQL = os.path.join("pandas", "io", "sql.py")
_PANDAS_FUNCTIONS = frozenset({"read_sql", "read_sql_query", "read_sql_table"})


def _wrap_pandas_read(p: Patches, t: Tracker, cls: Any, name: str) -> None:
    """``read_query``/``read_table`` of a pandas SQL back-end: the rows of the DataFrame, named
    after the ``pandas.read_sql*`` function that called it. With ``chunksize=`` pandas returns an
    iterator of DataFrames: not counted (neither is the driver's ``fetchmany`` it reads with)."""
    original = getattr(cls, name)

    @functools.wraps(original)
    def read(*args: Any, **kwargs: Any) -> Any:
        frame = original(*args, **kwargs)
        try:
            count = len(frame)
        except TypeError:
            return frame  # an iterator (chunksize=): not one read
        if count > t.floor:
            caller = sys._getframe(1).f_code
            called = (caller.co_name if caller.co_name in _PANDAS_FUNCTIONS
                      and caller.co_filename.endswith(_PANDAS_SQL) else name)
            t.read(count, "pandas", f"{called}()", OWNER_LIBRARIES)
        return frame

    p.set(cls, name, read)


def install_pandas(p: Patches, t: Tracker) -> None:
    sql = importlib.import_module("pandas.io.sql")
    for name in ("SQLDatabase", "SQLiteDatabase", "ADBCDatabase"):
        cls = getattr(sql, name, None)
        if cls is None:
            continue
        for method in ("read_query", "read_table"):
            if method in vars(cls):
                _wrap_pandas_read(p, t, cls, method)


class _AfterImport:
    """A meta path finder that runs ``then()`` right after the module ``name`` is executed, once:
    it finds the module's spec with the finders after it and wraps that one loader's
    ``exec_module`` (an attribute of the loader object, removed again when it has run: the
    module's ``__loader__`` and ``__spec__`` are the ones the import system made)."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            try:
                original(module)
            finally:
                with contextlib.suppress(AttributeError):
                    del loader.exec_module
            self.remove()
            self.then()

        try:
            loader.exec_module = exec_module
        except AttributeError:
            return spec  # a loader that takes no attributes: not wrapped at import
        return spec

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)


def install_pandas_when_imported(p: Patches, t: Tracker, failed: list[str]) -> None:
    """Wrap pandas' SQL reads now if ``pandas.io.sql`` is imported, else as soon as it is (a test
    that imports pandas inside its function is counted too); importing pandas here would cost
    seconds to every run."""
    def install() -> None:
        try:
            install_pandas(p, t)
        except Exception as error:  # noqa: BLE001 - reported in the summary
            failed.append(f"pandas: {type(error).__name__}: {error}")

    if "pandas.io.sql" in sys.modules:
        install()
        return
    hook = _AfterImport("pandas.io.sql", install)
    sys.meta_path.insert(0, hook)
    p.call(hook.remove)


# The import name that must be importable, and the installer.
DRIVERS: dict[str, tuple[str, Callable[[Patches, Tracker], None]]] = {
    "sqlite3": ("sqlite3", _sqlite3),
    "psycopg2": ("psycopg2", _psycopg2),
    "psycopg": ("psycopg", _psycopg),
    "pymysql": ("pymysql", _pymysql),
    "mysqlclient": ("MySQLdb", _mysqldb),
    "mysql-connector": ("mysql.connector", _mysql_connector),
    "duckdb": ("duckdb", _duckdb),
    "aiosqlite": ("aiosqlite", _aiosqlite),
    "asyncpg": ("asyncpg", _asyncpg),
    "sqlalchemy": ("sqlalchemy", _sqlalchemy),
}


def install(p: Patches, t: Tracker) -> tuple[list[str], list[str]]:
    """Put the hooks into every driver that imports here; returns (installed, failed: why)."""
    installed: list[str] = []
    failed: list[str] = []
    for name, (module, installer) in DRIVERS.items():
        try:
            if importlib.util.find_spec(module.split(".")[0]) is None:
                continue
            installer(p, t)
        except Exception as error:  # noqa: BLE001 - a driver that cannot load here is not wrapped
            failed.append(f"{name}: {type(error).__name__}: {error}")
            continue
        installed.append(name)
    return installed, failed
