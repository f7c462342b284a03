"""ORM reads of a whole result: SQLAlchemy queries and selects, Django querysets.

A query is a method chain (``session.query(User).filter(...).all()``); :func:`method_chain`
unwinds it into steps, and the judges here decide whether the chain bounds its rows (``limit``,
``first``, a slice, a filter on a key, an aggregate) the way :mod:`dbleak.knowledge.sql` does for
SQL text.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from dbleak.analysis.module import ModuleFacts, Scope, walk
from dbleak.analysis.origins import has_decorator, self_name
from dbleak.knowledge.frameworks import APP_MODULES
from dbleak.knowledge.sql import IDENTIFIER_COLUMNS, is_parent_key_name, is_plain_group_name

KEY_NAMES = frozenset({"id", "pk", "uuid", "guid"}) | IDENTIFIER_COLUMNS
AGGREGATES = frozenset({"count", "sum", "min", "max", "avg"})
SELECT_FUNCTIONS = frozenset({"sqlalchemy.select", "sqlalchemy.future.select",
                              "sqlalchemy.sql.select", "sqlalchemy.sql.expression.select",
                              "sqlalchemy.sql.expression.Select", "sqlmodel.select"})
# Loader options that make `yield_per` raise (joined eager loading of collections, subqueries).
YIELD_PER_CONFLICTS = frozenset({"joinedload", "subqueryload", "contains_eager",
                                 "joinedload_all", "subqueryload_all"})

SA_BOUNDING = frozenset({"limit", "first", "one", "one_or_none", "scalar", "scalar_one",
                         "scalar_one_or_none", "get", "slice", "yield_per", "count", "exists",
                         "fetchmany", "fetchone", "partitions", "stream", "stream_scalars",
                         "get_one", "paginate", "first_or_404", "get_or_404", "one_or_404",
                         "delete", "update"})
# Query methods that narrow or join but leave the number of rows unbounded.
# Methods of an executed statement's SQLAlchemy result that give the result again, reshaped
# (`result.mappings()`, `result.scalars()`).
RESULT_RESHAPES = frozenset({"scalars", "mappings", "unique", "columns"})
SA_REFINEMENTS = frozenset({"filter", "filter_by", "join", "outerjoin", "order_by", "options",
                            "group_by", "having", "distinct", "with_entities", "where",
                            "select_from", "correlate", "with_parent", "add_columns",
                            "add_entity"})
DJANGO_BOUNDING = frozenset({"get", "first", "last", "count", "exists", "aggregate", "in_bulk",
                             "iterator", "earliest", "latest", "none", "update", "delete",
                             "get_or_create", "update_or_create", "create", "bulk_create",
                             "explain", "contains", "alias_only"})
# The managers every Django model has.
DJANGO_MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
DJANGO_QUERYSET = frozenset({"all", "filter", "exclude", "order_by", "select_related",
                             "prefetch_related", "values", "values_list", "only", "defer",
                             "annotate", "distinct", "using", "reverse", "extra", "alias",
                             "select_for_update", "raw", "union", "dates", "datetimes"})


def strip_refinements(node: ast.expr) -> ast.expr:
    """What ``node`` refines: the receiver under its `SA_REFINEMENTS` calls
    (``q.filter(...).order_by(...)`` → ``q``)."""
    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
           and node.func.attr in SA_REFINEMENTS):
        node = node.func.value
    return node


@dataclass(frozen=True)
class Step:
    """One link of a method chain: ``.name(args)`` (``call``), ``.name`` or ``[...]``."""

    name: str  # "[]" for a subscript
    node: ast.AST
    call: ast.Call | None


def method_chain(expr: ast.AST) -> tuple[ast.AST, list[Step]]:
    """The chain's root expression and its steps, innermost first."""
    steps: list[Step] = []
    node = expr
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            steps.append(Step(node.func.attr, node, node))
            node = node.func.value
        elif isinstance(node, ast.Attribute):
            steps.append(Step(node.attr, node, None))
            node = node.value
        elif isinstance(node, ast.Subscript):
            steps.append(Step("[]", node, None))
            node = node.value
        else:
            break
    steps.reverse()
    return node, steps


def replace_root(expr: ast.AST, root: ast.AST, value: ast.AST) -> ast.AST:
    """A copy of the chain ``expr`` (see :func:`method_chain`) that starts from ``value``
    where it starts from ``root``; the chain's own nodes keep their positions."""
    if expr is root:
        return value
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        func = copy.copy(expr.func)
        func.value = replace_root(expr.func.value, root, value)  # type: ignore[assignment]
        call = copy.copy(expr)
        call.func = func
        return call
    if isinstance(expr, (ast.Attribute, ast.Subscript)):
        link = copy.copy(expr)
        link.value = replace_root(expr.value, root, value)  # type: ignore[assignment]
        return link
    return expr


def _key_names(extra: Iterable[str]) -> frozenset[str]:
    return KEY_NAMES | frozenset(c.lower() for c in extra)


def _is_key_column(node: ast.AST, keys: frozenset[str], model_keys: frozenset[str]) -> bool:
    """``User.id``, ``SqlRun.run_id``, or ``User.email`` declared ``unique=True``."""
    return isinstance(node, ast.Attribute) and (
        node.attr.lower() in keys or _is_own_key(node)
        or f"{_owner_name(node)}.{node.attr}" in model_keys)


def unwrap_column(node: ast.AST) -> ast.AST:
    """``col(Model.field)`` (SQLModel's typing wrapper) is ``Model.field``; so is
    ``func.lower(Model.field)`` (a key compared up to case: one row, or the few that differ
    only in case)."""
    while isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords and (
            call_name(node) == "col"
            or call_name(node) in ("lower", "upper") and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "func"):
        node = node.args[0]
    return node


