"""DBL303 len-of-materialized."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.fetch import fetch_analysis, is_test_module, is_test_scope
from dbleak.analysis.fetch_summary import callee_qualname
from dbleak.analysis.materialize import (
    ListUseKind,
    MaterializationSite,
    SourceKind,
    materialization_sites,
    reads_rows,
)
from dbleak.analysis.materialize_fix import Rewriter, count_text, replace_use, rewriter_for
from dbleak.analysis.materialize_sql import fetch_bound
from dbleak.analysis.names import receiver_root
from dbleak.analysis.queryset_count import count_use, imports_django
from dbleak.analysis.rows_summary import returns_all_rows
from dbleak.knowledge.drivers import DriverTable
from dbleak.models import Applicability, Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.rules.dbl301_materialized_generator import site_words
from dbleak.source import source_segment


class LenOfMaterialized(Rule):
    """
    ## What it does
    Flags `len(list(g))` over a generator of database rows (one that runs a query, walks a
    cursor or a result, or calls a generator that does, as DBL301 reads it: a lint check's
    hits or the words of a string are not this family's) or a cursor, `len(cur.fetchall())` and
    `len(query.all())` (a legacy `session.query(M)` or Flask-SQLAlchemy's `Model.query` of
    a model of the project, also through a name used only there, and a query name refined on the
    way: `q = session.query(M)`, `q = q.filter(...)`, `q = q.outerjoin(...)`, or bound to a
    refinement of another query name: `valid = total.filter(...)`; a `limit()` on the
    way is a bound): a list of every row built only to be counted. A legacy query keeps no
    read state, so `{"valid": len(valid.all()), "total": len(total.all())}` counts each. A
    call of a project helper whose every `return` gives a legacy query not yet run (`return
    session.query(M).filter(...)`, or a name bound only to such queries, refined) is a query
    too: `len(open_trades_query(s).all())`. Also a call of a project
    helper whose every `return` gives `<query>.all()` (`def get_user_tracks(...): ... return
    query.all()`) whose result is only counted or tested (`len(f())`, `len(set(f()))`,
    `bool(f())`, `if f():`, `not f()`), and the same for a helper that returns `list(Model.objects.filter(...))`: no
    fix there, the helper's other callers need the list; a helper that counts (`count()`,
    `exists()`) is the rewrite.

    ## Why is this bad?
    Every row is loaded into memory, and thrown away right after `len()`. Counting while walking
    keeps one row at a time; counting in the database (`SELECT COUNT(*)`, `query.count()`) does
    not even send the rows.

    ## Example
    ```python
    count = len(list(fetch_rows(conn)))
    total = len(cur.fetchall())
    ```

    ## Use instead
    ```python
    count = sum(1 for _ in fetch_rows(conn))
    cur.execute("SELECT COUNT(*) FROM events")
    (total,) = cur.fetchone()
    ```

    ## Known problems
    Not flagged when the list is used for anything else as well (its rows, an index, a second
    walk), or when the source is not lazy (a list, a tuple, a dict view, `range`). A name bound
    in each branch of an `if` (as each branch's last statement) and counted once after it is
    reported at each branch's read, without a fix. An executed statement's result held in a
    name (`res = await session.execute(stmt)`, then `len(res.scalars().unique().all())`) is
    followed; the statement that counts may read the query's own parameters again
    (`len(rows) == len(ids)`), but not the result. A project helper that returns every row
    of a query (`return q.all()`, or a list with one item per row of it) is reported where
    its result is only counted or tested, directly or through a name, without a fix. Outside
    modules that import Django, `len()` of `.all()` of what a method call returns, whatever
    its receiver (`len(request.db.get_all_badges().all())`: an ORM's list of every row of a
    query; NumPy's and pandas' `all()` give no list to count), is reported without a fix.

    ## Fix safety
    `len(list(g))` → `sum(1 for _ in g)` is safe: the same rows are walked, none is kept.
    `len(query.all())` → `query.count()` is unsafe: it runs another query (`SELECT count(*)` over
    the query), which can differ with joined eager loading or duplicate rows.
    `len(cur.fetchall())` gets a display-only suggestion: rewrite the SQL as `SELECT COUNT(*)`.
    A name bound to the list on a line that ends in a tool's comment (`# type: ignore`,
    `# noqa`, `# pragma: no cover`) gets no fix: removing the binding would leave the comment
    on a line of its own, where it applies to nothing.

    ## Options
    None.

    ## References
    - [SQLAlchemy Query.count()](https://docs.sqlalchemy.org/en/20/orm/queryguide/query.html#sqlalchemy.orm.Query.count)
    - [Django: don't use len(queryset) if you only want the count](https://docs.djangoproject.com/en/stable/topics/db/optimization/#don-t-retrieve-things-you-don-t-need)
    """

    code = "DBL303"
    name = "len-of-materialized"
    message = "`len()` of {what}: every row is built only to be counted"
    fix_title = "Count without building the list"
    fix_availability = "sometimes"
    needs_project = True

    VALID = (
        "def gen():\n    yield 1\n\nrows = list(gen())\nprint(len(rows), rows[0])\n",
        "print(len(list(range(3))))\n",
        "def words(text):\n    yield from text.split()\n\nprint(len(list(words('a b'))))\n",
        ("import sqlite3\n\ncur = sqlite3.connect(':memory:').execute('select 1')\n"
        "rows = cur.fetchall()\nprint(len(rows))\nfor r in rows:\n    print(r)\n"),
    )
    INVALID = (
        Example(
            "def gen(cur):\n    for row in cur.execute('SELECT id FROM events'):\n        yield row\n\nprint(len(list(gen(cur))))\n",
            fixed="def gen(cur):\n    for row in cur.execute('SELECT id FROM events'):\n        yield row\n\nprint(sum(1 for _ in gen(cur)))\n",
        ),
        Example(
            "import sqlite3\n\ncur = sqlite3.connect(':memory:').execute('SELECT id FROM events')\n"
            "print(len(cur.fetchall()))\n",
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return ("len(", "bool(", "if ")

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        rewriter = None
        seen: set[int] = set()
        for site in materialization_sites(ctx):
            seen.add(id(site.node))
            if site.use.kind is not ListUseKind.LENGTH or not reads_rows(site):
                continue  # (a generator of no database rows is not this family's)
            if site.source.kind is SourceKind.FETCHED and fetch_bound(ctx, site) == "bounded":
                continue  # a few rows by construction (LIMIT, PRAGMA, an aggregate)
            rewriter = rewriter or rewriter_for(ctx)
            plan = _plan(rewriter, site)
            message = cls.message.format(what=site_words(rewriter, site))
            yield ctx.finding(cls, site.node, message, plan=plan,
                              stmt=site.stmt)
        yield from _helper_rows_counted(cls, ctx)
        yield from _built_query_counted(cls, ctx, seen)


def _helper_rows_counted(rule: type[Rule], ctx: CheckContext) -> Iterator[Finding]:
    """``bool(get_user_tracks(e, u))``, ``len(...)``, ``if ...:`` of a project helper whose
    every return is ``<query>.all()``: every row is read and built for a number. No fix: the
    helper's other callers need the list; a counting helper of its own is the rewrite."""
    if is_test_module(ctx.path, ctx.settings.root):
        return
    own_names: dict[int, set[int]] = {}
    for site in ctx.facts.calls:
        call = site.node
        if site.stmt is None:
            continue
        used: ast.expr = call
        parent = ctx.facts.parent.get(id(call))
        if isinstance(parent, ast.Await):
            used, parent = parent, ctx.facts.parent.get(id(parent))  # `len(await f(s))`
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
            how: str | None = "truth"  # `return not f()`: a truth value, wherever it goes
        else:
            how = count_use(ctx.facts, used) or _held_only_counted(ctx, site.scope, used, own_names)
        if how is None:
            continue
        if is_test_scope(site.scope):
            continue
        qualname = callee_qualname(ctx.facts, call, site.scope)
        if not returns_all_rows(ctx.project, qualname):
            continue
        name = (qualname or "").rsplit(".", 1)[-1]
        message = (f"`{name}()` returns every row of its query as a list, and this call only "
                   f"{'tests' if how == 'truth' else 'counts'} them: ask the database "
                   f"(`count()`, `exists()`) in a helper of its own")
        yield ctx.finding(rule, call, message, plan=None, stmt=site.stmt)



def _built_query_counted(rule: type[Rule], ctx: CheckContext, seen: set[int]) -> Iterator[Finding]:
    """``len(request.db.get_all_badges().all())``: ``.all()`` of what a method call returns,
    whatever its receiver, only counted. Outside Django (whose related managers and querysets
    DBL306 judges) an ``.all()`` whose result has a length is an ORM's list of every row of a
    query (SQLAlchemy, Flask-SQLAlchemy, peewee, Tortoise): NumPy's and pandas' ``all()`` give a
    truth value or a Series of one per column, which nobody counts. No fix: how to count in
    the database depends on the library."""
    if is_test_module(ctx.path, ctx.settings.root) or imports_django(ctx.facts):
        return
    for site in ctx.facts.calls:
        call = site.node
        if not (isinstance(call.func, ast.Name) and call.func.id == "len" and len(call.args) == 1
                and not call.keywords and site.stmt is not None):
            continue
        read = call.args[0]
        if not (isinstance(read, ast.Call) and isinstance(read.func, ast.Attribute)
                and read.func.attr == "all" and not read.args and not read.keywords) or id(read) in seen:
            continue
        built = read.func.value
        if not (isinstance(built, ast.Call) and isinstance(built.func, ast.Attribute)):
            continue  # `.all()` of a method call's result
        if ctx.facts.qualname(call.func) is not None or is_test_scope(site.scope):
            continue  # `len` imported from elsewhere; a test's few fixture rows
        if callee_qualname(ctx.facts, built, site.scope) is not None:
            continue  # a function or a method the project index knows: its summary's judgement
        root = receiver_root(read)
        if root is not None and any(not isinstance(b, ast.arg) for b in
                                    fetch_analysis(ctx).resolver.assignments(site.scope).get(root, ())):
            continue  # a local the analysis follows (a result read again, ...): its judgement
        text = source_segment(ctx.text, built) or ""
        if len(text) > 60 or "\n" in text:
            text = f"….{built.func.attr}()"
        message = (f"`len()` of `{text}.all()`: every row of the query is built only to be "
                   "counted; count in the database (`count()`)")
        yield ctx.finding(rule, call, message, plan=None, stmt=site.stmt)


def _held_only_counted(ctx: CheckContext, scope: object, call: ast.expr,
                       own_names: dict[int, set[int]]) -> str | None:
    """``tasks = get_tasks(...)``, then only ``if tasks:`` / ``len(tasks)``: how the name the
    call's list is bound to (once, in the scope) is used, when every use counts or tests it."""
    statement = ctx.facts.parent.get(id(call))
    if not (isinstance(statement, ast.Assign) and statement.value is call
            and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)):
        return None
    name = statement.targets[0].id
    node = getattr(scope, "node", None)
    own = own_names.get(id(node))
    if own is None:  # the ids of the scope's own names, once per scope (not per call)
        own = own_names[id(node)] = {id(n) for n in ctx.facts.scope_nodes.get(id(node), ())
                                     if type(n) is ast.Name}
    uses = [n for n in ctx.facts.names.get(name, ()) if id(n) in own]
    if any(not isinstance(n.ctx, ast.Load) and n is not statement.targets[0] for n in uses):
        return None  # bound again: another value
    loads = [n for n in uses if isinstance(n.ctx, ast.Load)]
    if not loads or any(n.id == name for n in ctx.facts.names.get(name, ())
                        if isinstance(n.ctx, ast.Load) and n not in loads
                        and ctx.facts.within(n, node)):
        return None  # read by a nested function or comprehension too
    found = [count_use(ctx.facts, n) for n in loads]
    if None in found:
        return None
    return "len" if "len" in found else "truth"


def _plan(rw: Rewriter, site: MaterializationSite) -> FixPlan | None:
    source = site.source
    if source.kind is SourceKind.FETCHED:
        if source.is_async:
            return None
        if source.fetch_method == "all" and source.orm_query:
            content = rw.source_text(source.node) + ".count()"
            rewrite = replace_use(rw, site, content, Applicability.UNSAFE)
            if rewrite is None:
                return None
            return FixPlan("Count in the database with `.count()`", rewrite.applicability,
                           rewrite.operations)
        return FixPlan("Count in SQL instead: `SELECT COUNT(*) FROM (...)`, then `fetchone()`",
                       Applicability.DISPLAY_ONLY, ())
    count = count_text(rw, site)
    if count is None:
        return None
    rewrite = replace_use(rw, site, count, Applicability.SAFE)
    if rewrite is None:
        return None
    return FixPlan(LenOfMaterialized.fix_title or "", rewrite.applicability, rewrite.operations)
