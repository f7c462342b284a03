"""Project-index summaries of helpers that return every row of an ORM query as a list
(SQLAlchemy's ``query.all()``, Django's ``list(Model.objects.filter(...))``), and of helpers
that return a Django queryset, unevaluated (``return Facility.objects.filter(...)``).

``def get_user_tracks(event, user): query = Track.query.with_parent(event); ...; return
query.all()`` is summarized as "returns the rows of a query, all of them", so that a caller that
only counts or tests the result (``bool(get_user_tracks(e, u))``, ``len(...)``) can be told that
every row is read and built for a number (DBL303).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from dbleak.analysis.call_sites import argument_parameter
from dbleak.analysis.fetch_orm import DJANGO_MANAGERS, method_chain, strip_refinements
from dbleak.analysis.lifecycle_summary import SUMMARY_PARAMS
from dbleak.analysis.module import ModuleFacts, argument_position, walk_scope
from dbleak.analysis.names import refines
from dbleak.analysis.project import SUMMARIZERS, ProjectIndex, module_functions
from dbleak.analysis.reaching import reaching_values
from dbleak.knowledge.frameworks import FRAMEWORK_LOOKUP_MODELS

RETURNS_ROWS_KEY = "returns-all-rows"
RETURNS_QUERYSET_KEY = "returns-queryset"
RETURNS_QUERY_KEY = "returns-query"
# A model's managers: `objects`, and Django's own names for the default ones.
_QUERYSET_REFINEMENTS = frozenset({"all", "filter", "exclude", "order_by", "select_related",
                                   "prefetch_related", "only", "defer", "distinct", "using",
                                   "annotate"})


def _query_chain(node: ast.expr, name: str | None = None) -> bool:
    """``session.query(M)...`` or Flask-SQLAlchemy's ``Model.query...``, refined only by
    `SA_REFINEMENTS`; with ``name``, also a refinement of that name (``q = q.filter(...)``)."""
    source = strip_refinements(node)
    if isinstance(source, ast.Call):
        return isinstance(source.func, ast.Attribute) and source.func.attr == "query" \
            and bool(source.args)  # `session.query(M)`
    if isinstance(source, ast.Attribute) and source.attr == "query":
        return isinstance(source.value, ast.Name) and source.value.id[:1].isupper()  # `Track.query`
    return name is not None and isinstance(source, ast.Name) and source.id == name


def _queryset_chain(node: ast.expr) -> bool:
    """``Model.objects.<refinements>`` (``models.Model.objects...``, ``m._default_manager...``
    too, and a model method's ``self.<model>_set.<refinements>``): a Django queryset with no
    slice, no bound."""
    current = node
    while isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
        if current.func.attr not in _QUERYSET_REFINEMENTS:
            return False
        current = current.func.value
    if current is not node and isinstance(current, ast.Attribute) and current.attr.endswith("_set") \
            and isinstance(current.value, ast.Name) and current.value.id == "self":
        return True  # `self.record_set.filter(...)` in a model's method: its reverse relation
    if isinstance(current, ast.Attribute) and current.attr in DJANGO_MANAGERS - {"objects"}:
        return True  # Django's own names: `model_cls._default_manager.all()`
    if not (isinstance(current, ast.Attribute) and current.attr == "objects"):
        return False
    model = current.value  # `Book.objects`, or `models.Book.objects` through a module
    if isinstance(model, ast.Attribute) and isinstance(model.value, ast.Name):
        return model.attr[:1].isupper()
    return isinstance(model, ast.Name) and model.id[:1].isupper()


def _returns_all_rows(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    nodes = list(walk_scope(function))
    returns = [n.value for n in nodes if isinstance(n, ast.Return) and n.value is not None]
    if not returns or any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes):
        return False
    for value in returns:
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "list" and len(value.args) == 1 and not value.keywords
                and _queryset_chain(value.args[0])):
            continue  # `return list(Model.objects.filter(...))`
        if _one_per_row(facts, nodes, value):
            continue  # `return [to_dict(r) for r in q.all()]`, a list appended once per row
        if not _whole_read(facts, nodes, value):
            return False
    return True


def _whole_read(facts: ModuleFacts, nodes: list[ast.AST], value: ast.expr, depth: int = 0) -> bool:
    """``<query>.all()``, or a name bound only to one (``result = query.all()``)."""
    if isinstance(value, ast.Name):
        return depth < 4 and _bound_only_to(facts, nodes, value.id,
                                            partial(_whole_read, facts, nodes, depth=depth + 1))
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == "all" and not value.args and not value.keywords):
        return False
    receiver = value.func.value
    if isinstance(receiver, ast.Name):
        return _bound_only_to(facts, nodes, receiver.id, partial(_query_chain, name=receiver.id)) \
            or depth < 4 and _bound_only_to(facts, nodes, receiver.id,
                                            partial(_executed_select, facts, nodes, depth=depth + 1))
    return _query_chain(receiver) or _executed_select(facts, nodes, receiver, depth + 1)


def _executed_select(facts: ModuleFacts, nodes: list[ast.AST], value: ast.expr, depth: int = 0) -> bool:
    """``(await) session.exec(select(M))`` / ``execute`` / ``scalars`` (SQLAlchemy 2.0 and
    SQLModel): a result whose ``.all()`` is every row of the statement. The statement may be a
    name bound only to ``select(...)`` and its refinements (``statement = statement.options(...)``)."""
    if isinstance(value, ast.Await):
        value = value.value
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr in ("exec", "execute", "scalars") and value.args):
        return False
    statement = value.args[0]
    if isinstance(statement, ast.Name):
        return depth < 4 and _bound_only_to(
            facts, nodes, statement.id, partial(_select_chain, name=statement.id))
    return _select_chain(statement)


def _select_chain(node: ast.expr, name: str | None = None) -> bool:
    """``select(M).where(...)...`` (or a refinement of ``name``, ``stmt = stmt.where(...)``)."""
    root, steps = method_chain(node)
    if any(step.name in ("limit", "first", "one", "scalar") or step.name == "[]" for step in steps):
        return False  # a bounded statement
    if isinstance(root, ast.Call) and isinstance(root.func, ast.Name) and root.func.id == "select":
        return True
    return name is not None and isinstance(root, ast.Name) and root.id == name and bool(steps)


def _one_per_row(facts: ModuleFacts, nodes: list[ast.AST], value: ast.expr) -> bool:
    """A list with one item per row of a whole read: ``[f(r) for r in q.all()]`` (no
    condition), or a name bound once to ``[]`` whose only other use is one ``append`` in the
    body of a loop over the read (``for datum in result: data.append({...})``)."""
    if isinstance(value, ast.ListComp):
        generators = value.generators
        return len(generators) == 1 and not generators[0].ifs and not generators[0].is_async \
            and _whole_read(facts, nodes, generators[0].iter)
    if not isinstance(value, ast.Name):
        return False
    uses = [n for n in nodes if isinstance(n, ast.Name) and n.id == value.id and n is not value]
    stores = [n for n in uses if not isinstance(n.ctx, ast.Load)]
    if len(stores) != 1:
        return False
    holder = facts.parent.get(id(stores[0]))
    if not (isinstance(holder, ast.Assign) and holder.targets == stores
            and isinstance(holder.value, ast.List) and not holder.value.elts):
        return False
    appends = 0
    for use in uses:
        attribute = facts.parent.get(id(use))
        if use is stores[0] or isinstance(attribute, ast.Return):
            continue
        call = facts.parent.get(id(attribute)) if attribute is not None else None
        statement = facts.parent.get(id(call)) if call is not None else None
        loop = facts.parent.get(id(statement)) if statement is not None else None
        if not (isinstance(attribute, ast.Attribute) and attribute.attr == "append"
                and isinstance(call, ast.Call) and len(call.args) == 1
                and isinstance(statement, ast.Expr) and isinstance(loop, ast.For)
                and statement in loop.body and not loop.orelse
                and _whole_read(facts, nodes, loop.iter)):
            return False
        appends += 1
    return appends == 1


def _bound_only_to(facts: ModuleFacts, nodes: list[ast.AST], name: str,
                   accepted: Callable[[ast.expr], bool]) -> bool:
    """Whether the scope binds ``name`` at least once, and only by plain assignments of
    values ``accepted`` says yes to."""
    assigned = [n for n in nodes if isinstance(n, ast.Name) and n.id == name
                and not isinstance(n.ctx, ast.Load)]
    if not assigned:
        return False
    for target in assigned:
        holder = facts.parent.get(id(target))
        if not (isinstance(holder, ast.Assign) and holder.targets == [target]
                and accepted(holder.value)):
            return False
    return True


def _valued_returns(function: ast.FunctionDef | ast.AsyncFunctionDef
                    ) -> tuple[list[ast.AST], list[ast.expr]] | None:
    """The function's nodes and the values of its ``return`` statements, when it has some,
    every one gives a value, and it is no generator."""
    nodes = list(walk_scope(function))
    returns = [n.value for n in nodes if isinstance(n, ast.Return)]
    if not returns or any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes):
        return None
    values = [v for v in returns if v is not None]
    return (nodes, values) if len(values) == len(returns) else None


def _returns_queryset(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Every ``return`` gives ``Model.objects.<refinements>``, or a name bound only to such
    chains and to refinements of itself (``qs = M.objects.filter(...)``, ``qs =
    qs.exclude(...)``, ``return qs``): a lazy queryset, no slice, no list. A function
    annotated ``-> QuerySet`` (Django's) whose returns slice nothing is one too."""
    found = _valued_returns(function)
    if found is None:
        return False
    nodes, returns = found
    if _annotated_queryset(facts, function):
        return not any(isinstance(n, ast.Subscript) for value in returns for n in ast.walk(value))
    for value in returns:
        if _queryset_chain(value):
            continue
        if not isinstance(value, ast.Name):
            return False
        if not _bound_only_to(facts, nodes, value.id, partial(_queryset_or_refinement, name=value.id)):
            return False
    return True


def _returned_querysets(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef
                        ) -> list[str] | None:
    """The source of every queryset the function's returns may give, each spelled from its
    model's manager (``Offer.objects.filter(date__gte=start).filter(clicked=True)``: a local
    name's refinements followed through the values reaching the ``return``), or None when one
    of them starts elsewhere (``self.record_set``, a model class held in a parameter, a model
    of Django's own whose size the application decides)."""
    def spelled(value: ast.expr) -> bool:
        root, steps = method_chain(value)
        model = root if steps and steps[0].name in DJANGO_MANAGERS else None
        return _queryset_chain(value) and isinstance(model, ast.Name) \
            and model.id[:1].isupper() and facts.qualname(model) not in FRAMEWORK_LOOKUP_MODELS
    return _returned_sources(facts, function, spelled)


def _returned_queries(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef
                      ) -> list[str] | None:
    """The source of every legacy SQLAlchemy query the function's returns may give
    (``Trade.query.filter(*trade_filter)``, ``session.query(Job).filter(...)``), spelled as
    :func:`_returned_querysets` spells querysets, or None."""
    return _returned_sources(facts, function, _query_chain)


def _returned_sources(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef,
                      spelled: Callable[[ast.expr], bool]) -> list[str] | None:
    """The source of each value the function's returns may give, when ``spelled`` accepts
    every one of them (a name returned is followed through the values reaching it), else
    None."""
    values: list[ast.expr] = []
    for node in walk_scope(function):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        if isinstance(node.value, ast.Name):
            reaching = reaching_values(node.value, function, facts)
            if not reaching:
                return None
            values.extend(reaching)
        else:
            values.append(node.value)
    sources: list[str] = []
    for value in values:
        if not spelled(value):
            return None
        source = ast.unparse(value)
        if source not in sources:
            sources.append(source)
    return sources if 0 < len(sources) <= _MAX_SOURCES else None


# The most querysets a helper's summary spells out (one per path through its refinements).
_MAX_SOURCES = 8


def returned_querysets(project: ProjectIndex, qualname: str | None,
                       call: ast.Call | None = None) -> list[ast.expr]:
    """The querysets a project helper returns (see :func:`_returned_querysets`), parsed
    afresh for the caller to judge, with the arguments of ``call`` in place of the
    parameters they bind; ``[]`` when its summary does not spell them."""
    return _parsed_returns(project, qualname, RETURNS_QUERYSET_KEY, call)


def returned_queries(project: ProjectIndex, qualname: str | None,
                     call: ast.Call | None = None) -> list[ast.expr]:
    """The legacy SQLAlchemy queries a project helper returns (see
    :func:`_returned_queries`), parsed afresh, bound to ``call``'s arguments, or ``[]``."""
    return _parsed_returns(project, qualname, RETURNS_QUERY_KEY, call)


def _parsed_returns(project: ProjectIndex, qualname: str | None, key: str,
                    call: ast.Call | None) -> list[ast.expr]:
    summary = project.get(qualname) if qualname is not None else None
    sources = summary.get(key) if summary is not None else None
    if not isinstance(sources, list):
        return []
    parsed: list[ast.expr] = []
    for source in sources:
        try:
            parsed.append(ast.parse(source, mode="eval").body)
        except SyntaxError:
            return []
    params = summary.get(SUMMARY_PARAMS) if summary is not None else None
    if call is not None and params:
        bound = _bound_arguments(tuple(params), call)
        if bound:
            parsed = [_substituted(value, bound) for value in parsed]
    return parsed


def _bound_arguments(params: tuple[str, ...], call: ast.Call) -> dict[str, ast.expr]:
    """The call's argument for each parameter it binds (up to a ``*args``/``**kwargs``)."""
    bound: dict[str, ast.expr] = {}
    for index, argument in enumerate(call.args):
        if isinstance(argument, ast.Starred):
            break
        param = argument_parameter(params, index, None, bound=True)
        if param is not None and param not in ("self", "cls"):
            bound[param] = argument
    for keyword in call.keywords:
        if keyword.arg is not None and keyword.arg in params:
            bound[keyword.arg] = keyword.value
    return bound


class _Binder(ast.NodeTransformer):
    def __init__(self, bound: Mapping[str, ast.expr]) -> None:
        self.bound = bound

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self.bound.get(node.id, node) if isinstance(node.ctx, ast.Load) else node


def _substituted(value: ast.expr, bound: Mapping[str, ast.expr]) -> ast.expr:
    """``value`` (parsed afresh, so free to rewrite) with each bound parameter's name replaced
    by the caller's argument (``session.query(model)`` → ``session.query(SqlRun)``)."""
    result = _Binder(bound).visit(value)
    return result if isinstance(result, ast.expr) else value


def _returns_query(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Every ``return`` gives a legacy SQLAlchemy query (``session.query(M)...``,
    ``Model.query...``), or a refinement of a name bound only to such queries and to
    refinements of itself: a query not yet run, with no bound added."""
    found = _valued_returns(function)
    if found is None:
        return False
    nodes, returns = found
    for value in returns:
        if _query_chain(value):
            continue
        base = strip_refinements(value)
        if not isinstance(base, ast.Name) or not _bound_only_to(
                facts, nodes, base.id, partial(_query_chain, name=base.id)):
            return False
    return True


_QUERYSET_TYPES = frozenset({"django.db.models.QuerySet", "django.db.models.query.QuerySet"})


def _annotated_queryset(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """``def related(self) -> QuerySet:`` / ``-> QuerySet[Report]`` (Django's class)."""
    annotation = function.returns
    if isinstance(annotation, ast.Subscript):
        annotation = annotation.value
    return annotation is not None and facts.qualname(annotation) in _QUERYSET_TYPES


def _queryset_or_refinement(node: ast.expr, name: str) -> bool:
    return _queryset_chain(node) or refines(node, name, _QUERYSET_REFINEMENTS)


def summarize_row_helpers(facts: ModuleFacts) -> Mapping[str, Mapping[str, Any]]:
    """``{qualname: {"returns-all-rows": True}}`` for the functions of one module whose every
    ``return`` gives ``<query>.all()``, ``{"returns-queryset": True}`` for those whose
    every ``return`` gives a lazy Django queryset, and ``{"returns-query": True}`` for those
    whose every ``return`` gives a legacy SQLAlchemy query."""
    lists = any(isinstance(site.node.func, ast.Attribute) and site.node.func.attr == "all"
                or isinstance(site.node.func, ast.Name) and site.node.func.id == "list"
                for site in facts.calls)
    querysets = any(isinstance(site.node.func, ast.Attribute)
                    and isinstance(site.node.func.value, ast.Attribute)
                    and (site.node.func.value.attr in DJANGO_MANAGERS
                         or site.node.func.value.attr.endswith("_set")) for site in facts.calls) \
        or any(q in _QUERYSET_TYPES for q in facts.resolver.bindings.values())
    queries = any(isinstance(site.node.func, ast.Attribute) and (
        site.node.func.attr == "query" and site.node.args  # `session.query(M)`
        or isinstance(site.node.func.value, ast.Attribute)
        and site.node.func.value.attr == "query")  # Flask-SQLAlchemy's `Trade.query.filter(...)`
        for site in facts.calls)
    if not (lists or querysets or queries):
        return {}
    found: dict[str, dict[str, Any]] = {}
    for qualname, function in module_functions(facts).items():
        if lists and _returns_all_rows(facts, function):
            found[qualname] = {RETURNS_ROWS_KEY: True}
        elif querysets and _returns_queryset(facts, function):
            found[qualname] = {RETURNS_QUERYSET_KEY: _returned_querysets(facts, function) or True}
        elif queries and _returns_query(facts, function):
            found[qualname] = {RETURNS_QUERY_KEY: _returned_queries(facts, function) or True}
        if querysets:
            refined = _refined_params(facts, function)
            if refined:
                found.setdefault(qualname, {})[REFINES_PARAMS_KEY] = refined
    return found


def returns_all_rows(project: ProjectIndex, qualname: str | None) -> bool:
    if qualname is None:
        return False
    summary = project.get(qualname)
    return bool(summary is not None and summary.get(RETURNS_ROWS_KEY))


def returns_query(project: ProjectIndex, qualname: str | None) -> bool:
    if qualname is None:
        return False
    summary = project.get(qualname)
    return bool(summary is not None and summary.get(RETURNS_QUERY_KEY))


REFINES_PARAMS_KEY = "refines-params"
# What reads none of a queryset's cached rows: a refinement (a new queryset), or a query of its
# own (`count()`, `exists()`, `aggregate()`, `update()`, `delete()`, `values()`).
_QUERY_OWN = _QUERYSET_REFINEMENTS | {"values", "values_list", "aggregate", "count", "exists",
                                      "update", "delete", "none"}


def _refined_params(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef
                    ) -> dict[str, tuple[tuple[str, int | str], ...]]:
    """The parameters of ``function`` that it only refines or queries (``p.filter(...)``,
    ``p.count()``, ``p = p.values(...)`` first), never reading the rows of what it is given,
    each with the calls it hands the parameter to (``(callee, position or keyword)``), which
    must only refine it too (checked when the summary is read)."""
    args = function.args
    params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)
              if a.arg not in ("self", "cls")]
    if not params:
        return {}
    wanted = frozenset(params)
    own: dict[str, list[ast.Name]] = {}  # the function's own uses of each parameter
    for node in walk_scope(function):
        if isinstance(node, ast.Name) and node.id in wanted:
            own.setdefault(node.id, []).append(node)
    every = {name: 0 for name in wanted}  # and its closures'
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id in wanted:
            every[node.id] += 1
    found: dict[str, tuple[tuple[str, int | str], ...]] = {}
    for param in params:
        loads = own.get(param, [])
        if not loads or len(loads) != every[param]:
            continue  # unused, or read by a closure of its own
        passes = _only_refined(facts, function, loads, param)
        if passes is not None:
            found[param] = passes
    return found


def _only_refined(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef,
                  loads: list[ast.Name], param: str) -> tuple[tuple[str, int | str], ...] | None:
    first = min(loads, key=lambda n: (n.lineno, n.col_offset))
    statement = facts.statement_of(first)
    if isinstance(statement, ast.Assign) and statement in function.body \
            and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name) \
            and statement.targets[0].id == param and refines(statement.value, param, _QUERY_OWN):
        return ()  # `p = p.filter(...)` first: every later use is of the refinement
    parents = facts.parent
    passes: list[tuple[str, int | str]] = []
    for load in loads:
        if not isinstance(load.ctx, ast.Load):
            return None  # rebound elsewhere
        parent = parents.get(id(load))
        if isinstance(parent, ast.Attribute) and parent.value is load:
            call = parents.get(id(parent))
            if parent.attr in _QUERY_OWN and isinstance(call, ast.Call) and call.func is parent:
                continue
            return None
        handed = argument_position(parents, load)
        callee = facts.call_qualname(handed[0]) if handed is not None else None
        if handed is None or callee is None:
            return None  # iterated, counted, indexed, returned, kept: its rows may be read
        passes.append((callee, handed[1]))
    return tuple(passes)


def only_refines(project: ProjectIndex, qualname: str | None, position: int | str,
                 depth: int = 0) -> bool:
    """Whether the project function ``qualname`` only refines or queries what a call passes at
    ``position`` (an index, or a keyword), through the functions it hands it to."""
    summary = project.get(qualname) if qualname is not None and depth < 4 else None
    refined = summary.get(REFINES_PARAMS_KEY) if summary is not None else None
    params = summary.get(SUMMARY_PARAMS) if summary is not None else None
    if not refined or not params:
        return False
    param = argument_parameter(params, position if isinstance(position, int) else None,
                               position if isinstance(position, str) else None, bound=True)
    passes = refined.get(param) if param is not None else None
    if passes is None:
        return False
    return all(only_refines(project, callee, where, depth + 1) for callee, where in passes)


def returns_queryset(project: ProjectIndex, qualname: str | None) -> bool:
    if qualname is None:
        return False
    summary = project.get(qualname)
    return bool(summary is not None and summary.get(RETURNS_QUERYSET_KEY))


if summarize_row_helpers not in SUMMARIZERS:
    SUMMARIZERS.append(summarize_row_helpers)