def _is_key_compare(node: ast.AST, keys: frozenset[str],
                    model_keys: frozenset[str] = frozenset()) -> bool:
    """``User.id == x``, ``User.id.in_([...])``, ``and_(...)`` holding one.

    The key must be on the column side: ``Order.note == customer.id`` names a key only on the
    value side, and ``Order.customer_id == Customer.id`` (both columns) is a join condition,
    not one row. When neither side reads as a mapped class's column (``u.id == x`` of an
    alias), either side may be the key."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
        left, right = unwrap_column(node.left), unwrap_column(node.comparators[0])
        sides = [side for side in (left, right) if _is_class_column(side)]
        if len(sides) == 2:
            return False
        for side in sides or [left, right]:
            if _is_key_column(side, keys, model_keys):
                return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "in_" and node.args and not _is_subquery(node.args[0]):
        target = node.func.value
        columns = target.args if isinstance(target, ast.Call) and call_name(target) == "tuple_" \
            else [target]
        if any(_is_key_column(unwrap_column(c), keys, model_keys) for c in columns):
            return True  # at most one row per listed key
    disjuncts = _disjuncts(node)
    if disjuncts:  # `or_(*(and_(M.a == x, M.b.in_(ys)) for x, ys in batch))`: one key each
        return all(_is_key_compare(part, keys, model_keys) or _covers_key(part, model_keys)
                   for part in disjuncts)
    parts = list(_conjuncts(node))
    return len(parts) > 1 and any(_is_key_compare(part, keys, model_keys) for part in parts)


def _disjuncts(node: ast.AST) -> list[ast.AST] | None:
    """The alternatives of ``a | b`` spelled ``or_(a, b)``, ``or_(*(a for ...))`` (the
    generator's element stands for each) or ``a or b``; None for anything else."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return list(node.values)
    if not (isinstance(node, ast.Call) and call_name(node) == "or_" and node.args
            and not node.keywords):
        return None
    found: list[ast.AST] = []
    for argument in node.args:
        if isinstance(argument, ast.Starred):
            if not isinstance(argument.value, (ast.GeneratorExp, ast.ListComp)):
                return None
            found.append(argument.value.elt)
        else:
            found.append(argument)
    return found


def _covers_key(node: ast.AST, model_keys: frozenset[str]) -> bool:
    """Every column of one of the model's unique keys compared to a value (or a list held in
    memory) by the conjuncts of ``node``."""
    if not model_keys:
        return False
    covered: dict[str, dict[str, bool]] = {}
    for column, _one in _column_values(node):
        covered.setdefault(_owner_name(column), {})[column.attr] = True
    return bool(covered) and _composite_key_bound(covered, model_keys)[0] is not None


def _owner_name(node: ast.Attribute) -> str:
    """``Order`` for ``models.Order.user_id``, ``cls`` for ``cls.user_id``."""
    owner = node.value
    if isinstance(owner, ast.Name):
        return owner.id
    if isinstance(owner, ast.Attribute):
        return owner.attr
    return ""


def call_name(node: ast.AST) -> str:
    """``Count`` for ``Count(...)`` and ``models.Count(...)``; empty for anything else."""
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id
        if isinstance(node.func, ast.Attribute):
            return node.func.attr
    return ""


def _is_model_column(node: ast.AST) -> bool:
    """``Order.user_id``, ``model.Order.user``, ``cls.user_id``, ``self.user_model.roles``:
    a column of a mapped class (its owner is a class name, ``cls``, or a ``*_model`` attribute)."""
    if not isinstance(node, ast.Attribute):
        return False
    if isinstance(node.value, ast.Attribute) and node.value.attr == "c":
        return True  # `tag_table.c.tag_id`: a column of a Core `Table`
    owner = _owner_name(node)
    return owner[:1].isupper() or owner == "cls" or owner.lower().endswith("model")


def _is_class_column(node: ast.AST) -> bool:
    """A column read from a class (``Order.id``, ``cls.id``, ``tag_table.c.id``), not from an
    attribute that may hold an instance (``self._model.id`` is a value)."""
    if not isinstance(node, ast.Attribute):
        return False
    if isinstance(node.value, ast.Attribute) and node.value.attr == "c":
        return True
    owner = _owner_name(node)
    return owner[:1].isupper() or owner == "cls"


_MODEL_AFFIXES = ("sql", "db", "orm", "model", "table", "record", "row", "entity")


def _is_own_key(column: ast.Attribute) -> bool:
    """``SqlExperiment.experiment_id``, ``StudyModel.study_id``: the ``<entity>_id`` of the
    entity the class maps (its primary key by naming convention), not a foreign key."""
    attr = column.attr.lower()
    for suffix in ("_id", "_uuid", "_pk"):
        if attr.endswith(suffix):
            entity = attr[: -len(suffix)].replace("_", "")
            break
    else:
        return False
    owner = _owner_name(column).lower()
    for affix in _MODEL_AFFIXES:
        owner = owner.removeprefix(affix).removesuffix(affix)
    return bool(entity) and owner in (entity, f"{entity}s")


def is_parent_value(node: ast.AST) -> bool:
    """A value naming one row: not a constant the code writes, not a column, not a collection."""
    if isinstance(node, (ast.Constant, ast.List, ast.Tuple, ast.Set, ast.ListComp,
                         ast.SetComp, ast.GeneratorExp, ast.Dict, ast.JoinedStr)):
        return False
    if isinstance(node, ast.UnaryOp):
        return is_parent_value(node.operand)
    return not _is_class_column(node) and not _is_subquery(node)


def is_parent_field(name: str, relations: frozenset[str]) -> bool:
    return name in relations or is_parent_key_name(name)


def _parent_compare(node: ast.AST, relations: frozenset[str]) -> str | None:
    """``Trial.study_id == study_id``, ``Trial.study == study``, ``with_parent(study, ...)``:
    the rows of one parent row. Returns the field it goes through."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
        left, right = unwrap_column(node.left), unwrap_column(node.comparators[0])
        for side, other in ((left, right), (right, left)):
            if _is_model_column(side) and isinstance(side, ast.Attribute) \
                    and is_parent_field(side.attr, relations) and is_parent_value(other):
                return side.attr
    if isinstance(node, ast.Call):
        name = call_name(node)
        if name == "with_parent" and node.args and is_parent_value(node.args[0]):
            return "with_parent"
        if name in ("any", "has") and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Attribute) \
                and _is_model_column(node.func.value) and (
                    any(one for a in node.args for _, one in _column_values(a))
                    or any(_parent_compare(a, relations) for a in node.args)
                    or any(k.arg and is_parent_field(k.arg, relations)
                           and is_parent_value(k.value) for k in node.keywords)):
            # `Book.authors.any(Author.name == name)`, `Link.contribution.has(event=event)`
            return node.func.value.attr
        column = unwrap_column(node.func.value) if isinstance(node.func, ast.Attribute) else None
        if name == "in_" and isinstance(column, ast.Attribute) and _is_model_column(column) \
                and is_parent_field(column.attr, relations) and node.args \
                and not _is_subquery(node.args[0]):
            return column.attr  # the children of a batch of parents the caller holds
    parts = list(_conjuncts(node))
    if len(parts) > 1:
        return next((found for part in parts if (found := _parent_compare(part, relations))), None)
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return _all_parents([_parent_compare(v, relations) for v in node.values])
    if isinstance(node, ast.Call) and call_name(node) == "or_":
        return _all_parents([_parent_compare(a, relations) for a in node.args])
    return None


def _all_parents(found: list[str | None]) -> str | None:
    """``A.x_id == p or A.y_id == p``: rows of one parent either way (every branch is)."""
    if found and all(found):
        return found[0]
    return None


@lru_cache(maxsize=64)
def unique_sets(model_keys: frozenset[str]) -> Mapping[str, tuple[frozenset[str], ...]]:
    """Per class name, its keys of several columns: the ``Class.a&b`` entries of
    ``analysis.model_relations.key_fields``. Equality on all of a key's columns reads at most
    one row; on all but one of them, the rows sharing those values, one per value of the last
    (the rows of one parent, as ``UniqueConstraint("study_id", "number")`` says of a study's
    trials)."""
    found: dict[str, list[frozenset[str]]] = {}
    for entry in model_keys:
        owner, _, columns = entry.rpartition(".")
        if "&" in columns and owner:
            found.setdefault(owner.rsplit(".", 1)[-1], []).append(frozenset(columns.split("&")))
    return {owner: tuple(sets) for owner, sets in found.items()}


def _conjuncts(node: ast.AST) -> Iterator[ast.AST]:
    """The parts of ``a & b``: ``and_(...)`` arguments and ``... and ...`` values."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        for value in node.values:
            yield from _conjuncts(value)
    elif isinstance(node, ast.Call) and call_name(node) == "and_":
        for arg in node.args:
            yield from _conjuncts(arg)
    else:
        yield node


def _column_values(node: ast.AST) -> Iterator[tuple[ast.Attribute, bool]]:
    """``(column, names one parent)`` for each ``Model.col == value`` and
    ``Model.col.in_(<values held in memory>)`` conjunct of a filter."""
    for part in _conjuncts(node):
        if isinstance(part, ast.Compare) and len(part.ops) == 1 and isinstance(part.ops[0], ast.Eq):
            left, right = unwrap_column(part.left), unwrap_column(part.comparators[0])
            for side, other in ((left, right), (right, left)):
                if isinstance(side, ast.Attribute) and _is_model_column(side) \
                        and not _is_model_column(other) and not _is_subquery(other):
                    yield side, is_parent_value(other)
                    break
        elif isinstance(part, ast.Call) and call_name(part) == "in_" \
                and isinstance(part.func, ast.Attribute) and part.args \
                and not _is_subquery(part.args[0]):
            target = part.func.value
            if isinstance(target, ast.Attribute) and _is_model_column(target):
                yield target, True
            elif isinstance(target, ast.Call) and call_name(target) == "tuple_" \
                    and not target.keywords and target.args and all(
                        isinstance(a, ast.Attribute) and _is_model_column(a)
                        for a in target.args):
                # `tuple_(M.a, M.b).in_(pairs)`: a list of (a, b) values held in memory
                for column in target.args:
                    assert isinstance(column, ast.Attribute)
                    yield column, True


def _composite_key_bound(covered: Mapping[str, Mapping[str, bool]],
                         model_keys: frozenset[str]) -> tuple[str | None, str | None]:
    """(the unique key all of whose columns are compared, the column of a key compared to a
    parent value when none is covered whole) over ``{owner: {column: names one parent}}``.

    A key with all but one column compared reads at most one row per value of the last one:
    the fan-out of one parent. With more columns left open it is a class of rows
    (``prefix_length = 31`` of a key ``(namespace, network, prefix_length)``)."""
    sets = unique_sets(model_keys)
    partial: str | None = None
    for owner, columns in covered.items():
        for key in sets.get(owner, ()):
            if key <= columns.keys():
                return ", ".join(sorted(key)), None
            shared = sorted(c for c in key & columns.keys() if columns[c])
            if shared and partial is None and len(key - columns.keys()) == 1:
                partial = f"{shared[0]}` (part of the unique key ({', '.join(sorted(key))}))"
    return None, partial


def _repeats_only(node: ast.AST) -> bool:
    """``func.count(X.id) > 1`` / ``>= 2``: the groups that occur more than once."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1
            and isinstance(node.ops[0], (ast.Gt, ast.GtE))):
        return False
    count, least = node.left, node.comparators[0]
    if not (isinstance(count, ast.Call) and call_name(count) == "count"
            and isinstance(least, ast.Constant) and type(least.value) is int):
        return False
    return least.value + (1 if isinstance(node.ops[0], ast.Gt) else 0) >= 2


def _repeating_count(keyword: ast.keyword, counts: set[str]) -> bool:
    """``filter(n__gt=1)`` / ``n__gte=2`` on an ``annotate(n=Count(...))`` alias: the groups
    that occur more than once. ``n__gt=0`` / ``n__gte=1`` keeps every group; a threshold
    chosen at run time is read as a repeat check."""
    arg = (keyword.arg or "").lower()
    alias, _, lookup = arg.rpartition("__")
    if alias not in counts or lookup not in ("gt", "gte"):
        return False
    least = keyword.value
    if isinstance(least, ast.Constant) and type(least.value) is int:
        return least.value + (1 if lookup == "gt" else 0) >= 2
    return True


def _self_overlap(node: ast.AST) -> bool:
    """``M.name.in_(session.query(M.name).filter(...))``: the rows whose value also occurs in
    other rows of the same table, a duplicate or conflict check, expected to find few."""
    if not (isinstance(node, ast.Call) and call_name(node) == "in_" and node.args
            and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Attribute)):
        return False
    column = node.func.value
    for sub in walk(node.args[0]):
        if isinstance(sub, ast.Call) and call_name(sub) in ("query", "select") and sub.args:
            return ast.dump(sub.args[0]) == ast.dump(column)  # the same column of the same model
    return False


def _is_subquery(node: ast.AST) -> bool:
    """``select(...)``/``query(...)`` chains, whose size is another query's."""
    for sub in walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in ("select", "query", "subquery", "scalar_subquery"):
                return True
    return False


def _is_catalog(node: ast.AST) -> bool:
    """``pg_catalog.pg_namespace.c.nspname``, ``information_schema.tables`` …"""
    for sub in walk(node):
        name = sub.id if isinstance(sub, ast.Name) else getattr(sub, "attr", None)
        if isinstance(name, str) and (name in ("pg_catalog", "information_schema",
                                               "sqlite_master", "sqlite_schema")):
            return True
    return False


def _is_aggregate(node: ast.AST) -> bool:
    """``func.count(...)`` / ``func.sum(...)`` (optionally ``.label(...)``)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "label":
            return _is_aggregate(node.func.value)
        return node.func.attr.lower() in AGGREGATES and isinstance(node.func.value, ast.Name) \
            and node.func.value.id == "func"
    return False


# Django's built-in field lookups and date/time transforms: the part after `__` that does
# not name another table (`created__gte`, `name__icontains`, `when__date`).
DJANGO_LOOKUPS = frozenset({
    "exact", "iexact", "contains", "icontains", "in", "gt", "gte", "lt", "lte", "startswith",
    "istartswith", "endswith", "iendswith", "range", "date", "year", "iso_year", "month", "day",
    "week", "week_day", "iso_week_day", "quarter", "time", "hour", "minute", "second", "isnull",
    "regex", "iregex", "search", "unaccent", "trigram_similar", "len", "has_key", "has_keys",
    "has_any_keys", "contained_by", "overlap", "lower", "upper", "abs"})
_PATH_STEPS = frozenset({"filter", "exclude", "get", "order_by", "values", "values_list",
                         "distinct", "only", "defer"})


def names_a_relation(steps: list[Step]) -> bool:
    """Whether the chain follows a relation of its model: `select_related("page")`, or a
    lookup path through another table (`filter(page__published=True)`,
    `order_by("-page__title")`): the model is then no table that references nothing."""
    for step in steps:
        call = step.call
        if call is None:
            continue
        if step.name in ("select_related", "prefetch_related") and call.args:
            return True
        if step.name not in _PATH_STEPS:
            continue
        paths = [k.arg for k in call.keywords if k.arg]
        paths += [a.value.lstrip("-") for a in call.args
                  if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        for path in paths:
            parts = path.split("__")
            if len(parts) > 1 and parts[1] not in DJANGO_LOOKUPS:
                return True
    return False


@dataclass(frozen=True)
class OrmBound:
    bounded: bool
    reason: str
    streaming: bool = False  # already reads in batches (yield_per, stream_results, iterator)
    # Unbounded, but filtered to the children of one row through this field (see
    # knowledge.sql.Bound.parent): reported only with `[tool.dbleak.sql] per-parent = "report"`.
    parent: str | None = None
    # Unbounded, but an aggregate grouped by plain columns (see knowledge.sql.Bound.grouped):
    # reported only with `[tool.dbleak.sql] grouped = "report"`.
    grouped: str | None = None


def _plain_column(node: ast.AST, keys: frozenset[str], relations: frozenset[str],
                  model_keys: frozenset[str]) -> str | None:
    """``Model.status``: a column that is no key and no relation (see
    ``knowledge.sql.is_plain_group_name``); its name, else None."""
    node = unwrap_column(node)
    if not (isinstance(node, ast.Attribute) and _is_model_column(node)):
        return None
    name = node.attr
    if not is_plain_group_name(name, keys) or name in relations or _is_own_key(node) \
            or f"{_owner_name(node)}.{name}" in model_keys:
        return None
    return name


def _sqlalchemy_groups(steps: list[Step], keys: frozenset[str], relations: frozenset[str],
                       model_keys: frozenset[str]) -> str | None:
    """The columns of ``query(M.status, func.count(M.id)).group_by(M.status)`` when every
    selected expression is an aggregate or a grouping column, and each grouping column is
    plain."""
    groups: list[ast.AST] = [a for s in steps if s.name == "group_by" and s.call is not None
                             for a in s.call.args]
    selected: list[ast.AST] = [a for s in steps if s.call is not None
                               and (s.name in ("query", "select", "add_columns") or s.name == "")
                               for a in s.call.args]
    if not groups or not selected:
        return None
    names = [_plain_column(g, keys, relations, model_keys) for g in groups]
    if not all(names):
        return None
    shown = {ast.dump(unwrap_column(g)) for g in groups}
    saw_aggregate = False
    for expression in selected:
        if _is_aggregate(expression):
            saw_aggregate = True
            continue
        inner = expression.func.value if isinstance(expression, ast.Call) \
            and isinstance(expression.func, ast.Attribute) and expression.func.attr == "label" \
            else expression
        if ast.dump(unwrap_column(inner)) not in shown:
            return None
    return ", ".join(n for n in names if n) if saw_aggregate else None


def streams(step: Step) -> bool:
    """A step that makes the rows come in batches: `yield_per()`, `stream()`, `partitions()`,
    or streaming execution options."""
    if step.name in ("yield_per", "stream", "stream_scalars", "partitions"):
        return True
    return step.name == "execution_options" and step.call is not None and any(
        k.arg in ("yield_per", "stream_results", "max_row_buffer") for k in step.call.keywords)


def sqlalchemy_chain_bound(steps: list[Step], bounded_columns: Iterable[str],
                           small_tables: Iterable[str],
                           relations: frozenset[str] = frozenset(),
                           model_keys: frozenset[str] = frozenset()) -> OrmBound:
    keys = _key_names(bounded_columns)
    entity = _first_entity(steps)
    small = {t.lower() for t in small_tables}
    grouped = any(s.name == "group_by" for s in steps)
    parent: str | None = None
    covered: dict[str, dict[str, bool]] = {}  # owner -> column -> compared to a parent value
    for step in steps:
        if step.name == "[]":
            return OrmBound(True, "a slice")
        if streams(step):
            return OrmBound(True, f"`{step.name}`", streaming=True)
        if step.name in SA_BOUNDING:
            return OrmBound(True, f"`.{step.name}()`")
        if step.name == "from_statement":
            return OrmBound(True, "a textual statement (not judged)")
        if step.call is None:
            continue
        if step.name == "filter_by" and any(
                k.arg and (k.arg.lower() in keys or f"{entity}.{k.arg}" in model_keys)
                for k in step.call.keywords):
            return OrmBound(True, "a filter on a key column")
        if step.name in ("filter", "where") and any(_is_key_compare(a, keys, model_keys)
                                                    for a in step.call.args):
            return OrmBound(True, "a filter on a key column")
        if step.name == "having" and grouped and any(_repeats_only(p) for a in step.call.args
                                                     for p in _conjuncts(a)):
            return OrmBound(True, "only the groups that repeat (`having(count > 1)`): "
                            "duplicates or conflicts, expected to be few")
        if step.name in ("filter", "where") and any(_self_overlap(p) for a in step.call.args
                                                    for p in _conjuncts(a)):
            return OrmBound(True, "only the rows whose value also occurs in other rows of the "
                            "same table: duplicates or conflicts, expected to be few")
        if step.name in ("filter", "where"):
            for argument in step.call.args:
                for column, one in _column_values(argument):
                    columns = covered.setdefault(_owner_name(column), {})
                    columns[column.attr] = columns.get(column.attr, False) or one
        elif step.name == "filter_by" and entity:
            columns = covered.setdefault(entity, {})
            for keyword in step.call.keywords:
                if keyword.arg:
                    columns[keyword.arg] = columns.get(keyword.arg, False) \
                        or is_parent_value(keyword.value)
        if parent is None and step.name == "filter_by":
            parent = next((k.arg for k in step.call.keywords
                           if k.arg and is_parent_field(k.arg, relations)
                           and is_parent_value(k.value)), None)
        if parent is None and step.name in ("filter", "where", "with_parent"):
            if step.name == "with_parent":
                parent = "with_parent"
            else:
                parent = next((found for a in step.call.args
                               if (found := _parent_compare(a, relations))), None)
        if step.name in ("query", "select") or step.name == "":
            if step.call.args and not grouped and all(_is_aggregate(a) for a in step.call.args):
                return OrmBound(True, "an aggregate without GROUP BY")
            if any(_is_catalog(a) for a in step.call.args):
                return OrmBound(True, "a catalog table")
            entities = [a.id if isinstance(a, ast.Name) else getattr(a, "attr", "")
                        for a in step.call.args]
            if entities and all(e.lower() in small or f"{e.lower()}s" in small
                                for e in entities if e):
                return OrmBound(True, "a table listed in small-tables")
    whole, partial = _composite_key_bound(covered, model_keys)
    if whole is not None:
        return OrmBound(True, f"a filter on the unique key ({whole})")
    parent = parent or partial
    if parent is not None:
        return OrmBound(False, f"no limit/first/one/get/slice: all the rows of one `{parent}`",
                        parent=parent)
    grouped_by = _sqlalchemy_groups(steps, keys, relations, model_keys) if grouped else None
    if grouped_by is not None:
        return OrmBound(False, f"one row per distinct `{grouped_by}`", grouped=grouped_by)
    return OrmBound(False, "no limit/first/one/get/slice and no filter on a key")


def _first_entity(steps: list[Step]) -> str:
    """``User`` for ``query(User)`` / ``select(User)``: the entity ``filter_by`` filters."""
    for step in steps:
        if step.name in ("query", "select") and step.call is not None and step.call.args:
            first = step.call.args[0]
            if isinstance(first, ast.Name):
                return first.id
            if isinstance(first, ast.Attribute):
                return first.attr
            return ""
    return ""


def select_steps(expr: ast.AST, facts: ModuleFacts, assignments: dict[str, list[ast.AST]],
                 depth: int = 0) -> list[Step] | None:
    """The steps of a ``select(...)...`` construct (a name assigned once to one included)."""
    if depth > 4:
        return None
    if isinstance(expr, ast.Name):
        values = assignments.get(expr.id, [])
        if len(values) == 1 and isinstance(values[0], ast.expr) and not (
                isinstance(values[0], ast.Name) and isinstance(values[0].ctx, ast.Store)):
            return select_steps(values[0], facts, assignments, depth + 1)
        return None
    root, steps = method_chain(expr)
    if isinstance(root, ast.Call) and facts.call_qualname(root) in SELECT_FUNCTIONS:
        return [Step("select", root, root), *steps]
    return None


def is_session_like(expr: ast.AST) -> bool:
    """``session``, ``self.session``, ``db.session``, ``Session()`` — names that say so."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    name = expr.id if isinstance(expr, ast.Name) else getattr(expr, "attr", "")
    return "session" in name.lower()


def yield_per_conflicts(nodes: Iterable[ast.AST]) -> bool:
    for node in nodes:
        for sub in walk(node):
            if isinstance(sub, ast.Call):
                func = sub.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in YIELD_PER_CONFLICTS or name == "unique":
                    return True
    return False


# --- Django ---------------------------------------------------------------------------------


def django_queryset_steps(expr: ast.AST, model_names: frozenset[str] = frozenset(),
                          managers: frozenset[str] = frozenset(),
                          custom: Mapping[str, str] | None = None,
                          ) -> tuple[str, list[Step]] | None:
    """``(Model, steps)`` for ``Model.objects.<queryset methods>``, else None.

    The model is any value that names a model class: a capitalised name, ``models.Tag``, the
    frozen ``orm.Tag`` / ``orm["app.Tag"]`` of a South migration, or one of ``model_names``
    (local names known to hold a model class, see :func:`model_value_names`). ``managers``
    are further manager names of the project's models; ``custom`` reads the project's own
    queryset methods (``"filter"``: a refinement like any; ``"bounded"``: not judged)."""
    owner, steps = manager_steps(expr, managers)
    model = model_root_name(owner, model_names) if owner is not None else None
    if model is None:
        return None
    rest = steps[1:]
    if not queryset_steps_known(rest, custom):
        return None  # a custom manager method or something else: unknown
    if not rest or rest[-1].name != "[]" and rest[-1].call is None:
        return None
    return model, rest


def queryset_steps_known(steps: list[Step], custom: Mapping[str, str] | None = None) -> bool:
    """Whether every step is a slice, a queryset method of Django's, or one of the project's
    own refinements taking no argument (``custom``: see ``django_queryset_steps``)."""
    for step in steps:
        if step.name == "[]" or step.name in DJANGO_QUERYSET or step.name in DJANGO_BOUNDING:
            continue
        if custom is None or custom.get(step.name) != "filter" or step.call is None \
                or step.call.args or step.call.keywords:
            return False
    return True


def manager_steps(expr: ast.AST, managers: frozenset[str] = frozenset(),
                   ) -> tuple[ast.AST | None, list[Step]]:
    """The expression a ``.objects`` manager is read from, and the steps from the manager on."""
    root, steps = method_chain(expr)
    manager = next((i for i, s in enumerate(steps) if is_manager_name(s.name, managers)), None)
    if manager is None or steps[manager].call is not None:
        return None, []
    owner = steps[manager - 1].node if manager else root
    name = steps[manager].name
    if name not in DJANGO_MANAGERS and name not in managers and model_root_name(owner) is None:
        # `self.restricted_objects.values()`: a name that only ends like a library's extra
        # manager is one on a model (`Document.global_objects`), not on any object
        return None, []
    before = steps[:manager]
    if any(s.call is not None for s in before) \
            and not (model_factory_name(before[-1].node) is not None
                     and all(s.call is None for s in before[:-1])):
        return None, []  # `self.get_queryset().objects`: no model; `get_user_model().objects` is
    return owner, steps[manager:]


def is_manager_name(name: str, managers: frozenset[str] = frozenset()) -> bool:
    """Django's managers, the project's own (``managers``), and the names ending in
    ``_objects`` that manager libraries give their extra managers on a model (soft-delete
    packages' ``global_objects``/``all_objects``, django-model-utils' ``available_objects``)."""
    return name in DJANGO_MANAGERS or name in managers or (
        name.endswith("_objects") and not name.startswith("_"))


def model_factory_name(node: ast.AST) -> str | None:
    """The model a call of a model-returning function gives: ``User`` for Django's
    ``get_user_model()``, ``Tag`` for ``apps.get_model("app", "Tag")`` / ``("app.Tag")``, and
    ``Image`` for the ``get_<name>_model()`` functions of swappable models (Wagtail's
    ``get_image_model()``, ``get_rendition_model()``, ``get_document_model()``)."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name == "get_user_model":
        return "User"
    if name == "get_model":
        texts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        model = texts[0].rpartition(".")[2] if len(texts) == 1 else texts[1] if len(texts) == 2 else ""
        return model if model.isidentifier() and model[:1].isupper() else None
    match = _MODEL_FACTORY.fullmatch(name)
    if match is None or node.args or node.keywords:
        return None
    return "".join(part.capitalize() for part in match.group(1).split("_"))


_MODEL_FACTORY = re.compile(r"get_([a-z][a-z0-9_]*?)_model")


def queryset_owner(expr: ast.AST, managers: frozenset[str] = frozenset()) -> ast.AST | None:
    """``Tag`` in ``Tag.objects.filter(...)``, ``orm["app.Tag"]`` in ``orm["app.Tag"].objects``."""
    return manager_steps(expr, managers)[0]


def model_root_name(root: ast.AST, model_names: frozenset[str] = frozenset()) -> str | None:
    """The model class name a manager's owner spells, when it spells one."""
    if isinstance(root, ast.Call):
        return model_factory_name(root)
    if isinstance(root, ast.Name):
        return root.id if root.id[:1].isupper() or root.id in model_names else None
    if isinstance(root, ast.Attribute) and root.attr[:1].isupper():
        inner = root.value
        while isinstance(inner, ast.Attribute):
            inner = inner.value
        return root.attr if isinstance(inner, ast.Name) else None
    if isinstance(root, ast.Subscript) and isinstance(root.value, ast.Name) \
            and isinstance(root.slice, ast.Constant) and isinstance(root.slice.value, str):
        name = root.slice.value.rsplit(".", 1)[-1]  # orm["app.Tag"]
        return name if name.isidentifier() and name[:1].isupper() else None
    return None


def model_value_names(scope: ast.AST, assignments: dict[str, list[ast.AST]]) -> frozenset[str]:
    """Local names that hold a model class whatever their spelling: bound once to
    ``apps.get_model(...)``, the target of a loop over ``apps.get_models()``, a parameter
    annotated ``type[...]`` / ``Type[...]``, or the ``cls`` of a class method."""
    found: set[str] = set()
    for name in assignments:
        if _get_model(ast.Name(id=name, ctx=ast.Load()), assignments) is not None:
            found.add(name)
    for node in walk(scope):
        if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) and isinstance(node.target, ast.Name) \
                and isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Attribute) \
                and node.iter.func.attr == "get_models":
            found.add(node.target.id)
    args = getattr(scope, "args", None)
    first = self_name(scope)
    if first is not None and has_decorator(scope, {"classmethod"}):
        found.add(first)  # `cls.objects.filter(...)` in a model's class method
    if args is not None:
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            annotation = arg.annotation
            if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, (ast.Name, ast.Attribute)) \
                    and (getattr(annotation.value, "id", None) or getattr(annotation.value, "attr", "")) in ("type", "Type"):
                found.add(arg.arg)
    return frozenset(found)


