"""DBL204 read-sql-without-chunksize."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.fetch import (
    SqlText,
    dialect_of,
    fetch_analysis,
    is_test_module,
    is_test_scope,
)
from dbleak.analysis.fetch_summary import (
    callee_qualname,
    checked_module_reads,
    helper_read,
    sql_argument,
)
from dbleak.analysis.row_escape import left_to_caller
from dbleak.fixes.plan import ReplaceRange
from dbleak.knowledge.drivers import DriverTable
from dbleak.knowledge.sql import query_bound, worth_reporting
from dbleak.models import Applicability, Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.source import source_segment

READ_SQL = frozenset({"pandas.read_sql", "pandas.read_sql_query", "pandas.io.sql.read_sql",
                      "pandas.io.sql.read_sql_query"})
READ_SQL_TABLE = frozenset({"pandas.read_sql_table", "pandas.io.sql.read_sql_table"})


class ReadSqlWithoutChunksize(Rule):
    """
    ## What it does
    Flags `pandas.read_sql`, `read_sql_query` and `read_sql_table` without `chunksize` when the
    query (or the table) is unbounded.

    ## Why is this bad?
    The whole result becomes one DataFrame, usually several times the size of the rows
    themselves. A table that grows takes the process down with it.

    ## Example
    ```python
    df = pd.read_sql("SELECT * FROM events", engine)
    total = df["amount"].sum()
    ```

    ## Use instead
    ```python
    total = 0
    for chunk in pd.read_sql("SELECT * FROM events", engine, chunksize=1000):
        total += chunk["amount"].sum()
    ```
    With SQLAlchemy, also pass a connection with `execution_options(stream_results=True)`:
    most drivers otherwise still buffer the whole result before the first chunk.

    ## Known problems
    The SQL must be resolvable statically; a query built at run time is not reported unless
    `unresolved = "report"`. Only the call is seen: an aggregation that could run in SQL
    instead is not suggested.
    [[tests-not-checked]]

    [[rows-not-reported-by-default]]

    ## Fix safety
    Display-only: with `chunksize` the call returns an iterator of DataFrames, so the code
    that uses the result must change too.

    ## Options
    `[tool.dbleak.sql]`: `small-tables`, `bounded-columns`, `chunk-size` (default 1000),
    `unresolved = "report"`, `per-parent = "report"`, `returned = "report"`,
    `grouped = "report"`.

    ## References
    - [pandas.read_sql](https://pandas.pydata.org/docs/reference/api/pandas.read_sql.html)
    - [SQLAlchemy: stream_results](https://docs.sqlalchemy.org/en/20/core/connections.html#using-server-side-cursors-a-k-a-stream-results)
    """

    code = "DBL204"
    name = "read-sql-without-chunksize"
    message = "`{call}` without `chunksize` loads every row of an unbounded query ({reason})"
    fix_title = "Read in chunks with `chunksize=` (returns an iterator of DataFrames)"
    # The chunksize suggestion is display-only: never applied, so not an available fix.
    fix_availability = "none"
    needs_project = True

    VALID = (
        ("import pandas as pd\n\ndef f(con):\n"
        "    return pd.read_sql('SELECT * FROM events', con, chunksize=500)\n"),
        ("import pandas as pd\n\ndef f(con):\n"
        "    return pd.read_sql('SELECT * FROM events LIMIT 10', con)\n"),
        "import pandas as pd\n\ndef f(con, sql):\n    return pd.read_sql(sql, con)\n",
    )
    INVALID = (
        Example("import pandas as pd\n\ndef f(con):\n"
                "    frame = pd.read_sql('SELECT * FROM events', con)\n"
                "    return frame['amount'].sum()\n"),
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
        has_read_sql = "read_sql" in ctx.text
        own = checked_module_reads(ctx.facts, ctx.project)
        for site in ctx.facts.calls:
            call = site.node
            if site.stmt is None or is_test_scope(site.scope):
                continue
            qualname = ctx.facts.call_qualname(call) if has_read_sql else None
            if qualname in READ_SQL or qualname in READ_SQL_TABLE:
                if any(k.arg == "chunksize" for k in call.keywords) or any(
                        k.arg is None for k in call.keywords):
                    continue
                sql = _sql_of(analysis, call, site.scope, qualname in READ_SQL_TABLE)
                con = _argument(call, 1, "con")
                dialect = dialect_of(analysis.cursor_of(con, site.scope)) if con is not None \
                    else None
                func = source_segment(ctx.text, call.func) or "read_sql"
                label = f"{func}(...)"
                if sql is None:
                    if report_unresolved:
                        yield ctx.finding(cls, call, f"`{label}` without `chunksize` loads every "
                                          "row, and the query's bound could not be proven",
                                          stmt=site.stmt)
                    continue
                bound = query_bound(sql.text, dialect, ctx.settings, analysis.keys_for(sql.text))
                if bound.verdict == "unknown" and report_unresolved:
                    yield ctx.finding(cls, call, f"`{label}` without `chunksize` loads every "
                                      "row, and the query's bound could not be proven",
                                      stmt=site.stmt)
                if not worth_reporting(bound, ctx.settings):
                    continue
                if left_to_caller(ctx.facts, ctx.settings, call, site.scope.node):
                    continue  # the whole frame is the function's result
                message = cls.message.format(call=label, reason=bound.reason)
                yield ctx.finding(cls, call, message, plan=_plan(ctx, call), stmt=site.stmt)
                continue
            if own is None:
                continue
            read = helper_read(ctx.project, callee_qualname(ctx.facts, call, site.scope), own)
            if read is None or read.kind != "read-sql":
                continue
            argument = sql_argument(call, read)
            resolved = analysis.resolver.resolve(argument, site.scope) if argument is not None \
                else None
            if resolved is None:
                continue
            bound = query_bound(resolved.text, read.dialect, ctx.settings,
                                analysis.keys_for(resolved.text))
            if not worth_reporting(bound, ctx.settings):
                continue
            if left_to_caller(ctx.facts, ctx.settings, call, site.scope.node):
                continue
            name = source_segment(ctx.text, call.func) or read.helper
            helper = read.helper.rsplit(".", 1)[-1]
            message = (f"`{name}(...)` loads every row of an unbounded query into a DataFrame "
                       f"({bound.reason}); `{helper}` calls `read_sql` without `chunksize`")
            yield ctx.finding(cls, call, message, stmt=site.stmt)


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    if index < len(call.args) and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    return None


def _sql_of(analysis: object, call: ast.Call, scope: object, is_table: bool) -> SqlText | None:
    from dbleak.analysis.fetch import FetchAnalysis

    assert isinstance(analysis, FetchAnalysis)
    argument = _argument(call, 0, "table_name" if is_table else "sql")
    if argument is None:
        return None
    resolved = analysis.resolver.resolve(argument, scope)  # type: ignore[arg-type]
    if resolved is None:
        return None
    if is_table:
        table = resolved.text.strip()
        if resolved.holes or not table.replace("_", "").replace(".", "").isalnum():
            return None
        schema = _argument(call, 2, "schema")
        schema_text = analysis.resolver.resolve(schema, scope) if schema is not None else None  # type: ignore[arg-type]
        if schema_text is not None and not schema_text.holes:
            table = f"{schema_text.text.strip()}.{table}"
        return SqlText(f"SELECT * FROM {table}")
    return resolved


def _plan(ctx: CheckContext, call: ast.Call) -> FixPlan | None:
    if call.end_lineno is None or call.end_col_offset is None:
        return None
    size = ctx.settings.option("sql", "chunk-size", 1000)
    last = call.keywords[-1].value if call.keywords else (call.args[-1] if call.args else None)
    if last is None or last.end_lineno is None or last.end_col_offset is None:
        return None
    at = ctx.position(last.end_lineno, last.end_col_offset)
    return FixPlan(
        f"Pass `chunksize={size}` (returns an iterator of DataFrames; stream the driver's rows "
        "with `execution_options(stream_results=True)`)",
        Applicability.DISPLAY_ONLY, (ReplaceRange(at, at, f", chunksize={size}"),))
