"""DBL305 fetchall-iterated-once."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.fetch import fetch_analysis
from dbleak.analysis.fetch_summary import (
    READS_PARAM_KEY,
    callee_qualname,
    helper_read,
    own_helper_reads,
    sql_argument,
)
from dbleak.analysis.materialize import (
    ListUseKind,
    MaterializationSite,
    SourceKind,
    describe_use,
    materialization_sites,
)
from dbleak.analysis.materialize_fix import Rewriter, rewriter_for, walk_rewrite
from dbleak.analysis.materialize_sql import fetch_bound, text_bound
from dbleak.analysis.origins import scope_readers
from dbleak.analysis.row_escape import loop_keeps_rows, report_returned
from dbleak.knowledge.drivers import DriverTable
from dbleak.models import Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.rules.dbl301_materialized_generator import WALK_USES


class FetchallIteratedOnce(Rule):
    """
    ## What it does
    Flags `for row in cur.fetchall():`, and `rows = cur.fetchall()` (also SQLAlchemy `.all()`)
    when `rows` is then only walked once — by one loop, one comprehension, or one call that only
    iterates it — and the query's size is not known. (A provably unbounded query is reported by
    DBL201/DBL202; a provably bounded one — `LIMIT`, an aggregate, a key lookup — is left alone.)

    ## Why is this bad?
    The list exists only to be walked. `fetchall()` turns every row into a Python object at
    once; iterating the cursor makes them one at a time, and a driver that streams (sqlite3, a
    server-side cursor) then never holds the whole result.

    ## Example
    ```python
    cur.execute(sql)
    for row in cur.fetchall():
        print(row)
    ```

    ## Use instead
    ```python
    cur.execute(sql)
    for row in cur:
        print(row)
    ```

    ## Known problems
    Not flagged when the loop body uses the cursor or its connection again (another `execute`
    on the same cursor, a `commit` or a `close`), when the list is used more than once, stored,
    returned, or used after the cursor's block or `close()`. `await cur.fetchall()` is reported
    without a fix. A SQLAlchemy `.all()` without `limit()`/`first()`/`yield_per()` counts as
    unbounded, so it is DBL202's; DBL305 reports `.all()` only when DBL202 is not available.
    As for DBL201, a loop that keeps every row as it is (`by_kind[row.kind].append(row)`,
    `by_id[row.id] = row`, into a container made before the loop) is not flagged: every row
    stays in memory whatever the read (`[tool.dbleak.sql] returned = "report"` reports it), and
    a query bounded by nature (`PRAGMA`, the catalogs, a `LIMIT`, a key) is not flagged either,
    also when it is built at run time and what it writes out bounds it (`f"SELECT * FROM
    {table} LIMIT {n}"`, `f"PRAGMA table_info({table})"`),
    nor is a helper that reads the SQL it is given (`def sql_to_dict(query): ...
    cur.fetchall()`) when every call of it in the module passes such a query (calls through
    a subclass's `self` are not followed yet).

    ## Fix safety
    Safe for drivers whose cursor iteration yields the same rows (sqlite3, psycopg2, psycopg,
    PyMySQL, mysql.connector, …) when nothing runs between the fetch and the loop, the loop
    cannot stop early and its body calls only code that cannot reach the database. Unsafe when
    the cursor's driver is not known (iteration is an optional DB-API extension), for a
    SQLAlchemy `.all()`, or when the body calls unknown code: the cursor stays open while the
    body runs.
    A name bound to the list on a line that ends in a tool's comment (`# type: ignore`,
    `# noqa`, `# pragma: no cover`) gets no fix: removing the binding would leave the comment
    on a line of its own, where it applies to nothing.

    ## Options
    `[tool.dbleak.sql]` `bounded-columns` and `small-tables` decide which queries count as
    bounded.

    ## References
    - [PEP 249: Cursor iteration](https://peps.python.org/pep-0249/#iter)
    - [sqlite3: Cursor objects are iterators](https://docs.python.org/3/library/sqlite3.html#sqlite3.Cursor)
    """

    code = "DBL305"
    name = "fetchall-iterated-once"
    message = "`{call}` builds a list of every row that is {use}: iterate the cursor instead"
    fix_title = "Iterate the cursor instead of `fetchall()`"
    fix_availability = "sometimes"

    VALID = (
        ("import sqlite3\n\ncur = sqlite3.connect(':memory:').cursor()\ncur.execute('select 1')\n"
        "rows = cur.fetchall()\nprint(len(rows))\nfor row in rows:\n    print(row)\n"),
        ("import sqlite3\n\ncur = sqlite3.connect(':memory:').cursor()\ncur.execute('select 1')\n"
        "for row in cur.fetchall():\n    cur.execute('select 2')\n"),
        ("import sqlite3\n\ncur = sqlite3.connect(':memory:').cursor()\n"
        "cur.execute('SELECT count(*) FROM sqlite_master')\nfor row in cur.fetchall():\n    print(row)\n"),
    )
    INVALID = (
        Example(
            "import sqlite3\n\ncur = sqlite3.connect(':memory:').cursor()\ncur.execute(QUERY)\n"
            "for row in cur.fetchall():\n    print(row)\n",
            fixed="import sqlite3\n\ncur = sqlite3.connect(':memory:').cursor()\ncur.execute(QUERY)\n"
            "for row in cur:\n    print(row)\n",
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return ("fetchall", ".all(")

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        rewriter = None
        for site in materialization_sites(ctx):
            if site.source.kind is not SourceKind.FETCHED or site.use.kind not in WALK_USES:
                continue
            if fetch_bound(ctx, site) != "unknown":
                continue
            if _callers_read_few(ctx, site):
                continue  # `def run(sql): ... cur.fetchall()` called only with bounded SQL
            holder = site.use.holder
            if site.use.kind is ListUseKind.LOOP and isinstance(holder, (ast.For, ast.AsyncFor)) \
                    and loop_keeps_rows(holder) and not report_returned(ctx.settings):
                continue  # every row is kept as it is: streaming saves only the list's spine
            if _comprehension_keeps_rows(ctx, site) and not report_returned(ctx.settings):
                continue  # `self._data = [list(r) for r in cur.fetchall()]`: each row copied, kept
            rewriter = rewriter or rewriter_for(ctx)
            message = cls.message.format(call=_call_text(rewriter, site),
                                         use=describe_use(site.use))
            plan = None
            if not site.source.is_async and (site.source.iterable or (
                    site.source.driver_object is None)):
                rewrite = walk_rewrite(rewriter, site, site.source.iterable)
                if rewrite is not None:
                    plan = FixPlan(cls.fix_title or "", rewrite.applicability, rewrite.operations)
            yield ctx.finding(cls, site.node, message, plan=plan, stmt=site.stmt)


# Calls that copy a whole row (`list(row)`, `dict(row)`): the copy holds every field.
_ROW_COPIES = frozenset({"list", "tuple", "dict"})


def _comprehension_keeps_rows(ctx: CheckContext, site: MaterializationSite) -> bool:
    """A list comprehension with no condition that copies every whole row (`row`,
    `list(row)`, `dict(row)`, `dict(zip(columns, row))`) into a list kept on an attribute or
    returned: every row stays in memory whatever the read. One value per row (`row[0]`) is no
    copy of the rows: streaming drops the rest of each."""
    comprehension = site.use.holder
    if not (isinstance(comprehension, ast.ListComp) and len(comprehension.generators) == 1
            and not comprehension.generators[0].ifs
            and isinstance(comprehension.generators[0].target, ast.Name)):
        return False
    row = comprehension.generators[0].target.id
    element = comprehension.elt
    if isinstance(element, ast.Call) and isinstance(element.func, ast.Name) \
            and element.func.id in _ROW_COPIES and len(element.args) == 1 and not element.keywords:
        inner = element.args[0]
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "zip" \
                and len(inner.args) == 2:
            inner = inner.args[1]  # `dict(zip(columns, row))`
        element = inner
    if not (isinstance(element, ast.Name) and element.id == row):
        return False
    parent = ctx.facts.parent.get(id(comprehension))
    return isinstance(parent, ast.Return) or isinstance(parent, ast.Assign) and all(
        isinstance(target, ast.Attribute) for target in parent.targets)


def _callers_read_few(ctx: CheckContext, site: MaterializationSite) -> bool:
    """Whether the fetch reads every row of SQL its function is given (a `run_query(sql)`
    helper, summarized as `reads-all-of-param`, reading it itself rather than through another
    helper) and every call of it in the module gives SQL bounded by nature (the same text
    judgement as DBL305's own sites: catalog queries, `PRAGMA`, a `LIMIT`, a key)."""
    reader = scope_readers(ctx.facts).get(id(site.scope))
    qualname = reader.qualname if reader is not None else None
    own = own_helper_reads(ctx.facts)
    summary = own.get(qualname) if qualname is not None else None
    record = summary.get(READS_PARAM_KEY) if summary is not None else None
    if not record or record.get("via") is not None or record.get("kind") != "fetchall":
        return False
    read = helper_read(ctx.project, qualname, own)
    if read is None:
        return False
    analysis = fetch_analysis(ctx)
    calls = 0
    for call_site in ctx.facts.calls:
        if callee_qualname(ctx.facts, call_site.node, call_site.scope) != qualname:
            continue
        argument = sql_argument(call_site.node, read)
        sql = analysis.resolver.resolve(argument, call_site.scope) if argument is not None else None
        if sql is None:
            return False
        if text_bound(ctx, sql.text) != "bounded":
            return False
        calls += 1
    return calls > 0


def _call_text(rewriter: Rewriter, site: MaterializationSite) -> str:
    call = site.node.value if isinstance(site.node, ast.Await) else site.node
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
    receiver = rewriter.segment(call.func.value) or "cursor"
    if len(receiver) > 30 or "\n" in receiver:
        receiver = "..."
    return f"{receiver}.{call.func.attr}()"
