"""The driver table: what each database driver's objects are, and what releases them.

Everything dbleak says about a driver comes from here. Objects marked ``verified=True`` have every
claim about `with`, `close`, cursors and buffering proven against the real driver (talking to a
real server where there is one) in ``tests/drivers/``; the others are read from the driver's
documentation or source, named in ``reference``.
Plain frozen dataclasses; no libcst, no analysis.

Conventions:

- An object made by calling a method of another object (``engine.connect()``,
  ``pool.getconn()``, ``conn.cursor(name=...)``) is a :class:`MethodSpec` of that object.
  Calling the object itself (a ``sessionmaker()`` instance) is the method ``__call__``;
  subscripting it (Django's ``connections["x"]``) is ``__getitem__``.
- A call that only makes a context manager (``engine.begin()``, ``pool.connection()``) has
  ``context_only=True``: the object named by ``returns`` is what ``with ... as x`` binds, and
  ``call_with`` / ``call_async_with`` says what leaving the block does to it.
- ``must_release`` is False for objects that hold nothing that outlives them when dropped or that
  an owner releases for you (a ``sessionmaker``, a buffered ``Result``, an ``Engine``: dispose an
  engine only when it is made per call/request, in tests, or before ``os.fork``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property, lru_cache
from typing import Any


class Kind(str, enum.Enum):
    CONNECTION = "connection"
    CURSOR = "cursor"
    SESSION = "session"
    POOL = "pool"
    ENGINE = "engine"
    RESULT = "result"
    TRANSACTION = "transaction"
    FACTORY = "factory"  # makes other objects (a sessionmaker); nothing to release


class Buffering(str, enum.Enum):
    # By the time the first row reaches the caller the whole result is in client memory.
    CLIENT = "client"
    # Streaming: rows stay on the server (or unread on the socket) and arrive as they are fetched.
    SERVER = "server"
    LAZY = "lazy"  # rows are produced one step at a time in-process (e.g. sqlite3)
    DRIVER = "driver"  # as the underlying driver's cursor does (SQLAlchemy results)
    NONE = "none"  # not a result holder


CLOSING_CONTEXTS = ("closing", "self", "async-self", "try-finally", "pool", "none")


@dataclass(frozen=True)
class WithSpec:
    """What `with obj:` (or `async with obj:`) does to the object."""

    # The object no longer holds its database connection afterwards (closed, or given back).
    closes: bool
    commits: bool = False  # commits on a clean exit
    # The block's uncommitted work is gone after the block raised (by a rollback or by closing).
    rolls_back: bool = False
    # The database connection goes back to a pool (and stays open there) instead of closing.
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
    # With ``when_keyword``: only when the keyword is this constant (mysql.connector `buffered=True`).
    keyword_value: bool | None = None
    # Only when this qualified name is passed as the first positional argument or as the value
    # of any keyword (PyMySQL ``conn.cursor(pymysql.cursors.SSCursor)``).
    when_argument: str | None = None
    # The call makes a context manager only; `returns` is what `with ... as x` binds.
    context_only: bool = False
    # What `with obj.m(...) as x:` / `async with obj.m(...) as x:` does when that differs from
    # the returned object's own `with` (e.g. `async with pool.acquire()` releases to the pool).
    call_with: WithSpec | None = None
    call_async_with: WithSpec | None = None


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
    # How to make a closing context around it: "closing" (contextlib.closing), "self" (its own
    # with closes), "async-self", "pool" (the pool's own context call), "try-finally" (call a
    # release method in `finally`), or "none" (nothing to release).
    closing_context: str = "closing"
    methods: tuple[MethodSpec, ...] = ()
    buffering: Buffering = Buffering.NONE
    must_release: bool = True  # False for objects that need no release (e.g. a Result)
    note: str = ""
    # --- additions of issue 3 (all optional) ---
    # True when tests/drivers/ proves every claim above against the real driver.
    verified: bool = False
    reference: str = ""  # where the driver documents it (URL or source file)
    # Methods of the object that made it which release it: ``pool.putconn(conn)``.
    pool_release: tuple[str, ...] = ()
    # Methods of this object that take over (release) the object passed as first argument.
    takes_back: tuple[str, ...] = ()
    # Methods that return this very object (a fluent call, called without arguments but
    # keywords): ``conn = conn.execution_options(isolation_level="AUTOCOMMIT")`` still holds it.
    same_object: tuple[str, ...] = ()
    # Runtime classes this entry describes (``module.Class``); tests check them.
    classes: tuple[str, ...] = ()
    # Set on the entries the analysis makes for a class of the checked project whose instances
    # own a database object and can be released (its qualified name); never in the table.
    project_class: str = ""
    # Set by the analysis on an object a project function hands out but keeps (a cached or
    # registered engine, a module's session): its type is known, it is not the caller's to
    # release; never in the table.
    held: bool = False
    # Set by the analysis on what a project function makes on some paths and hands out kept
    # on the others (`return self.connection` if shared, else a new one): the caller owes its
    # release on those paths only, so closing it unconditionally is no fix; never in the table.
    maybe_shared: bool = False

    @property
    def unreleasable(self) -> bool:
        """An instance of a project class that no method of its class releases."""
        return bool(self.project_class) and not self.release and not self.pool_release

    @property
    def own_release(self) -> str | None:
        """The method that releases an instance of a project class when it is not `close()`
        (kolibri's `Bridge.end()`), else None."""
        return self.release[0] if self.project_class and self.release \
            and "close" not in self.release else None

    @property
    def owed_release(self) -> bool:
        """Whether whoever makes one owes its release: a ``must_release`` object, or an engine
        (not ``must_release``: most live as long as the process; one a call makes is still
        that code's to dispose)."""
        return self.must_release or self.kind is Kind.ENGINE

    def method(self, name: str, keywords: frozenset[str] = frozenset()) -> MethodSpec | None:
        """The spec of ``obj.name(...)``, preferring a keyword-specific entry."""
        plain = None
        for spec in self.methods:
            if spec.name != name:
                continue
            if spec.when_keyword is None and spec.when_argument is None:
                plain = spec
            elif spec.when_keyword is not None and spec.when_keyword in keywords:
                return spec
        return plain

    def method_for(self, name: str, keywords: Mapping[str, object] | None = None,
                   arguments: frozenset[str] = frozenset()) -> MethodSpec | None:
        """Like :meth:`method`, also matching keyword constants and qualified-name arguments.

        ``keywords`` maps keyword names to their constant value (or ``...`` when not a
        constant); ``arguments`` holds the qualified names passed as arguments.
        """
        keywords = keywords or {}
        plain = None
        for spec in self.methods:
            if spec.name != name:
                continue
            if spec.when_argument is not None:
                if spec.when_argument in arguments:
                    return spec
                continue
            if spec.when_keyword is None:
                plain = spec
                continue
            if spec.when_keyword not in keywords or keywords[spec.when_keyword] is None:
                continue
            if spec.keyword_value is None or keywords[spec.when_keyword] == spec.keyword_value:
                return spec
        return plain


@dataclass(frozen=True)
class FactorySpec:
    """A callable, by qualified name, that returns a fresh object of the table."""

    qualname: str
    returns: str  # ObjectSpec.name
    awaited: bool = False
    # A variant that applies only when this keyword argument is given (see DriverTable.factory_for).
    when_keyword: str | None = None
    # --- additions of issue 3 ---
    context_only: bool = False
    # What `with f(...)` / `async with f(...)` (the call itself, not awaited) does, when that
    # differs from the returned object's own `with` (``async with aiosqlite.connect(...)``).
    call_with: WithSpec | None = None
    call_async_with: WithSpec | None = None
    note: str = ""
    # The factory keeps what it makes and releases it itself (SQLAlchemy's test suite disposes
    # every `testing_engine()` at teardown): its type is known, its caller owes no release.
    held: bool = False
    # The factory wraps the DB-API module given as this keyword or as its first argument
    # (DBUtils' `PooledDB(creator=pymysql)`): it makes an object of the table only when that is
    # a driver module of the table, not a stand-in (a test suite's mock module).
    creator: str | None = None


@dataclass(frozen=True)
class DriverSpec:
    name: str
    modules: tuple[str, ...]  # top-level import names
    objects: tuple[ObjectSpec, ...]
    factories: tuple[FactorySpec, ...]
    # Module aliases that mean the same thing (``sqlite3.dbapi2`` is ``sqlite3``).
    module_aliases: tuple[tuple[str, str], ...] = ()
    docs: str = ""
    # Module-level objects of the table (Django's ``django.db.connection``): qualname -> object.
    instances: tuple[tuple[str, str], ...] = ()
    # Python distribution that provides it (for docs and test skips).
    package: str = ""
    # Modules that are drop-in replacements of this driver's module, with the same objects
    # and the same semantics (``pysqlite3`` for ``sqlite3``): (module, distribution).
    drop_ins: tuple[tuple[str, str], ...] = ()
    note: str = ""


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
    # --- additions of issue 3 ---
    instances: Mapping[str, str] = field(default_factory=dict)
    # Keyword-specific factory variants (``mysql.connector.connect(pool_name=...)``).
    factory_variants: Mapping[str, tuple[FactorySpec, ...]] = field(default_factory=dict)

    @cached_property
    def _alias_roots(self) -> frozenset[str]:
        return frozenset(alias.partition(".")[0] for alias in self.module_aliases)

    @cached_property
    def class_objects(self) -> Mapping[str, ObjectSpec]:
        """The object each class of the table's objects' ``classes`` is (the first that lists it)."""
        found: dict[str, ObjectSpec] = {}
        for spec in self.objects.values():
            for name in spec.classes:
                found.setdefault(name, spec)
        return found

    def factory(self, qualname: str | None) -> FactorySpec | None:
        if qualname is None:
            return None
        return self.factories.get(qualname)

    def factory_for(self, qualname: str | None, keywords: frozenset[str] = frozenset()) -> FactorySpec | None:
        """The factory spec of a call, preferring a variant whose keyword is given."""
        if qualname is None:
            return None
        for variant in self.factory_variants.get(qualname, ()):
            if variant.when_keyword in keywords:
                return variant
        return self.factories.get(qualname)

    def object(self, name: str) -> ObjectSpec:
        return self.objects[name]

    def instance(self, qualname: str | None) -> ObjectSpec | None:
        """The spec of a module-level object (``django.db.connection``), or None."""
        if qualname is None or qualname not in self.instances:
            return None
        return self.objects[self.instances[qualname]]

    def method_returns(self, object_name: str, method: str,
                       keywords: frozenset[str] = frozenset()) -> ObjectSpec | None:
        """The spec of the object ``obj.method(...)`` returns, for ``obj`` of ``object_name``."""
        spec = self.objects.get(object_name)
        found = spec.method(method, keywords) if spec is not None else None
        return self.objects.get(found.returns) if found is not None else None

    def cursor_methods(self, object_name: str) -> tuple[MethodSpec, ...]:
        """The methods of an object that make cursors."""
        spec = self.objects.get(object_name)
        if spec is None:
            return ()
        return tuple(m for m in spec.methods if self.objects[m.returns].kind is Kind.CURSOR)

    @cached_property
    def _canonical_memo(self) -> dict[str, str]:
        return {}

    def canonical(self, qualname: str) -> str:
        """Map module aliases onto their canonical module (``sqlite3.dbapi2.x`` → ``sqlite3.x``)."""
        memo = self._canonical_memo  # names resolved again and again: ~280 k calls a big run
        found = memo.get(qualname)
        if found is None:
            found = memo[qualname] = (
                self._canonical(qualname) if qualname.partition(".")[0] in self._alias_roots
                else qualname)
        return found

    def _canonical(self, qualname: str) -> str:
        for alias, target in self.module_aliases.items():
            if qualname == alias or qualname.startswith(alias + "."):
                return target + qualname[len(alias):]
        return qualname

    def wraps_driver(self, factory: FactorySpec, creator: str | None) -> bool:
        """Whether ``creator`` (the qualified name of what a wrapping factory is given, see
        :attr:`FactorySpec.creator`) is a module of another driver of the table."""
        if creator is None:
            return False
        own = {m for driver in self.drivers if factory in driver.factories for m in driver.modules}
        module = self.canonical(creator).split(".", 1)[0]
        return module in self.module_names and module not in own

    @property
    def module_names(self) -> frozenset[str]:
        return frozenset([*(m for d in self.drivers for m in d.modules),
                          *(m for d in self.drivers for m, _ in d.drop_ins)])

    def iter_objects(self) -> Iterator[ObjectSpec]:
        """Every object, in table order."""
        for driver in self.drivers:
            yield from driver.objects


def _table(drivers: tuple[DriverSpec, ...], borrowers: frozenset[str], owners: frozenset[str]) -> DriverTable:
    objects: dict[str, ObjectSpec] = {}
    factories: dict[str, FactorySpec] = {}
    variants: dict[str, tuple[FactorySpec, ...]] = {}
    aliases: dict[str, str] = {}
    instances: dict[str, str] = {}
    for driver in drivers:
        for obj in driver.objects:
            if obj.name in objects:
                raise ValueError(f"object {obj.name} is defined twice")
            objects[obj.name] = obj
        for fac in driver.factories:
            if fac.when_keyword is not None:
                variants[fac.qualname] = (*variants.get(fac.qualname, ()), fac)
            else:
                factories[fac.qualname] = fac
        aliases.update(driver.module_aliases)
        target = driver.modules[0] if driver.modules else driver.name
        for module, _package in driver.drop_ins:
            # Longer prefixes first: `pysqlite3.dbapi2` before `pysqlite3`.
            aliases[f"{module}.dbapi2"] = target
            aliases[module] = target
        instances.update(driver.instances)
    for fac in [*factories.values(), *(v for vs in variants.values() for v in vs)]:
        if fac.returns not in objects:
            raise ValueError(f"factory {fac.qualname} returns unknown object {fac.returns}")
    for obj in objects.values():
        for method in obj.methods:
            if method.returns not in objects:
                raise ValueError(f"{obj.name}.{method.name} returns unknown object {method.returns}")
    for qualname, target in instances.items():
        if target not in objects:
            raise ValueError(f"instance {qualname} is of unknown object {target}")
    return DriverTable(drivers, borrowers, owners, objects, factories, aliases, instances, variants)


# --- the drivers --------------------------------------------------------------------------

_TX_NOT_CLOSE = WithSpec(closes=False, commits=True, rolls_back=True,
                         note="ends the transaction; the connection stays open")
_CLOSES = WithSpec(closes=True)
_CLOSES_TX = WithSpec(closes=True, commits=True, rolls_back=True,
                      note="commits (rolls back on error), then closes")
_CLOSES_NO_COMMIT = WithSpec(
    closes=True, rolls_back=True,
    note="closes without committing: uncommitted work is lost even on a clean exit",
)
_TO_POOL = WithSpec(closes=True, rolls_back=True, releases_to_pool=True,
                    note="returns the connection to the pool, rolling back what was not committed")
# The same, observed from the pooled driver connection itself (it stays open, in the pool).
_BACK_TO_POOL_TX = WithSpec(closes=False, commits=True, rolls_back=True, releases_to_pool=True,
                            note="commits (rolls back on error), then gives the connection "
                                 "back to the pool")
_TO_POOL_TX = WithSpec(closes=True, commits=True, rolls_back=True, releases_to_pool=True,
                       note="commits (rolls back on error), then returns the connection to the pool")

# Driver modules that cannot be imported on Python 3: `pysqlite2` (the `pysqlite` distribution,
# whose code became the standard library's sqlite3) is only ever the other branch of an import
# fallback (`try: from pysqlite2 import dbapi2 as sqlite3` / `except ImportError: import
# sqlite3`). A name bound to one of these and to something else means the something else.
PYTHON2_ONLY_MODULES = frozenset({"pysqlite2"})

SQLITE3 = DriverSpec(
    name="sqlite3",
    modules=("sqlite3",),
    package="(standard library)",
    module_aliases=(("sqlite3.dbapi2", "sqlite3"),),
    # SQLCipher's modules are forks of the same code (sqlite3 built against SQLCipher).
    drop_ins=(("pysqlite3", "pysqlite3 / pysqlite3-binary"), ("sqlean", "sqlean.py"),
              ("sqlcipher3", "sqlcipher3 / sqlcipher3-binary"), ("pysqlcipher3", "pysqlcipher3")),
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
            verified=True, classes=("sqlite3.Connection",),
            reference="https://docs.python.org/3/library/sqlite3.html#sqlite3-connection-context-manager",
            note="Python 3.13+ warns (ResourceWarning) when an unclosed connection is collected",
        ),
        ObjectSpec(
            "sqlite3.Cursor", "sqlite3", Kind.CURSOR,
            buffering=Buffering.LAZY,
            methods=(MethodSpec("execute", "sqlite3.Cursor"),),
            note="no context manager; wrap it in contextlib.closing",
            verified=True, classes=("sqlite3.Cursor",),
            reference="https://docs.python.org/3/library/sqlite3.html#cursor-objects",
        ),
    ),
    factories=(FactorySpec("sqlite3.connect", "sqlite3.Connection"),),
)

