"""The drop-in drivers of the table behave as the driver they are read as.

The table reads `pysqlite3`, `sqlean`, `sqlcipher3`, `pysqlcipher3` and `psycopg2cffi` as
`sqlite3` and `psycopg2` (`DriverSpec.drop_ins`): every claim it makes about the driver's connection and cursor (what
`with` does, that `close()` closes) is checked here against the drop-in itself.
"""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dbleak.knowledge.drivers import builtin_table

from driver_servers import module_or_skip

TABLE = builtin_table()
DROP_INS = [(driver.modules[0], module, package) for driver in TABLE.drivers
            for module, package in driver.drop_ins]
SQLITE_DROP_INS = [module for target, module, _package in DROP_INS if target == "sqlite3"]
PSYCOPG2_DROP_INS = [module for target, module, _package in DROP_INS if target == "psycopg2"]
INSTALL = {
    "pysqlite3": "`pip install pysqlite3-binary` (the test extra)",
    "sqlean": "`pip install sqlean.py` (the test extra)",
    "sqlcipher3": "`pip install sqlcipher3-binary` (the test extra)",
    "pysqlcipher3": ("install Debian's `libsqlcipher-dev`, then `pip install -e '.[drivers-native]'` "
                     "(pysqlcipher3 builds against libsqlcipher)"),
    "psycopg2cffi": ("install Debian's `libpq-dev`, then `pip install -e '.[drivers-native]'` "
                     "(psycopg2cffi builds against libpq)"),
}


def _dbapi(module: str) -> Any:
    loaded = module_or_skip(module, INSTALL[module])
    if hasattr(loaded, "connect"):
        return loaded
    return importlib.import_module(f"{module}.dbapi2")  # pysqlcipher3's package imports nothing


def test_the_table_reads_each_drop_in_as_its_driver() -> None:
    assert {module for _target, module, _package in DROP_INS} == set(INSTALL)
    for target, module, _package in DROP_INS:
        assert TABLE.canonical(f"{module}.connect") == f"{target}.connect"
        assert TABLE.canonical(f"{module}.dbapi2.connect") == f"{target}.connect"
        assert TABLE.factory(TABLE.canonical(f"{module}.connect")) is not None


@pytest.mark.parametrize("module", SQLITE_DROP_INS)
def test_sqlite_drop_in_keeps_the_claims_of_sqlite3(module: str, tmp_path: Path) -> None:
    dbapi = _dbapi(module)
    path = str(tmp_path / "drop-in.db")
    connection_spec = TABLE.object("sqlite3.Connection")
    assert connection_spec.with_ is not None
    conn = dbapi.connect(path)
    try:
        conn.execute("create table marks (m text)")
        with conn:
            conn.execute("insert into marks values ('a')")
        # `with` committed (another connection sees the row) and did not close.
        with sqlite3.connect(path) as other:
            seen = other.execute("select count(*) from marks").fetchone()[0]
        other.close()
        assert (seen == 1) is connection_spec.with_.commits
        still_open = conn.execute("select 1").fetchone() == (1,)
        assert still_open is not connection_spec.with_.closes
        # The cursor has no `with`, as sqlite3's (the table has no `with` for it).
        cursor = conn.cursor()
        assert TABLE.object("sqlite3.Cursor").with_ is None
        assert not hasattr(cursor, "__enter__")
        cursor.close()
    finally:
        conn.close()
    # `close()` is the release the table names.
    assert connection_spec.release == ("close",)
    with pytest.raises(dbapi.ProgrammingError):
        conn.execute("select 1")


@pytest.mark.parametrize("module", PSYCOPG2_DROP_INS)
def test_psycopg2_drop_in_keeps_the_claims_of_psycopg2(module: str, postgres_server: Any) -> None:
    driver = _dbapi(module)
    connection_spec = TABLE.object("psycopg2.connection")
    cursor_spec = TABLE.object("psycopg2.cursor")
    assert connection_spec.with_ is not None and cursor_spec.with_ is not None
    conn = driver.connect(postgres_server.dsn)
    table = f"drop_in_{module}"
    try:
        with conn:
            with conn.cursor() as cur:
                cur.execute(f"create table if not exists {table} (m text)")
                cur.execute(f"insert into {table} values ('a')")
            # The cursor's `with` closes it.
            assert bool(cur.closed) is cursor_spec.with_.closes
        # The connection's `with` ended the transaction (committed) and did not close it.
        assert (conn.closed != 0) is connection_spec.with_.closes
        other = driver.connect(postgres_server.dsn)
        try:
            with other.cursor() as check:
                check.execute(f"select count(*) from {table}")
                assert (check.fetchone()[0] >= 1) is connection_spec.with_.commits
                check.execute(f"drop table {table}")
            other.commit()
        finally:
            other.close()
    finally:
        conn.close()
    assert connection_spec.release == ("close",)
    assert conn.closed != 0
