"""DBL304 first-of-materialized."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dbleak.analysis.materialize import (
    ListUseKind,
    MaterializationSite,
    SourceKind,
    materialization_sites,
    reads_rows,
)
from dbleak.analysis.materialize_fix import Rewriter, first_text, replace_use, rewriter_for
from dbleak.analysis.materialize_sql import fetch_bound
from dbleak.knowledge.drivers import DriverTable
from dbleak.models import Applicability, Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.rules.dbl301_materialized_generator import site_words


class FirstOfMaterialized(Rule):
    """
    ## What it does
    Flags `list(g)[0]` over a generator of database rows (as DBL301 reads it) or a cursor,
    `cur.fetchall()[0]` and `query.all()[0]` (also through a name used only there): a list of
    every row built to read the first one.

    ## Why is this bad?
    Every row is fetched and kept in memory, then all but one are thrown away. Taking one row
    reads one row.

    ## Example
    ```python
    first = list(fetch_rows(conn))[0]
    newest = cur.fetchall()[0]
    ```

    ## Use instead
    ```python
    first = next(iter(fetch_rows(conn)))
    newest = cur.fetchone()
    ```

    ## Known problems
    Not flagged when the list is used for anything else, or when the source is not lazy. A query
    that could say `LIMIT 1` still sends every row to the client; the fix only stops the list.

    ## Fix safety
    Always unsafe: on an empty result, `list(g)[0]` raises `IndexError` where `next(iter(g))`
    raises `StopIteration`, and `fetchone()` / `.first()` return `None`. The rows after the first
    are also no longer read (a generator is left unfinished).
    A name bound to the list on a line that ends in a tool's comment (`# type: ignore`,
    `# noqa`, `# pragma: no cover`) gets no fix: removing the binding would leave the comment
    on a line of its own, where it applies to nothing.

    ## Options
    None.

    ## References
    - [PEP 249: fetchone()](https://peps.python.org/pep-0249/#fetchone)
    - [SQLAlchemy Query.first()](https://docs.sqlalchemy.org/en/20/orm/queryguide/query.html#sqlalchemy.orm.Query.first)
    - [ruff RUF015 unnecessary-iterable-allocation-for-first-element](https://docs.astral.sh/ruff/rules/unnecessary-iterable-allocation-for-first-element/)
    """

    code = "DBL304"
    name = "first-of-materialized"
    message = "{what} builds every row only to read the first: take one row instead"
    fix_title = "Take the first row without building the list"
    fix_availability = "sometimes"
    needs_project = True

    VALID = (
        "def gen():\n    yield 1\n\nrows = list(gen())\nprint(rows[0], len(rows))\n",
        "print(list(range(3))[0])\n",
        "def words(text):\n    yield from text.split()\n\nprint(list(words('a b'))[0])\n",
        ("import sqlite3\n\ncur = sqlite3.connect(':memory:').execute('select 1')\n"
        "rows = cur.fetchall()\nprint(rows[0] if rows else None)\n"),
    )
    INVALID = (
        Example(
            "def gen(cur):\n    for row in cur.execute('SELECT id FROM events'):\n        yield row\n\nprint(list(gen(cur))[0])\n",
            unsafe_fixed="def gen(cur):\n    for row in cur.execute('SELECT id FROM events'):\n        yield row\n\nprint(next(iter(gen(cur))))\n",
        ),
        Example(
            "import sqlite3\n\ncur = sqlite3.connect(':memory:').execute('SELECT id FROM events')\n"
            "print(cur.fetchall()[0])\n",
            unsafe_fixed="import sqlite3\n\ncur = sqlite3.connect(':memory:').execute('SELECT id FROM events')\n"
            "print(cur.fetchone())\n",
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return ("[0]",)

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        rewriter = None
        for site in materialization_sites(ctx):
            if site.use.kind is not ListUseKind.FIRST or not reads_rows(site):
                continue  # (a generator of no database rows is not this family's)
            if site.source.kind is SourceKind.FETCHED and fetch_bound(ctx, site) == "bounded":
                continue  # a few rows by construction (LIMIT, PRAGMA, an aggregate)
            rewriter = rewriter or rewriter_for(ctx)
            plan = _plan(rewriter, site)
            message = cls.message.format(what=site_words(rewriter, site))
            yield ctx.finding(cls, site.node, message, plan=plan,
                              stmt=site.stmt)



def _plan(rw: Rewriter, site: MaterializationSite) -> FixPlan | None:
    source = site.source
    if source.kind is SourceKind.FETCHED:
        if source.is_async:
            return None
        receiver = rw.source_text(source.node)
        if source.fetch_method == "fetchall":
            content, title = receiver + ".fetchone()", "Take one row with `fetchone()`"
        elif source.orm_query or source.orm_result:
            content, title = receiver + ".first()", "Take one row with `.first()`"
        else:
            return None
    else:
        text = first_text(rw, site)
        if text is None:
            return None
        content, title = text, "Take the first row with `next(iter(...))`"
    rewrite = replace_use(rw, site, content, Applicability.UNSAFE)
    if rewrite is None:
        return None
    return FixPlan(title, Applicability.UNSAFE, rewrite.operations)