PSYCOPG2 = DriverSpec(
    name="psycopg2",
    modules=("psycopg2",),
    package="psycopg2 / psycopg2-binary",
    drop_ins=(("psycopg2cffi", "psycopg2cffi"),),
    docs="https://www.psycopg.org/docs/usage.html#with-statement",
    objects=(
        ObjectSpec(
            "psycopg2.connection", "psycopg2", Kind.CONNECTION,
            with_=_TX_NOT_CLOSE,
            methods=(
                MethodSpec("cursor", "psycopg2.cursor"),
                MethodSpec("cursor", "psycopg2.named_cursor", when_keyword="name"),
            ),
            verified=True, classes=("psycopg2.extensions.connection",),
            reference="https://www.psycopg.org/docs/usage.html#with-statement",
            note="since 2.9 `with conn` starts a transaction even in autocommit mode; "
                 "extras connection classes (DictConnection, ...) behave the same",
        ),
        ObjectSpec(
            "psycopg2.cursor", "psycopg2", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.CLIENT,
            verified=True, classes=("psycopg2.extensions.cursor",),
            reference="https://www.psycopg.org/docs/usage.html#server-side-cursors",
            note="cursor_factory=psycopg2.extras.DictCursor / RealDictCursor / NamedTupleCursor "
                 "are client-side cursors too",
        ),
        ObjectSpec(
            "psycopg2.named_cursor", "psycopg2", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            note="server-side (itersize rows per round trip, default 2000); holds a portal on the "
                 "server until closed or the transaction ends; not usable in autocommit",
            verified=True, classes=("psycopg2.extensions.cursor",),
            reference="https://www.psycopg.org/docs/usage.html#server-side-cursors",
        ),
        ObjectSpec(
            "psycopg2.pool.AbstractConnectionPool", "psycopg2", Kind.POOL,
            closing_context="try-finally",
            release=("closeall",),
            methods=(MethodSpec("getconn", "psycopg2.pool.connection"),),
            takes_back=("putconn",),
            verified=True,
            classes=("psycopg2.pool.SimpleConnectionPool", "psycopg2.pool.ThreadedConnectionPool"),
            reference="https://www.psycopg.org/docs/pool.html",
            note="no context manager; closeall() closes every connection",
        ),
        ObjectSpec(
            "psycopg2.pool.connection", "psycopg2", Kind.CONNECTION,
            release=(), pool_release=("putconn",), closing_context="try-finally",
            with_=WithSpec(closes=False, commits=True, rolls_back=True,
                           note="ends the transaction only: the connection is neither closed "
                                "nor given back to the pool"),
            methods=(
                MethodSpec("cursor", "psycopg2.cursor"),
                MethodSpec("cursor", "psycopg2.named_cursor", when_keyword="name"),
            ),
            verified=True, classes=("psycopg2.extensions.connection",),
            reference="https://www.psycopg.org/docs/pool.html",
            note="give it back with pool.putconn(conn); close() alone leaves the pool counting it as used",
        ),
    ),
    factories=(
        FactorySpec("psycopg2.connect", "psycopg2.connection"),
        FactorySpec("psycopg2.pool.SimpleConnectionPool", "psycopg2.pool.AbstractConnectionPool"),
        FactorySpec("psycopg2.pool.ThreadedConnectionPool", "psycopg2.pool.AbstractConnectionPool"),
    ),
)

_PSYCOPG_CONNECTION_METHODS = (
    MethodSpec("cursor", "psycopg.Cursor"),
    MethodSpec("cursor", "psycopg.ServerCursor", when_keyword="name"),
    MethodSpec("execute", "psycopg.Cursor"),
)

