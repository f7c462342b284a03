"""DBL202 unbounded-orm-all."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from dbleak.analysis.fetch import fetch_analysis, is_test_module, is_test_scope
from dbleak.analysis.fetch_orm import (
    SA_REFINEMENTS,
    OrmBound,
    Step,
    is_session_like,
    method_chain,
    select_steps,
    single_binding,
    sqlalchemy_chain_bound,
    streams,
    yield_per_conflicts,
)
from dbleak.analysis.fetch_summary import callee_qualname
from dbleak.analysis.model_relations import (
    key_fields,
    lookup_roots,
    mapped_models,
    relation_names,
    small_models,
)
from dbleak.analysis.module import Scope, walk_scope
from dbleak.analysis.origins import instance_method_of
from dbleak.analysis.row_escape import left_to_caller, walked_by_callers
from dbleak.analysis.rows_summary import returned_queries
from dbleak.analysis.sources import flask_models, object_sources
from dbleak.fixes.plan import ReplaceRange
from dbleak.knowledge.drivers import DriverTable
from dbleak.knowledge.sql import report_grouped, report_per_parent
from dbleak.models import Applicability, Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.source import source_segment

_READ_ALL = frozenset({"all", "fetchall"})


@dataclass(frozen=True)
class _OrmRead:
    """``<source>.….all()``: how the chain starts and every step of it."""

    source: str  # "query" (Query / Flask-SQLAlchemy) or "select" (execute/scalars of select())
    source_step: Step
    judged: list[Step]  # the steps that can bound the rows
    result_steps: list[Step]  # steps after execute/scalars (select form)


class UnboundedOrmAll(Rule):
    """
    ## What it does
    Flags SQLAlchemy reads of a whole result with no bound: `.all()` / `.fetchall()` /
    `list(...)` of `session.query(...)`, of `session.execute(select(...))` and
    `session.scalars(select(...))`, and Flask-SQLAlchemy's `Model.query.all()` (also in a
    module that only imports the models: a class deriving from the project's `db.Model`, where
    `db = SQLAlchemy(app)` or `SQLAlchemy()` in that module or another, is read from its own
    module; so is a class imported from another
    package's `models` module, `from invenio_accounts.models import User`), when the query
    has no `limit`,
    `first`, `one`, `get`, slice, filter on a key, or aggregate; streaming (`yield_per`,
    `execution_options(stream_results=True)`) bounds a loop over the query, not `.all()` or
    `list()` of it, which keep every row the batches bring (the fix drops `.all()`).
    Also a loop straight over a legacy query (`for fw in session.query(Firmware):`,
    `for p in Post.query.order_by(...):`, or over a name that holds one, `query =
    session.query(M).order_by(...)` then `for v in query:`): iterating a `Query` loads every
    row and builds every object before the first turn, as `.all()` does (no fix is offered
    there: `yield_per()` changes how eager loads behave). A held query narrowed by a filter, a
    join or a grouping is reported when the loop yields each row (a generator written to
    stream, as a sitemap's: `q = session.query(Record).filter(...)`, `for r in q: yield ...`);
    elsewhere such walks were mostly one parent's rows or groups on the corpus, and are left
    alone. A query made by a method of the same class or a function of the same module that
    takes no argument and only returns it (`def _base_query(self): return
    self.session.query(Annotation).filter_by(deleted=False)`) is judged with the steps its
    caller adds (`self._base_query().order_by(...).all()`); so is each legacy query a function
    or method of the project returns, whatever its arguments and wherever it is defined
    (`def users_since(session, team_id=None): query = session.query(User)...; if team_id:
    query = query.filter(...); return query`, read by `users_since(session).all()` or
    `Users.with_email(session, domain).all()`): the query on each path its returns may
    give, from the project's summaries, with the call's arguments in place of the parameters
    they bind (`self._get_query(session, SqlRun)` returning `session.query(model)` reads
    `SqlRun`), reported when one of them is unbounded. Criteria spread from a parameter
    (`filter(*conditions)` where `conditions` is the function's parameter) are the caller's
    choice and not judged, as Django's `filter(**kwargs)` is not.
    A key bounds the query only on the column side of an equality (`Order.id == value`, not
    `Order.note == customer.id`); an equality of two columns is a join condition.

    ## Why is this bad?
    `.all()` builds every ORM object of the result at once, and the identity map keeps them
    alive; a table that grows takes the process down. `yield_per(n)` loads objects in batches.

    ## Example
    ```python
    for user in session.query(User).filter(User.active).all():
        notify(user)
    ```

    ## Use instead
    ```python
    for user in session.query(User).filter(User.active).yield_per(1000):
        notify(user)
    ```

    Keys come from the names `id`/`pk`/`uuid`, the columns that identify a row by convention
    (`email`, `username`, `slug`, `token`, `session_key`), an entity's own `<entity>_id` (`SqlRun.run_id`),
    the `bounded-columns` you list, and the schema of the checked tree's models: columns
    declared `primary_key=True` or `unique=True`, and keys of several columns
    (`UniqueConstraint(...)`, a unique `Index(...)` or a composite primary key in
    `__table_args__`, and the same in a classical `Table(...)` mapped with `map_imperatively`).
    A class inherits its bases' keys, and a model imported under another name (`import
    TaskInstance as TI`) has its keys. Equality on every column of a key reads one row (also
    up to case, `func.lower(User.email) == e`, or a list of values of the key's columns,
    `tuple_(M.a, M.b).in_(pairs)`, or alternatives that each name a whole key,
    `or_(*(and_(M.a == a, M.b.in_(bs)) for ...))`); on all but one of them, the rows of one
    parent, as do
    `Book.authors.any(Author.name == n)` and the foreign-key columns of a Core `Table`
    (`favourites.c.user_id == u`). Also bounded:
    `group_by(...).having(func.count(...) > 1)` and a filter `Model.c.in_(query(Model.c)...)`
    (the values that repeat: duplicate and conflict checks, expected to find few), and a query
    that selects only from a subquery bounded by its own `limit`.

    ## Known problems
    Sessions are recognised by name (`session`, `db.session`, `Session()`), and under any
    name when they query a class of the project that maps a table (`request.db.query(File)`,
    `store.query(Pended)`); a session under another name that queries columns, or a class
    of another package, is not seen. A query held in a name (`q = session.query(M)`, then
    `q = q.filter(...)`, `q.all()`) is followed in its function; a refinement under an `if` or
    in a loop is not counted as a bound (the other paths read every row). Filters on other columns count as unbounded. Lookup and
    configuration tables (roles, settings, document types) look like any other table: list
    them in `small-tables`.
    [[tests-not-checked]]

    [[rows-not-reported-by-default]]

    ## Fix safety
    Unsafe: with `yield_per` the result is no longer a list, objects are loaded while the loop
    runs (changes made meanwhile may be seen), and the PostgreSQL/MySQL dialects then use a
    server-side cursor. Not offered when the query uses joined or subquery eager loading, or
    `.unique()`, where `yield_per` raises.

    ## Options
    `[tool.dbleak.sql]`: `small-tables` (model names, or table names: `__tablename__` and a
    classical `Table(...)` name their model; `dbleak tables DATABASE` lists the small tables of
    a database), `bounded-columns`, `chunk-size` (default 1000),
    `per-parent = "report"`, `returned = "report"`, `grouped = "report"`,
    `root-tables = "report"` (see below).

    ## Root tables
    A model that references no other model (no foreign key or relationship in its body or its
    bases) is a root of the schema; in a normalised schema that is most often a lookup or
    configuration table (realms, roles, document types), and by default it is read as one.
    Accounts (`...User`, `...Account`, `...Member`, Django's and Flask-Login's user bases)
    are not. Over five reviewed sets of applications this silenced 78 false findings and 21
    real ones (growing roots: tenants, root entities, blob caches, fact tables whose foreign
    keys a helper declares); `root-tables = "report"` judges them like any other table.
    [[root-tables-migrations]]
    [[root-tables-recall]]

    ## References
    - [SQLAlchemy: fetching large result sets with yield_per](https://docs.sqlalchemy.org/en/20/orm/queryguide/api.html#fetching-large-result-sets-with-yield-per)
    """

    code = "DBL202"
    needs_project = True  # relation fields of the project's models
    name = "unbounded-orm-all"
    message = "`{call}` loads every row of an unbounded query ({reason})"
    fix_title = "Load in batches with `yield_per`"
    fix_availability = "sometimes"

    VALID = (
        "def f(session, User):\n    return session.query(User).limit(10).all()\n",
        "def f(session, User, uid):\n    return session.query(User).filter(User.id == uid).all()\n",
        "def f(session, User):\n    for u in session.query(User).yield_per(100):\n        print(u)\n",
    )
    INVALID = (
        Example(
            "def f(session, User):\n    for u in session.query(User).all():\n        print(u)\n",
            unsafe_fixed=(
                "def f(session, User):\n"
                "    for u in session.query(User).yield_per(1000):\n        print(u)\n"
            ),
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return ("query", "select", "scalars")

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        if is_test_module(ctx.path, ctx.settings.root):
            return  # tests read fixture tables of a few rows by design
        flask = flask_models(ctx.text, ctx.facts, object_sources(ctx))
        columns = tuple(ctx.settings.option("sql", "bounded-columns", ()) or ())
        small = tuple(ctx.settings.option("sql", "small-tables", ()) or ())
        for scope, stmt, node, target, list_form, walked in _candidates(ctx):
            found = None
            for read in _orm_reads(ctx, scope, target, flask, list_form=list_form):
                # each query a helper may return, judged in turn: the first unbounded one
                found = _unbounded_read(ctx, scope, node, read, walked, columns, small)
                if found is not None:
                    break
            if found is None:
                continue
            read, bound, kept = found
            walkers = None
            if left_to_caller(ctx.facts, ctx.settings, node, scope.node):
                walkers = walked_by_callers(ctx, node, scope.node)
                if walkers is None:
                    continue  # every row is the function's result: the caller's call
            text = source_segment(ctx.text, node) or "query.all()"
            if len(text) > 60 or "\n" in text:
                head = re.sub(r"\s+", "", text.split("(", 1)[0])
                text = head + "(...)" + ("" if target is not node or walked else ".all()")
            message = cls.message.format(call=text, reason=bound.reason)
            if walkers is not None:
                message += f"; it is returned, and every call of `{walkers}()` walks it once"
            if kept:
                message += "; the rows come in batches, but the list keeps every one"
            plan = None
            holder = ctx.facts.parent.get(id(node))  # the loop walking the read, if it is one
            loop = holder if isinstance(holder, (ast.For, ast.AsyncFor)) and holder.iter is node else None
            if loop is not None and target is node and not walked and isinstance(node, ast.Call):
                plan = _plan(ctx, node, read)
            yield ctx.finding(cls, node, message, plan=plan, stmt=stmt)


def _unbounded_read(ctx: CheckContext, scope: Scope, node: ast.expr, read: _OrmRead,
                    walked: bool, columns: tuple[str, ...], small: tuple[str, ...]
                    ) -> tuple[_OrmRead, OrmBound, bool] | None:
    """``(read, its bound, kept)`` when the read may bring every row of its query, else None;
    ``kept``: a list keeps every row a streaming step brings in batches."""
    if isinstance(node, ast.Name) and read.source != "query":
        return None  # a name walked by a loop: only a legacy `Query` loads every row first
    steps = read.judged + read.result_steps
    if _caller_criteria(steps, fetch_analysis(ctx).resolver.assignments(scope)):
        return None  # `filter(*conditions)` of a parameter: the caller chooses the rows
    kept = bool(not walked and any(streams(step) for step in steps))
    if kept:
        # `.all()` / `list()` keeps every row the batches bring: streaming bounds nothing
        steps = [step for step in steps if not streams(step)]
    bound = sqlalchemy_chain_bound(steps, columns, small,
                                   relation_names(ctx.facts, ctx.project),
                                   key_fields(ctx.facts, ctx.project))
    if bound.bounded or (bound.parent and not report_per_parent(ctx.settings)) \
            or (bound.grouped and not report_grouped(ctx.settings)):
        return None
    if _reads_bounded_subquery(ctx, scope, read, columns, small):
        return None
    if _reads_only(read, small_models(ctx.facts, ctx.project, small)):
        return None  # models whose tables are listed in small-tables
    if _reads_only(read, lookup_roots(ctx.facts, ctx.project, ctx.settings, ctx.path)):
        return None  # tables referencing no other: lookup or configuration tables
    return read, bound, kept


def _candidates(ctx: CheckContext) -> Iterator[tuple[Scope, ast.stmt, ast.expr, ast.AST, bool, bool]]:
    """``(scope, statement, node reported, read expression, list form, walked)`` for every
    read that may fetch a whole result: `.all()` and its kin, `list(query)`, a loop straight
    over a legacy query, and a loop over a name that holds one (`for v in query:`)."""
    for site in ctx.facts.calls:
        call = site.node
        if site.stmt is None or is_test_scope(site.scope):
            continue
        target: ast.AST | None = None
        if isinstance(call.func, ast.Attribute) and call.func.attr in _READ_ALL \
                and not call.args and not call.keywords:
            target = call
        elif isinstance(call.func, ast.Name) and call.func.id == "list" \
                and len(call.args) == 1 and not call.keywords:
            target = call.args[0]
        walked = target is None and _walked_query(ctx, call)
        if walked:
            target = call  # `for fw in session.query(Firmware):` reads every row first
        if target is not None:
            yield site.scope, site.stmt, call, target, target is not call or walked, walked
    for scope in ctx.facts.scopes:
        if not scope.is_function or is_test_scope(scope):
            continue
        for node in ctx.facts.scope_nodes.get(id(scope.node), ()):
            if isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.iter, ast.Name) \
                    and _holds_query(ctx, scope, node.iter.id, _yields_each(node)):
                # `query = session.query(M).order_by(...)`, then `for v in query:`
                yield scope, node, node.iter, node.iter, True, True


def _holds_query(ctx: CheckContext, scope: Scope, name: str, streamed: bool = False) -> bool:
    """Whether ``name`` holds a query chain not read yet (it ends in a refinement, not in
    ``.all()``: a list read already is reported where it is read); ``streamed``: the loop
    walking it yields each row (see :func:`_yields_each`)."""
    assignments = fetch_analysis(ctx).resolver.assignments(scope)
    if name not in assignments:
        return False
    held = _held_query(ctx, scope, name, assignments)
    if held is None or not held[1] or held[1][-1].name not in _WALKED_ENDS:
        return False
    # A whole table only: a held query narrowed by a filter, a join or a grouping is left alone
    # (measured: those walks were mostly one parent's rows, or groups, on the corpus), unless
    # the loop yields each row: a generator meant to stream, which the query defeats.
    return streamed or not any(step.name in _NARROWING for step in held[1])


def _yields_each(loop: ast.For | ast.AsyncFor) -> bool:
    """Whether the loop's body yields (a generator handing out its rows one by one, as a
    sitemap's or an export's does): it is written to stream, and a legacy `Query` loads every
    row before the first turn all the same."""
    return any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in walk_scope(loop))


# Steps that narrow a query to some rows (or groups) of its table.
_NARROWING = frozenset({"filter", "filter_by", "where", "join", "outerjoin", "group_by", "having"})


# What a loop over a legacy query chain may end with and still read every row at once.
_WALKED_ENDS = SA_REFINEMENTS | {"query"}


def _walked_query(ctx: CheckContext, call: ast.Call) -> bool:
    """``for x in session.query(M).filter(...):``: a loop straight over a legacy query, which
    loads every row (and builds every object) before the first turn, as ``.all()`` does."""
    holder = ctx.facts.parent.get(id(call))
    if not (isinstance(holder, (ast.For, ast.AsyncFor)) and holder.iter is call):
        return False
    return isinstance(call.func, ast.Attribute) and call.func.attr in _WALKED_ENDS


def _orm_reads(ctx: CheckContext, scope: object, target: ast.AST, flask: Callable[[ast.Name], bool],
               list_form: bool) -> list[_OrmRead]:
    """The reads ``target`` may be: one, or one per query a project helper it starts from
    may return (``Users.with_email(session, domain).all()``)."""
    root, steps = method_chain(target)
    if not steps and not (list_form and isinstance(root, ast.Name)):
        return []
    if not list_form:
        if steps[-1].name not in _READ_ALL:
            return []
        steps = steps[:-1]
    analysis = fetch_analysis(ctx)
    assignments = analysis.resolver.assignments(scope)  # type: ignore[arg-type]
    if isinstance(root, ast.Name) and not is_session_like(root) and root.id in assignments:
        held = _held_query(ctx, scope, root.id, assignments)
        if held is not None:
            root, steps = held[0], [*held[1], *steps]
    returned = _returned_chains(ctx, scope, root, steps)
    if returned:
        reads = [_orm_read(ctx, scope, r, s, flask, list_form, assignments) for r, s in returned]
        return [read for read in reads if read is not None]
    read = _orm_read(ctx, scope, root, steps, flask, list_form, assignments)
    return [read] if read is not None else []


def _returned_chains(ctx: CheckContext, scope: object, root: ast.AST, steps: list[Step]
                     ) -> list[tuple[ast.AST, list[Step]]]:
    """``helper(...)`` / ``Users.with_email(...)`` / ``self.base(...)`` starting the chain, a
    project function whose summary spells the queries it returns: each of them, continued by
    the chain's other steps; else ``[]``."""
    if not isinstance(scope, Scope):
        return []
    if isinstance(root, ast.Call):
        call, rest = root, steps
    elif steps and steps[0].call is not None:
        call, rest = steps[0].call, steps[1:]
    else:
        return []
    chains = []
    for value in returned_queries(ctx.project, callee_qualname(ctx.facts, call, scope), call):
        value_root, value_steps = method_chain(value)
        chains.append((value_root, [*value_steps, *rest]))
    return chains


def _orm_read(ctx: CheckContext, scope: object, root: ast.AST, steps: list[Step],
              flask: Callable[[ast.Name], bool], list_form: bool,
              assignments: dict[str, list[ast.AST]]) -> _OrmRead | None:
    for _depth in range(3):
        if isinstance(root, ast.Call) and isinstance(root.func, ast.Name) \
                and not root.args and not root.keywords:
            helper = _helper_chain(ctx, scope, root.func, root.func.id)  # `base_query().all()`
            rest = steps
        elif steps and steps[0].call is not None and not steps[0].call.args \
                and not steps[0].call.keywords:
            helper = _helper_chain(ctx, scope, root, steps[0].name)  # `self._base_query()`
            rest = steps[1:]
        else:
            break
        if helper is None:
            break
        root, steps = helper[0], [*helper[1], *rest]
    steps = [_spread_criteria(step, assignments) for step in steps]
    for index, step in enumerate(steps):
        if step.name == "query" and step.call is not None and (
                is_session_like(root if index == 0 else steps[index - 1].node)
                or _queries_mapped_class(ctx, step.call)):
            return _OrmRead("query", step, steps[index:], [])
        if step.name == "query" and step.call is None and index == 0 \
                and isinstance(root, ast.Name) and root.id[:1].isupper() and flask(root):
            return _OrmRead("query", step, steps[index:], [])
        if step.name in ("execute", "scalars") and step.call is not None and step.call.args:
            selected = select_steps(step.call.args[0], ctx.facts, assignments)
            if selected is None:
                return None
            if list_form:
                return None  # list(session.execute(...)) is the materialization rules' job
            return _OrmRead("select", step, selected, steps[index + 1:])
    return None


def _helper_chain(ctx: CheckContext, scope: object, root: ast.AST,
                  name: str) -> tuple[ast.AST, list[Step]] | None:
    """``self._base_query().filter(...).all()``, where the class's own method (or, for
    ``base_query()``, a module-level function of the module) takes no argument and only returns
    a query chain (``return self.session.query(Annotation).filter_by(deleted=False)``): that
    chain, to judge with the steps the call adds."""
    if not isinstance(root, ast.Name):
        return None
    body: list[ast.stmt] = []
    if root.id == name:
        body = ctx.facts.tree.body  # `base_query()`
    elif isinstance(scope, Scope):
        method = instance_method_of(scope)
        if method is not None and method[0] == root.id:
            body = method[1].body  # `self._base_query()`
    function = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and n.name == name), None)
    if function is None or function.decorator_list:
        return None
    body = [stmt for stmt in function.body
            if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))]  # docstring
    if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        return None
    params = {a.arg for a in [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]}
    helper_root, helper_steps = method_chain(body[0].value)
    if not helper_steps or isinstance(helper_root, ast.Name) and helper_root.id in params - {"self"}:
        return None
    return helper_root, helper_steps


def _queries_mapped_class(ctx: CheckContext, call: ast.Call) -> bool:
    """``request.db.query(File)``: whatever the receiver is called, ``query()`` of a class of
    the project that maps a table is a session's legacy query (the receiver is a session
    under another name: a request attribute, a repository's ``db``)."""
    if not call.args:
        return False
    first = call.args[0]
    name = first.id if isinstance(first, ast.Name) else first.attr \
        if isinstance(first, ast.Attribute) else None
    return name is not None and name in mapped_models(ctx.facts, ctx.project)


def _held_query(ctx: CheckContext, scope: object, name: str,
                assignments: dict[str, list[ast.AST]]) -> tuple[ast.AST, list[Step]] | None:
    """``q = session.query(M)``, then ``q = q.filter(...)``: the query a name holds, as one chain
    (its root and steps). A refinement counts only when it runs on every path (a statement of
    the function's own body, not under an ``if`` or a loop): a bound added on some paths only
    leaves the others unbounded."""
    values = assignments.get(name, [])
    base: ast.expr | None = None
    refinements: list[ast.expr] = []
    for value in values:
        if isinstance(value, ast.Await):
            value = value.value  # `result = await session.execute(...)`: the result it gives
        if not isinstance(value, ast.expr) or isinstance(value, ast.Name) and isinstance(value.ctx, ast.Store):
            return None  # a parameter, a loop variable, an unpacking: not a query made here
        value_root, _ = method_chain(value)
        if isinstance(value_root, ast.Name) and value_root.id == name:
            refinements.append(value)
        elif base is None:
            base = value
        else:
            return None  # two queries under one name
    if base is None:
        return None
    root, steps = method_chain(base)
    if not steps or isinstance(root, ast.Name) and root.id == name:
        return None
    facts = ctx.facts
    base_statement = facts.parent.get(id(base))
    block = facts.statement_list(base_statement) \
        if isinstance(base_statement, (ast.Assign, ast.AnnAssign)) else None
    for value in refinements:
        statement = facts.parent.get(id(value))
        if block is None or not isinstance(statement, (ast.Assign, ast.AnnAssign)) \
                or facts.statement_list(statement) is not block:
            continue  # on some paths only (under an `if`, in a loop, in a handler)
        steps.extend(method_chain(value)[1])
    return root, steps


def _spread_criteria(step: Step, assignments: dict[str, list[ast.AST]]) -> Step:
    """``filter(A.x == 1, *criteria)`` with ``criteria = [B.y == y, ...]`` assigned once in the
    scope: judged as ``filter(A.x == 1, B.y == y, ...)``."""
    call = step.call
    if call is None or step.name not in ("filter", "where") \
            or not any(isinstance(a, ast.Starred) for a in call.args):
        return step
    spread: list[ast.expr] = []
    for argument in call.args:
        if isinstance(argument, ast.Starred):
            value = single_binding(assignments, argument.value.id) \
                if isinstance(argument.value, ast.Name) else None
            if not isinstance(value, (ast.List, ast.Tuple)):
                return step  # criteria built elsewhere: judged as written
            spread.extend(value.elts)
        else:
            spread.append(argument)
    return replace(step, call=ast.Call(func=call.func, args=spread, keywords=call.keywords))


def _caller_criteria(steps: list[Step], assignments: dict[str, list[ast.AST]]) -> bool:
    """A ``filter(*conditions)`` / ``where(*conditions)`` whose criteria are a parameter of the
    function (after :func:`_spread_criteria`): the caller chooses the rows, as Django's
    ``filter(**kwargs)`` (not judged)."""
    for step in steps:
        if step.call is None or step.name not in ("filter", "where"):
            continue
        for argument in step.call.args:
            if isinstance(argument, ast.Starred) and isinstance(argument.value, ast.Name):
                values = assignments.get(argument.value.id, ())
                if values and all(isinstance(v, ast.arg) for v in values):
                    return True
    return False


def _reads_only(read: _OrmRead, models: frozenset[str]) -> bool:
    """Every entity the query selects or joins is one of ``models``."""
    if not models:
        return False
    names: list[str] = []
    for step in read.judged:
        if step.call is None or step.name not in ("query", "select", "join", "outerjoin", ""):
            continue
        arguments = step.call.args if step.name in ("query", "select", "") else step.call.args[:1]
        for argument in arguments:
            if isinstance(argument, ast.Name):
                names.append(argument.id)
            elif isinstance(argument, ast.Attribute) and isinstance(argument.value, ast.Name):
                names.append(argument.value.id)  # `Model.column`
            else:
                return False  # a function, a subquery, a table of another shape
    return bool(names) and all(name in models for name in names)


def _reads_bounded_subquery(ctx: CheckContext, scope: object, read: _OrmRead,
                            columns: tuple[str, ...], small: tuple[str, ...]) -> bool:
    """``session.query(sub.c.id)`` with ``sub = session.query(...).limit(n).subquery()``: every
    selected column comes from a subquery (or CTE) whose own query is bounded."""
    source = read.judged[0].call if read.judged else None
    if source is None or not source.args:
        return False
    assignments = fetch_analysis(ctx).resolver.assignments(scope)  # type: ignore[arg-type]
    for argument in source.args:
        root = argument
        while isinstance(root, ast.Attribute):
            root = root.value
        value = single_binding(assignments, root.id) if isinstance(root, ast.Name) else None
        if value is None:
            return False
        _root, steps = method_chain(value)
        if not steps or steps[-1].name not in ("subquery", "cte", "alias") \
                or not sqlalchemy_chain_bound(steps[:-1], columns, small).bounded:
            return False
    return True


def _plan(ctx: CheckContext, call: ast.Call, read: _OrmRead) -> FixPlan | None:
    size = ctx.settings.option("sql", "chunk-size", 1000)
    chain_nodes = [s.node for s in read.judged] + [s.node for s in read.result_steps]
    if yield_per_conflicts([read.source_step.node, *chain_nodes]):
        return None
    assert isinstance(call.func, ast.Attribute)
    receiver = call.func.value
    drop_start = ctx.position(receiver.end_lineno or receiver.lineno, receiver.end_col_offset or 0)
    drop_end = ctx.position(call.end_lineno or call.lineno, call.end_col_offset or 0)
    streamed = any(streams(step) for step in [*read.judged, *read.result_steps])
    if read.source == "query":
        if call.func.attr != "all":
            return None
        if streamed:
            # `q.yield_per(100).all()`: the batches are there already, the list is not needed
            return FixPlan("Walk the batches: drop `.all()` (no longer a list)",
                           Applicability.UNSAFE, (ReplaceRange(drop_start, drop_end, ""),))
        return FixPlan(f"Load in batches with `yield_per({size})` (no longer a list)",
                       Applicability.UNSAFE,
                       (ReplaceRange(drop_start, drop_end, f".yield_per({size})"),))
    if streamed:
        return None  # streamed already: the result's own rows are what is kept
    source = read.source_step.call
    assert source is not None
    if len(source.args) != 1 or source.keywords:
        return None
    if isinstance(ctx.facts.parent.get(id(source)), ast.Await):
        return None  # an async session buffers `execute()`'s rows: streaming is `stream()`'s
    argument = source.args[0]
    at = ctx.position(argument.end_lineno or argument.lineno, argument.end_col_offset or 0)
    return FixPlan(
        f"Load in batches with `execution_options={{\"yield_per\": {size}}}` (no longer a list)",
        Applicability.UNSAFE,
        (ReplaceRange(at, at, f', execution_options={{"yield_per": {size}}}'),
         ReplaceRange(drop_start, drop_end, "")),
    )
