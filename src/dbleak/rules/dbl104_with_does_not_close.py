"""DBL104 with-does-not-close."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping

from dbleak.analysis.flow_syntax import lends_what_it_yields, may_raise
from dbleak.analysis.module import WithSite, enclosing_handler
from dbleak.analysis.names import fresh_name, names_used
from dbleak.analysis.sources import object_sources
from dbleak.analysis.usage import UseKind, name_uses
from dbleak.fixes.plan import AddImport, WrapWithItem
from dbleak.knowledge.drivers import DriverTable, ObjectSpec
from dbleak.models import Applicability, Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.source import source_segment


class WithDoesNotClose(Rule):
    """
    ## What it does
    Flags `with connect(...) as conn:` where the driver's `with` only ends a transaction and
    leaves the connection open: `sqlite3`, `psycopg2`, and any driver the table marks so.

    ## Why is this bad?
    The block reads like it closes the connection. It does not: `sqlite3.Connection.__exit__`
    and psycopg2's commit (or roll back) and return; the connection, its file handle or its
    server backend stay open until garbage collection — in a loop, a long-running process or a
    reference cycle that is a leak.

    ## Example
    ```python
    import sqlite3

    with sqlite3.connect("app.db") as conn:
        conn.execute("INSERT INTO log VALUES (1)")
    ```

    ## Use instead
    ```python
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect("app.db")) as conn, conn:
        conn.execute("INSERT INTO log VALUES (1)")
    ```
    `closing()` closes the connection; the inner `conn` keeps the commit/rollback.

    ## Known problems
    The `with` item is a driver's connecting call, or a call of the project that returns such a
    connection (a function, a method, `self.connection()`); a `@contextmanager` helper is its
    own context and is not flagged. A connection bound to a name first
    (`conn = connect(); with conn:`) is the lifecycle rules' job (DBL101). A nested `def` that
    reads the connection hands it over, unless it is a plain helper (no decorator) that the
    function only calls and that only uses the connection (no close, no store, no return):
    its calls are then uses of the connection where they are.
    When the connection is still used after the block and never closed there, no fix is
    offered: closing it would break that use. A `close()` inside the block counts only when it
    is on the normal path: one in an `except` handler (`except: conn.rollback();
    conn.close(); raise`) leaves the connection open whenever the block succeeds, and that is
    reported without a fix (`closing()` around it would make the inner `__exit__` roll back
    a closed connection, and its error would replace the handler's). A `close()` after the
    block counts only in a `finally` whose `try` holds the block: a plain one after it runs only
    when the block succeeds, and is reported ("closed after the block") when something in the
    block can raise.

    ## Fix safety
    Safe when the connection is not used after the block and is not passed to code that might
    keep it: then only the close is added. Unsafe when a `close()` follows the block (it then
    runs a second time), when the connection is passed to a function
    dbleak knows nothing about inside the block (it might keep a reference), or yielded by a
    `@contextmanager` generator or a pytest fixture (the `with` body or the test may keep a
    cursor made from it).

    ## Options
    `[tool.dbleak.drivers]` adds your own connection factories.

    ## References
    - [sqlite3: how to use the connection context manager](https://docs.python.org/3/library/sqlite3.html#sqlite3-connection-context-manager)
    - [psycopg2: with statement](https://www.psycopg.org/docs/usage.html#with-statement)
    - [contextlib.closing](https://docs.python.org/3/library/contextlib.html#contextlib.closing)
    """

    code = "DBL104"
    name = "with-does-not-close"
    message = "`with {call}` ends the transaction but does not close the connection"
    fix_title = "Wrap in `closing()` (adds the close, keeps the transaction handling)"
    fix_availability = "sometimes"

    VALID = (
        (
            "import sqlite3\nfrom contextlib import closing\n\n"
            "with closing(sqlite3.connect('a.db')) as conn, conn:\n    conn.execute('select 1')\n"
        ),
        "import psycopg\n\nwith psycopg.connect('dbname=x') as conn:\n    conn.execute('select 1')\n",
        "import duckdb\n\nwith duckdb.connect() as conn:\n    conn.execute('select 1')\n",
        "import sqlite3\n\ndef f():\n    with sqlite3.connect('a.db') as conn:\n        return conn\n",
    )
    INVALID = (
        Example(
            "import sqlite3\n\nwith sqlite3.connect('a.db') as conn:\n    conn.execute('select 1')\n",
            fixed=(
                "import sqlite3\nfrom contextlib import closing\n\n"
                "with closing(sqlite3.connect('a.db')) as conn, conn:\n    conn.execute('select 1')\n"
            ),
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return _connection_trigger_words(drivers)

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        facts = ctx.facts
        for site in facts.withs:
            for index, item in enumerate(site.node.items):
                finding = _check_item(cls, ctx, site, index, item)
                if finding is not None:
                    yield finding


def _connection_trigger_words(drivers: DriverTable) -> set[str]:
    words = set(drivers.module_names)
    for qualname in drivers.factories:
        words.add(qualname.rsplit(".", 1)[-1])
    return words


def _check_item(rule: type[Rule], ctx: CheckContext, site: WithSite, index: int,
                item: ast.withitem) -> Finding | None:
    call = item.context_expr
    if not isinstance(call, ast.Call):
        return None
    is_async = isinstance(site.node, ast.AsyncWith)
    spec = with_item_object(ctx, site, call, is_async)
    if spec is None:
        return None
    behaviour = spec.async_with if is_async else spec.with_
    if behaviour is None or behaviour.closes:
        return None
    target = item.optional_vars
    if target is not None and not isinstance(target, ast.Name):
        return None  # bound to an attribute or unpacked: ownership goes elsewhere
    call_text = source_segment(ctx.text, call.func) or "connect"
    message = rule.message.format(call=f"{call_text}(...)")
    applicability = Applicability.SAFE
    if target is not None:
        verdict = _ownership(ctx, site, target, spec.release)
        if verdict == "escapes":
            return None
        if verdict == "closed":
            return None
        if verdict in ("closed-after", "closed-after-used"):
            if not any(may_raise(stmt) for stmt in site.node.body):
                return None  # nothing in the block can raise: the close after it always runs
            # The close after the block runs only when the block succeeds. `closing()` adds the
            # close an exception needs; the later `close()` then runs a second time (unsafe).
            message += "; it is closed after the block, and an exception in the block skips that"
            if verdict == "closed-after-used":
                # closing it at the end of the block would break its use after the block
                return ctx.finding(rule, call, message + " (no fix: it is still used after the block)",
                                   plan=None, stmt=site.node)
            applicability = Applicability.UNSAFE
        if verdict == "used-after":
            message += "; it is still used after the block, so close it there"
            return ctx.finding(rule, call, message, plan=None, stmt=site.node)
        if verdict == "closed-on-failure":
            # No fix: `closing()` around a block whose handler closes the connection and
            # re-raises would make the inner `__exit__` roll back a closed connection, and its
            # error would replace the one the handler raised.
            message += "; it is closed only when the block fails"
            return ctx.finding(rule, call, message, plan=None, stmt=site.node)
        if verdict == "passed":
            applicability = Applicability.UNSAFE
        name = target.id
    else:
        name = fresh_name(ctx.tree, site.scope.node, "conn")
    plan = _plan(ctx, site, index, name, applicability)
    return ctx.finding(rule, call, message, plan=plan, stmt=site.node)


def with_item_object(ctx: CheckContext, site: WithSite, call: ast.Call,
                     is_async: bool) -> ObjectSpec | None:
    """The object a `with` item's call makes: a driver factory's, or a project factory's (a
    function, a method, a property of a class of the project)."""
    sources = object_sources(ctx)
    qualname = sources.call_target(call, sources.class_of.get(id(site.scope.node)))
    factory = ctx.drivers.factory(qualname)
    if factory is not None:
        if factory.awaited or factory.context_only:
            return None
        if (factory.call_async_with if is_async else factory.call_with) is not None:
            return None  # the call's own context: the table says what it does
    direct = sources.direct_factory(call, awaited=False, in_async_with=is_async)
    if direct is False:
        return None
    if isinstance(direct, ObjectSpec):
        return direct
    value = sources.expr_value(call, site.scope.node)
    if not isinstance(value, ObjectSpec) or value.driver == "dbapi" or value.held:
        return None  # a connection the project keeps and lends (`return self._conn`): its
        #              `with` is a transaction on the owner's connection, not a new one
    return value


def _ownership(ctx: CheckContext, site: WithSite, target: ast.Name, release: tuple[str, ...]) -> str:
    """"escapes", "closed", "closed-after" (only after the block, where an exception in it
    skips the close), "closed-after-used", "used-after", "closed-on-failure", "passed" or
    "kept" for the `as` name of the item."""
    drivers = ctx.drivers
    facts = ctx.facts

    def call_kind(call: ast.Call) -> str | None:
        qualname = facts.call_qualname(call)
        if qualname in drivers.borrowers:
            return "borrow"
        if qualname in drivers.owners:
            return "own"
        return None

    node = site.node
    body_start = node.body[0].lineno
    body_end = node.end_lineno or node.lineno
    verdict = "kept"
    used_after = False
    closed_after = False
    guarded_close = False  # a close in a `finally` whose `try` holds the block
    closed_on_failure = False
    lends = lends_what_it_yields(site.scope.node)
    for use in name_uses(site.scope.node, target.id, call_kind, release, facts.parent):
        if use.node is target:
            continue
        inside = body_start <= use.line <= body_end
        if lends and use.kind is UseKind.ESCAPES and isinstance(facts.parent.get(id(use.node)), ast.Yield):
            # A fixture or a context manager lends what it yields and gets it back; the test or
            # the `with` body may keep what it made of it (a cursor): closing it is unsafe.
            verdict = "passed"
            continue
        if use.kind in (UseKind.ESCAPES, UseKind.OWNED):
            return "escapes"
        if use.kind is UseKind.REBOUND:
            if inside:
                return "escapes"  # the name means something else afterwards: leave it alone
            continue
        if use.kind is UseKind.CLOSE:
            if inside and enclosing_handler(facts.parent, use.node, node) is None:
                return "closed"
            if inside:
                closed_on_failure = True  # `except: conn.close(); raise`: not on the normal path
            else:
                closed_after = True
                guarded_close = guarded_close or _in_finally_around(facts.parent, use.node, node)
            continue
        if not inside:
            if use.line > node.lineno or _in_loop_with(ctx, site):
                used_after = True
            continue
        if use.kind is UseKind.PASSED:
            verdict = "passed"
    if closed_after:
        if guarded_close:
            return "closed"
        return "closed-after-used" if used_after else "closed-after"
    if used_after:
        return "used-after"
    if closed_on_failure:
        return "closed-on-failure"
    return verdict



def _in_finally_around(parents: Mapping[int, ast.AST], close: ast.AST, block: ast.AST) -> bool:
    """Whether ``close`` sits in the ``finally`` of a ``try`` whose body holds ``block``."""
    current = parents.get(id(close))
    child: ast.AST = close
    while current is not None:
        if isinstance(current, ast.Try) and any(stmt is child for stmt in current.finalbody):
            inner: ast.AST | None = block
            while inner is not None and inner is not current:
                if any(stmt is inner for stmt in current.body):
                    return True
                inner = parents.get(id(inner))
        child, current = current, parents.get(id(current))
    return False


def _in_loop_with(ctx: CheckContext, site: WithSite) -> bool:
    parent = ctx.facts.parent_statement(site.node)
    while parent is not None and parent is not site.scope.node:
        if isinstance(parent, (ast.For, ast.AsyncFor, ast.While)):
            return True
        parent = ctx.facts.parent_statement(parent)
    return False


def _plan(ctx: CheckContext, site: WithSite, index: int, name: str,
          applicability: Applicability) -> FixPlan | None:
    resolver = ctx.facts.resolver
    wrapper = resolver.local_name_for("contextlib.closing")
    operations: list[object] = []
    if wrapper is None:
        taken = names_used(ctx.tree)  # computed once per module, not once per finding
        if "closing" not in taken:
            wrapper = "closing"
            operations.append(AddImport("contextlib", "closing"))
        elif "contextlib" not in taken:
            wrapper = "contextlib.closing"
            operations.append(AddImport("contextlib"))
        else:
            return None
    start = ctx.position(site.node.lineno, site.node.col_offset)
    operations.insert(0, WrapWithItem(start, index, wrapper, name))
    return FixPlan(WithDoesNotClose.fix_title or "", applicability, tuple(operations))