PSYCOPG = DriverSpec(
    name="psycopg",
    modules=("psycopg", "psycopg_pool"),
    package="psycopg, psycopg-pool",
    docs="https://www.psycopg.org/psycopg3/docs/basic/usage.html#connection-context",
    objects=(
        ObjectSpec(
            "psycopg.Connection", "psycopg", Kind.CONNECTION,
            with_=WithSpec(closes=True, commits=True, rolls_back=True),
            closing_context="closing",
            methods=_PSYCOPG_CONNECTION_METHODS,
            verified=True, classes=("psycopg.Connection",),
            reference="https://www.psycopg.org/psycopg3/docs/basic/from_pg2.html#with-connection",
        ),
        ObjectSpec(
            "psycopg.Cursor", "psycopg", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.CLIENT,
            verified=True, classes=("psycopg.Cursor",),
            reference="https://www.psycopg.org/psycopg3/docs/advanced/cursors.html",
            note="Cursor.stream() streams rows one at a time instead",
        ),
        ObjectSpec(
            "psycopg.ServerCursor", "psycopg", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            verified=True, classes=("psycopg.ServerCursor",),
            reference="https://www.psycopg.org/psycopg3/docs/advanced/cursors.html#server-side-cursors",
        ),
        ObjectSpec(
            "psycopg.AsyncConnection", "psycopg", Kind.CONNECTION,
            release_awaited=True,
            async_with=WithSpec(closes=True, commits=True, rolls_back=True),
            closing_context="async-self",
            methods=(
                MethodSpec("cursor", "psycopg.AsyncCursor"),
                MethodSpec("cursor", "psycopg.AsyncServerCursor", when_keyword="name"),
                MethodSpec("execute", "psycopg.AsyncCursor", awaited=True),
            ),
            verified=True, classes=("psycopg.AsyncConnection",),
            reference="https://www.psycopg.org/psycopg3/docs/advanced/async.html",
        ),
        ObjectSpec(
            "psycopg.AsyncCursor", "psycopg", Kind.CURSOR,
            release_awaited=True, async_with=WithSpec(closes=True), closing_context="async-self",
            buffering=Buffering.CLIENT,
            verified=True, classes=("psycopg.AsyncCursor",),
            reference="https://www.psycopg.org/psycopg3/docs/advanced/async.html",
        ),
        ObjectSpec(
            "psycopg.AsyncServerCursor", "psycopg", Kind.CURSOR,
            release_awaited=True, async_with=WithSpec(closes=True), closing_context="async-self",
            buffering=Buffering.SERVER,
            verified=True, classes=("psycopg.AsyncServerCursor",),
            reference="https://www.psycopg.org/psycopg3/docs/advanced/cursors.html#server-side-cursors",
        ),
        ObjectSpec(
            "psycopg_pool.ConnectionPool", "psycopg", Kind.POOL,
            with_=WithSpec(closes=True), closing_context="self",
            methods=(
                MethodSpec("connection", "psycopg.Connection", context_only=True,
                           call_with=_BACK_TO_POOL_TX),
                MethodSpec("getconn", "psycopg_pool.Connection"),
            ),
            takes_back=("putconn",),
            verified=True, classes=("psycopg_pool.ConnectionPool",),
            reference="https://www.psycopg.org/psycopg3/docs/advanced/pool.html",
            note="close() closes every connection and stops the pool's worker threads",
        ),
        ObjectSpec(
            "psycopg_pool.Connection", "psycopg", Kind.CONNECTION,
            release=(), pool_release=("putconn",), closing_context="pool",
            with_=WithSpec(closes=False, commits=True, rolls_back=True,
                           note="ends the transaction only: a pooled connection is neither "
                                "closed nor given back by its own `with`"),
            methods=_PSYCOPG_CONNECTION_METHODS,
            verified=True, classes=("psycopg.Connection",),
            reference="https://www.psycopg.org/psycopg3/docs/advanced/pool.html",
            note="a connection from pool.getconn(); prefer `with pool.connection() as conn`",
        ),
        ObjectSpec(
            "psycopg_pool.AsyncConnectionPool", "psycopg", Kind.POOL,
            release_awaited=True, async_with=WithSpec(closes=True), closing_context="async-self",
            methods=(
                MethodSpec("connection", "psycopg.AsyncConnection", context_only=True,
                           call_async_with=_BACK_TO_POOL_TX),
                MethodSpec("getconn", "psycopg_pool.AsyncConnection", awaited=True),
            ),
            takes_back=("putconn",),
            verified=True, classes=("psycopg_pool.AsyncConnectionPool",),
            reference="https://www.psycopg.org/psycopg3/docs/advanced/pool.html",
            note="await pool.putconn(conn)",
        ),
        ObjectSpec(
            "psycopg_pool.AsyncConnection", "psycopg", Kind.CONNECTION,
            release=(), release_awaited=True, pool_release=("putconn",), closing_context="pool",
            async_with=WithSpec(closes=False, commits=True, rolls_back=True,
                                note="ends the transaction only; not given back to the pool"),
            methods=(
                MethodSpec("cursor", "psycopg.AsyncCursor"),
                MethodSpec("cursor", "psycopg.AsyncServerCursor", when_keyword="name"),
                MethodSpec("execute", "psycopg.AsyncCursor", awaited=True),
            ),
            verified=True, classes=("psycopg.AsyncConnection",),
            reference="https://www.psycopg.org/psycopg3/docs/advanced/pool.html",
        ),
    ),
    factories=(
        FactorySpec("psycopg.connect", "psycopg.Connection"),
        FactorySpec("psycopg.Connection.connect", "psycopg.Connection"),
        FactorySpec("psycopg.AsyncConnection.connect", "psycopg.AsyncConnection", awaited=True),
        FactorySpec("psycopg_pool.ConnectionPool", "psycopg_pool.ConnectionPool"),
        FactorySpec("psycopg_pool.AsyncConnectionPool", "psycopg_pool.AsyncConnectionPool",
                    note="open it with `async with` or `await pool.open()`"),
    ),
)

_MYSQL_CURSOR_NOTE = "reads the whole result at execute()"

PYMYSQL = DriverSpec(
    name="pymysql",
    modules=("pymysql",),
    package="PyMySQL",
    note=("`pymysql.install_as_MySQLdb()` makes `import MySQLdb` give PyMySQL: the MySQLdb entries "
          "below make the same claims as these (`with` closes without committing, cursors close "
          "with `with`), so such code is read right under either name."),
    docs="https://pymysql.readthedocs.io/",
    objects=(
        ObjectSpec(
            "pymysql.Connection", "pymysql", Kind.CONNECTION,
            with_=replace(_CLOSES_NO_COMMIT, note="PyMySQL >= 1.0 closes; it does not commit "
                                                  "(before 1.0 it gave a cursor and committed)"),
            closing_context="self",
            methods=(
                MethodSpec("cursor", "pymysql.Cursor"),
                MethodSpec("cursor", "pymysql.SSCursor", when_argument="pymysql.cursors.SSCursor"),
                MethodSpec("cursor", "pymysql.SSCursor", when_argument="pymysql.cursors.SSDictCursor"),
            ),
            verified=True, classes=("pymysql.connections.Connection",),
            reference="https://github.com/PyMySQL/PyMySQL/blob/main/pymysql/connections.py",
            note="connect(cursorclass=SSCursor) makes every cursor() unbuffered",
        ),
        ObjectSpec(
            "pymysql.Cursor", "pymysql", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.CLIENT,
            verified=True, classes=("pymysql.cursors.Cursor",),
            reference="https://pymysql.readthedocs.io/en/latest/modules/cursors.html",
            note=_MYSQL_CURSOR_NOTE,
        ),
        ObjectSpec(
            "pymysql.SSCursor", "pymysql", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            verified=True, classes=("pymysql.cursors.SSCursor",),
            reference="https://pymysql.readthedocs.io/en/latest/modules/cursors.html",
            note="unbuffered: the connection can run nothing else until every row is read",
        ),
    ),
    factories=(
        FactorySpec("pymysql.connect", "pymysql.Connection"),
        FactorySpec("pymysql.Connect", "pymysql.Connection"),
        FactorySpec("pymysql.Connection", "pymysql.Connection"),
        FactorySpec("pymysql.connections.Connection", "pymysql.Connection"),
    ),
)

MYSQLDB = DriverSpec(
    name="MySQLdb",
    modules=("MySQLdb",),
    package="mysqlclient",
    docs="https://mysqlclient.readthedocs.io/user_guide.html",
    objects=(
        ObjectSpec(
            "MySQLdb.Connection", "MySQLdb", Kind.CONNECTION,
            with_=replace(_CLOSES_NO_COMMIT, note="mysqlclient >= 2.0 closes without committing; "
                                                  "1.x gave a cursor and committed"),
            closing_context="self",
            methods=(
                MethodSpec("cursor", "MySQLdb.Cursor"),
                MethodSpec("cursor", "MySQLdb.SSCursor", when_argument="MySQLdb.cursors.SSCursor"),
                MethodSpec("cursor", "MySQLdb.SSCursor", when_argument="MySQLdb.cursors.SSDictCursor"),
            ),
            verified=True, classes=("MySQLdb.connections.Connection",),
            reference="https://github.com/PyMySQL/mysqlclient/pull/413 (MySQLdb/connections.py)",
        ),
        ObjectSpec(
            "MySQLdb.Cursor", "MySQLdb", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.CLIENT,
            verified=True, classes=("MySQLdb.cursors.Cursor",),
            reference="https://github.com/PyMySQL/mysqlclient/blob/main/src/MySQLdb/cursors.py",
            note=_MYSQL_CURSOR_NOTE,
        ),
        ObjectSpec(
            "MySQLdb.SSCursor", "MySQLdb", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            verified=True,
            # SSDictCursor is no subclass of SSCursor in mysqlclient (both use the result unbuffered).
            classes=("MySQLdb.cursors.SSCursor", "MySQLdb.cursors.SSDictCursor"),
            reference="https://github.com/PyMySQL/mysqlclient/blob/main/src/MySQLdb/cursors.py",
        ),
    ),
    factories=(
        FactorySpec("MySQLdb.connect", "MySQLdb.Connection"),
        FactorySpec("MySQLdb.Connect", "MySQLdb.Connection"),
        FactorySpec("MySQLdb.Connection", "MySQLdb.Connection"),
    ),
)

_MYSQL_CONNECTOR_CURSORS = (
    MethodSpec("cursor", "mysql.connector.cursor"),
    MethodSpec("cursor", "mysql.connector.buffered_cursor", when_keyword="buffered", keyword_value=True),
)

