"""DBL101 unclosed-connection, and the parts DBL102/DBL103 share with it."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.flow import module_flow
from dbleak.analysis.flow_state import ResourceFlow
from dbleak.analysis.lifecycle_fix import plan_fix
from dbleak.knowledge.drivers import Buffering, DriverTable, Kind
from dbleak.models import Finding
from dbleak.rules.base import CheckContext, Example, Rule

_KIND_WORD = {Kind.CONNECTION: "connection", Kind.SESSION: "session", Kind.CURSOR: "cursor",
              Kind.ENGINE: "engine", Kind.POOL: "pool"}


def describe(flow: ResourceFlow) -> str:
    """``the connection `conn` from `sqlite3.connect()```."""
    resource = flow.resource
    word = _KIND_WORD.get(resource.kind, "object")
    if resource.spec.project_class:
        word = f"`{resource.spec.project_class.rsplit('.', 1)[-1]}` object"
    if isinstance(resource.call, ast.Attribute):
        origin = f"the property `{resource.factory}`"
    elif resource.factory.endswith(")"):
        origin = f"`{resource.factory}`"  # `next(get_db())`
    else:
        origin = f"`{resource.factory or '?'}()`"
    if resource.name:
        return f"the {word} `{resource.name}` from {origin}"
    return f"the {word} from {origin}"


def drop_message(flow: ResourceFlow) -> str:
    """Why this resource counts as left open."""
    what = describe(flow)
    if flow.resource.spec.buffering is Buffering.SERVER:
        what += " (server-side: its unread rows stay on the server)"
    reasons = {reason for _, reason in flow.drops}
    if "via-cursor" in reasons:
        if flow.handle == "closing()":
            return f"{what} is used only through a cursor that `closing()` closes; it is never closed"
        if flow.handle and flow.handle.endswith("()"):
            return f"{what} is handed out only through its cursor (`{flow.handle}`) and never closed"
        return f"{what} is kept only through its cursor `{flow.handle}` and never closed"
    if "fixture-return" in reasons:
        verb = "disposes" if flow.resource.kind is Kind.ENGINE \
            and "dispose" in flow.resource.spec.release else "closes"
        return f"{what} is returned by a pytest fixture, and pytest never {verb} what a fixture returns"
    if "enter-return" in reasons:
        return (f"{what} is returned by `__enter__`: `with` hands it to its block, and "
                "`__exit__` holds no reference to close it with")
    if "holder" in reasons:
        return f"{what} is stored on `{flow.holder}`, a local object dropped with the scope, and never closed"
    if "temporary" in reasons:
        return f"{what} is used once and never closed"
    if "rebound" in reasons:
        if flow.in_loop:
            return f"{what} is created in a loop and not closed before the next iteration"
        return f"`{flow.resource.name}` is rebound while {what} is still open"
    spec = flow.resource.spec
    verb = "disposed" if flow.resource.kind is Kind.ENGINE and "dispose" in spec.release else (
        "given back to its pool" if not spec.release and spec.pool_release else "closed")
    if spec.own_release:
        verb = f"released (`{spec.own_release}()`)"  # the class's own: kolibri's `Bridge.end()`
    if flow.releases:
        return f"{what} is not {verb} on every path out of its scope"
    if spec.unreleasable:
        return (f"{what} keeps a database object that no method of its class releases: it stays "
                "open when the instance is dropped")
    return f"{what} is never {verb}"


def leak_findings(rule: type[Rule], ctx: CheckContext, kinds: tuple[Kind, ...],
                  title_kind: str) -> Iterator[Finding]:
    """Findings of ``rule`` for dropped resources of ``kinds``."""
    for flow in module_flow(ctx).flows:
        resource = flow.resource
        if resource.kind not in kinds or not flow.dropped or resource.parent_tracked:
            continue
        if resource.spec.maybe_shared and flow.releases:
            continue  # new on some paths only: closing it on some paths is what it takes
        if resource.spec.unreleasable and isinstance(resource.scope, ast.Module):
            continue  # a module's instance of a class that cannot release it: the process's
        if expected_to_fail(ctx, resource.stmt):
            continue
        message = drop_message(flow)
        planned = plan_fix(ctx, flow, title_kind)
        if planned.plan is None and planned.reason:
            message += f" (no fix: {planned.reason})"
        yield ctx.finding(rule, resource.node, message, plan=planned.plan, stmt=resource.stmt)


_RAISES_HELPERS = ("raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp",
                   "assertWarns", "assertWarnsRegex", "warns")


def expected_to_fail(ctx: CheckContext, *nodes: ast.AST) -> bool:
    """Inside ``with pytest.raises(...)`` / ``self.assertRaises(...)`` / ``assertWarns``: the
    test expects the code to fail (or to warn about the leak), so what it leaves is on purpose."""
    lines = [getattr(node, "lineno", 0) for node in nodes]
    for site in ctx.facts.withs:
        for item in site.node.items:
            call = item.context_expr
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _RAISES_HELPERS:
                end = site.node.end_lineno or site.node.lineno
                if any(site.node.lineno <= line <= end for line in lines):
                    return True
    return False


def lifecycle_triggers(drivers: DriverTable) -> Iterable[str] | None:
    # Project factories from other modules can create connections in any file.
    return None


class UnclosedConnection(Rule):
    """
    ## What it does
    Flags a database connection, session or engine that is left open on some path out of the
    scope that created it: never closed, closed in one branch only, rebound before the first
    one is closed (`conn = connect(a); conn = connect(b)`), created in a loop and closed only
    after it, used as a one-shot temporary (`sqlite3.connect(p).execute(q).fetchone()`), or
    kept only through its cursor (`cur = sqlite3.connect(p).cursor()`), or returned by a
    context manager's `__enter__` without being kept on `self` (`with` hands it to its block,
    and `__exit__` holds no reference to close it). An engine
    (`create_engine()`) made inside a function and never disposed is flagged too: its pool
    keeps connections open; so is a connection pool of the driver table made there and never
    closed (`asyncpg.create_pool()`, `psycopg_pool.ConnectionPool()`,
    `psycopg2.pool.SimpleConnectionPool()` without `closeall()`). An engine handed out only
    inside a session made with it (`return Session(engine)`, `return
    sessionmaker(bind=engine)()`) is never disposed either (no fix), unless the function keeps
    what it makes in a module's registry (`_CLIENTS[url] = client`: the process's); a session
    factory handed out (`return sessionmaker(bind=engine)`) is made once, for the process. Like engines, pools made at
    module level are the process's and are not flagged. Scripts count as scopes: a connection or session made at module
    level under `if __name__ == "__main__":`, or one that no function or class of the module
    reads (only the statements that run at import use it), is flagged when it is never closed
    (an exception path of a script is not: the process ends). A module global that the
    module's functions read is a shared handle: DBL108's, off by default.

    ## Why is this bad?
    An open connection holds a server backend, a file lock or a pool slot until the garbage
    collector gets to it — in a long-running process, a loop or a reference cycle, that may be
    never. Servers run out of connections; SQLite keeps the database locked.

    ## Example
    ```python
    import sqlite3

    def count(path):
        conn = sqlite3.connect(path)
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    ```

    ## Use instead
    ```python
    import sqlite3
    from contextlib import closing

    def count(path):
        with closing(sqlite3.connect(path)) as conn:
            return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    ```

    ## Known problems
    Objects are found however the code gets them: driver factories (also behind an import
    fallback, a re-export, or a drop-in driver such as `pysqlite3`), the project's own
    factories, methods, `@property` getters and `next(generator())`, class methods that
    make an instance (`return cls(path)`), an instance of a project class given a new
    connection or engine that its constructor keeps and its `close()` releases or disposes
    (`PostgresDb(create_engine(url))`: the instance is the object to close), a driver imported in a
    `try` body whose `except ImportError` fallback is a module nothing is known of (the
    fallback runs only where the first import failed), a connection made unless one is passed in
    (`con = con if con else connect()`, `con or connect()`: the path that made it holds it,
    and `if con is None: conn.close()` or a flag set from that test closes it), also by a
    project helper that returns its parameter or a new connection (`def connection_for(path,
    conn=None)`: a call that passes no connection, or None, gets a new one; one that passes
    its own gets it back), a project helper that hands out the connection its instance keeps
    when it has one and a new one otherwise (`if self.connection: return self.connection`,
    then `return aiosqlite.connect(p)`: a caller that never closes it leaks one per call;
    closing it on some paths, where it is new, is the right shape, and no fix is offered),
    SQLAlchemy `sessionmaker`/`scoped_session` objects kept in module globals or class attributes,
    `engine.connect()`, `x.connect()` of an object of no known type whose result makes cursors
    or runs statements (`conn = engine.connect(); conn.execute(...)`: a connection whatever its
    driver; the fix is unsafe, its driver may release it by another name; not for a name an
    import, a function or a class binds), parameters annotated with a driver's type, and parameters that every call
    site in the package passes one kind of object (`def current(backend)` called only with a
    `Backend`; see docs/lifecycle.md for the evidence it needs). A driver module may be held
    by a name or a class attribute, imported by its name (`importlib.import_module("sqlite3")`,
    `_sqlite3 = __import__("sqlite3")` kept on the class: `self._sqlite3.connect(p)` is
    `sqlite3.connect(p)`); a project class whose constructor opens a connection (kept on
    `self` directly or through a local name) and whose instances can close it, by a method
    (`close()`, `dispose()`, ..., or any public method that releases what it keeps: kolibri's
    `Bridge.end()`, reported as "never released (`end()`)") or by a release method bound in
    the constructor (`self.close = con.close`), is a connection of its own to whoever makes
    it, also through a name bound to one of several such classes (`cls = PostgresArchive if
    remote else SQLiteArchive; return cls(path)`: gallery-dl's archives); one whose class has
    no method that releases what its constructor keeps (vmaas's `Database()`) is reported
    where a function makes one and drops it, without a fix (add a `close()` to the class; one
    the module makes is the process's); a
    factory that returns False on a failure (`if not found: return False`) makes
    a connection on its other paths, as one that returns None does. A project helper whose one
    return is the result of calling its parameter (a retry wrapper: `def retry(func, ...):
    return func(*args)`) makes what the callable a call gives it makes (`retry(engine.connect)`,
    `retry(sqlite3.connect, args=(p,))`); a wrapper named like the driver function it imports
    in its body (`def connect(p): from sqlite3 import connect`) is a factory. A session of a
    `scoped_session` registry kept in a global or an attribute is the registry's to release
    (`remove()`); one of a registry made in the same function is that function's. Modules of
    the project the run was not given are read from disk, so a file checked alone (a
    pre-commit hook) gets the findings of a whole-project run.

    An object that is returned, yielded by a plain generator, stored on `self`/a global/a
    container, captured by a closure (but for a local helper `def` that the function only calls
    and that only uses it: its calls are uses), given to a constructor or to a call that keeps what it is given (`append`,
    `register`, `submit`, …) is handed over and not flagged. A project function is read from
    its summary (it releases, keeps or only uses the parameter). A callee nothing is known of
    is taken to only use it (`unknown-calls = "evidence"`, the default); `"hand-over"` makes
    every unknown callee keep it (dbleak's earlier behaviour), `"borrow"` none. A
    `@contextmanager` (or `@asynccontextmanager`) generator and a pytest fixture only lend what
    they yield: the `with` body or the test uses it, and the generator resumes after it, so
    closing it is still the generator's job. What a function-scoped pytest fixture *returns*
    is different: pytest gives it to one test and keeps nothing to close it with, so a new
    connection or engine returned by such a fixture is reported (yield it, and release it after
    the `yield`; no fix is offered); a module- or session-scoped fixture's is left alone, as
    is one the fixture hands to `request.addfinalizer(conn.close)`. One that yields back the object it is given
    (`with atomic(conn) as conn:`) binds the `as` name to that same object. A constructor of a
    project class that keeps the object in an attribute no method of the class releases
    (`service = MigrationService(engine=engine)`) does not take it over when the new instance
    stays in the scope (only its attributes and methods are used, and it is not returned,
    stored or kept by a call): the object is dropped with the instance, and reported here.
    So is an object given to the constructor of an imported library class whose new instance
    stays in the scope the same way and is never closed or entered (`alembic = Alembic(app,
    engines={"default": engine})`; no safe fix: the library may use it after the call), but for
    instances that run on with it (`threading.Thread(args=(conn,))`). A project helper that
    returns a session factory or a session bound to its parameter (`return
    sessionmaker(bind=engine)`) hands the engine on with that result and disposes nothing of
    it: a caller that keeps the factory in a local still owns the engine, and making the
    factory raises nothing before a later `dispose()`.

    Not seen yet: objects made in one function and closed by its callers through several
    levels of calls that are not plain factories; engines whose `dispose()` is skipped only
    by an exception (not flagged: their connections are released when collected); project
    wrapper classes that connect lazily in a `connect()` method of their own, or whose class is
    looked up at run time (a registry of backends); handles of libraries outside the driver table
    (Qt's `QSqlDatabase`, PyGreSQL); instances of another package's classes that hold a connection or an engine
    (`spinedb_api.DatabaseMapping`, Flask-SQLAlchemy's extension returned by a fixture),
    engines handed to a project class inside a dict (`engines={"default": engine}`), and a
    decorator that passes a new cursor to the functions it wraps when they are decorated in
    other modules only (those of the decorator's own module are read: DBL102 reports the
    cursor when they only use it, not when one returns `cur.execute(...)`, which may be the
    cursor itself).

    ## Fix safety
    The fix wraps the statements from the creation through the last use in
    `with closing(...) as conn:` (or the driver's own `with` where it only closes, or
    `try/finally: await conn.close()` for async drivers) and removes the now-redundant
    `close()`. A one-shot temporary whose statement yields plain data
    (`return sqlite3.connect(p).execute(q).fetchone()`) is bound the same way:
    `with closing(sqlite3.connect(p)) as conn: return conn.execute(q).fetchone()`.
    An engine is disposed in a `finally` block. It is safe: only the release moves, and it now
    also happens on exceptions. It is unsafe when the object is passed to a callee nothing is
    known of (it might keep the object, and closing it would then change what the code does),
    and when a context manager or a fixture yields it (its `with` body may keep what it read, such
    as ORM objects a closed session detaches).
    The fix of a connection made at import time outside `if __name__ == "__main__":` is
    unsafe: another module may import it. No fix is offered when the uses are spread over branches, when something read from the
    connection is used after the last use, or when a comment would be lost; the message says why.

    ## Options
    - `[tool.dbleak.lifecycle] unknown-calls = "evidence" | "hand-over" | "borrow"`
    - `[tool.dbleak.lifecycle] factories = ["myapp.db.get_connection"]`
    - `[tool.dbleak.drivers]` adds your own connection factories.

    ## References
    - [contextlib.closing](https://docs.python.org/3/library/contextlib.html#contextlib.closing)
    - [sqlite3: closing connections](https://docs.python.org/3/library/sqlite3.html#sqlite3.Connection.close)
    - [PEP 249](https://peps.python.org/pep-0249/)
    """

    code = "DBL101"
    name = "unclosed-connection"
    message = "the connection is not closed on every path"
    fix_title = "Wrap the connection in `with closing(...)`"
    fix_availability = "sometimes"
    needs_project = True

    VALID = (
        ("import sqlite3\nfrom contextlib import closing\n\ndef f(p):\n"
        "    with closing(sqlite3.connect(p)) as conn:\n        return conn.execute('select 1').fetchone()\n"),
        "import sqlite3\n\ndef f(p):\n    conn = sqlite3.connect(p)\n    return conn\n",
        ("import sqlite3\n\ndef f(p):\n    conn = sqlite3.connect(p)\n    try:\n"
        "        conn.execute('select 1')\n    finally:\n        conn.close()\n"),
    )
    INVALID = (
        Example(
            "import sqlite3\n\ndef f(p):\n    conn = sqlite3.connect(p)\n"
            "    return conn.execute('select 1').fetchone()\n",
            fixed=(
                "import sqlite3\nfrom contextlib import closing\n\ndef f(p):\n"
                "    with closing(sqlite3.connect(p)) as conn:\n"
                "        return conn.execute('select 1').fetchone()\n"
            ),
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return lifecycle_triggers(drivers)

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        yield from leak_findings(cls, ctx, (Kind.CONNECTION, Kind.SESSION, Kind.ENGINE, Kind.POOL), "connection")


__all__ = ["UnclosedConnection", "describe", "expected_to_fail", "leak_findings", "lifecycle_triggers"]
