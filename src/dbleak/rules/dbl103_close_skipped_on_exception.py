"""DBL103 close-skipped-on-exception."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.flow import REPORTED_KINDS, module_flow
from dbleak.analysis.flow_state import ResourceFlow
from dbleak.analysis.flow_syntax import is_pytest_fixture
from dbleak.analysis.lifecycle_fix import plan_fix
from dbleak.knowledge.drivers import DriverTable, Kind
from dbleak.models import Finding
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.rules.dbl101_unclosed_connection import describe, expected_to_fail, lifecycle_triggers

# An engine made in a function and disposed on the happy path only is DBL101's engine, half fixed.
_KINDS = (*REPORTED_KINDS, Kind.ENGINE)


def _in_finally(ctx: CheckContext, releases: Iterable[ast.AST]) -> bool:
    """Whether one of the releases sits in a ``finally`` block."""
    parents = ctx.facts.parent
    for release in releases:
        child: ast.AST = release
        parent = parents.get(id(child))
        while parent is not None:
            if isinstance(parent, ast.Try) and any(child is s for s in parent.finalbody):
                return True
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                break
            child, parent = parent, parents.get(id(parent))
    return False


class CloseSkippedOnException(Rule):
    """
    ## What it does
    Flags a connection, session or cursor that is closed on every normal path, but where an
    exception raised between its creation and the `close()` skips the close: no `finally`, no
    `with`; and an engine made in the function and disposed the same way (one disposed in a
    `finally` is not flagged for the set-up statements before its `try`: an engine opens
    nothing until it is used, unless that set-up already connects it, `engine.connect()` /
    `engine.begin()` before the `try`). Also a generator (`@contextmanager` or a dependency generator) that yields a
    connection and closes it after the `yield` without `try/finally`, and a connection that is
    returned (or stored) on success when a call between its creation and the hand-over may
    raise: on that error nobody holds it to close it.

    ## Why is this bad?
    Every query, attribute access or subscript in between can raise. The error path is exactly
    when a leak hurts: a failing request, retried in a loop, leaks one connection per attempt
    until the server refuses new ones.

    ## Example
    ```python
    import sqlite3

    def save(path, row):
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO t VALUES (?)", row)
        conn.commit()
        conn.close()
    ```

    ## Use instead
    ```python
    import sqlite3
    from contextlib import closing

    def save(path, row):
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("INSERT INTO t VALUES (?)", row)
            conn.commit()
    ```

    ## Known problems
    Any call is assumed to be able to raise, including ones that in practice cannot, but a log
    call with plain arguments (`logger.exception("failed: %s", err)`, `log(f"...{x}")`): the
    logging module reports its own errors instead of raising them. Exceptions caught by a bare
    `except:` or `except Exception:` handler are followed into the handler. An object given to
    a call that keeps it is taken as handed over on the call's exception path too. An object
    stored somewhere (`holder.connection = conn`, a constructor's argument) that the function
    still closes itself on every normal path was only lent: an exception raised after the
    loan is reported (no fix is offered then: the loan would have to move into the block).
    An object kept on an attribute of another object for the calls in between
    (`request.state.db = SessionLocal()`, then `request.state.db.close()` in the same function)
    is the function's to close: an exception before that close is reported, without a fix.

    ## Fix safety
    Safe. Wrapping in `with closing(...)` (or the driver's own closing `with`, or
    `try/finally: await conn.close()` for async drivers) keeps the normal path as it was and
    adds the close on the exceptional one. When the close sits at the end of an existing
    `try` without `finally`, the fix moves it into a new `finally:` block.

    ## Options
    `[tool.dbleak.lifecycle] unknown-calls = "hand-over" | "borrow"`

    ## References
    - [The try statement](https://docs.python.org/3/reference/compound_stmts.html#the-try-statement)
    - [contextlib.contextmanager](https://docs.python.org/3/library/contextlib.html#contextlib.contextmanager)
    """

    code = "DBL103"
    name = "close-skipped-on-exception"
    message = "an exception between creation and `close()` skips the close"
    fix_title = "Close it in `with` / `finally`"
    fix_availability = "sometimes"
    needs_project = True

    VALID = (
        ("import sqlite3\n\ndef f(p):\n    conn = sqlite3.connect(p)\n    try:\n"
        "        conn.execute('select 1')\n    finally:\n        conn.close()\n"),
        "import sqlite3\n\ndef f(p):\n    conn = sqlite3.connect(p)\n    conn.close()\n",
    )
    INVALID = (
        Example(
            "import sqlite3\n\ndef f(p):\n    conn = sqlite3.connect(p)\n"
            "    conn.execute('select 1')\n    conn.close()\n",
            fixed=(
                "import sqlite3\nfrom contextlib import closing\n\ndef f(p):\n"
                "    with closing(sqlite3.connect(p)) as conn:\n"
                "        conn.execute('select 1')\n"
            ),
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return lifecycle_triggers(drivers)

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        flows = module_flow(ctx).flows
        by_rid = {flow.resource.rid: flow for flow in flows}
        for flow in flows:
            resource = flow.resource
            if resource.kind not in _KINDS or resource.parent_tracked or resource.with_unclosed:
                continue
            if resource.spec.unreleasable:
                continue  # its class has no method to release it: DBL101's, where it is dropped
            if resource.parent_rid is not None and _parent_handled(by_rid.get(resource.parent_rid)):
                continue  # the connection's release covers the cursor (or its DBL103 is the finding)
            if resource.kind is Kind.ENGINE and (not flow.releases or (
                    _in_finally(ctx, flow.releases) and not _connects_before(ctx, flow))):
                # Made and handed over, or disposed in a `finally` that guards the work: an
                # engine opens nothing until used, so the set-up before the `try` is left alone
                # (unless that set-up already checks a connection out of it).
                continue
            if flow.hand_over_skipped_by_exception and not is_pytest_fixture(resource.scope) \
                    and not expected_to_fail(ctx, resource.stmt):
                what = describe(flow)
                verb = "returned" if any(isinstance(e, ast.Return) for e in flow.escapes) else "handed over"
                message = (f"{what} is {verb} on success, but an exception raised before that "
                           "leaves it open (close it in an `except` block, then re-raise)")
                yield ctx.finding(cls, resource.node, message, stmt=resource.stmt)
                continue
            if not flow.skipped_by_exception or expected_to_fail(ctx, resource.stmt, *flow.releases):
                continue
            what = describe(flow)
            if flow.yielded:
                message = (f"{what} is yielded, and closed after the `yield` without "
                           "`try/finally`: an exception in the caller's block skips the close")
            elif resource.kind is Kind.ENGINE:
                message = f"{what} is disposed, but an exception raised before `dispose()` skips it"
            elif not resource.spec.release and resource.spec.pool_release:
                message = f"{what} is given back to its pool, but an exception raised before that skips it"
            elif resource.spec.own_release:  # the class's own: kolibri's `Bridge.end()`
                message = (f"{what} is released, but an exception raised before "
                           f"`{resource.spec.own_release}()` skips it")
            else:
                message = f"{what} is closed, but an exception raised before `close()` skips it"
            kind_word = "cursor" if resource.kind is Kind.CURSOR else "connection"
            planned = plan_fix(ctx, flow, kind_word)
            if planned.plan is None and planned.reason:
                message += f" (no fix: {planned.reason})"
            yield ctx.finding(cls, resource.node, message, plan=planned.plan, stmt=resource.stmt)


def _connects_before(ctx: CheckContext, flow: ResourceFlow) -> bool:
    """Whether the engine is connected (``engine.connect()``, ``engine.begin()``) between its
    creation and the first ``try`` whose ``finally`` disposes it: an exception there leaves
    its pool open (geoalchemy2's fixture read the server's version before its `try`)."""
    resource = flow.resource
    name = resource.name
    if name is None:
        return False
    # The engine's methods that check a connection out of its pool, as the table says.
    connecting = {method.name for method in resource.spec.methods
                  if (made := ctx.drivers.objects.get(method.returns)) is not None
                  and made.kind is Kind.CONNECTION}
    start = resource.stmt.lineno
    try_line = min(_guarding_try_line(ctx, release) for release in flow.releases)
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr in connecting and isinstance(node.func.value, ast.Name)
               and node.func.value.id == name and start < node.lineno < try_line
               for node in ast.walk(resource.scope))


def _guarding_try_line(ctx: CheckContext, release: ast.AST) -> int:
    """The line of the ``try`` a release sits in (its own line when it sits in none)."""
    node: ast.AST | None = release
    while node is not None and not isinstance(node, ast.Try):
        node = ctx.facts.parent.get(id(node))
    return node.lineno if node is not None else getattr(release, "lineno", 0)


def _parent_handled(parent: ResourceFlow | None) -> bool:
    """Whether a cursor's connection is closed or handed on somewhere in its scope: an exception
    that skips the cursor's close then leaves the connection open too, which is the
    connection's finding. A connection closed nowhere (a `with` that does not close it, or
    DBL101's) leaves the cursor's own close as the only one."""
    return parent is None or bool(parent.releases or parent.escapes or parent.yielded)