MYSQL_CONNECTOR = DriverSpec(
    name="mysql.connector",
    modules=("mysql",),
    package="mysql-connector-python",
    docs="https://dev.mysql.com/doc/connector-python/en/",
    objects=(
        ObjectSpec(
            "mysql.connector.Connection", "mysql.connector", Kind.CONNECTION,
            with_=_CLOSES_NO_COMMIT, closing_context="self",
            methods=_MYSQL_CONNECTOR_CURSORS,
            verified=True,
            classes=("mysql.connector.connection.MySQLConnection",
                     "mysql.connector.connection_cext.CMySQLConnection"),
            reference="https://dev.mysql.com/doc/connector-python/en/connector-python-api-mysqlconnection.html",
            note="connect(buffered=True) makes every cursor() buffered",
        ),
        ObjectSpec(
            "mysql.connector.cursor", "mysql.connector", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            verified=True,
            classes=("mysql.connector.cursor.MySQLCursor", "mysql.connector.cursor_cext.CMySQLCursor"),
            reference="https://dev.mysql.com/doc/connector-python/en/connector-python-api-mysqlcursor.html",
            note="unbuffered by default: rows are read as fetched; the connection is busy until then",
        ),
        ObjectSpec(
            "mysql.connector.buffered_cursor", "mysql.connector", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.CLIENT,
            verified=True,
            classes=("mysql.connector.cursor.MySQLCursorBuffered",
                     "mysql.connector.cursor_cext.CMySQLCursorBuffered"),
            reference="https://dev.mysql.com/doc/connector-python/en/connector-python-api-mysqlcursorbuffered.html",
        ),
        ObjectSpec(
            "mysql.connector.pooling.MySQLConnectionPool", "mysql.connector", Kind.POOL,
            closing_context="none",
            release=(), must_release=False,
            methods=(MethodSpec("get_connection", "mysql.connector.PooledMySQLConnection"),),
            verified=True, classes=("mysql.connector.pooling.MySQLConnectionPool",),
            reference="https://dev.mysql.com/doc/connector-python/en/connector-python-connection-pooling.html",
            note="no context manager and no public close; its connections close with the process",
        ),
        ObjectSpec(
            "mysql.connector.PooledMySQLConnection", "mysql.connector", Kind.CONNECTION,
            with_=WithSpec(closes=True, rolls_back=True, releases_to_pool=True,
                           note="close() gives it back to the pool (after a reset); no commit"),
            closing_context="self",
            methods=_MYSQL_CONNECTOR_CURSORS,
            verified=True, classes=("mysql.connector.pooling.PooledMySQLConnection",),
            reference="https://dev.mysql.com/doc/connector-python/en/connector-python-connection-pooling.html",
            note="close() returns it to the pool",
        ),
    ),
    factories=(
        FactorySpec("mysql.connector.connect", "mysql.connector.Connection"),
        FactorySpec("mysql.connector.connect", "mysql.connector.PooledMySQLConnection",
                    when_keyword="pool_name"),
        FactorySpec("mysql.connector.connect", "mysql.connector.PooledMySQLConnection",
                    when_keyword="pool_size"),
        FactorySpec("mysql.connector.MySQLConnection", "mysql.connector.Connection"),
        FactorySpec("mysql.connector.connection.MySQLConnection", "mysql.connector.Connection"),
        FactorySpec("mysql.connector.pooling.MySQLConnectionPool",
                    "mysql.connector.pooling.MySQLConnectionPool"),
    ),
)

PYODBC = DriverSpec(
    name="pyodbc",
    modules=("pyodbc",),
    package="pyodbc",
    docs="https://github.com/mkleehammer/pyodbc/wiki/Connection#__exit__",
    objects=(
        ObjectSpec(
            "pyodbc.Connection", "pyodbc", Kind.CONNECTION,
            with_=_TX_NOT_CLOSE,
            methods=(MethodSpec("cursor", "pyodbc.Cursor"), MethodSpec("execute", "pyodbc.Cursor")),
            verified=True, classes=("pyodbc.Connection",),
            reference="https://github.com/mkleehammer/pyodbc/wiki/Connection#__exit__ "
                      "(and issue #48)",
        ),
        ObjectSpec(
            "pyodbc.Cursor", "pyodbc", Kind.CURSOR,
            with_=WithSpec(closes=False, commits=True,
                           note="commits unless autocommit is on; the cursor stays open"),
            buffering=Buffering.DRIVER,
            verified=True, classes=("pyodbc.Cursor",),
            reference="https://github.com/mkleehammer/pyodbc/wiki/Cursor#context-manager",
            note="buffering is the ODBC driver's (psqlODBC reads the whole result at execute() "
                 "unless UseDeclareFetch=1)",
        ),
    ),
    factories=(FactorySpec("pyodbc.connect", "pyodbc.Connection"),),
)

ORACLEDB = DriverSpec(
    name="oracledb",
    modules=("oracledb", "cx_Oracle"),
    package="oracledb, cx_Oracle",
    docs="https://python-oracledb.readthedocs.io/en/latest/api_manual/connection.html",
    objects=(
        ObjectSpec(
            "oracledb.Connection", "oracledb", Kind.CONNECTION,
            with_=WithSpec(closes=True, rolls_back=True,
                           note="closes and rolls back uncommitted work (cx_Oracle before 7 only "
                                "ended the transaction)"),
            closing_context="self",
            methods=(MethodSpec("cursor", "oracledb.Cursor"),),
            reference="https://python-oracledb.readthedocs.io/en/latest/api_manual/connection.html",
        ),
        ObjectSpec(
            "oracledb.Cursor", "oracledb", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            reference="https://python-oracledb.readthedocs.io/en/latest/api_manual/cursor.html",
            note="fetches arraysize rows per round trip (prefetchrows ahead)",
        ),
        ObjectSpec(
            "oracledb.ConnectionPool", "oracledb", Kind.POOL,
            with_=WithSpec(closes=True), closing_context="self",
            methods=(MethodSpec("acquire", "oracledb.PooledConnection"),),
            takes_back=("release",),
            reference="https://python-oracledb.readthedocs.io/en/latest/api_manual/connection_pool.html",
        ),
        ObjectSpec(
            "oracledb.PooledConnection", "oracledb", Kind.CONNECTION,
            with_=WithSpec(closes=True, rolls_back=True, releases_to_pool=True),
            closing_context="self", pool_release=("release",),
            methods=(MethodSpec("cursor", "oracledb.Cursor"),),
            reference="https://python-oracledb.readthedocs.io/en/latest/user_guide/connection_handling.html",
            note="close() and pool.release(conn) both give it back",
        ),
    ),
    factories=(
        FactorySpec("oracledb.connect", "oracledb.Connection"),
        FactorySpec("oracledb.create_pool", "oracledb.ConnectionPool"),
        FactorySpec("oracledb.SessionPool", "oracledb.ConnectionPool"),
        FactorySpec("cx_Oracle.connect", "oracledb.Connection"),
        FactorySpec("cx_Oracle.Connection", "oracledb.Connection"),
        FactorySpec("cx_Oracle.SessionPool", "oracledb.ConnectionPool"),
    ),
)

PYMSSQL = DriverSpec(
    name="pymssql",
    modules=("pymssql",),
    package="pymssql",
    docs="https://pymssql.readthedocs.io/en/stable/ref/pymssql.html",
    objects=(
        ObjectSpec(
            "pymssql.Connection", "pymssql", Kind.CONNECTION,
            with_=_CLOSES_NO_COMMIT, closing_context="self",
            methods=(MethodSpec("cursor", "pymssql.Cursor"),),
            reference="https://github.com/pymssql/pymssql/blob/master/tests/test_context_managers.py",
        ),
        ObjectSpec(
            "pymssql.Cursor", "pymssql", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            reference="https://pymssql.readthedocs.io/en/stable/ref/pymssql.html#cursor-class",
            note="rows are read from the TDS stream as fetched",
        ),
    ),
    factories=(FactorySpec("pymssql.connect", "pymssql.Connection"),),
)

REDSHIFT_CONNECTOR = DriverSpec(
    name="redshift_connector",
    modules=("redshift_connector",),
    package="redshift-connector",
    docs="https://docs.aws.amazon.com/redshift/latest/mgmt/python-connect-examples.html",
    objects=(
        ObjectSpec(
            "redshift_connector.Connection", "redshift_connector", Kind.CONNECTION,
            with_=_CLOSES_NO_COMMIT, closing_context="self",
            methods=(MethodSpec("cursor", "redshift_connector.Cursor"),),
            reference="https://github.com/aws/amazon-redshift-python-driver/blob/master/"
                      "redshift_connector/core.py (Connection.__exit__ calls close())",
            note="its `with` closes without committing; it cannot connect to a plain "
                 "PostgreSQL server (Redshift's startup parameters), so the claims are read "
                 "from its source",
        ),
        ObjectSpec(
            "redshift_connector.Cursor", "redshift_connector", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.CLIENT,
            reference="https://github.com/aws/amazon-redshift-python-driver/blob/master/"
                      "redshift_connector/cursor.py (Cursor.__exit__ calls close(); the rows "
                      "are read into the cursor's cache at execute())",
        ),
    ),
    factories=(FactorySpec("redshift_connector.connect", "redshift_connector.Connection"),),
)

DUCKDB = DriverSpec(
    name="duckdb",
    modules=("duckdb",),
    package="duckdb",
    docs="https://duckdb.org/docs/api/python/dbapi",
    objects=(
        ObjectSpec(
            "duckdb.DuckDBPyConnection", "duckdb", Kind.CONNECTION,
            with_=replace(_CLOSES_NO_COMMIT,
                          note="closes; an open transaction is rolled back (DuckDB autocommits "
                               "each statement unless a transaction was begun)"),
            closing_context="self",
            methods=(
                MethodSpec("cursor", "duckdb.DuckDBPyConnection"),
                MethodSpec("execute", "duckdb.DuckDBPyConnection"),
            ),
            buffering=Buffering.CLIENT,
            verified=True, classes=("duckdb.DuckDBPyConnection",),
            reference="https://duckdb.org/docs/api/python/dbapi",
            note="cursor() is another handle on the same database; closing it leaves the parent "
                 "open. execute() computes the first chunk; the first fetch materializes the rest",
        ),
    ),
    factories=(FactorySpec("duckdb.connect", "duckdb.DuckDBPyConnection"),),
)