def _get_model(root: ast.AST, assignments: dict[str, list[ast.AST]]) -> tuple[str, str] | None:
    """``(app label, model name)`` of a name bound once to ``apps.get_model("auth", "Group")``
    or ``apps.get_model("auth.Group")``."""
    if not isinstance(root, ast.Name):
        return None
    value = single_binding(assignments, root.id)
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == "get_model"):
        return None
    texts = [a.value for a in value.args if isinstance(a, ast.Constant)
             and isinstance(a.value, str)]
    if len(texts) == 1:
        label, _, name = texts[0].partition(".")
    elif len(texts) == 2:
        label, name = texts
    else:
        return None
    return (label, name) if label and name else None


def model_qualname(root: ast.AST, facts: ModuleFacts,
                   assignments: dict[str, list[ast.AST]]) -> str | None:
    """``django.contrib.auth.models.Group`` for ``Group`` imported, or bound once to
    ``apps.get_model("auth", "Group")`` / ``apps.get_model("auth.Group")``."""
    found = _get_model(root, assignments)
    if found is not None:
        module = APP_MODULES.get(found[0].lower())
        return f"{module}.{found[1]}" if module else None
    return facts.qualname(root)


def model_class_name(root: ast.AST, assignments: dict[str, list[ast.AST]],
                     name: str) -> str:
    """The model class a queryset's root names: ``Tag`` for ``Tags = apps.get_model("app",
    "Tag")`` (a migration's local spelling), else the root's own name."""
    found = _get_model(root, assignments)
    return found[1] if found is not None else name


