"""Factories the table marks `held` keep what they make and release it themselves, so their
callers owe no release (their connections are still the callers'). Checked against the real
library: SQLAlchemy's test plugin registers every `testing_engine()` with its reaper, which
disposes it at the end of the engine's scope."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dbleak.knowledge.drivers import builtin_table

TABLE = builtin_table()


def test_the_held_factories_are_the_ones_checked_here() -> None:
    held = sorted(f.qualname for d in TABLE.drivers for f in d.factories if f.held)
    assert held == ["sqlalchemy.testing.engines.testing_engine"]


def test_sqlalchemy_testing_engine_is_disposed_by_the_reaper(monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy
    from sqlalchemy.testing import config, engines

    monkeypatch.setattr(config, "db_opts", {}, raising=False)
    monkeypatch.setattr(config, "options", SimpleNamespace(low_connections=False), raising=False)
    engine = engines.testing_engine("sqlite://", options={"scope": "function"})
    factory = TABLE.factory_for("sqlalchemy.testing.engines.testing_engine")
    assert factory is not None and factory.held
    assert factory.returns == "sqlalchemy.Engine" and isinstance(engine, sqlalchemy.Engine)
    pool = engine.pool
    engines.testing_reaper._dispose_testing_engines("function")
    assert engine.pool is not pool  # disposed: `Engine.dispose()` puts a new pool in place