APSW = DriverSpec(
    name="apsw",
    modules=("apsw",),
    package="apsw",
    docs="https://rogerbinns.github.io/apsw/connection.html",
    objects=(
        ObjectSpec(
            "apsw.Connection", "apsw", Kind.CONNECTION,
            with_=replace(_TX_NOT_CLOSE, note="a savepoint: released (committed) on a clean exit, "
                                              "rolled back on error; the connection stays open"),
            methods=(
                MethodSpec("cursor", "apsw.Cursor"),
                MethodSpec("execute", "apsw.Cursor"),
                MethodSpec("executemany", "apsw.Cursor"),
            ),
            verified=True, classes=("apsw.Connection",),
            reference="https://rogerbinns.github.io/apsw/connection.html#apsw.Connection.__enter__",
            note="close() it, or wrap it in contextlib.closing",
        ),
        ObjectSpec(
            "apsw.Cursor", "apsw", Kind.CURSOR,
            methods=(MethodSpec("execute", "apsw.Cursor"), MethodSpec("executemany", "apsw.Cursor")),
            verified=True, classes=("apsw.Cursor",),
            reference="https://rogerbinns.github.io/apsw/cursor.html",
            note="no context manager; execute() gives the cursor back (so `cur.execute(q).close()` "
                 "closes it only when the statement succeeds)",
        ),
    ),
    factories=(FactorySpec("apsw.Connection", "apsw.Connection"),),
)

SNOWFLAKE = DriverSpec(
    name="snowflake.connector",
    modules=("snowflake",),
    package="snowflake-connector-python",
    docs="https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-api",
    objects=(
        ObjectSpec(
            "snowflake.connector.SnowflakeConnection", "snowflake.connector", Kind.CONNECTION,
            with_=_CLOSES_TX, closing_context="self",
            methods=(
                MethodSpec("cursor", "snowflake.connector.SnowflakeCursor"),
                MethodSpec("execute_string", "snowflake.connector.SnowflakeCursor"),
            ),
            reference="https://github.com/snowflakedb/snowflake-connector-python/blob/main/src/"
                      "snowflake/connector/connection.py (__exit__)",
        ),
        ObjectSpec(
            "snowflake.connector.SnowflakeCursor", "snowflake.connector", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            reference="https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-api",
            note="result batches are downloaded as they are fetched",
        ),
    ),
    factories=(
        FactorySpec("snowflake.connector.connect", "snowflake.connector.SnowflakeConnection"),
        FactorySpec("snowflake.connector.SnowflakeConnection",
                    "snowflake.connector.SnowflakeConnection"),
    ),
)

DATABRICKS = DriverSpec(
    name="databricks.sql",
    modules=("databricks",),
    package="databricks-sql-connector",
    docs="https://docs.databricks.com/en/dev-tools/python-sql-connector.html",
    objects=(
        ObjectSpec(
            "databricks.sql.Connection", "databricks.sql", Kind.CONNECTION,
            with_=_CLOSES, closing_context="self",
            methods=(MethodSpec("cursor", "databricks.sql.Cursor"),),
            reference="https://docs.databricks.com/en/dev-tools/python-sql-connector.html",
        ),
        ObjectSpec(
            "databricks.sql.Cursor", "databricks.sql", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.SERVER,
            reference="https://docs.databricks.com/en/dev-tools/python-sql-connector.html",
            note="fetches arraysize rows per request (Arrow batches)",
        ),
    ),
    factories=(FactorySpec("databricks.sql.connect", "databricks.sql.Connection"),),
)

ASYNCPG = DriverSpec(
    name="asyncpg",
    modules=("asyncpg",),
    package="asyncpg",
    docs="https://magicstack.github.io/asyncpg/current/api/index.html",
    objects=(
        ObjectSpec(
            "asyncpg.Connection", "asyncpg", Kind.CONNECTION,
            release_awaited=True, closing_context="try-finally",
            methods=(
                MethodSpec("transaction", "asyncpg.Transaction"),
                MethodSpec("cursor", "asyncpg.Cursor", awaited=True),
            ),
            verified=True, classes=("asyncpg.connection.Connection",),
            reference="https://magicstack.github.io/asyncpg/current/api/index.html#connection",
            note="no `async with`: `try: ... finally: await conn.close()`; fetch() returns "
                 "the whole result as a list",
        ),
        ObjectSpec(
            "asyncpg.Transaction", "asyncpg", Kind.TRANSACTION,
            release=("commit", "rollback"), release_awaited=True, must_release=False,
            async_with=WithSpec(closes=True, commits=True, rolls_back=True,
                                note="ends the transaction; the connection stays open"),
            closing_context="async-self",
            verified=True, classes=("asyncpg.transaction.Transaction",),
            reference="https://magicstack.github.io/asyncpg/current/api/index.html#transactions",
        ),
        ObjectSpec(
            "asyncpg.Cursor", "asyncpg", Kind.CURSOR,
            closing_context="none",
            release=(), must_release=False, buffering=Buffering.SERVER,
            verified=True, classes=("asyncpg.cursor.Cursor",),
            reference="https://magicstack.github.io/asyncpg/current/api/index.html#cursors",
            note="only inside a transaction, which ends it; iteration prefetches 50 rows",
        ),
        ObjectSpec(
            "asyncpg.Pool", "asyncpg", Kind.POOL,
            release_awaited=True, async_with=WithSpec(closes=True), closing_context="async-self",
            methods=(
                MethodSpec("acquire", "asyncpg.PoolConnection", awaited=True,
                           call_async_with=WithSpec(
                               closes=True, rolls_back=True, releases_to_pool=True,
                               note="gives the connection back to the pool (an open transaction "
                                    "is rolled back); the proxy is unusable afterwards")),
            ),
            takes_back=("release",),
            verified=True, classes=("asyncpg.pool.Pool",),
            reference="https://magicstack.github.io/asyncpg/current/api/index.html#connection-pools",
        ),
        ObjectSpec(
            "asyncpg.PoolConnection", "asyncpg", Kind.CONNECTION,
            release=(), release_awaited=True, pool_release=("release",), closing_context="pool",
            methods=(
                MethodSpec("transaction", "asyncpg.Transaction"),
                MethodSpec("cursor", "asyncpg.Cursor", awaited=True),
            ),
            verified=True, classes=("asyncpg.pool.PoolConnectionProxy",),
            reference="https://magicstack.github.io/asyncpg/current/api/index.html#connection-pools",
            note="from `await pool.acquire()`: give it back with `await pool.release(conn)`",
        ),
    ),
    # The modules that define the factories (asyncpg's own code and tests call them there:
    # `from asyncpg import connection as pg_connection`): the same objects
    # (tests/drivers/test_sqlalchemy_names.py).
    module_aliases=(
        ("asyncpg.connection.connect", "asyncpg.connect"),
        ("asyncpg.pool.create_pool", "asyncpg.create_pool"),
    ),
    factories=(
        FactorySpec("asyncpg.connect", "asyncpg.Connection", awaited=True),
        FactorySpec("asyncpg.create_pool", "asyncpg.Pool", awaited=True,
                    call_async_with=WithSpec(closes=True),
                    note="`async with asyncpg.create_pool(...) as pool` opens and closes it"),
    ),
)

AIOSQLITE = DriverSpec(
    name="aiosqlite",
    modules=("aiosqlite",),
    package="aiosqlite",
    docs="https://aiosqlite.omnilib.dev/",
    objects=(
        ObjectSpec(
            "aiosqlite.Connection", "aiosqlite", Kind.CONNECTION,
            release_awaited=True,
            # `async with` works on the connect() call only: an awaited connection raises
            # RuntimeError (its thread would start twice).
            async_with=None,
            closing_context="try-finally",
            methods=(
                MethodSpec("cursor", "aiosqlite.Cursor", awaited=True,
                           call_async_with=WithSpec(closes=True)),
                MethodSpec("execute", "aiosqlite.Cursor", awaited=True,
                           call_async_with=WithSpec(closes=True)),
            ),
            verified=True, classes=("aiosqlite.core.Connection",),
            reference="https://github.com/omnilib/aiosqlite/blob/main/aiosqlite/core.py",
            note="a thread per connection: an unclosed one keeps the process alive. Use "
                 "`async with aiosqlite.connect(...)` (closes, no commit); an already awaited "
                 "connection cannot be used in `async with`",
        ),
        ObjectSpec(
            "aiosqlite.Cursor", "aiosqlite", Kind.CURSOR,
            release_awaited=True, async_with=WithSpec(closes=True), closing_context="async-self",
            buffering=Buffering.LAZY,
            verified=True, classes=("aiosqlite.cursor.Cursor",),
            reference="https://github.com/omnilib/aiosqlite/blob/main/aiosqlite/context.py",
        ),
    ),
    factories=(
        FactorySpec("aiosqlite.connect", "aiosqlite.Connection", awaited=True,
                    call_async_with=replace(_CLOSES_NO_COMMIT, note="closes; does not commit")),
    ),
)

