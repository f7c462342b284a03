"""The driver table as data: its consistency, its docs, `dbleak drivers`, `[tool.dbleak.drivers]`,
and what DBL104 concludes from it. (The claims themselves are proven in tests/drivers/.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbleak.api import check_source
from dbleak.cli import cli
from dbleak.knowledge.drivers import (
    CLOSING_CONTEXTS,
    Kind,
    builtin_table,
    table_for,
    validate_user_entries,
)
from dbleak.knowledge.drivers_doc import render_markdown
from dbleak.settings import TABLE_VALIDATORS, ConfigError, Settings, settings_from_table

ROOT = Path(__file__).resolve().parents[1]
TABLE = builtin_table()


def test_docs_drivers_md_is_generated_from_the_table() -> None:
    expected = render_markdown(TABLE)
    actual = (ROOT / "docs" / "drivers.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/drivers.md is out of date: regenerate it with\n"
        "  python -m dbleak drivers --markdown > docs/drivers.md")


def test_issue_drivers_are_all_in_the_table() -> None:
    names = {d.name for d in TABLE.drivers}
    assert {"sqlite3", "psycopg2", "psycopg", "pymysql", "MySQLdb", "mysql.connector", "pyodbc",
            "oracledb", "pymssql", "duckdb", "snowflake.connector", "databricks.sql", "asyncpg",
            "aiosqlite", "aiomysql", "sqlalchemy", "django"} <= names
    for qualname in ("sqlite3.connect", "psycopg2.connect", "psycopg2.pool.SimpleConnectionPool",
                     "psycopg.connect", "psycopg.AsyncConnection.connect",
                     "psycopg_pool.ConnectionPool", "pymysql.connect", "MySQLdb.connect",
                     "mysql.connector.connect", "mysql.connector.pooling.MySQLConnectionPool",
                     "pyodbc.connect", "oracledb.connect", "cx_Oracle.connect", "pymssql.connect",
                     "duckdb.connect", "snowflake.connector.connect", "databricks.sql.connect",
                     "asyncpg.connect", "asyncpg.create_pool", "aiosqlite.connect",
                     "aiomysql.connect", "aiomysql.create_pool", "sqlalchemy.create_engine",
                     "sqlalchemy.orm.Session", "sqlalchemy.orm.sessionmaker",
                     "sqlalchemy.orm.scoped_session", "sqlalchemy.ext.asyncio.create_async_engine",
                     "sqlalchemy.ext.asyncio.AsyncSession"):
        assert TABLE.factory(qualname) is not None, qualname
    assert TABLE.instance("django.db.connection") is not None
    assert TABLE.method_returns("sqlalchemy.Engine", "connect").name == "sqlalchemy.Connection"
    assert TABLE.method_returns("psycopg2.connection", "cursor", frozenset({"name"})).name == \
        "psycopg2.named_cursor"
    assert TABLE.object("pymysql.Connection").method_for(
        "cursor", arguments=frozenset({"pymysql.cursors.SSCursor"})).returns == "pymysql.SSCursor"
    assert TABLE.object("mysql.connector.Connection").method_for(
        "cursor", {"buffered": True}).returns == "mysql.connector.buffered_cursor"
    assert TABLE.object("mysql.connector.Connection").method_for(
        "cursor", {"buffered": False}).returns == "mysql.connector.cursor"
    assert TABLE.factory_for("mysql.connector.connect", frozenset({"pool_name"})).returns == \
        "mysql.connector.PooledMySQLConnection"
    assert {"pandas.read_sql", "pandas.DataFrame.to_sql"} <= TABLE.borrowers
    assert {"contextlib.closing", "contextlib.ExitStack.enter_context",
            "psycopg2.pool.SimpleConnectionPool.putconn"} <= TABLE.owners


@pytest.mark.parametrize("spec", list(TABLE.iter_objects()), ids=lambda s: s.name)
def test_object_is_consistent(spec) -> None:  # type: ignore[no-untyped-def]
    assert spec.closing_context in CLOSING_CONTEXTS
    if spec.closing_context == "closing":  # contextlib.closing calls close(), not awaited
        assert "close" in spec.release and not spec.release_awaited
    if spec.closing_context == "self":
        assert spec.with_ is not None and spec.with_.closes
    if spec.closing_context == "async-self":
        assert spec.async_with is not None and spec.async_with.closes
    if spec.must_release:
        assert spec.release or spec.pool_release, "something must release it"
    if spec.verified:
        assert spec.classes, "a proven object names the classes its tests check"
    else:
        assert spec.reference, "a claim from documentation names its source"
    for method in spec.methods:
        assert method.returns in TABLE.objects


def test_engines_need_no_release_but_say_how() -> None:
    engine = TABLE.object("sqlalchemy.Engine")
    assert engine.kind is Kind.ENGINE and not engine.must_release and engine.release == ("dispose",)
    assert "fork" in engine.note


def test_validator_is_registered_by_importing_settings() -> None:
    assert TABLE_VALIDATORS["drivers"] is validate_user_entries


# --- [tool.dbleak.drivers] ---------------------------------------------------------------

USER = {
    "factories": {"myapp.db.connect": "sqlite3.Connection",
                  "myapp.db.safe_connect": "myapp.db.Connection",
                  "myapp.db.aconnect": {"returns": "asyncpg.Connection", "awaited": True}},
    "objects": {"myapp.db.Connection": {"like": "sqlite3.Connection", "with-closes": True}},
    "borrowers": ["myapp.db.report"],
    "owners": ["myapp.db.keep"],
}


def test_user_entries_extend_the_table() -> None:
    settings = settings_from_table({"drivers": USER}, Path("/p/pyproject.toml"))
    table = table_for(settings.drivers)
    assert table.factory("myapp.db.connect").returns == "sqlite3.Connection"
    assert table.factory("myapp.db.aconnect").awaited
    closing = table.object("myapp.db.Connection")
    assert closing.with_ is not None and closing.with_.closes and closing.closing_context == "self"
    assert "myapp.db.report" in table.borrowers and "myapp.db.keep" in table.owners
    assert table_for(settings.drivers) is table  # cached by value
    assert table.factory("sqlite3.connect") is not None


@pytest.mark.parametrize(("entries", "words"), [
    ({"factory": {}}, ["unknown key `factory`"]),
    ({"factories": {"myapp.connect": "sqlite3.Connectoin"}}, ['factories."myapp.connect"',
                                                             "sqlite3.Connectoin"]),
    ({"factories": {"not a name": "sqlite3.Connection"}}, ['factories."not a name"']),
    ({"factories": {"a.b": 3}}, ['factories."a.b"']),
    ({"factories": {"a.b": {"returns": "sqlite3.Connection", "awaited": "yes"}}}, ["awaited"]),
    ({"borrowers": "pandas.read_sql"}, ["`borrowers`"]),
    ({"owners": ["ok.name", "not ok"]}, ["`owners`"]),
    ({"objects": {"a.B": {"like": "nothing"}}}, ['objects."a.B".like']),
    ({"objects": {"a.B": {"like": "sqlite3.Connection", "with-closes": "yes"}}}, ["with-closes"]),
    ({"objects": {"a.B": {"like": "sqlite3.Connection", "colour": 1}}}, ['objects."a.B".colour']),
])
def test_invalid_user_entries_are_config_errors(entries: dict, words: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_table({"drivers": entries}, Path("/p/pyproject.toml"))
    message = str(error.value)
    assert message.startswith("/p/pyproject.toml: [tool.dbleak.drivers]")
    for word in words:
        assert word in message


def _project(tmp_path: Path, drivers_toml: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.dbleak.drivers]\n{drivers_toml}\n")
    (tmp_path / "app.py").write_text(
        "import myapp.db\nfrom myapp.db import safe_connect\n\n\n"
        "def f():\n"
        "    with myapp.db.connect('x.db') as conn:\n"
        "        conn.execute('select 1')\n"
        "    with safe_connect('y.db') as other:\n"
        "        other.execute('select 1')\n"
    )
    return tmp_path


def _run(args: list[str], cwd: Path) -> tuple[int, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.output


def test_a_user_factory_is_picked_up_by_dbl104(tmp_path: Path) -> None:
    project = _project(tmp_path, (
        'factories = { "myapp.db.connect" = "sqlite3.Connection", '
        '"myapp.db.safe_connect" = "myapp.db.Connection" }\n'
        '[tool.dbleak.drivers.objects."myapp.db.Connection"]\n'
        'like = "sqlite3.Connection"\nwith-closes = true\n'))
    code, output = _run(["check", "--select", "DBL104", "--output-format", "concise", "app.py"],
                        project)
    assert code == 1, output
    assert "app.py:6:10: DBL104" in output
    assert "app.py:8" not in output  # the user's own object closes in `with`


def test_invalid_driver_config_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    project = _project(tmp_path, 'factories = { "myapp.db.connect" = "sqlite3.Nope" }')
    completed = subprocess.run([sys.executable, "-m", "dbleak", "check", "app.py"], cwd=project,
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 2
    assert str(project / "pyproject.toml") in completed.stderr
    assert 'factories."myapp.db.connect"' in completed.stderr
    code, output = _run(["drivers"], project)
    assert code == 2 and 'factories."myapp.db.connect"' in output


# --- dbleak drivers --------------------------------------------------------------------------

def test_dbleak_drivers_prints_the_table(tmp_path: Path) -> None:
    code, output = _run(["drivers"], tmp_path)
    assert code == 0
    for name in ("sqlite3.Connection", "psycopg2.named_cursor", "asyncpg.Pool", "pyodbc.Cursor",
                 "sqlalchemy.orm.sessionmaker", "django.db.CursorWrapper"):
        assert name in output
    code, output = _run(["drivers", "psycopg"], tmp_path)
    assert code == 0 and "psycopg.ServerCursor" in output and "psycopg2.cursor" not in output
    assert "streaming" in output and "commits, rolls back on error, closes" in output
    code, output = _run(["drivers", "--markdown"], tmp_path)
    assert output == render_markdown(TABLE)
    code, output = _run(["drivers", "nosuchdriver"], tmp_path)
    assert code == 2 and "unknown driver" in output


def test_dbleak_drivers_shows_user_factories(tmp_path: Path) -> None:
    project = _project(tmp_path, 'factories = { "myapp.db.connect" = "sqlite3.Connection" }')
    code, output = _run(["drivers"], project)
    assert code == 0 and "myapp.db.connect(...) -> sqlite3.Connection" in output


# --- DBL104 reads its knowledge from the table ------------------------------------------------

FLAGGED = {
    "sqlite3": "import sqlite3\nwith sqlite3.connect('a') as c:\n    c.execute('x')\n",
    "psycopg2": "import psycopg2\nwith psycopg2.connect('') as c:\n    c.cursor()\n",
    "pyodbc": "import pyodbc\nwith pyodbc.connect('') as c:\n    c.cursor()\n",
}
NOT_FLAGGED = {
    "psycopg": "import psycopg\nwith psycopg.connect('') as c:\n    c.execute('x')\n",
    "duckdb": "import duckdb\nwith duckdb.connect() as c:\n    c.execute('x')\n",
    "pymysql": "import pymysql\nwith pymysql.connect() as c:\n    c.cursor()\n",
    "mysql.connector": "import mysql.connector\nwith mysql.connector.connect() as c:\n    c.cursor()\n",
    "aiosqlite": ("import aiosqlite\nasync def f():\n    async with aiosqlite.connect('a') as c:\n"
                  "        await c.execute('x')\n"),
    "sqlalchemy": ("from sqlalchemy.orm import Session\ndef f(e):\n    with Session(e) as s:\n"
                   "        s.execute('x')\n"),
    "oracledb": "import oracledb\nwith oracledb.connect() as c:\n    c.cursor()\n",
}


@pytest.mark.parametrize("driver", sorted(FLAGGED))
def test_dbl104_flags_drivers_whose_with_does_not_close(driver: str) -> None:
    result = check_source(FLAGGED[driver], "m.py", Settings(select=("DBL104",)))
    assert [f.code for f in result.findings] == ["DBL104"]


@pytest.mark.parametrize("driver", sorted(NOT_FLAGGED))
def test_dbl104_leaves_drivers_whose_with_closes(driver: str) -> None:
    result = check_source(NOT_FLAGGED[driver], "m.py", Settings(select=("DBL104",)))
    assert list(result.findings) == []


def test_dbl104_has_no_list_of_its_own() -> None:
    # Declare psycopg's connection as not closing in `with`: the rule's verdict follows the table.
    entries = {"objects": {"psycopg.Connection": {"like": "psycopg.Connection",
                                                  "with-closes": False}}}
    settings = settings_from_table({"select": ["DBL104"], "drivers": entries},
                                   Path("/p/pyproject.toml"))
    result = check_source(NOT_FLAGGED["psycopg"], "m.py", settings)
    assert [f.code for f in result.findings] == ["DBL104"]


def test_docs_lifecycle_md_holds_the_call_table() -> None:
    from dbleak.knowledge.calls import calls_markdown

    text = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    start = text.index("<!-- generated from")
    end = text.index("<!-- end of generated table -->")
    block = text[text.index("\n", start) + 1:end]
    assert block == calls_markdown(), "docs/lifecycle.md's call table is out of date"
