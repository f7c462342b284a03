"""DBL201 unbounded-fetchall."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping

from dbleak.analysis.fetch import (
    FetchSite,
    SqlResolver,
    dbapi_fetch_sites,
    executed_all_sites,
    fetch_analysis,
    is_test_module,
    is_test_scope,
)
from dbleak.analysis.fetch_loops import (
    body_uses_cursor,
    body_writes,
    breaks_out,
    has_multiline_string,
    indent_block,
    name_loads,
    name_stores,
    next_statement,
    target_at_least,
)
from dbleak.analysis.fetch_summary import (
    callee_qualname,
    checked_module_reads,
    helper_read,
    sql_argument,
)
from dbleak.analysis.module import walk, walk_scope
from dbleak.analysis.names import chain_text, method_call_parts
from dbleak.analysis.row_escape import left_to_caller, walked_by_callers
from dbleak.fixes.plan import ReplaceRange
from dbleak.knowledge.drivers import Buffering, DriverTable
from dbleak.knowledge.sql import query_bound, worth_reporting
from dbleak.models import Applicability, Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.source import source_segment

# Drivers whose cursor iteration yields exactly the rows `fetchall()` would return.
ITERABLE_CURSOR_DRIVERS = frozenset({"sqlite3", "psycopg2", "psycopg", "pymysql",
                                     "mysql.connector", "MySQLdb", "pyodbc", "oracledb",
                                     "pymssql"})


class UnboundedFetchall(Rule):
    """
    ## What it does
    Flags `cursor.fetchall()` (also `conn.execute(sql).fetchall()`, calls of your own
    helpers that end in one, and a SQLAlchemy `Result` of SQL text read whole with `.all()`:
    `result = await db.execute("SELECT …")`, `result.mappings().all()`; no fix there) when
    the query it reads has no bound: no `LIMIT`/`FETCH FIRST`/
    `TOP`, no aggregate without `GROUP BY`, no `WHERE` equality on a key column, no `HAVING
    COUNT(...) > 1` (the groups that repeat: a duplicate check). Key columns are `id`-like
    names, the columns that identify a row by convention (`email`, `username`, `slug`, `token`,
    `session_key`: one row, or the few that share one), the `bounded-columns` you list, the keys
    a `CREATE TABLE` (or one-column `CREATE UNIQUE INDEX`) string of the module declares, and
    the keys of the checked tree's models on their tables (a Django model's `Meta.db_table` or
    `<app>_<model>`, SQLAlchemy's `__tablename__`). An `UPDATE`/`DELETE … RETURNING` joined on
    its key to a bounded source (a batch CTE with a `LIMIT`) is bounded too, and so is one whose
    `WHERE col IN (SELECT col FROM <the same table> … LIMIT n)` picks a batch. The catalogs
    hold one row per schema object and are bounded by nature: `information_schema`,
    `pg_catalog` and `pg_*`, `sys`, `sqlite_master`, and Oracle's data dictionary by its names
    (`user_tables`, `all_tab_cols`, `dba_constraints`, `v$session`; not an application's
    `user_sessions`).

    ## Why is this bad?
    `fetchall()` builds a Python list of every row. On a table that grows, the process that
    worked in development runs out of memory in production. Iterating the cursor, or reading
    it in `fetchmany()` chunks, keeps only a batch of rows in memory.

    ## Example
    ```python
    cur.execute("SELECT * FROM events")
    for row in cur.fetchall():
        handle(row)
    ```

    ## Use instead
    ```python
    cur.execute("SELECT * FROM events")
    for row in cur:
        handle(row)
    ```

    ## Known problems
    The SQL must be resolvable statically (literals, constants, concatenations, f-strings with
    holes); unresolvable SQL is not reported unless `unresolved = "report"`, except when the
    rows are sliced at once (`cur.fetchall()[:n]`, on any receiver named like a cursor's
    method): the code itself keeps only the first `n`, which `fetchmany(n)` reads (reported
    without a fix: a negative or `None` bound, or a later read of the same cursor, would behave
    differently). A name assigned
    several times holds the assignment that reaches the read: the last one before it on every
    path (not one in a branch, nor one a later turn of a loop around the read makes). A name
    assigned in several branches before the read is reported only when every text it may hold
    is unbounded. Drivers that buffer
    the whole result at `execute()` (psycopg2's default cursor, PyMySQL's `Cursor`) still hold
    every row in the driver after the fix: see DBL205 for server-side cursors.
    [[tests-not-checked]]
    [[rows-not-reported-by-default]]

    ## Fix safety
    `for row in cur.fetchall():` → `for row in cur:` is safe for drivers whose cursor iteration
    yields the same rows (sqlite3, psycopg2, psycopg, PyMySQL), when the loop body does not use
    the same cursor; it is unsafe for sqlite3 when the body writes to the database (the rows
    are read while the loop runs) or hands a connection or cursor to other code.
    `rows = cur.fetchall()` iterated once becomes a
    `fetchmany()` loop: unsafe, because `rows` is no longer the whole list.

    ## Options
    `[tool.dbleak.sql]`: `small-tables` (table names; `dbleak tables DATABASE` lists the
    small ones of a database), `bounded-columns`, `chunk-size` (default 1000),
    `unresolved = "report"`, `per-parent = "report"`, `returned = "report"`,
    `grouped = "report"`.

    ## References
    - [PEP 249: fetchall, fetchmany](https://peps.python.org/pep-0249/#fetchall)
    - [psycopg2: server-side cursors](https://www.psycopg.org/docs/usage.html#server-side-cursors)
    """

    code = "DBL201"
    name = "unbounded-fetchall"
    message = "`{call}` reads every row of an unbounded query ({reason})"
    fix_title = "Iterate the cursor instead of building the list with `fetchall()`"
    fix_availability = "sometimes"
    needs_project = True

    VALID = (
        ("import sqlite3\n\ndef f(conn):\n    cur = conn.cursor()\n"
        "    cur.execute('SELECT * FROM events LIMIT 10')\n    return cur.fetchall()\n"),
        "import sqlite3\n\ndef f(conn, sql):\n    return conn.execute(sql).fetchall()\n",
        ("import sqlite3\n\nconn = sqlite3.connect('a.db')\n"
        "rows = conn.execute('SELECT count(*) FROM events').fetchall()\n"),
    )
    INVALID = (
        Example(
            "import sqlite3\n\nconn = sqlite3.connect('a.db')\ncur = conn.cursor()\n"
            "cur.execute('SELECT * FROM events')\nfor row in cur.fetchall():\n    print(row)\n",
            fixed=(
                "import sqlite3\n\nconn = sqlite3.connect('a.db')\ncur = conn.cursor()\n"
                "cur.execute('SELECT * FROM events')\nfor row in cur:\n    print(row)\n"
            ),
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return None  # helpers of other modules can be called anywhere

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        if is_test_module(ctx.path, ctx.settings.root):
            return  # tests read fixture tables of a few rows by design
        analysis = fetch_analysis(ctx)
        report_unresolved = ctx.settings.option("sql", "unresolved", "ignore") == "report"
        if "fetchall" in ctx.text:
            seen: set[int] = set()
            for site in dbapi_fetch_sites(analysis):
                seen.add(id(site.node))
                finding = _check_site(cls, ctx, site, report_unresolved)
                if finding is not None:
                    yield finding
            yield from _sliced_reads(cls, ctx, seen)
        if ".all()" in ctx.text and "execute" in ctx.text:
            for site in executed_all_sites(analysis):
                finding = _check_site(cls, ctx, site, report_unresolved)
                if finding is not None:
                    yield finding
        yield from _helper_calls(cls, ctx, "fetchall")


def _call_text(ctx: CheckContext, site: FetchSite) -> str:
    receiver = source_segment(ctx.text, site.receiver) or "cursor"
    if len(receiver) > 40 or "\n" in receiver:
        parts = method_call_parts(site.receiver)
        receiver = f"{parts[0] or '…'}.{parts[1]}(...)" if parts is not None else "cursor"
    return f"{receiver}.{'all' if site.kind == 'all' else 'fetchall'}()"


def _check_site(rule: type[Rule], ctx: CheckContext, site: FetchSite,
                report_unresolved: bool) -> Finding | None:
    if is_test_scope(site.scope):
        return None  # a test reads the few rows it put there
    bound = site.bound
    call = _call_text(ctx, site)
    if bound is None or bound.verdict == "unknown":
        kept = _head_slice(ctx.facts.parent, site.node)
        if kept is not None:
            # `cur.fetchall()[:n]`: the code itself says it wants at most n rows
            return ctx.finding(rule, site.node, _sliced_message(ctx, call, kept), stmt=site.stmt)
        if not report_unresolved:
            return None
        message = f"`{call}` reads every row, and the query's bound could not be proven"
        return ctx.finding(rule, site.node, message, stmt=site.stmt)
    if not worth_reporting(bound, ctx.settings):
        return None
    walkers = None
    if left_to_caller(ctx.facts, ctx.settings, site.node, site.scope.node):
        walkers = walked_by_callers(ctx, site.node, site.scope.node)
        if walkers is None:
            return None  # every row is the function's result: the caller's call
    if _reads_scratch_tables(site, fetch_analysis(ctx).resolver):
        return None
    message = rule.message.format(call=call, reason=bound.reason)
    if walkers is not None:
        message += f"; it is returned, and every call of `{walkers}()` walks it once"
    plan, note = _plan(ctx, site)
    if note:
        message += f"; {note}"
    return ctx.finding(rule, site.node, message, plan=plan, stmt=site.stmt)


def _sliced_reads(rule: type[Rule], ctx: CheckContext, seen: set[int]) -> Iterator[Finding]:
    """``x.fetchall()[:n]`` on a receiver nothing else says is a cursor (`cursor =
    dataset.query(sql)` of a library the table does not list): the name and the slice say it
    all, a DB-API read of every row to keep the first ``n``."""
    for site in ctx.facts.calls:
        call = site.node
        func = call.func
        if id(call) in seen or site.stmt is None or not isinstance(func, ast.Attribute) \
                or func.attr != "fetchall" or call.args or call.keywords or is_test_scope(site.scope):
            continue
        kept = _head_slice(ctx.facts.parent, call)
        if kept is None:
            continue
        message = _sliced_message(ctx, f"{chain_text(func.value) or 'cursor'}.fetchall()", kept)
        yield ctx.finding(rule, call, message, stmt=site.stmt)


def _sliced_message(ctx: CheckContext, call: str, kept: ast.expr) -> str:
    count = source_segment(ctx.text, kept) or "n"
    return f"`{call}` reads every row to keep the first {count}; `fetchmany({count})` reads only those"


def _head_slice(parents: Mapping[int, ast.AST], node: ast.AST) -> ast.expr | None:
    """``n`` for ``node[:n]`` (no start, no step): only the first rows are kept."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.slice, ast.Slice):
        part = parent.slice
        if part.lower is None and part.step is None and part.upper is not None:
            return part.upper
    return None


_READ_TABLES = re.compile(r"\b(?:from|join)\s+[`\"\[]?([\w.]+)", re.IGNORECASE)
_DROPPED_TABLE = re.compile(r"\bdrop\s+table\s+(?:if\s+exists\s+)?[`\"\[]?([\w.]+)", re.IGNORECASE)


def _reads_scratch_tables(site: FetchSite, resolver: SqlResolver) -> bool:
    """The query reads only tables that its own function drops: scratch tables, holding just
    what the function itself put there (demo and sanity-check code), not a growing table."""
    if site.executed is None or site.executed.sql is None:
        return False
    read = {name.lower() for name in _READ_TABLES.findall(site.executed.sql.text)}
    if not read:
        return False
    dropped: set[str] = set()
    for node in walk_scope(site.scope.node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "drop" in node.value.lower():
            dropped.update(name.lower() for name in _DROPPED_TABLE.findall(node.value))
        elif isinstance(node, ast.JoinedStr) and any(
                isinstance(v, ast.Constant) and "drop" in str(v.value).lower()
                for v in node.values):
            # `f"DROP TABLE IF EXISTS {table_name}"` with `table_name = "scratch"` in scope
            resolved = resolver.resolve(node, site.scope)
            if resolved is not None:
                dropped.update(name.lower() for name in _DROPPED_TABLE.findall(resolved.text))
    return read <= dropped


def _plan(ctx: CheckContext, site: FetchSite) -> tuple[FixPlan | None, str]:
    cursor = site.cursor
    if site.kind == "all" or cursor is None or cursor.driver not in ITERABLE_CURSOR_DRIVERS:
        return None, ""
    stmt = site.stmt
    key = chain_text(site.receiver)
    if isinstance(stmt, ast.For) and stmt.iter is site.node:
        if key is not None and body_uses_cursor(stmt.body, key):
            return None, ("no fix: the loop body runs another query on the same cursor, "
                          "so it cannot be iterated while the loop runs")
        applicability = Applicability.SAFE
        if cursor.buffering is Buffering.LAZY and (
                body_writes(stmt.body) or _uses_connection(ctx, site, stmt.body)):
            applicability = Applicability.UNSAFE
        receiver_text = source_segment(ctx.text, site.receiver)
        if receiver_text is None:
            return None, ""
        node = site.node
        assert isinstance(node, ast.Call)
        start = ctx.position(node.lineno, node.col_offset)
        end = ctx.position(node.end_lineno or node.lineno, node.end_col_offset or 0)
        plan = FixPlan("Iterate the cursor instead of building the list with `fetchall()`",
                       applicability, (ReplaceRange(start, end, receiver_text),))
        return plan, ""
    if isinstance(stmt, ast.Assign) and stmt.value is site.node and key is not None:
        return _fetchmany_plan(ctx, site, stmt, key), ""
    return None, ""


def _uses_connection(ctx: CheckContext, site: FetchSite, body: list[ast.stmt]) -> bool:
    """The body hands a connection or cursor of this scope to other code (which may write)."""
    types = fetch_analysis(ctx).types
    seen: set[str] = set()
    for stmt in body:
        for node in walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                    and node.id not in seen:
                seen.add(node.id)
                spec = types.object_of(node, site.scope)
                if spec is not None and spec.kind.value in ("connection", "cursor"):
                    return True
    return False


def _fetchmany_plan(ctx: CheckContext, site: FetchSite, stmt: ast.Assign,
                    key: str) -> FixPlan | None:
    """``rows = cur.fetchall()`` + ``for row in rows:`` → a ``fetchmany()`` loop."""
    if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
        return None
    rows = stmt.targets[0].id
    loop = next_statement(ctx.facts.parent_statement(stmt), stmt)
    if not isinstance(loop, ast.For) or not isinstance(loop.iter, ast.Name) \
            or loop.iter.id != rows or loop.orelse:
        return None
    scope_node = site.scope.node
    if len(name_loads(scope_node, rows)) != 1 or name_stores(scope_node, rows) != 1:
        return None
    if breaks_out(loop) or body_uses_cursor(loop.body, key) or has_multiline_string(loop):
        return None
    if (stmt.end_lineno or stmt.lineno) >= loop.lineno:
        return None
    between = ctx.lines.lines[(stmt.end_lineno or stmt.lineno):loop.lineno - 1]
    if any(line.strip() for line in between):
        return None
    size = ctx.settings.option("sql", "chunk-size", 1000)
    lines = ctx.lines
    start = ctx.position(stmt.lineno, stmt.col_offset)
    end = ctx.position(loop.end_lineno or loop.lineno, loop.end_col_offset or 0)
    loop_start = ctx.position(loop.lineno, loop.col_offset)
    loop_text = ctx.text[lines.offset(loop_start.line, loop_start.column):
                         lines.offset(end.line, end.column)]
    indent = " " * start.column
    newline = "\r\n" if "\r\n" in ctx.text else "\n"
    body = indent_block(loop_text.replace("\r\n", "\n"), "    ")
    if target_at_least(ctx.settings.target_version, 8):
        head = f"while {rows} := {key}.fetchmany({size}):\n{indent}    "
    else:
        head = (f"while True:\n{indent}    {rows} = {key}.fetchmany({size})\n"
                f"{indent}    if not {rows}:\n{indent}        break\n{indent}    ")
    content = (head + body).replace("\n", newline)
    return FixPlan(f"Read the rows in `fetchmany({size})` chunks (`{rows}` is no longer a list)",
                   Applicability.UNSAFE, (ReplaceRange(start, end, content),))


def _helper_calls(rule: type[Rule], ctx: CheckContext, kind: str) -> Iterator[Finding]:
    """Calls of project helpers that read all rows of their SQL parameter."""
    own = checked_module_reads(ctx.facts, ctx.project)
    if own is None:
        return
    analysis = fetch_analysis(ctx)
    for site in ctx.facts.calls:
        if site.stmt is None:
            continue
        qualname = callee_qualname(ctx.facts, site.node, site.scope)
        read = helper_read(ctx.project, qualname, own)
        if read is None or read.kind != kind:
            continue
        argument = sql_argument(site.node, read)
        if argument is None:
            continue
        if is_test_scope(site.scope):
            continue
        sql = analysis.resolver.resolve(argument, site.scope)
        if sql is None:
            continue
        bound = query_bound(sql.text, read.dialect, ctx.settings, analysis.keys_for(sql.text))
        if not worth_reporting(bound, ctx.settings):
            continue
        if left_to_caller(ctx.facts, ctx.settings, site.node, site.scope.node):
            continue
        name = source_segment(ctx.text, site.node.func) or read.helper.rsplit(".", 1)[-1]
        message = (f"`{name}(...)` reads all rows of an unbounded query ({bound.reason}); "
                   f"`{read.helper.rsplit('.', 1)[-1]}` builds the whole result")
        yield ctx.finding(rule, site.node, message, stmt=site.stmt)


__all__ = ["ITERABLE_CURSOR_DRIVERS", "UnboundedFetchall"]