def django_chain_bound(steps: list[Step], bounded_columns: Iterable[str],
                       small_tables: Iterable[str], model: str,
                       relations: frozenset[str] = frozenset(),
                       model_keys: frozenset[str] = frozenset(),
                       own: frozenset[str] | None = None) -> OrmBound:
    """How ``steps`` of a queryset of ``model`` bound its rows. ``relations``: every relation
    field name of the project; ``own``: the model's own relation fields when they are known
    (a filter on one of its plain fields is then no parent, whatever other models call a
    relation), else None."""
    keys = _key_names(bounded_columns)
    parent: str | None = None
    if model.lower() in {t.lower() for t in small_tables}:
        return OrmBound(True, f"`{model}` is listed in small-tables")
    counts: set[str] = set()  # aliases of `annotate(n=Count(...))`
    covered: dict[str, bool] = {}  # field -> compared to a parent value
    for step in steps:
        if step.name == "annotate" and step.call is not None:
            counts.update(k.arg.lower() for k in step.call.keywords
                          if k.arg and isinstance(k.value, ast.Call)
                          and call_name(k.value) == "Count")
            counts.update(f"{a.args[0].value.lower()}__count" for a in step.call.args
                          if isinstance(a, ast.Call) and call_name(a) == "Count" and a.args
                          and isinstance(a.args[0], ast.Constant)
                          and isinstance(a.args[0].value, str))  # Django's default alias
        if step.name == "filter" and step.call is not None and any(
                _repeating_count(k, counts) for k in step.call.keywords):
            return OrmBound(True, "only the groups that repeat (a count filter after "
                            "`annotate`): duplicates, expected to be few")
        if step.name == "[]":
            return OrmBound(True, "a slice")
        if step.name == "iterator":
            return OrmBound(True, "`.iterator()`", streaming=True)
        if step.name in DJANGO_BOUNDING:
            return OrmBound(True, f"`.{step.name}()`")
        if step.name == "raw":
            return OrmBound(True, "a raw query (not judged)")
        if step.name == "filter" and step.call is not None and any(
                k.arg is None and not _constant_keys(k.value) for k in step.call.keywords):
            return OrmBound(True, "a filter whose fields are chosen at run time (not judged)")
        # (`exclude(**{field: ""})` with fields chosen at run time still reads every other
        # row: an exclusion never narrows a read to one row or one parent)
        if step.name == "filter" and step.call is not None:
            for keyword in _keywords(step.call):
                field = (keyword.arg or "").lower()
                declared = f"{model}.{(keyword.arg or '').removesuffix('__exact')}"
                if field in keys or field.endswith("__pk") or field.removesuffix("__exact") in keys \
                        or declared in model_keys:
                    return OrmBound(True, "a filter on a key")
                if field.endswith("__in") and _is_key_list(keyword.value) and (
                        field.removesuffix("__in") in keys
                        or f"{model}.{(keyword.arg or '').removesuffix('__in')}" in model_keys):
                    return OrmBound(True, "a filter on a list of keys")
                if parent is None:
                    parent = _django_parent(field, keyword.value, relations, own)
                name = (keyword.arg or "").removesuffix("__exact")
                if name.endswith("__in") and _is_key_list(keyword.value):
                    covered[name.removesuffix("__in")] = True
                elif name and "__" not in name:
                    covered[name] = is_parent_value(keyword.value)
            for argument in step.call.args:
                if parent is None:
                    parent = _q_parent(argument, relations, own)
    whole, partial = _composite_key_bound({model: _django_columns(covered)}, model_keys)
    if whole is not None:
        return OrmBound(True, f"a filter on the unique key ({whole})")
    parent = parent or partial
    if parent is not None:
        return OrmBound(False, f"no slice: all the rows of one `{parent}`", parent=parent)
    grouped_by = _django_groups(steps, keys, relations, model, model_keys)
    if grouped_by is not None:
        return OrmBound(False, f"one row per distinct `{grouped_by}`", grouped=grouped_by)
    return OrmBound(False, "no slice and no filter on a key")


