"""The table reads the names of the modules that define SQLAlchemy's objects as the public ones
(`from sqlalchemy.orm.session import Session` is `sqlalchemy.orm.Session`), and asyncpg's
(`asyncpg.connection.connect` is `asyncpg.connect`): checked here against the drivers
themselves, name by name."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from dbleak.knowledge.drivers import builtin_table

TABLE = builtin_table()
ALIASES = [(alias, target) for alias, target in TABLE.module_aliases.items()
           if alias.startswith(("sqlalchemy.", "asyncpg."))]


def _named(qualname: str) -> Any:
    module, _, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_there_are_some() -> None:
    assert ("sqlalchemy.orm.session.Session", "sqlalchemy.orm.Session") in ALIASES
    assert ("asyncpg.connection.connect", "asyncpg.connect") in ALIASES


@pytest.mark.parametrize(("alias", "target"), ALIASES, ids=[a for a, _ in ALIASES])
def test_an_alias_names_the_same_object(alias: str, target: str) -> None:
    assert _named(alias) is _named(target)
    assert TABLE.canonical(alias) == target