AIOMYSQL = DriverSpec(
    name="aiomysql",
    modules=("aiomysql",),
    package="aiomysql",
    docs="https://aiomysql.readthedocs.io/",
    objects=(
        ObjectSpec(
            "aiomysql.Connection", "aiomysql", Kind.CONNECTION,
            release=("ensure_closed",), release_awaited=True,
            async_with=_CLOSES_NO_COMMIT, closing_context="async-self",
            methods=(
                MethodSpec("cursor", "aiomysql.Cursor", awaited=True),
                MethodSpec("cursor", "aiomysql.SSCursor", awaited=True,
                           when_argument="aiomysql.SSCursor"),
                MethodSpec("cursor", "aiomysql.SSCursor", awaited=True,
                           when_argument="aiomysql.cursors.SSCursor"),
            ),
            verified=True, classes=("aiomysql.connection.Connection",),
            reference="https://aiomysql.readthedocs.io/en/stable/connection.html",
            note="close() (not awaited) drops the socket at once; `await ensure_closed()` says goodbye",
        ),
        ObjectSpec(
            "aiomysql.Cursor", "aiomysql", Kind.CURSOR,
            release_awaited=True, async_with=WithSpec(closes=True), closing_context="async-self",
            buffering=Buffering.CLIENT,
            verified=True, classes=("aiomysql.cursors.Cursor",),
            reference="https://aiomysql.readthedocs.io/en/stable/cursors.html",
        ),
        ObjectSpec(
            "aiomysql.SSCursor", "aiomysql", Kind.CURSOR,
            release_awaited=True, async_with=WithSpec(closes=True), closing_context="async-self",
            buffering=Buffering.SERVER,
            verified=True, classes=("aiomysql.cursors.SSCursor",),
            reference="https://aiomysql.readthedocs.io/en/stable/cursors.html",
        ),
        ObjectSpec(
            "aiomysql.Pool", "aiomysql", Kind.POOL,
            release=("close",), async_with=WithSpec(closes=True), closing_context="async-self",
            methods=(
                MethodSpec("acquire", "aiomysql.PoolConnection", awaited=True,
                           call_async_with=WithSpec(
                               closes=True, rolls_back=True,
                               note="gives the connection back to the pool, but closes it instead "
                                    "when a transaction is still open (its work is lost)")),
            ),
            takes_back=("release",),
            verified=True, classes=("aiomysql.pool.Pool",),
            reference="https://aiomysql.readthedocs.io/en/stable/pool.html",
            note="close() then `await pool.wait_closed()`",
        ),
        ObjectSpec(
            "aiomysql.PoolConnection", "aiomysql", Kind.CONNECTION,
            release=(), pool_release=("release",), closing_context="pool",
            async_with=replace(_CLOSES_NO_COMMIT, note="closes it (not given back: the pool drops "
                                                       "it)"),
            methods=(MethodSpec("cursor", "aiomysql.Cursor", awaited=True),),
            verified=True, classes=("aiomysql.connection.Connection",),
            reference="https://aiomysql.readthedocs.io/en/stable/pool.html",
            note="give it back with pool.release(conn)",
        ),
    ),
    factories=(
        FactorySpec("aiomysql.connect", "aiomysql.Connection", awaited=True,
                    call_async_with=_CLOSES_NO_COMMIT),
        FactorySpec("aiomysql.create_pool", "aiomysql.Pool", awaited=True,
                    call_async_with=WithSpec(closes=True)),
    ),
)

_SA_BEGIN = MethodSpec("begin", "sqlalchemy.Connection", context_only=True, call_with=_TO_POOL_TX)

SQLALCHEMY = DriverSpec(
    name="sqlalchemy",
    # SQLModel's `Session`, `create_engine` and `AsyncSession` are SQLAlchemy's (a subclass, the
    # same function): read as them (tests/drivers/test_sqlmodel.py checks it on SQLModel).
    modules=("sqlalchemy", "sqlmodel"),
    package="SQLAlchemy",
    docs="https://docs.sqlalchemy.org/en/20/core/connections.html",
    module_aliases=(
        ("sqlmodel.Session", "sqlalchemy.orm.Session"),
        ("sqlmodel.orm.session.Session", "sqlalchemy.orm.Session"),
        ("sqlmodel.create_engine", "sqlalchemy.create_engine"),
        ("sqlmodel.ext.asyncio.session.AsyncSession", "sqlalchemy.ext.asyncio.AsyncSession"),
        # The modules that define SQLAlchemy's public names (`from sqlalchemy.orm.session import
        # Session`): the same objects (tests/drivers/test_sqlalchemy_names.py).
        ("sqlalchemy.orm.session.Session", "sqlalchemy.orm.Session"),
        ("sqlalchemy.orm.session.sessionmaker", "sqlalchemy.orm.sessionmaker"),
        ("sqlalchemy.orm.scoping.scoped_session", "sqlalchemy.orm.scoped_session"),
        ("sqlalchemy.engine.base.Engine", "sqlalchemy.Engine"),
        ("sqlalchemy.engine.base.Connection", "sqlalchemy.Connection"),
        ("sqlalchemy.engine.Engine", "sqlalchemy.Engine"),
        ("sqlalchemy.engine.Connection", "sqlalchemy.Connection"),
        ("sqlalchemy.engine.create.create_engine", "sqlalchemy.create_engine"),
        ("sqlalchemy.ext.asyncio.session.AsyncSession", "sqlalchemy.ext.asyncio.AsyncSession"),
        ("sqlalchemy.ext.asyncio.session.async_sessionmaker", "sqlalchemy.ext.asyncio.async_sessionmaker"),
        ("sqlalchemy.ext.asyncio.engine.create_async_engine", "sqlalchemy.ext.asyncio.create_async_engine"),
        ("sqlalchemy.ext.asyncio.engine.AsyncEngine", "sqlalchemy.ext.asyncio.AsyncEngine"),
        ("sqlalchemy.ext.asyncio.engine.AsyncConnection", "sqlalchemy.ext.asyncio.AsyncConnection"),
    ),
    objects=(
        ObjectSpec(
            "sqlalchemy.Engine", "sqlalchemy", Kind.ENGINE,
            closing_context="try-finally",
            release=("dispose",), must_release=False,
            methods=(
                MethodSpec("connect", "sqlalchemy.Connection"),
                _SA_BEGIN,
                MethodSpec("raw_connection", "sqlalchemy.PoolProxiedConnection"),
            ),
            verified=True, classes=("sqlalchemy.engine.Engine",),
            reference="https://docs.sqlalchemy.org/en/20/core/connections.html#engine-disposal",
            note="long-lived, one per database: dispose() only an engine made per call/request, "
                 "in tests, or in a child after os.fork",
        ),
        ObjectSpec(
            "sqlalchemy.Connection", "sqlalchemy", Kind.CONNECTION,
            with_=_TO_POOL, closing_context="self", same_object=("execution_options",),
            methods=(
                MethodSpec("execute", "sqlalchemy.CursorResult"),
                MethodSpec("exec_driver_sql", "sqlalchemy.CursorResult"),
                MethodSpec("begin", "sqlalchemy.Transaction"),
            ),
            verified=True, classes=("sqlalchemy.engine.Connection",),
            reference="https://docs.sqlalchemy.org/en/20/core/connections.html#basic-usage",
            note="close() gives the DBAPI connection back to the engine's pool",
        ),
        ObjectSpec(
            "sqlalchemy.Transaction", "sqlalchemy", Kind.TRANSACTION,
            release=("commit", "rollback"), must_release=False,
            with_=WithSpec(closes=True, commits=True, rolls_back=True,
                           note="ends the transaction; the connection stays checked out"),
            closing_context="self",
            verified=True, classes=("sqlalchemy.engine.RootTransaction",),
            reference="https://docs.sqlalchemy.org/en/20/core/connections.html#using-transactions",
        ),
        ObjectSpec(
            "sqlalchemy.CursorResult", "sqlalchemy", Kind.RESULT,
            must_release=False, buffering=Buffering.DRIVER,
            with_=WithSpec(closes=True), closing_context="self",
            verified=True, classes=("sqlalchemy.engine.CursorResult",),
            reference="https://docs.sqlalchemy.org/en/20/core/connections.html#using-server-side-cursors-a-k-a-stream-results",
            note="rows come from the driver's default cursor (client-side for psycopg2/PyMySQL, "
                 "lazy for sqlite3); execution_options(stream_results=True) or yield_per=N "
                 "use a server-side cursor",
        ),
        ObjectSpec(
            "sqlalchemy.PoolProxiedConnection", "sqlalchemy", Kind.CONNECTION,
            with_=WithSpec(closes=True, rolls_back=True, releases_to_pool=True,
                           note="gives the DBAPI connection back to the pool (reset rolls back)"),
            closing_context="self",
            methods=(MethodSpec("cursor", "dbapi.Cursor"),),
            verified=True, classes=("sqlalchemy.pool.PoolProxiedConnection",),
            reference="https://docs.sqlalchemy.org/en/20/core/connections.html#working-with-the-dbapi-cursor-directly",
            note="engine.raw_connection(): close() returns it to the pool",
        ),
        ObjectSpec(
            "sqlalchemy.orm.Session", "sqlalchemy", Kind.SESSION,
            with_=WithSpec(closes=True, rolls_back=True, releases_to_pool=True,
                           note="closes the session (its connection goes back to the pool); "
                                "no commit"),
            closing_context="self",
            methods=(
                MethodSpec("begin", "sqlalchemy.orm.SessionTransaction"),
                MethodSpec("execute", "sqlalchemy.CursorResult"),
                MethodSpec("connection", "sqlalchemy.SessionConnection"),
            ),
            verified=True, classes=("sqlalchemy.orm.Session",),
            reference="https://docs.sqlalchemy.org/en/20/orm/session_basics.html#opening-and-closing-a-session",
            note="query results load every row unless yield_per is used",
        ),
        ObjectSpec(
            "sqlalchemy.orm.SessionTransaction", "sqlalchemy", Kind.TRANSACTION,
            release=("commit", "rollback"), must_release=False,
            with_=WithSpec(closes=True, commits=True, rolls_back=True,
                           note="ends the transaction (commits); the session stays open"),
            closing_context="self",
            verified=True, classes=("sqlalchemy.orm.SessionTransaction",),
            reference="https://docs.sqlalchemy.org/en/20/orm/session_basics.html#framing-out-a-begin-commit-rollback-block",
        ),
        ObjectSpec(
            "sqlalchemy.SessionConnection", "sqlalchemy", Kind.CONNECTION,
            closing_context="none",
            release=(), must_release=False,
            with_=WithSpec(closes=True, rolls_back=True,
                           note="closes the connection under the session: the session's "
                                "transaction is lost — leave it to the session"),
            verified=True, classes=("sqlalchemy.engine.Connection",),
            reference="https://docs.sqlalchemy.org/en/20/orm/session_api.html#sqlalchemy.orm.Session.connection",
            note="session.connection(): owned by the session, released when the session is",
        ),
        ObjectSpec(
            "sqlalchemy.orm.sessionmaker", "sqlalchemy", Kind.FACTORY,
            closing_context="none",
            release=(), must_release=False,
            methods=(
                MethodSpec("__call__", "sqlalchemy.orm.Session"),
                MethodSpec("begin", "sqlalchemy.orm.Session", context_only=True,
                           call_with=WithSpec(closes=True, commits=True, rolls_back=True,
                                              releases_to_pool=True,
                                              note="commits, then closes the session")),
            ),
            verified=True, classes=("sqlalchemy.orm.sessionmaker",),
            reference="https://docs.sqlalchemy.org/en/20/orm/session_basics.html#using-a-sessionmaker",
        ),
        ObjectSpec(
            "sqlalchemy.orm.scoped_session", "sqlalchemy", Kind.FACTORY,
            closing_context="try-finally",
            release=("remove",), must_release=False,
            methods=(MethodSpec("__call__", "sqlalchemy.orm.ScopedSession"),),
            verified=True, classes=("sqlalchemy.orm.scoped_session",),
            reference="https://docs.sqlalchemy.org/en/20/orm/contextual.html",
            note="a registry, normally module-level: call remove() at the end of each request "
                 "or thread; it closes that scope's session",
        ),
        ObjectSpec(
            "sqlalchemy.orm.ScopedSession", "sqlalchemy", Kind.SESSION,
            must_release=False,
            with_=WithSpec(closes=True, rolls_back=True, releases_to_pool=True),
            closing_context="self",
            verified=True, classes=("sqlalchemy.orm.Session",),
            reference="https://docs.sqlalchemy.org/en/20/orm/contextual.html",
            note="the registry's session for this scope: scoped_session.remove() releases it",
        ),
        ObjectSpec(
            "sqlalchemy.ext.asyncio.AsyncEngine", "sqlalchemy", Kind.ENGINE,
            closing_context="try-finally",
            release=("dispose",), release_awaited=True, must_release=False,
            methods=(
                MethodSpec("connect", "sqlalchemy.ext.asyncio.AsyncConnection",
                           call_async_with=_TO_POOL),
                MethodSpec("begin", "sqlalchemy.ext.asyncio.AsyncConnection", context_only=True,
                           call_async_with=_TO_POOL_TX),
            ),
            verified=True, classes=("sqlalchemy.ext.asyncio.AsyncEngine",),
            reference="https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html#using-asyncio-scoped-session",
            note="`await engine.dispose()` before the event loop ends, or its connections are "
                 "garbage-collected outside it",
        ),
        ObjectSpec(
            "sqlalchemy.ext.asyncio.AsyncConnection", "sqlalchemy", Kind.CONNECTION,
            # `async with engine.connect()` works on the un-awaited call only (see the method).
            release_awaited=True, async_with=None, closing_context="try-finally",
            methods=(MethodSpec("execute", "sqlalchemy.CursorResult", awaited=True),),
            same_object=("execution_options",),
            verified=True, classes=("sqlalchemy.ext.asyncio.AsyncConnection",),
            reference="https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html",
            note="`async with engine.connect() as conn` returns it to the pool; an awaited "
                 "`conn = await engine.connect()` needs `await conn.close()` (a started "
                 "connection refuses `async with`)",
        ),
        ObjectSpec(
            "sqlalchemy.ext.asyncio.AsyncSession", "sqlalchemy", Kind.SESSION,
            release_awaited=True,
            async_with=WithSpec(closes=True, rolls_back=True, releases_to_pool=True),
            closing_context="async-self",
            methods=(MethodSpec("execute", "sqlalchemy.CursorResult", awaited=True),),
            verified=True, classes=("sqlalchemy.ext.asyncio.AsyncSession",),
            reference="https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html",
        ),
        ObjectSpec(
            "sqlalchemy.ext.asyncio.async_sessionmaker", "sqlalchemy", Kind.FACTORY,
            closing_context="none",
            release=(), must_release=False,
            methods=(
                MethodSpec("__call__", "sqlalchemy.ext.asyncio.AsyncSession"),
                MethodSpec("begin", "sqlalchemy.ext.asyncio.AsyncSession", context_only=True,
                           call_async_with=WithSpec(closes=True, commits=True, rolls_back=True,
                                                    releases_to_pool=True)),
            ),
            verified=True, classes=("sqlalchemy.ext.asyncio.async_sessionmaker",),
            reference="https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html",
        ),
    ),
    factories=(
        FactorySpec("sqlalchemy.create_engine", "sqlalchemy.Engine"),
        FactorySpec("sqlalchemy.engine.create_engine", "sqlalchemy.Engine"),
        FactorySpec("sqlalchemy.engine_from_config", "sqlalchemy.Engine"),
        # SQLAlchemy's test plugin (used by dialects' and alembic's suites): the engine is
        # registered with `testing_reaper`, which disposes it at teardown. Its connections are
        # the caller's.
        FactorySpec("sqlalchemy.testing.engines.testing_engine", "sqlalchemy.Engine", held=True),
        FactorySpec("sqlalchemy.orm.Session", "sqlalchemy.orm.Session"),
        FactorySpec("sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.sessionmaker"),
        FactorySpec("sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoped_session"),
        FactorySpec("sqlalchemy.ext.asyncio.create_async_engine", "sqlalchemy.ext.asyncio.AsyncEngine"),
        # `AsyncEngine(engine_from_config(...))` (alembic's async env.py): wraps a sync engine of
        # an async dialect and owns it (its `dispose()` disposes the sync engine's pool).
        FactorySpec("sqlalchemy.ext.asyncio.AsyncEngine", "sqlalchemy.ext.asyncio.AsyncEngine"),
        FactorySpec("sqlalchemy.ext.asyncio.AsyncSession", "sqlalchemy.ext.asyncio.AsyncSession"),
        FactorySpec("sqlalchemy.ext.asyncio.async_sessionmaker",
                    "sqlalchemy.ext.asyncio.async_sessionmaker"),
    ),
)