def _django_groups(steps: list[Step], keys: frozenset[str], relations: frozenset[str],
                   model: str, model_keys: frozenset[str]) -> str | None:
    """The fields of ``.values("status").annotate(n=Count("id"))``: Django groups by the
    ``values()`` fields when an aggregate follows them; and of
    ``.values_list("kind", flat=True).distinct()``: one row per distinct value. Each must be
    a plain field of the model (no lookup path, no key, no relation)."""
    fields: list[str] | None = None
    for step in steps:
        if step.call is None:
            continue
        if step.name in ("values", "values_list"):
            texts = [a.value for a in step.call.args
                     if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if not texts or len(texts) != len(step.call.args) or step.call.keywords \
                    and step.name == "values":
                return None
            fields = texts
        elif step.name == "distinct" and fields is not None and not step.call.args:
            if all("__" not in f and is_plain_group_name(f, keys) and f not in relations
                   and f"{model}.{f}" not in model_keys for f in fields):
                return ", ".join(fields)
            return None
        elif step.name == "annotate" and fields is not None:
            if not step.call.keywords or step.call.args or not all(
                    isinstance(k.value, ast.Call) and call_name(k.value).lower() in AGGREGATES
                    for k in step.call.keywords):
                return None
            if all("__" not in f and is_plain_group_name(f, keys) and f not in relations
                   and f"{model}.{f}" not in model_keys for f in fields):
                return ", ".join(fields)
            return None
    return None


def _django_columns(covered: Mapping[str, bool]) -> dict[str, bool]:
    """``event_id`` and ``event`` name one field of a unique key (``unique_together`` names the
    relation)."""
    fields: dict[str, bool] = {}
    for name, one in covered.items():
        for spelling in (name, name.removesuffix("_id")):
            fields[spelling] = fields.get(spelling, False) or one
    return fields


def _constant_keys(value: ast.AST) -> bool:
    """``**{"status": s}``: a dict display whose keys are all string constants."""
    return isinstance(value, ast.Dict) and all(
        isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys)


def _keywords(call: ast.Call) -> list[ast.keyword]:
    """The call's keywords, with ``**{"field": value}`` spread out."""
    found: list[ast.keyword] = []
    for keyword in call.keywords:
        if keyword.arg is None and isinstance(keyword.value, ast.Dict) \
                and _constant_keys(keyword.value):
            found.extend(ast.keyword(arg=str(k.value), value=v)  # type: ignore[union-attr]
                         for k, v in zip(keyword.value.keys, keyword.value.values))
        elif keyword.arg is not None:
            found.append(keyword)
    return found


def _is_key_list(value: ast.AST) -> bool:
    """A collection of keys held in memory (a literal, a comprehension, a name): at most one row
    per key. A queryset (``.filter(...)``, ``.values_list(...)``) is a subquery of any size."""
    copied = isinstance(value, ast.Call) and (
        isinstance(value.func, ast.Name) and value.func.id in ("list", "tuple", "set", "sorted",
                                                               "frozenset")
        # `self.kwargs.get("ids", ())`, `by_id.keys()`: a mapping's value, or its keys (a
        # subscript, `form.cleaned_data["ids"]`, is a value held too)
        or call_name(value) in ("get", "keys") and isinstance(value.func, ast.Attribute))
    if not copied and not isinstance(value, (ast.List, ast.Tuple, ast.Set, ast.ListComp,
                                             ast.SetComp, ast.Name, ast.Attribute,
                                             ast.Subscript)):
        return False
    return not any(isinstance(sub, ast.Attribute) and sub.attr in _QUERYSET_MARKERS
                   for sub in walk(value))


_QUERYSET_MARKERS = frozenset({"objects", "values_list", "values", "filter", "exclude", "all",
                               "_default_manager"})


def _q_parent(node: ast.AST, relations: frozenset[str],
              own: frozenset[str] | None = None) -> str | None:
    """``Q(order=o)``, ``Q(order=o) | Q(order__parent=o)``, ``Q(order=o) & Q(x=1)``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _all_parents([_q_parent(node.left, relations, own),
                             _q_parent(node.right, relations, own)])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
        return _q_parent(node.left, relations, own) or _q_parent(node.right, relations, own)
    if isinstance(node, ast.Call) and call_name(node) == "Q" and not node.args:
        for keyword in node.keywords:
            found = _django_parent((keyword.arg or "").lower(), keyword.value, relations, own) \
                if keyword.arg else None
            if found:
                return found
    return None


def _django_parent(field: str, value: ast.AST, relations: frozenset[str],
                   own: frozenset[str] | None = None) -> str | None:
    """``event=other``, ``item__event=other``, ``order_id=pk``, ``order__pk=pk``: one parent.
    The first hop must be one of the model's ``own`` relation fields when they are known."""
    parts = field.split("__")
    if own is not None and parts[0] not in own and not is_parent_key_name(parts[0]):
        return None  # a plain field of the model (`provider="paypal"`); `entry_id` names a row
    if parts[-1] == "in" and len(parts) > 1 and _is_key_list(value):
        parts = parts[:-1]  # the children of a batch of parents the caller holds
    elif parts[-1] == "exact":
        parts = parts[:-1]
        if not is_parent_value(value):
            return None
    elif not is_parent_value(value):
        return None
    if not parts:
        return None
    if len(parts) > 1 and parts[-1] in ("id", "pk"):
        return "__".join(parts[:-1])
    if is_parent_field(parts[-1], relations):
        return "__".join(parts)
    return None


def single_binding(assignments: dict[str, list[ast.AST]], name: str) -> ast.expr | None:
    values = assignments.get(name, [])
    if len(values) == 1 and isinstance(values[0], ast.expr) and not (
            isinstance(values[0], ast.Name) and isinstance(values[0].ctx, ast.Store)):
        return values[0]
    return None


def scope_for(facts: ModuleFacts, node: ast.AST) -> Scope | None:
    for scope in facts.scopes:
        if scope.node is node:
            return scope
    return None
