"""`pytest --dbleak`: pytester suites with known leaks, run against the real drivers (sqlite3,
duckdb, aiosqlite and SQLAlchemy in process; PostgreSQL and MariaDB on the throwaway servers).

Each suite marks the lines that leak with `# LEAK` and the large reads with `# READ`: the report
must name exactly those lines, with the tests that leaked.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib

sys.path.insert(0, str(Path(__file__).parent / "drivers"))

# Imported here once: pytester's in-process runs drop the modules a run imported, and a C++
# extension (duckdb) cannot be loaded a second time into the same process.
import aiosqlite  # noqa: F401
import asyncpg  # noqa: F401
import duckdb  # noqa: F401
import mysql.connector.pooling  # noqa: F401
import MySQLdb  # noqa: F401
import psycopg  # noqa: F401
import psycopg2.extras
import psycopg2.pool  # noqa: F401
import pymysql  # noqa: F401
import sqlalchemy.orm  # noqa: F401
from driver_servers import MariaDBServer, PostgresServer, server_or_skip

pytest_plugins = ["pytester"]

def _plugin_args() -> tuple[str, ...]:
    """Load the plugin by name unless the installed package's entry point already loads it
    (pytest refuses a plugin registered twice)."""
    from importlib.metadata import entry_points

    declared = any(ep.value == "dbleak.runtime.plugin" for ep in entry_points(group="pytest11"))
    return ("-p", "no:cacheprovider") if declared else ("-p", "dbleak.runtime.plugin", "-p", "no:cacheprovider")


PLUGIN = _plugin_args()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    yield from server_or_skip(PostgresServer.start)


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDBServer]:
    yield from server_or_skip(MariaDBServer.start)


def _marked(source: str, name: str, marker: str) -> set[tuple[str, int]]:
    return {(name, number) for number, line in enumerate(source.strip("\n").splitlines(), 1)
            if line.rstrip().endswith(f"# {marker}")}


def _run(pytester: pytest.Pytester, source: str, *extra: str) -> tuple[pytest.RunResult, list[dict]]:
    pytester.makepyfile(test_suite=source)
    result = pytester.runpytest(*PLUGIN, "--dbleak", "--dbleak-report=report.json", *extra)
    report = json.loads((pytester.path / "report.json").read_text())
    return result, report


def _lines(report: list[dict], code: str) -> set[tuple[str, int]]:
    return {(f["filename"], f["location"]["row"]) for f in report if f["code"] == code}


SQLITE_SUITE = '''
import asyncio
import sqlite3
import threading
from contextlib import closing

import aiosqlite
import duckdb
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

KEEP = []
ENGINE = create_engine("sqlite://")


@pytest.fixture
def leaky_fixture():
    conn = sqlite3.connect(":memory:")  # LEAK
    yield conn


@pytest.fixture(scope="module")
def shared():
    conn = sqlite3.connect(":memory:")
    yield conn
    conn.close()


def test_closed():
    with closing(sqlite3.connect(":memory:")) as conn:
        assert conn.execute("select 1").fetchall() == [(1,)]


def test_kept_open():
    KEEP.append(sqlite3.connect(":memory:"))  # LEAK


def test_dropped_unclosed():
    conn = sqlite3.connect(":memory:")  # LEAK
    conn.execute("select 1")


def test_in_fixture(leaky_fixture):
    leaky_fixture.execute("select 1")


def test_in_thread():
    def work():
        KEEP.append(sqlite3.connect(":memory:", check_same_thread=False))  # LEAK
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_wider_fixture_is_no_leak_of_the_test(shared):
    shared.execute("select 1")


def test_large_read():
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("create table t (a)")
        conn.executemany("insert into t values (?)", [(i,) for i in range(1500)])
        assert len(conn.execute("select a from t").fetchall()) == 1500  # READ
        cur = conn.cursor()
        cur.execute("select a from t where a < 10")
        assert len(cur.fetchall()) == 10


def test_duckdb():
    with duckdb.connect() as clean:
        clean.execute("select 1")
    KEEP.append(duckdb.connect())  # LEAK


def test_aiosqlite():
    async def main():
        async with aiosqlite.connect(":memory:") as db:
            assert await db.execute_fetchall("select 1") == [(1,)]
        leaked = await aiosqlite.connect(":memory:")  # LEAK
        KEEP.append(leaked)
    asyncio.run(main())


def test_sqlalchemy_pool_given_back_is_no_leak():
    with ENGINE.connect() as conn:
        assert conn.execute(text("select 1")).all() == [(1,)]
    with Session(ENGINE) as session:
        session.execute(text("select 1"))


def test_sqlalchemy_session_left_open():
    session = Session(ENGINE)  # LEAK
    session.execute(text("select 1"))
    KEEP.append(session)


def test_sqlalchemy_connection_checked_out():
    KEEP.append(ENGINE.connect())  # LEAK
'''


def test_sqlite_suite_reports_exactly_the_known_leaks(pytester: pytest.Pytester) -> None:
    result, report = _run(pytester, SQLITE_SUITE)
    result.assert_outcomes(passed=12)
    assert _lines(report, "DBL901") == _marked(SQLITE_SUITE, "test_suite.py", "LEAK")
    assert _lines(report, "DBL902") == _marked(SQLITE_SUITE, "test_suite.py", "READ")
    messages = {f["location"]["row"]: f["message"] for f in report if f["code"] == "DBL901"}
    by_text = {line.strip(): number for number, line in enumerate(SQLITE_SUITE.strip("\n").splitlines(), 1)}
    dropped = by_text['conn = sqlite3.connect(":memory:")  # LEAK']  # the test's, not the fixture's
    assert messages[dropped] == ("sqlite3 connection made here was left open (collected unclosed) "
                                 "in 1 test: test_suite.py::test_dropped_unclosed")
    kept = by_text['KEEP.append(sqlite3.connect(":memory:"))  # LEAK']
    assert messages[kept] == ("sqlite3 connection made here was left open (still open) in 1 test: "
                              "test_suite.py::test_kept_open")
    assert "sqlalchemy session" in messages[by_text["session = Session(ENGINE)  # LEAK"]]
    # The same shape as `dbleak check --output-format json`.
    assert set(report[0]) == {"code", "name", "message", "filename", "location", "end_location",
                              "fix", "noqa_row", "url"}
    result.stdout.fnmatch_lines(["*dbleak: database objects left open*",
                                 "test_suite.py:*: sqlite3 connection made here was left open*",
                                 "*returned 1,500 rows*", "dbleak: 8 leaks at 8 sites"])


def test_leaks_in_a_fixture_and_a_test_at_the_same_line_name_each_test(pytester: pytest.Pytester) -> None:
    source = '''
import sqlite3
import pytest

def make():
    return sqlite3.connect(":memory:")  # LEAK

@pytest.fixture
def db():
    yield make()

def test_one(db):
    pass

def test_two():
    conn = make()
'''
    result, report = _run(pytester, source)
    result.assert_outcomes(passed=2)
    [finding] = [f for f in report if f["code"] == "DBL901"]
    assert finding["location"]["row"] == 5
    assert "in 2 tests: test_suite.py::test_one, test_suite.py::test_two" in finding["message"]


CLEAN_SUITE = '''
import sqlite3
from contextlib import closing

import pytest


@pytest.fixture(scope="session")
def db():
    conn = sqlite3.connect(":memory:")
    yield conn
    conn.close()


def test_a(db):
    db.execute("select 1").fetchall()


def test_b():
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.cursor().execute("select 1").fetchall()
'''


def test_clean_suite_reports_nothing(pytester: pytest.Pytester) -> None:
    result, report = _run(pytester, CLEAN_SUITE, "--dbleak-strict")
    result.assert_outcomes(passed=2)
    assert report == []
    result.stdout.fnmatch_lines(["*no leaks*", "dbleak: 0 leaks at 0 sites"])


def test_session_fixture_left_open_is_reported_at_session_end(pytester: pytest.Pytester) -> None:
    source = '''
import sqlite3
import pytest

@pytest.fixture(scope="session")
def db():
    return sqlite3.connect(":memory:")  # LEAK

def test_a(db):
    pass

def test_b(db):
    pass
'''
    result, report = _run(pytester, source)
    result.assert_outcomes(passed=2)
    [finding] = [f for f in report if f["code"] == "DBL901"]
    assert (finding["location"]["row"], "fixture db (session)" in finding["message"]) == (6, True)


def test_strict_fails_the_test_that_leaks(pytester: pytest.Pytester) -> None:
    source = '''
import sqlite3
KEEP = []

def test_leaks():
    KEEP.append(sqlite3.connect(":memory:"))

def test_clean():
    sqlite3.connect(":memory:").close()
'''
    result, _ = _run(pytester, source, "--dbleak-strict")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaks*",
                                 "*this test leaked database objects*", "test_suite.py:5: *"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_without_the_option_the_plugin_does_nothing(pytester: pytest.Pytester) -> None:
    import sqlite3

    pytester.makepyfile(test_suite='''
import sqlite3
KEEP = []

def test_types():
    conn = sqlite3.connect(":memory:")
    KEEP.append(conn)
    assert type(conn) is sqlite3.Connection
''')
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)
    assert "dbleak:" not in result.stdout.str()  # (the header names the plugin when installed)
    assert sqlite3.connect is sqlite3.dbapi2.connect and not hasattr(sqlite3.connect, "__wrapped__")


TYPES_SUITE = '''
import asyncio
import sqlite3
import weakref

import aiosqlite
import duckdb
import pytest
import sqlalchemy
from sqlalchemy.orm import Session


def test_sqlite3_is_a_subclass_named_like_the_original():
    class Mine(sqlite3.Connection):
        pass

    with sqlite3.connect(":memory:") as conn:
        pass
    assert isinstance(conn, sqlite3.Connection)
    assert type(conn).__name__ == "Connection" and type(conn).__module__ == "sqlite3"
    assert repr(conn).startswith("<sqlite3.Connection object")
    assert not hasattr(conn, "__dict__")
    mine = sqlite3.connect(":memory:", factory=Mine)
    assert isinstance(mine, Mine)
    cur = mine.cursor()
    assert isinstance(cur, sqlite3.Cursor) and type(cur).__name__ == "Cursor"
    assert isinstance(mine.execute("select 1"), sqlite3.Cursor)
    mine.close()
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("select 1")


def test_errors_reach_the_caller_unchanged():
    with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
        sqlite3.connect("/nonexistent/folder/db.sqlite")


def test_other_drivers_keep_their_own_types():
    conn = duckdb.connect()
    assert type(conn) is duckdb.DuckDBPyConnection
    conn.close()
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as c:
        assert type(c) is sqlalchemy.engine.Connection
    with Session(engine) as s:
        assert type(s) is Session

    async def main():
        async with aiosqlite.connect(":memory:") as db:
            assert type(db) is aiosqlite.Connection
    asyncio.run(main())
'''


def test_types_and_behaviour_are_kept(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=TYPES_SUITE)
    with_plugin = pytester.runpytest(*PLUGIN, "--dbleak")
    with_plugin.assert_outcomes(passed=3)
    without = pytester.runpytest(*PLUGIN, "-k", "not sqlite3_is_a_subclass")
    without.assert_outcomes(passed=2, deselected=1)


CONNECT_SHAPES_SUITE = '''
import sqlite3
from sqlite3 import dbapi2

import pytest

KEEP = []


class Mine(sqlite3.Connection):
    pass


def test_every_way_of_calling_connect():
    KEEP.append(sqlite3.connect(database=":memory:"))  # LEAK
    KEEP.append(sqlite3.connect(":memory:", 5.0, 0, "", True, Mine))  # LEAK
    KEEP.append(dbapi2.connect(":memory:", check_same_thread=False))  # LEAK
    assert isinstance(KEEP[0], sqlite3.Connection) and isinstance(KEEP[1], Mine)
    assert KEEP[2].execute("select 1").fetchall() == [(1,)]
    with pytest.raises(TypeError) as error:
        sqlite3.connect()
    assert "database" in str(error.value)
    with pytest.raises(ValueError):  # sqlite3 calls dict(":memory:", ...): the driver's own error
        sqlite3.connect(":memory:", factory=dict)
    sqlite3.connect(":memory:", timeout=1).close()
'''


def test_sqlite3_connect_call_shapes(pytester: pytest.Pytester) -> None:
    result, report = _run(pytester, CONNECT_SHAPES_SUITE)
    result.assert_outcomes(passed=1)
    assert _lines(report, "DBL901") == _marked(CONNECT_SHAPES_SUITE, "test_suite.py", "LEAK")
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=1)  # the same without the plugin


READS_SUITE = '''
import asyncio

import aiosqlite
import aiosqlite.context
import duckdb
from sqlalchemy import Integer, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


def test_sqlalchemy_reads():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Item(id=i) for i in range(1, 1301)])
        session.commit()
        assert len(session.scalars(select(Item)).all()) == 1300  # READ
        assert len(session.query(Item).filter(Item.id <= 1050).all()) == 1050  # READ
    with engine.connect() as conn:
        assert len(conn.execute(text("select id from item where id <= 1100")).all()) == 1100  # READ
        assert len(conn.execute(text("select id from item")).mappings().all()) == 1300  # READ
        assert len(conn.execute(text("select id from item where id < 4")).all()) == 3
    engine.dispose()


def test_aiosqlite_reads():
    async def main():
        async with aiosqlite.connect(":memory:") as db:
            await db.execute("create table t (a)")
            await db.executemany("insert into t values (?)", [(i,) for i in range(1200)])
            assert len(await db.execute_fetchall("select a from t")) == 1200  # READ
            pending = db.execute_fetchall("select 1")
            assert type(pending) is aiosqlite.context.Result  # the driver's own awaitable
            async with pending as rows:
                assert rows == [(1,)]
            async with db.execute("select a from t where a < 1010") as cur:
                assert len(await cur.fetchall()) == 1010  # READ
    asyncio.run(main())


def test_duckdb_reads_are_not_seen():
    with duckdb.connect() as conn:
        assert len(conn.execute("select * from range(2000)").fetchall()) == 2000
'''


def test_reads_are_counted_once_with_their_method(pytester: pytest.Pytester) -> None:
    result, report = _run(pytester, READS_SUITE)
    result.assert_outcomes(passed=3)
    assert _lines(report, "DBL902") == _marked(READS_SUITE, "test_suite.py", "READ")
    messages = sorted(f["message"].split(" at run time")[0] for f in report if f["code"] == "DBL902")
    assert messages == ["`all()` (sqlalchemy) returned 1,050 rows", "`all()` (sqlalchemy) returned 1,100 rows",
                        "`all()` (sqlalchemy) returned 1,300 rows", "`all()` (sqlalchemy) returned 1,300 rows",
                        "`execute_fetchall()` (aiosqlite) returned 1,200 rows",
                        "`fetchall()` (aiosqlite) returned 1,010 rows"]
    result.stdout.fnmatch_lines(["*test_suite.py:*: all() returned 3 rows*"])


PANDAS_SUITE = '''
import sqlite3
import sys
from contextlib import closing

from sqlalchemy import create_engine


def test_pandas_imported_inside_the_test():
    assert "pandas.io.sql" not in sys.modules  # wrapped as soon as it is imported, mid-test
    import pandas as pd

    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("create table t (a)")
        conn.executemany("insert into t values (?)", [(i,) for i in range(1500)])
        assert len(pd.read_sql("select a from t", conn)) == 1500  # READ
        assert len(pd.read_sql_query("select a from t where a < 1100", conn)) == 1100  # READ
        assert len(pd.read_sql_query("select a from t where a < 7", conn)) == 7
        chunks = pd.read_sql_query("select a from t", conn, chunksize=1000)
        assert sum(len(chunk) for chunk in chunks) == 1500


def test_pandas_through_sqlalchemy():
    import pandas as pd

    engine = create_engine("sqlite://")
    pd.DataFrame({"a": range(1200)}).to_sql("t", engine, index=False)
    assert len(pd.read_sql("select a from t", engine)) == 1200  # READ
    assert len(pd.read_sql_table("t", engine)) == 1200  # READ
    with engine.connect() as conn:
        assert len(pd.read_sql("t", conn)) == 1200  # READ
    engine.dispose()
'''


def test_pandas_reads_are_counted_once_at_the_read_sql_line(pytester: pytest.Pytester) -> None:
    # In a new process: pandas is not imported yet when the plugin starts.
    pytester.makepyfile(test_suite=PANDAS_SUITE)
    result = pytester.runpytest_subprocess(*PLUGIN, "--dbleak", "--dbleak-report=report.json")
    result.assert_outcomes(passed=2)
    report = json.loads((pytester.path / "report.json").read_text())
    assert _lines(report, "DBL902") == _marked(PANDAS_SUITE, "test_suite.py", "READ")
    messages = sorted(f["message"].split(" at run time")[0] for f in report if f["code"] == "DBL902")
    assert messages == ["`read_sql()` (pandas) returned 1,200 rows", "`read_sql()` (pandas) returned 1,200 rows",
                        "`read_sql()` (pandas) returned 1,500 rows",
                        "`read_sql_query()` (pandas) returned 1,100 rows",
                        "`read_sql_table()` (pandas) returned 1,200 rows"]
    # The small read is in the summary; the chunked read and the driver's own fetchall() are not.
    result.stdout.fnmatch_lines(["*test_suite.py:*: read_sql_query() returned 7 rows*"])
    assert "fetchall()" not in result.stdout.str()
    assert "not wrapped" not in result.stdout.str()


POSTGRES_SUITE = '''
import asyncio

import asyncpg
import psycopg
import psycopg2
import psycopg2.extras
import psycopg2.pool
import pytest
from sqlalchemy import create_engine, text

DSN = "{dsn}"
URL = "postgresql://postgres@/postgres?{query}"
KEEP = []


@pytest.fixture(scope="module")
def conn2():
    conn = psycopg2.connect(DSN)
    yield conn
    conn.close()


def test_psycopg2_kept_open():
    KEEP.append(psycopg2.connect(DSN))  # LEAK


def test_psycopg2_named_cursor_left_open(conn2):
    cur = conn2.cursor(name="big")  # LEAK
    cur.execute("select generate_series(1, 10)")
    KEEP.append(cur)


def test_psycopg2_clean_and_types(conn2):
    with conn2.cursor() as cur:
        cur.execute("select generate_series(1, 1200)")
        assert len(cur.fetchall()) == 1200  # READ
    with conn2.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("select 1 as a")
        assert cur.fetchall() == [{{"a": 1}}]
        assert isinstance(cur, psycopg2.extras.RealDictCursor)
    assert isinstance(conn2, psycopg2.extensions.connection)
    dict_conn = psycopg2.connect(DSN, connection_factory=psycopg2.extras.DictConnection)
    with dict_conn.cursor() as cur:
        assert isinstance(cur, psycopg2.extras.DictCursor)
    dict_conn.close()


def test_psycopg2_pool_given_back_is_no_leak():
    pool = psycopg2.pool.SimpleConnectionPool(1, 2, DSN)
    conn = pool.getconn()
    pool.putconn(conn)
    pool.closeall()


def test_psycopg3():
    with psycopg.connect(DSN) as conn:
        assert type(conn) is psycopg.Connection
        assert conn.execute("select 1").fetchall() == [(1,)]
    leaked = psycopg.connect(DSN)  # LEAK
    leaked.execute("select 1")


def test_psycopg3_cursor_of_a_closed_connection_is_no_leak():
    with psycopg.connect(DSN) as conn:
        cur = conn.cursor()
        cur.execute("select 1")
        KEEP.append(cur)
    assert not cur.closed  # psycopg 3 leaves the cursor's own flag alone


def test_asyncpg():
    async def main():
        conn = await asyncpg.connect(URL)
        assert type(conn) is asyncpg.Connection
        await conn.close()
        KEEP.append(await asyncpg.connect(URL))  # LEAK
        pool = await asyncpg.create_pool(URL, min_size=1, max_size=1)
        async with pool.acquire() as c:
            await c.fetch("select 1")
        await pool.close()
    asyncio.run(main())


def test_sqlalchemy_pooled_psycopg2_given_back_is_no_leak():
    engine = create_engine("postgresql+psycopg2:///postgres?{query}&user=postgres")
    with engine.connect() as conn:
        conn.execute(text("select 1"))
    engine.dispose()


def test_reads_through_sqlalchemy_and_pandas(conn2):
    import pandas as pd

    # pandas warns that it was given a DB-API connection other than sqlite3's; it reads it all the same.
    frame = pd.read_sql("select generate_series(1, 1300) as a", conn2)  # READ
    assert len(frame) == 1300
    engine = create_engine("postgresql+psycopg2:///postgres?{query}&user=postgres")
    with engine.connect() as conn:
        assert len(conn.execute(text("select generate_series(1, 1400)")).all()) == 1400  # READ
        assert len(conn.execute(text("select generate_series(1, 5)")).scalars().all()) == 5
        assert len(pd.read_sql(text("select generate_series(1, 1100) as a"), conn)) == 1100  # READ
    engine.dispose()
'''


def test_postgres_suite_reports_exactly_the_known_leaks(pytester: pytest.Pytester,
                                                        postgres: PostgresServer) -> None:
    source = POSTGRES_SUITE.format(dsn=postgres.dsn, query=postgres.url_query)
    result, report = _run(pytester, source)
    result.assert_outcomes(passed=9)
    expected = _marked(source, "test_suite.py", "LEAK")
    assert _lines(report, "DBL901") == expected
    assert _lines(report, "DBL902") == _marked(source, "test_suite.py", "READ")
    reads = sorted(f["message"].split(" at run time")[0] for f in report if f["code"] == "DBL902")
    assert reads == ["`all()` (sqlalchemy) returned 1,400 rows", "`fetchall()` (psycopg2) returned 1,200 rows",
                     "`read_sql()` (pandas) returned 1,100 rows", "`read_sql()` (pandas) returned 1,300 rows"]
    kinds = {f["location"]["row"]: f["message"].split(" made")[0] for f in report if f["code"] == "DBL901"}
    assert sorted(kinds[line] for _, line in expected) == [
        "asyncpg connection", "psycopg connection", "psycopg2 connection", "psycopg2 cursor"]


MARIADB_SUITE = '''
import MySQLdb
import mysql.connector
import mysql.connector.pooling
import pymysql
import pytest

SOCKET = "{socket}"
KEEP = []


@pytest.fixture(scope="module")
def shared():
    conn = pymysql.connect(unix_socket=SOCKET, user="root")
    yield conn
    conn.close()


def test_pymysql_dropped_unclosed():
    conn = pymysql.connect(unix_socket=SOCKET, user="root")  # LEAK
    assert type(conn) is pymysql.connections.Connection


def test_pymysql_cursor_left_open(shared):
    cur = shared.cursor()  # LEAK
    cur.execute("select 1")
    KEEP.append(cur)


def test_pymysql_clean(shared):
    with shared.cursor() as cur:
        cur.execute("with recursive r(n) as (select 1 union all select n + 1 from r where n < 100) "
                    "select a.n from r a, r b limit 1100")
        assert len(cur.fetchall()) == 1100  # READ


def test_mysqlclient_kept_open():
    conn = MySQLdb.connect(unix_socket=SOCKET, user="root")  # LEAK
    assert type(conn) is MySQLdb.connections.Connection
    KEEP.append(conn)


def test_mysql_connector():
    with mysql.connector.connect(unix_socket=SOCKET, user="root") as conn:
        assert type(conn) is mysql.connector.connection.MySQLConnection
    KEEP.append(mysql.connector.connect(unix_socket=SOCKET, user="root"))  # LEAK


def test_mysql_connector_pool_given_back_is_no_leak():
    pool = mysql.connector.pooling.MySQLConnectionPool(pool_size=1, unix_socket=SOCKET, user="root")
    conn = pool.get_connection()
    conn.cmd_query("select 1")
    conn.get_rows()
    conn.close()
'''


def test_mariadb_suite_reports_exactly_the_known_leaks(pytester: pytest.Pytester,
                                                       mariadb: MariaDBServer) -> None:
    source = MARIADB_SUITE.format(socket=mariadb.socket)
    result, report = _run(pytester, source)
    result.assert_outcomes(passed=6)
    assert _lines(report, "DBL901") == _marked(source, "test_suite.py", "LEAK")
    assert _lines(report, "DBL902") == _marked(source, "test_suite.py", "READ")


def test_the_import_hook_runs_once_after_the_module_and_leaves_no_trace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dbleak.runtime.drivers import Patches, _AfterImport

    (tmp_path / "dbleak_hook_probe.py").write_text("VALUE = 1\n")
    (tmp_path / "dbleak_hook_never.py").write_text("VALUE = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[int] = []
    hook = _AfterImport("dbleak_hook_probe", lambda: seen.append(sys.modules["dbleak_hook_probe"].VALUE))
    never = _AfterImport("dbleak_hook_never_imported", lambda: seen.append(0))
    patches = Patches()
    for each in (hook, never):
        sys.meta_path.insert(0, each)
        patches.call(each.remove)
    try:
        import dbleak_hook_probe  # type: ignore[import-not-found]

        assert seen == [1]  # after the module ran, once
        assert hook not in sys.meta_path and never in sys.meta_path
        assert "exec_module" not in vars(dbleak_hook_probe.__loader__)  # the loader is left as made
        assert dbleak_hook_probe.__spec__.loader is dbleak_hook_probe.__loader__
    finally:
        patches.undo()
        sys.modules.pop("dbleak_hook_probe", None)
    assert never not in sys.meta_path and seen == [1]


def test_the_entry_point_is_declared() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["pytest11"] == {"dbleak": "dbleak.runtime.plugin"}
    assert "pytest" not in " ".join(pyproject["project"].get("dependencies", []))