DBAPI = DriverSpec(
    name="dbapi",
    modules=(),
    package="(PEP 249)",
    docs="https://peps.python.org/pep-0249/",
    objects=(
        ObjectSpec(
            "dbapi.Connection", "dbapi", Kind.CONNECTION,
            methods=(MethodSpec("cursor", "dbapi.Cursor"),),
            reference="https://peps.python.org/pep-0249/#connection-objects",
            note="any PEP 249 connection: no `with` behaviour is promised; closing without "
                 "commit rolls back",
        ),
        ObjectSpec(
            "dbapi.Cursor", "dbapi", Kind.CURSOR, buffering=Buffering.DRIVER,
            reference="https://peps.python.org/pep-0249/#cursor-objects",
        ),
    ),
    factories=(),
)

DJANGO = DriverSpec(
    name="django",
    modules=("django",),
    package="Django",
    docs="https://docs.djangoproject.com/en/stable/topics/db/sql/#executing-custom-sql-directly",
    instances=(
        ("django.db.connection", "django.db.DatabaseWrapper"),
        ("django.db.connections", "django.db.ConnectionHandler"),
    ),
    objects=(
        ObjectSpec(
            "django.db.ConnectionHandler", "django", Kind.FACTORY,
            closing_context="try-finally",
            release=("close_all",), must_release=False,
            methods=(MethodSpec("__getitem__", "django.db.DatabaseWrapper"),),
            verified=True, classes=("django.db.utils.ConnectionHandler",),
            reference="https://docs.djangoproject.com/en/stable/topics/db/multi-db/",
        ),
        ObjectSpec(
            "django.db.DatabaseWrapper", "django", Kind.CONNECTION,
            must_release=False,
            methods=(MethodSpec("cursor", "django.db.CursorWrapper"),),
            verified=True, classes=("django.db.backends.base.base.BaseDatabaseWrapper",
                                    "django.utils.connection.ConnectionProxy"),
            reference="https://docs.djangoproject.com/en/stable/ref/databases/#persistent-connections",
            note="Django opens and closes it per request (CONN_MAX_AGE); threads and commands "
                 "outside requests should call close() or close_old_connections()",
        ),
        ObjectSpec(
            "django.db.CursorWrapper", "django", Kind.CURSOR,
            with_=WithSpec(closes=True), closing_context="self", buffering=Buffering.DRIVER,
            verified=True, classes=("django.db.backends.utils.CursorWrapper",),
            reference="https://docs.djangoproject.com/en/stable/topics/db/sql/#connections-and-cursors",
        ),
    ),
    factories=(),
)

DATASET = DriverSpec(
    name="dataset",
    modules=("dataset",),
    package="dataset",
    docs="https://dataset.readthedocs.io/en/latest/api.html",
    objects=(
        ObjectSpec(
            "dataset.Database", "dataset", Kind.CONNECTION,
            with_=replace(_TX_NOT_CLOSE, note="begins a transaction, commits it (rolls back on "
                          "error); the database's connections and engine stay open"),
            closing_context="closing",
            verified=True, classes=("dataset.database.Database",),
            reference="https://dataset.readthedocs.io/en/latest/api.html#dataset.Database.close",
            note="holds an SQLAlchemy engine and a connection per thread; close() releases both",
        ),
    ),
    factories=(
        FactorySpec("dataset.connect", "dataset.Database"),
        FactorySpec("dataset.Database", "dataset.Database"),
    ),
)

DBUTILS = DriverSpec(
    name="dbutils",
    modules=("dbutils", "DBUtils"),
    package="DBUtils",
    # DBUtils 1.x spelled its modules `DBUtils.PooledDB`; 2.0 renamed them `dbutils.pooled_db`.
    module_aliases=(("DBUtils.PooledDB", "dbutils.pooled_db"), ("DBUtils.SteadyDB", "dbutils.steady_db")),
    docs="https://webwareforpython.github.io/DBUtils/main.html#pooleddb-pooled-db",
    objects=(
        ObjectSpec(
            "dbutils.pooled_db.PooledDB", "dbutils", Kind.POOL,
            closing_context="try-finally",
            methods=(
                MethodSpec("connection", "dbutils.PooledConnection"),
                MethodSpec("dedicated_connection", "dbutils.PooledConnection"),
            ),
            verified=True, classes=("dbutils.pooled_db.PooledDB",),
            reference="https://webwareforpython.github.io/DBUtils/main.html#pooleddb-pooled-db",
            note="a pool over any DB-API 2 module (`creator`); close() closes its idle connections",
        ),
        ObjectSpec(
            "dbutils.PooledConnection", "dbutils", Kind.CONNECTION,
            # `closing()` rather than its own `with`, which DBUtils 1.x connections lack
            with_=_TO_POOL, closing_context="closing",
            methods=(MethodSpec("cursor", "dbutils.Cursor"),),
            verified=True,
            classes=("dbutils.pooled_db.PooledDedicatedDBConnection",
                     "dbutils.pooled_db.PooledSharedDBConnection"),
            reference="https://webwareforpython.github.io/DBUtils/main.html#usage",
            note="close() gives the connection back to the pool (rolled back by default); one "
                 "never closed stays counted against `maxconnections` until it is collected",
        ),
        ObjectSpec(
            "dbutils.Cursor", "dbutils", Kind.CURSOR,
            # `closing()` here too: DBUtils 1.x cursors have no `with` either
            with_=WithSpec(closes=True), closing_context="closing", buffering=Buffering.DRIVER,
            verified=True, classes=("dbutils.steady_db.SteadyDBCursor",),
            reference="https://webwareforpython.github.io/DBUtils/main.html#steadydb-steady-db",
            note="wraps the creator's cursor: buffered as that driver's cursor is",
        ),
    ),
    factories=(
        FactorySpec("dbutils.pooled_db.PooledDB", "dbutils.pooled_db.PooledDB", creator="creator"),
    ),
)

