"""SQLModel's `Session`, `create_engine` and `AsyncSession` are read as SQLAlchemy's: checked here
against SQLModel itself (the claims of the table's SQLAlchemy rows are checked in test_claims)."""

from __future__ import annotations

from pathlib import Path

from dbleak.knowledge.drivers import builtin_table

from driver_servers import module_or_skip

TABLE = builtin_table()
INSTALL = "`pip install sqlmodel` (the test extra)"


def test_the_table_reads_sqlmodel_names_as_sqlalchemy_ones() -> None:
    expected = {
        "sqlmodel.Session": "sqlalchemy.orm.Session",
        "sqlmodel.orm.session.Session": "sqlalchemy.orm.Session",
        "sqlmodel.create_engine": "sqlalchemy.create_engine",
        "sqlmodel.ext.asyncio.session.AsyncSession": "sqlalchemy.ext.asyncio.AsyncSession",
    }
    for name, target in expected.items():
        assert TABLE.canonical(name) == target
        assert TABLE.factory(target) is not None
    assert TABLE.canonical("sqlmodel.select") == "sqlmodel.select"  # not everything is an alias


def test_sqlmodel_objects_are_sqlalchemy_ones() -> None:
    sqlmodel = module_or_skip("sqlmodel", INSTALL)
    import sqlalchemy
    import sqlalchemy.ext.asyncio
    import sqlalchemy.orm
    from sqlmodel.ext.asyncio.session import AsyncSession

    assert sqlmodel.create_engine is sqlalchemy.create_engine
    assert issubclass(sqlmodel.Session, sqlalchemy.orm.Session)
    assert sqlmodel.Session.__mro__[1:].count(sqlalchemy.orm.Session) == 1
    assert issubclass(AsyncSession, sqlalchemy.ext.asyncio.AsyncSession)


def test_a_sqlmodel_session_holds_a_connection_until_closed(tmp_path: Path) -> None:
    sqlmodel = module_or_skip("sqlmodel", INSTALL)
    from sqlalchemy import text

    engine = sqlmodel.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        session = sqlmodel.Session(engine)
        session.exec(text("select 1"))  # type: ignore[call-overload]
        assert engine.pool.checkedout() == 1  # left open: the connection stays checked out
        session.close()
        assert engine.pool.checkedout() == 0
        with sqlmodel.Session(engine) as managed:  # the table: `with` closes it
            managed.exec(text("select 1"))  # type: ignore[call-overload]
            assert engine.pool.checkedout() == 1
        assert engine.pool.checkedout() == 0
    finally:
        engine.dispose()
