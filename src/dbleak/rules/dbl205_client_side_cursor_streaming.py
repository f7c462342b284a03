"""DBL205 client-side-cursor-streaming."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.fetch import (
    FetchSite,
    cursor_loops,
    fetch_analysis,
    is_client_buffered,
    is_test_module,
    is_test_scope,
)
from dbleak.analysis.names import chain_text
from dbleak.fixes.plan import AddImport, ReplaceRange
from dbleak.knowledge.drivers import DriverTable
from dbleak.knowledge.sql import worth_reporting
from dbleak.models import Applicability, Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.source import source_segment

_CURSOR_WORDS = {
    "psycopg2": "psycopg2's default cursor",
    "psycopg": "psycopg's default cursor",
    "pymysql": "PyMySQL's default `Cursor`",
    "MySQLdb": "MySQLdb's default cursor",
    "mysql.connector": "a `buffered=True` mysql.connector cursor",
    "aiomysql": "aiomysql's default cursor",
}


class ClientSideCursorStreaming(Rule):
    """
    ## What it does
    Flags a loop that iterates a cursor (`for row in cur:`) or reads it with `fetchmany()` or
    row by row with `fetchone()` (`while row := cur.fetchone()`, or `row = cur.fetchone()` at
    the end of a `while row is not None` body)
    when the cursor is client-side — the driver pulled the whole result into memory at
    `execute()` — and the query is unbounded. psycopg2 and psycopg default cursors, PyMySQL
    and MySQLdb `Cursor`, and mysql.connector cursors made with `buffered=True` are
    client-side.

    ## Why is this bad?
    The loop looks like streaming, but it is not: every row already sits in the driver's
    buffer before the first iteration. On a large table the process still runs out of memory;
    only a server-side (unbuffered) cursor reads the rows in batches.

    ## Example
    ```python
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM events")
        for row in cur:
            handle(row)
    ```

    ## Use instead
    ```python
    with conn.cursor(name="events_stream") as cur:
        cur.execute("SELECT * FROM events")
        for row in cur:
            handle(row)
    ```

    ## Known problems
    The cursor must be made in the same function for dbleak to know its kind; its connection
    may come from wherever the lifecycle analysis follows one (a project helper such as
    `with open_connection(dsn) as conn:`, a parameter every caller passes one). Rows of a
    bounded query (`LIMIT`, key equality, aggregates) are not worth streaming and are not
    reported.
    [[tests-not-checked]]

    Reads of the children of one row (`WHERE order_id = ?`) are not reported by default:
    their size is one parent's (`per-parent = "report"` reports them).

    ## Fix safety
    Always unsafe. A psycopg named cursor lives inside a transaction (it fails in autocommit
    mode with psycopg2, and it is closed at commit unless declared `withhold`) and can run one
    `execute()` only; a PyMySQL `SSCursor` or an unbuffered mysql.connector cursor keeps the
    connection busy until every row has been read.

    ## Options
    `[tool.dbleak.sql]`: `small-tables`, `bounded-columns`, `per-parent = "report"`.

    ## References
    - [psycopg2: server-side cursors](https://www.psycopg.org/docs/usage.html#server-side-cursors)
    - [psycopg 3: server-side cursors](https://www.psycopg.org/psycopg3/docs/advanced/cursors.html#server-side-cursors)
    - [PyMySQL: SSCursor](https://pymysql.readthedocs.io/en/latest/modules/cursors.html#pymysql.cursors.SSCursor)
    """

    code = "DBL205"
    name = "client-side-cursor-streaming"
    message = ("`{loop}` looks like streaming, but {cursor} loaded every row at `execute()` "
               "({reason})")
    fix_title = "Use a server-side cursor"
    fix_availability = "sometimes"

    VALID = (
        ("import psycopg2\n\nconn = psycopg2.connect('')\nwith conn.cursor(name='s') as cur:\n"
        "    cur.execute('SELECT * FROM events')\n    for row in cur:\n        print(row)\n"),
        ("import psycopg2\n\nconn = psycopg2.connect('')\nwith conn.cursor() as cur:\n"
        "    cur.execute('SELECT * FROM events LIMIT 5')\n    for row in cur:\n        print(row)\n"),
        ("import sqlite3\n\nconn = sqlite3.connect('a.db')\ncur = conn.cursor()\n"
        "cur.execute('SELECT * FROM events')\nfor row in cur:\n    print(row)\n"),
    )
    INVALID = (
        Example(
            "import psycopg2\n\nconn = psycopg2.connect('')\nwith conn.cursor() as cur:\n"
            "    cur.execute('SELECT * FROM events')\n    for row in cur:\n        print(row)\n",
            unsafe_fixed=(
                "import psycopg2\n\nconn = psycopg2.connect('')\n"
                "with conn.cursor(name=\"cur_stream\") as cur:\n"
                "    cur.execute('SELECT * FROM events')\n    for row in cur:\n        print(row)\n"
            ),
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return ("cursor",)

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        if is_test_module(ctx.path, ctx.settings.root):
            return  # tests read fixture tables of a few rows by design
        analysis = fetch_analysis(ctx)
        for site in cursor_loops(analysis):
            if not is_client_buffered(site.cursor) or is_test_scope(site.scope):
                continue
            bound = site.bound
            if bound is None or not worth_reporting(bound, ctx.settings):
                continue
            yield _finding(cls, ctx, site, bound.reason)


def _finding(rule: type[Rule], ctx: CheckContext, site: FetchSite, reason: str) -> Finding:
    assert site.cursor is not None
    key = chain_text(site.receiver) or "cursor"
    loop = f"for ... in {key}" if site.kind == "loop" else f"{key}.{site.kind}()"
    cursor = _CURSOR_WORDS.get(site.cursor.driver, f"{site.cursor.driver}'s client-side cursor")
    message = rule.message.format(loop=loop, cursor=cursor, reason=reason)
    plan = _plan(ctx, site)
    node = site.node if site.kind == "fetchmany" else site.stmt
    return ctx.finding(rule, node, message, plan=plan, stmt=site.stmt)


def _plan(ctx: CheckContext, site: FetchSite) -> FixPlan | None:
    assert site.cursor is not None
    if not isinstance(site.receiver, ast.Name):
        return None
    analysis = fetch_analysis(ctx)
    name = site.receiver.id
    creating = analysis.types.creating_call(name, site.scope)
    if creating is None or not isinstance(creating.func, ast.Attribute) \
            or creating.func.attr != "cursor":
        return None
    executes = sum(1 for c in ctx.facts.calls
                   if c.scope is site.scope and isinstance(c.node.func, ast.Attribute)
                   and c.node.func.attr in ("execute", "executemany")
                   and chain_text(c.node.func.value) == name)
    if executes != 1:
        return None  # a server-side cursor runs a single query
    owner = source_segment(ctx.text, creating.func.value)
    if owner is None:
        return None
    driver = site.cursor.driver
    operations: list[object] = []
    if driver in ("psycopg2", "psycopg") and not creating.args and not creating.keywords:
        replacement = f'{owner}.cursor(name="{name}_stream")'
        title = ("Use a named server-side cursor (needs an open transaction; one execute "
                 "per cursor)")
    elif driver in ("pymysql", "MySQLdb") and not creating.args and not creating.keywords:
        module = driver
        bound = ctx.facts.resolver.bindings.get(module)
        if bound != module:
            return None
        replacement = f"{owner}.cursor({module}.cursors.SSCursor)"
        operations.append(AddImport(f"{module}.cursors"))
        title = ("Use an unbuffered `SSCursor` (the connection is busy until every row is "
                 "read)")
    elif driver == "mysql.connector" and not creating.args and len(creating.keywords) == 1 \
            and creating.keywords[0].arg == "buffered":
        replacement = f"{owner}.cursor()"
        title = ("Use an unbuffered cursor (the connection is busy until every row is read)")
    else:
        return None
    start = ctx.position(creating.lineno, creating.col_offset)
    end = ctx.position(creating.end_lineno or creating.lineno, creating.end_col_offset or 0)
    operations.insert(0, ReplaceRange(start, end, replacement))
    return FixPlan(title, Applicability.UNSAFE, tuple(operations))