DRIVERS: tuple[DriverSpec, ...] = (
    SQLITE3, PSYCOPG2, PSYCOPG, PYMYSQL, MYSQLDB, MYSQL_CONNECTOR, PYODBC, ORACLEDB, PYMSSQL,
    REDSHIFT_CONNECTOR, DUCKDB, APSW, SNOWFLAKE, DATABRICKS, ASYNCPG, AIOSQLITE, AIOMYSQL,
    SQLALCHEMY, DJANGO, DATASET, DBUTILS, DBAPI,
)

BORROWERS: frozenset[str] = frozenset({
    "pandas.read_sql", "pandas.read_sql_query", "pandas.read_sql_table",
    "pandas.DataFrame.to_sql", "pandas.io.sql.read_sql", "pandas.io.sql.read_sql_query",
    "pandas.io.sql.read_sql_table",
    # psycopg2's helpers run statements on the cursor (or register adapters on the connection
    # or cursor) they are given, and leave it open (tests/drivers/test_borrowers_owners.py).
    "psycopg2.extras.execute_values", "psycopg2.extras.execute_batch",
    "psycopg2.extras.register_uuid", "psycopg2.extras.register_json",
    "psycopg2.extras.register_default_json", "psycopg2.extras.register_default_jsonb",
    "psycopg2.extras.register_hstore", "psycopg2.extras.register_composite",
    "psycopg2.extras.register_range", "psycopg2.extras.register_ipaddress",
    "psycopg2.extensions.register_type",
})

OWNERS: frozenset[str] = frozenset({
    "contextlib.closing",
    "contextlib.aclosing",
    "contextlib.ExitStack.enter_context",
    "contextlib.ExitStack.callback",
    "contextlib.AsyncExitStack.enter_context",
    "contextlib.AsyncExitStack.enter_async_context",
    "contextlib.AsyncExitStack.push_async_callback",
    # An AsyncEngine made over a sync engine disposes that engine's pool with its own.
    "sqlalchemy.ext.asyncio.AsyncEngine",
    # Pool release calls, by the pool class's qualified name.
    "psycopg2.pool.SimpleConnectionPool.putconn",
    "psycopg2.pool.ThreadedConnectionPool.putconn",
    "psycopg2.pool.AbstractConnectionPool.putconn",
    "psycopg_pool.ConnectionPool.putconn",
    "psycopg_pool.AsyncConnectionPool.putconn",
    "asyncpg.pool.Pool.release",
    "aiomysql.Pool.release",
    "oracledb.ConnectionPool.release",
})


# Owners that release what they take through its own `with` / `async with`: they close it only
# when the table says that `with` closes (an ExitStack does not close a sqlite3 connection).
OWNERS_VIA_WITH: frozenset[str] = frozenset({
    "contextlib.ExitStack.enter_context",
    "contextlib.AsyncExitStack.enter_context",
    "contextlib.AsyncExitStack.enter_async_context",
})


@cache
def builtin_table() -> DriverTable:
    return _table(DRIVERS, BORROWERS, OWNERS)


def table_for(user_entries: Mapping[str, Any] | None) -> DriverTable:
    """The built-in table extended by `[tool.dbleak.drivers]` (validated by config loading)."""
    if not user_entries:
        return builtin_table()
    return _table_for_key(_hashable(user_entries))


def _hashable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ("mapping", tuple((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("sequence", tuple(_hashable(v) for v in value))
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "mapping":
        return {k: _plain(v) for k, v in value[1]}
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "sequence":
        return [_plain(v) for v in value[1]]
    return value


@lru_cache(maxsize=64)
def _table_for_key(key: Any) -> DriverTable:
    # Settings are frozen mappings; the table built from them is cached by value.
    return _with_user_entries(builtin_table(), _plain(key))


# --- [tool.dbleak.drivers]: the user's own factories, objects, borrowers and owners -------------

USER_KEYS = ("factories", "objects", "borrowers", "owners")
USER_OBJECT_KEYS = ("like", "kind", "release", "release-awaited", "with-closes",
                    "async-with-closes", "must-release", "note")
USER_FACTORY_KEYS = ("returns", "awaited")


def _user_objects(base: DriverTable, entries: Mapping[str, Any]) -> dict[str, ObjectSpec]:
    objects: dict[str, ObjectSpec] = {}
    for name, table in dict(entries.get("objects", {})).items():
        like = base.objects[table["like"]]
        changes: dict[str, Any] = {"name": name, "driver": "user", "verified": False,
                                   "reference": "[tool.dbleak.drivers]", "classes": ()}
        if "kind" in table:
            changes["kind"] = Kind(table["kind"])
        if "release" in table:
            changes["release"] = tuple(table["release"])
        if "release-awaited" in table:
            changes["release_awaited"] = bool(table["release-awaited"])
        if "must-release" in table:
            changes["must_release"] = bool(table["must-release"])
        if "note" in table:
            changes["note"] = str(table["note"])
        if "with-closes" in table:
            changes["with_"] = _user_with(like.with_, bool(table["with-closes"]))
            changes["closing_context"] = "self" if table["with-closes"] else "closing"
        if "async-with-closes" in table:
            changes["async_with"] = _user_with(like.async_with, bool(table["async-with-closes"]))
            if table["async-with-closes"]:
                changes["closing_context"] = "async-self"
        objects[name] = replace(like, **changes)
    return objects


def _user_with(base: WithSpec | None, closes: bool) -> WithSpec:
    if base is None:
        return WithSpec(closes=closes, rolls_back=closes, note="[tool.dbleak.drivers]")
    return replace(base, closes=closes, rolls_back=base.rolls_back or closes)


def _with_user_entries(base: DriverTable, entries: Mapping[str, Any]) -> DriverTable:
    objects = dict(base.objects)
    objects.update(_user_objects(base, entries))
    factories = dict(base.factories)
    for qualname, returns in dict(entries.get("factories", {})).items():
        if isinstance(returns, Mapping):
            factories[qualname] = FactorySpec(qualname, str(returns["returns"]),
                                              awaited=bool(returns.get("awaited", False)))
        else:
            factories[qualname] = FactorySpec(qualname, str(returns))
    return DriverTable(base.drivers, base.borrowers | frozenset(entries.get("borrowers", ())),
                       base.owners | frozenset(entries.get("owners", ())),
                       objects, factories, base.module_aliases, base.instances,
                       base.factory_variants)


def _is_qualname(value: object) -> bool:
    return isinstance(value, str) and bool(value) and all(
        part.isidentifier() for part in value.split(".")
    )


def validate_user_entries(entries: Mapping[str, Any]) -> None:
    """Check `[tool.dbleak.drivers]`; raises ValueError naming the bad key."""
    base = builtin_table()
    for key in entries:
        if key not in USER_KEYS:
            raise ValueError(f"unknown key `{key}` (known keys: {', '.join(USER_KEYS)})")
    user_objects = entries.get("objects", {})
    if not isinstance(user_objects, Mapping):
        raise ValueError("`objects` must be a table of object name = { like = ... }")  # noqa: TRY004 - TABLE_VALIDATORS raise ValueError
    kinds = [k.value for k in Kind]
    for name, table in user_objects.items():
        where = f'objects."{name}"'
        if not _is_qualname(name):
            raise ValueError(f"`{where}`: the name must be a dotted Python name")
        if not isinstance(table, Mapping):
            raise ValueError(f"`{where}` must be a table with at least `like`")  # noqa: TRY004 - TABLE_VALIDATORS raise ValueError
        for sub in table:
            if sub not in USER_OBJECT_KEYS:
                raise ValueError(f"unknown key `{where}.{sub}` "
                                 f"(known keys: {', '.join(USER_OBJECT_KEYS)})")
        like = table.get("like")
        if like not in base.objects:
            raise ValueError(f"`{where}.like`: unknown object {like!r}; `dbleak drivers` lists them")
        if "kind" in table and table["kind"] not in kinds:
            raise ValueError(f"`{where}.kind` must be one of {', '.join(kinds)}, "
                             f"got {table['kind']!r}")
        if "release" in table and not (isinstance(table["release"], list)
                                       and all(isinstance(m, str) and m.isidentifier()
                                               for m in table["release"])):
            raise ValueError(f"`{where}.release` must be a list of method names")
        for flag in ("release-awaited", "with-closes", "async-with-closes", "must-release"):
            if flag in table and not isinstance(table[flag], bool):
                raise ValueError(f"`{where}.{flag}` must be true or false, got {table[flag]!r}")
        if "note" in table and not isinstance(table["note"], str):
            raise ValueError(f"`{where}.note` must be a string")
    known = set(base.objects) | set(user_objects)
    factories = entries.get("factories", {})
    if not isinstance(factories, Mapping):
        raise ValueError("`factories` must be a table of \"qualified.name\" = \"object name\"")  # noqa: TRY004 - TABLE_VALIDATORS raise ValueError
    for qualname, value in factories.items():
        where = f'factories."{qualname}"'
        if not _is_qualname(qualname):
            raise ValueError(f"`{where}`: the factory must be a dotted Python name")
        if isinstance(value, Mapping):
            for sub in value:
                if sub not in USER_FACTORY_KEYS:
                    raise ValueError(f"unknown key `{where}.{sub}` (known keys: returns, awaited)")
            if "awaited" in value and not isinstance(value["awaited"], bool):
                raise ValueError(f"`{where}.awaited` must be true or false")
            value = value.get("returns")
        if not isinstance(value, str):
            raise ValueError(f"`{where}` must name an object (e.g. \"sqlite3.Connection\"), "  # noqa: TRY004 - TABLE_VALIDATORS raise ValueError
                             f"got {value!r}")
        if value not in known:
            raise ValueError(f"`{where}`: unknown object {value!r}; `dbleak drivers` lists them")
    for key in ("borrowers", "owners"):
        value = entries.get(key, [])
        if not isinstance(value, (list, tuple)) or not all(_is_qualname(v) for v in value):
            raise ValueError(f"`{key}` must be a list of dotted function names, got {value!r}")


def _register() -> None:
    from dbleak import settings

    settings.TABLE_VALIDATORS["drivers"] = validate_user_entries


_register()
