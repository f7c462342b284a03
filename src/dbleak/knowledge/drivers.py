"""The driver table: what each database driver's objects are, and what releases them.

Everything dbleak says about a driver comes from here, and every claim about `with`, `close`,
cursors and buffering is proven against the real driver in ``tests/drivers/``.
Plain frozen dataclasses; no libcst, no analysis.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping


class Kind(str, enum.Enum):
    CONNECTION = "connection"
    CURSOR = "cursor"
    SESSION = "session"
    POOL = "pool"
    ENGINE = "engine"
    RESULT = "result"
    TRANSACTION = "transaction"


class Buffering(str, enum.Enum):
    CLIENT = "client"  # execute() pulls the whole result into client memory
    SERVER = "server"  # rows stay on the server and arrive in batches
    LAZY = "lazy"  # rows are produced one step at a time (e.g. sqlite3)
    NONE = "none"  # not a result holder


@dataclass(frozen=True)
class WithSpec:
    """What `with obj:` (or `async with obj:`) does to the object."""

    closes: bool
    commits: bool = False  # commits on a clean exit
    rolls_back: bool = False  # rolls back when the block raises
    releases_to_pool: bool = False
    note: str = ""


@dataclass(frozen=True)
class MethodSpec:
    """A method of an object that returns another object of the table."""

    name: str
    returns: str  # ObjectSpec.name
    awaited: bool = False
    # Only when this keyword argument is given and not None (e.g. psycopg2 `cursor(name=...)`).
    when_keyword: str | None = None


@dataclass(frozen=True)
class ObjectSpec:
    """One kind of object of one driver, e.g. ``sqlite3.Connection``."""

    name: str
    driver: str
    kind: Kind
    release: tuple[str, ...] = ("close",)  # method names that release it
    release_awaited: bool = False
    with_: WithSpec | None = None  # None: no `with` support
    async_with: WithSpec | None = None  # None: no `async with` support
    # How to make a closing context around it: "closing", "self" (its own with closes),
    # "async-self", or "try-finally".
    closing_context: str = "closing"
    methods: tuple[MethodSpec, ...] = ()
    buffering: Buffering = Buffering.NONE
    must_release: bool = True  # False for objects that need no release (e.g. a Result)
    note: str = ""

    def method(self, name: str, keywords: frozenset[str] = frozenset()) -> MethodSpec | None:
        """The spec of ``obj.name(...)``, preferring a keyword-specific entry."""
        plain = None
        for spec in self.methods:
            if spec.name != name:
                continue
            if spec.when_keyword is None:
                plain = spec
            elif spec.when_keyword in keywords:
                return spec
        return plain


@dataclass(frozen=True)
class FactorySpec:
    """A callable, by qualified name, that returns a fresh object of the table."""

    qualname: str
    returns: str  # ObjectSpec.name
    awaited: bool = False
    # Also an async context manager factory (`async with aiosqlite.connect(...)`), without await.
    when_keyword: str | None = None


@dataclass(frozen=True)
class DriverSpec:
    name: str
    modules: tuple[str, ...]  # top-level import names
    objects: tuple[ObjectSpec, ...]
    factories: tuple[FactorySpec, ...]
    # Module aliases that mean the same thing (``sqlite3.dbapi2`` is ``sqlite3``).
    module_aliases: tuple[tuple[str, str], ...] = ()
    docs: str = ""


@dataclass(frozen=True)
class DriverTable:
    drivers: tuple[DriverSpec, ...]
    # Functions that use a connection without taking it over.
    borrowers: frozenset[str] = frozenset()
    # Functions that take ownership (and release it later).
    owners: frozenset[str] = frozenset()
    objects: Mapping[str, ObjectSpec] = field(default_factory=dict)
    factories: Mapping[str, FactorySpec] = field(default_factory=dict)
    module_aliases: Mapping[str, str] = field(default_factory=dict)

    def factory(self, qualname: str | None) -> FactorySpec | None:
        if qualname is None:
            return None
        return self.factories.get(qualname)

    def object(self, name: str) -> ObjectSpec:
        return self.objects[name]

    def canonical(self, qualname: str) -> str:
        """Map module aliases onto their canonical module (``sqlite3.dbapi2.x`` → ``sqlite3.x``)."""
        for alias, target in self.module_aliases.items():
            if qualname == alias or qualname.startswith(alias + "."):
                return target + qualname[len(alias):]
        return qualname

    @property
    def module_names(self) -> frozenset[str]:
        return frozenset(m for d in self.drivers for m in d.modules)


def _table(drivers: tuple[DriverSpec, ...], borrowers: frozenset[str], owners: frozenset[str]) -> DriverTable:
    objects: dict[str, ObjectSpec] = {}
    factories: dict[str, FactorySpec] = {}
    aliases: dict[str, str] = {}
    for driver in drivers:
        for obj in driver.objects:
            objects[obj.name] = obj
        for fac in driver.factories:
            factories[fac.qualname] = fac
        aliases.update(driver.module_aliases)
    for fac in factories.values():
        if fac.returns not in objects:
            raise ValueError(f"factory {fac.qualname} returns unknown object {fac.returns}")
    return DriverTable(drivers, borrowers, owners, objects, factories, aliases)


# --- the drivers --------------------------------------------------------------------------

_TX_NOT_CLOSE = WithSpec(closes=False, commits=True, rolls_back=True,
                         note="ends the transaction; the connection stays open")

SQLITE3 = DriverSpec(
    name="sqlite3",
    modules=("sqlite3",),
    module_aliases=(("sqlite3.dbapi2", "sqlite3"),),
    docs="https://docs.python.org/3/library/sqlite3.html#sqlite3-connection-context-manager",
    objects=(
        ObjectSpec(
            "sqlite3.Connection", "sqlite3", Kind.CONNECTION,
            with_=_TX_NOT_CLOSE,
            methods=(
                MethodSpec("cursor", "sqlite3.Cursor"),
                MethodSpec("execute", "sqlite3.Cursor"),
                MethodSpec("executemany", "sqlite3.Cursor"),
                MethodSpec("executescript", "sqlite3.Cursor"),
            ),
        ),
        ObjectSpec(
            "sqlite3.Cursor", "sqlite3", Kind.CURSOR,
            buffering=Buffering.LAZY,
            methods=(MethodSpec("execute", "sqlite3.Cursor"),),
            note="no context manager; wrap it in contextlib.closing",
        ),
    ),
    factories=(FactorySpec("sqlite3.connect", "sqlite3.Connection"),),
)

PSYCOPG2 = DriverSpec(
    name="psycopg2",
    modules=("psycopg2",),
    docs="https://www.psycopg.org/docs/usage.html#with-statement",
    objects=(
        ObjectSpec(
            "psycopg2.connection", "psycopg2", Kind.CONNECTION,
            with_=_TX_NOT_CLOSE,
            methods=(
                MethodSpec("cursor", "psycopg2.cursor"),
                MethodSpec("cursor", "psycopg2.named_cursor", when_keyword="name"),
            ),
        ),
        ObjectSpec(
            "psycopg2.cursor", "psycopg2", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.CLIENT,
        ),
        ObjectSpec(
            "psycopg2.named_cursor", "psycopg2", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            note="server-side; holds a portal on the server until closed or the transaction ends",
        ),
    ),
    factories=(FactorySpec("psycopg2.connect", "psycopg2.connection"),),
)

PSYCOPG = DriverSpec(
    name="psycopg",
    modules=("psycopg",),
    docs="https://www.psycopg.org/psycopg3/docs/basic/usage.html#connection-context",
    objects=(
        ObjectSpec(
            "psycopg.Connection", "psycopg", Kind.CONNECTION,
            with_=WithSpec(closes=True, commits=True, rolls_back=True),
            closing_context="closing",
            methods=(
                MethodSpec("cursor", "psycopg.Cursor"),
                MethodSpec("cursor", "psycopg.ServerCursor", when_keyword="name"),
                MethodSpec("execute", "psycopg.Cursor"),
            ),
        ),
        ObjectSpec(
            "psycopg.Cursor", "psycopg", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.CLIENT,
        ),
        ObjectSpec(
            "psycopg.ServerCursor", "psycopg", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
        ),
    ),
    factories=(
        FactorySpec("psycopg.connect", "psycopg.Connection"),
        FactorySpec("psycopg.Connection.connect", "psycopg.Connection"),
    ),
)

PYMYSQL = DriverSpec(
    name="pymysql",
    modules=("pymysql",),
    docs="https://pymysql.readthedocs.io/",
    objects=(
        ObjectSpec(
            "pymysql.Connection", "pymysql", Kind.CONNECTION,
            with_=WithSpec(closes=True, note="PyMySQL >= 1.0 closes; it does not commit"),
            closing_context="closing",
            methods=(MethodSpec("cursor", "pymysql.Cursor"),),
        ),
        ObjectSpec(
            "pymysql.Cursor", "pymysql", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.CLIENT,
        ),
    ),
    factories=(
        FactorySpec("pymysql.connect", "pymysql.Connection"),
        FactorySpec("pymysql.Connect", "pymysql.Connection"),
        FactorySpec("pymysql.connections.Connection", "pymysql.Connection"),
    ),
)

DUCKDB = DriverSpec(
    name="duckdb",
    modules=("duckdb",),
    docs="https://duckdb.org/docs/api/python/dbapi",
    objects=(
        ObjectSpec(
            "duckdb.DuckDBPyConnection", "duckdb", Kind.CONNECTION,
            with_=WithSpec(closes=True), closing_context="self",
            methods=(MethodSpec("cursor", "duckdb.DuckDBPyConnection"),),
            buffering=Buffering.CLIENT,
        ),
    ),
    factories=(FactorySpec("duckdb.connect", "duckdb.DuckDBPyConnection"),),
)

AIOSQLITE = DriverSpec(
    name="aiosqlite",
    modules=("aiosqlite",),
    docs="https://aiosqlite.omnilib.dev/",
    objects=(
        ObjectSpec(
            "aiosqlite.Connection", "aiosqlite", Kind.CONNECTION,
            release_awaited=True,
            async_with=WithSpec(closes=True, note="closes; does not commit (unlike sqlite3)"),
            closing_context="async-self",
        ),
    ),
    factories=(FactorySpec("aiosqlite.connect", "aiosqlite.Connection", awaited=True),),
)

DRIVERS: tuple[DriverSpec, ...] = (SQLITE3, PSYCOPG2, PSYCOPG, PYMYSQL, DUCKDB, AIOSQLITE)

BORROWERS: frozenset[str] = frozenset({
    "pandas.read_sql", "pandas.read_sql_query", "pandas.read_sql_table",
    "pandas.DataFrame.to_sql",
})

OWNERS: frozenset[str] = frozenset({
    "contextlib.closing",
    "contextlib.ExitStack.enter_context",
    "contextlib.AsyncExitStack.enter_async_context",
})


@lru_cache(maxsize=None)
def builtin_table() -> DriverTable:
    return _table(DRIVERS, BORROWERS, OWNERS)


def table_for(user_entries: Mapping[str, Any] | None) -> DriverTable:
    """The built-in table extended by `[tool.dbleak.drivers]` (validated by config loading)."""
    if not user_entries:
        return builtin_table()
    return _with_user_entries(builtin_table(), user_entries)


def _with_user_entries(base: DriverTable, entries: Mapping[str, Any]) -> DriverTable:
    factories = dict(base.factories)
    for qualname, returns in dict(entries.get("factories", {})).items():
        factories[qualname] = FactorySpec(qualname, returns)
    return DriverTable(base.drivers, base.borrowers | frozenset(entries.get("borrowers", ())),
                       base.owners | frozenset(entries.get("owners", ())),
                       base.objects, factories, base.module_aliases)
