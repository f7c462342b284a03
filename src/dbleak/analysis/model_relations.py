"""Relation fields of ORM model classes: the names whose equality picks the children of one row.

``Item.objects.filter(event=other)`` and ``session.query(Trial).filter(Trial.study == study)``
read the rows that belong to one parent row. Whether ``event``/``study`` is a relation (rather
than a plain column such as ``status``) is known from the model classes of the checked tree:
Django's ``ForeignKey``/``OneToOneField``/``ManyToManyField`` (and modelcluster's
``ParentalKey``), SQLAlchemy's ``relationship()`` and columns built with ``ForeignKey(...)``.

The project index keeps, per model class, the names of its relation fields (summary key
:data:`RELATIONS_KEY`); :func:`relation_names` is their union over the project and the module
being checked. It also keeps the model's key fields, ``Class.field`` for every field declared
``primary_key=True`` or ``unique=True`` (:data:`KEYS_KEY`, :func:`key_fields`): equality on one
of them reads at most one row, as a ``UNIQUE`` column of a ``CREATE TABLE`` does. A name, not a (model, field) pair: the chains the rules read name the model only
at their root, and a lookup path (``item__event``) crosses models.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dbleak.analysis.fetch_orm import DJANGO_BOUNDING, DJANGO_QUERYSET, call_name, method_chain
from dbleak.analysis.module import ModuleFacts, walk_scope
from dbleak.analysis.names import base_name
from dbleak.analysis.project import SUMMARIZERS, ProjectIndex
from dbleak.index import union_keys
from dbleak.settings import Settings

RELATIONS_KEY = "relation-fields"
MODEL_RELATIONS_KEY = "model-relation-fields"  # ("Class.field",) of each relation field
KEYS_KEY = "key-fields"
SHAPES_KEY = "model-shapes"  # ((class name, has a relation field, base class names),)
TABLES_KEY = "model-tables"  # ((class name, table name),)
BASES_KEY = "model-bases"  # ((class name, base class names),) of every model-like class
# Names under which a model instance holds a related manager: its many-to-many fields and
# generic relations, and the `related_name` of a foreign key or many-to-many field pointing at
# another model (Django's `obj.<name>.all()`).
MANAGERS_KEY = "related-managers"
# Names a model class binds to a manager of its own (`global_objects = SoftDeleteManager()`,
# `objects = TaskQuerySet.as_manager()`): querysets start there as they do at `objects`.
MODEL_MANAGERS_KEY = "model-managers"
# ((method name, "filter" | "bounded"),) of the methods of the project's custom QuerySet and
# Manager classes that take no argument and return a refinement of their own queryset.
QUERYSET_METHODS_KEY = "queryset-methods"
# ((manager class name, model class name),): the model whose rows a custom manager reads.
MANAGER_CLASSES_KEY = "manager-classes"
# The index makes the unions of these keys together (`_listed` asks for each).
union_keys(RELATIONS_KEY, MODEL_RELATIONS_KEY, KEYS_KEY, SHAPES_KEY, TABLES_KEY, BASES_KEY,
           MANAGERS_KEY, MODEL_MANAGERS_KEY, QUERYSET_METHODS_KEY, MANAGER_CLASSES_KEY)
_MANY_CALLS = frozenset({"ManyToManyField", "ParentalManyToManyField", "TreeManyToManyField",
                         "GenericRelation"})
_REVERSE_MANY_CALLS = frozenset({"ForeignKey", "ParentalKey", "TreeForeignKey", *_MANY_CALLS})

# Calls whose result, assigned in a class body, is a field that points at other rows.
_RELATION_CALLS = frozenset({
    # Django and popular field packages
    "ForeignKey", "OneToOneField", "ManyToManyField", "ParentalKey",
    "ParentalManyToManyField", "TreeForeignKey", "TreeManyToManyField", "TreeOneToOneField",
    # SQLAlchemy
    "relationship", "relation",
})
_COLUMN_CALLS = frozenset({"Column", "mapped_column", "column_property"})
_KEY_FLAGS = ("primary_key", "unique")


def _is_relation_value(value: ast.AST) -> bool:
    name = call_name(value)
    if name in _RELATION_CALLS:
        return True
    if name in _COLUMN_CALLS and isinstance(value, ast.Call):
        return any(call_name(arg) == "ForeignKey" for arg in value.args)
    return False


def _fields(klass: ast.ClassDef) -> Iterator[tuple[str, ast.Call]]:
    """``(name, call)`` for every ``name = SomeField(...)`` of a class body."""
    for statement in klass.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target: ast.AST = statement.targets[0]
            value: ast.AST | None = statement.value
        elif isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name) and isinstance(value, ast.Call):
            yield target.id, value


def class_relation_fields(klass: ast.ClassDef) -> list[str]:
    """The names a model class's body binds to relation fields, in order, then the names its
    SQLAlchemy relationships give the other side (``relationship("Person",
    backref="project")``: ``Person.project`` is a relation too)."""
    found = [name for name, value in _fields(klass) if _is_relation_value(value)]
    for _name, value in _fields(klass):
        if call_name(value) not in ("relationship", "relation"):
            continue
        for keyword in value.keywords:
            if keyword.arg != "backref":
                continue
            spelled = keyword.value
            if isinstance(spelled, ast.Call) and call_name(spelled) == "backref" and spelled.args:
                spelled = spelled.args[0]  # `backref=backref("project", lazy="dynamic")`
            text = _string(spelled)
            if text and text.isidentifier():
                found.append(text)
    return found


def class_manager_names(klass: ast.ClassDef) -> list[str]:
    """The related managers a model class's fields make: its own many-to-many fields, and the
    ``related_name`` its foreign keys give the models they point at."""
    found: list[str] = []
    for name, value in _fields(klass):
        kind = call_name(value)
        if kind in _MANY_CALLS:
            found.append(name)
        if kind in _REVERSE_MANY_CALLS:
            related = next((k.value for k in value.keywords if k.arg == "related_name"), None)
            text = _string(related)
            if text and text.isidentifier():
                found.append(text)
    return found


def class_model_managers(klass: ast.ClassDef) -> list[str]:
    """The names a class body binds to a manager: ``SomethingManager()``,
    ``SomeQuerySet.as_manager()``, ``Manager.from_queryset(SomeQuerySet)()``."""
    found: list[str] = []
    for name, value in _fields(klass):
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr == "as_manager" \
                or isinstance(func, ast.Call) and call_name(func) == "from_queryset" \
                or call_name(value).endswith("Manager"):
            found.append(name)
    return found


def class_manager_classes(klass: ast.ClassDef) -> list[tuple[str, str]]:
    """``(manager class, model)`` for each manager a model's body makes of a class of its own
    project: ``objects = FileDiffManager()`` gives ``("FileDiffManager", "FileDiff")``."""
    found: list[tuple[str, str]] = []
    for _name, value in _fields(klass):
        made = call_name(value)
        if made.endswith("Manager") and made not in ("Manager", "BaseManager"):
            found.append((made, klass.name))
    return found


def class_queryset_methods(klass: ast.ClassDef) -> list[tuple[str, str]]:
    """``(method, verdict)`` for each public method of a custom ``QuerySet``/``Manager`` class
    that returns a chain of queryset methods on its own queryset (``self.filter(...)``,
    ``self.get_queryset().exclude(...)``, ``super().get_queryset()...``, or a local name bound
    only to such chains: ``query = self.all()``, ``query = query.exclude(...)``, ``return
    query.order_by(...)``): ``"bounded"`` when a chain slices or ends in a bounding method;
    otherwise ``"filter"`` when it takes only ``self`` (a refinement like any filter: as
    unbounded as the queryset it refines), ``"argument"`` when it takes arguments (a queryset
    all the same, of rows the arguments choose: often one parent's)."""
    if not any(base_name(b).endswith(("QuerySet", "Manager")) for b in klass.bases):
        return []
    methods = [s for s in klass.body if isinstance(s, ast.FunctionDef) and not s.name.startswith("_")
               and s.name not in DJANGO_QUERYSET and s.name not in DJANGO_BOUNDING
               and not s.decorator_list and s.args.args and not s.args.posonlyargs]
    # The class's own methods may chain each other (`return self.not_processed().filter(...)`):
    # read until no verdict changes (each round can only add one).
    own: dict[str, str] = {}
    grown = True
    while grown:
        grown = False
        for statement in methods:
            if statement.name in own:
                continue
            verdict = _refinement(statement, own)
            if verdict is None:
                continue
            args = statement.args
            plain = len(args.args) == 1 and not (args.kwonlyargs or args.vararg or args.kwarg)
            own[statement.name] = verdict if plain or verdict != "filter" else "argument"
            grown = True
    return [(statement.name, own[statement.name]) for statement in methods if statement.name in own]


def _refinement(method: ast.FunctionDef, own: Mapping[str, str]) -> str | None:
    """``"filter"`` / ``"bounded"`` when every ``return`` of the method gives a chain of
    queryset methods on its own queryset, directly or through local names bound only to such
    chains (statements before it, such as ``now = timezone.now()``, change nothing), else
    None."""
    returns: list[ast.Return] = []
    bindings: dict[str, list[ast.expr]] = {}
    plain_targets: set[int] = set()
    stores: list[ast.Name] = []
    for node in walk_scope(method):
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
            return None
        if isinstance(node, ast.Return):
            returns.append(node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            bindings.setdefault(node.targets[0].id, []).append(node.value)
            plain_targets.add(id(node.targets[0]))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            stores.append(node)
    # names also bound by a loop, a `with`, an unpacking, `+=`
    other = {name.id for name in stores if id(name) not in plain_targets}
    if not returns:
        return None
    known: set[str] = set()  # local names bound only to chains on the own queryset
    grown = True
    while grown:
        grown = False
        for name, values in bindings.items():
            if name not in other and name not in known \
                    and all(_own_chain_verdict(v, known | {name}, own) is not None for v in values):
                known.add(name)
                grown = True
    verdicts = [_own_chain_verdict(v, known, own) for name in known for v in bindings[name]]
    for statement in returns:
        if statement.value is None:
            return None
        verdict = _own_chain_verdict(statement.value, known, own)
        if verdict is None:
            return None
        verdicts.append(verdict)
    return "bounded" if "bounded" in verdicts else "argument" if "argument" in verdicts else "filter"


def _own_chain_verdict(value: ast.expr, names: set[str], own: Mapping[str, str]) -> str | None:
    """``"filter"``/``"bounded"``/``"argument"`` for a chain of queryset methods on ``self``,
    ``super()`` or one of ``names`` (a bare name of them too), else None; ``own``: the
    verdicts of the class's own methods read so far (a chain may call them)."""
    root, steps = method_chain(value)
    super_call = isinstance(root, ast.Call) and isinstance(root.func, ast.Name) \
        and root.func.id == "super"
    own_name = isinstance(root, ast.Name) and root.id in names
    if not (super_call or own_name or isinstance(root, ast.Name) and root.id == "self"):
        return None
    if not steps:
        return "filter" if own_name else None
    bounded = argument = False
    for step in steps:
        if step.name == "[]" or step.name in DJANGO_BOUNDING:
            bounded = True
        elif step.name in own and step.call is not None:
            bounded = bounded or own[step.name] == "bounded"
            argument = argument or own[step.name] == "argument"
        elif step.name not in DJANGO_QUERYSET and step.name != "get_queryset" \
                or step.call is None:
            return None
    return "bounded" if bounded else "argument" if argument else "filter"


def _named_assignments(body: list[ast.stmt]) -> Iterator[tuple[str, ast.expr]]:
    """``(name, value)`` of each ``name = value`` statement of a body."""
    for statement in body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            yield statement.targets[0].id, statement.value


def _meta(klass: ast.ClassDef) -> dict[str, ast.expr]:
    """The assignments of a Django model's ``class Meta``."""
    for statement in klass.body:
        if isinstance(statement, ast.ClassDef) and statement.name == "Meta":
            return dict(_named_assignments(statement.body))
    return {}


def _is_true(value: ast.AST) -> bool:
    return isinstance(value, ast.Constant) and value.value is True


def _column_name(node: ast.AST) -> str | None:
    """``"name"``, ``name`` or ``Role.name`` in a constraint's column list."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit(".", 1)[-1]
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _constraint_columns(node: ast.AST) -> tuple[str, ...] | None:
    """The columns of a unique constraint: SQLAlchemy's ``UniqueConstraint("a", "b")``,
    ``PrimaryKeyConstraint(...)``, ``Index("ix", "a", "b", unique=True)``, Django's
    ``UniqueConstraint(fields=[...])`` without a ``condition`` (a partial constraint says
    nothing of the other rows)."""
    name = call_name(node)
    if not isinstance(node, ast.Call):
        return None
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    if "condition" in keywords or "postgresql_where" in keywords or "sqlite_where" in keywords:
        return None
    arguments: list[ast.expr] = []
    if name in ("UniqueConstraint", "PrimaryKeyConstraint"):
        fields = keywords.get("fields")
        arguments = list(fields.elts) if isinstance(fields, (ast.List, ast.Tuple)) \
            else list(node.args)
    elif name == "Index" and _is_true(keywords.get("unique", ast.Constant(False))):
        arguments = list(node.args[1:])
    columns = tuple(c for c in map(_column_name, arguments) if c)
    return columns if columns and len(columns) == len(arguments) else None


def _unique_together(value: ast.AST) -> list[tuple[str, ...]]:
    """Django's ``unique_together = ("a", "b")`` or ``(("a", "b"), ("c", "d"))``."""
    if not isinstance(value, (ast.Tuple, ast.List)) or not value.elts:
        return []
    names = [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if len(names) == len(value.elts):
        return [tuple(names)]
    found = []
    for element in value.elts:
        found.extend(_unique_together(element))
    return found


def _key_entries(owner: str, single: list[str], sets: list[tuple[str, ...]]) -> list[str]:
    """``Class.field`` for a key of one column, ``Class.a&b`` for a key of several (see
    :func:`unique_sets`). Several ``primary_key=True`` columns make one composite key."""
    entries = [f"{owner}.{name}" for name in single]
    for columns in sets:
        if len(columns) == 1:
            entries.append(f"{owner}.{columns[0]}")
        else:
            entries.append(f"{owner}.{'&'.join(sorted(columns))}")
    return entries


def class_key_fields(klass: ast.ClassDef) -> list[str]:
    """``Class.field`` for each field declared ``primary_key=True`` or ``unique=True``, and
    ``Class.a&b`` for each key of several columns: a composite primary key, SQLAlchemy's
    ``__table_args__`` constraints, Django's ``Meta.unique_together`` and
    ``Meta.constraints``."""
    primary: list[str] = []
    unique: list[str] = []
    for name, value in _fields(klass):
        flags = {k.arg: k.value for k in value.keywords if k.arg in _KEY_FLAGS}
        if _is_true(flags.get("primary_key", ast.Constant(False))):
            primary.append(name)
        elif _is_true(flags.get("unique", ast.Constant(False))):
            unique.append(name)
    sets: list[tuple[str, ...]] = []
    if len(primary) > 1:
        sets.append(tuple(primary))
    else:
        unique = primary + unique
    table_args = dict(_named_assignments(klass.body)).get("__table_args__")
    if isinstance(table_args, (ast.Tuple, ast.List)):
        sets.extend(c for c in map(_constraint_columns, table_args.elts) if c)
    meta = _meta(klass)
    if "unique_together" in meta:
        sets.extend(_unique_together(meta["unique_together"]))
    constraints = meta.get("constraints")
    if isinstance(constraints, (ast.List, ast.Tuple)):
        sets.extend(c for c in map(_constraint_columns, constraints.elts) if c)
    return _key_entries(klass.name, unique, sets)


def _table_schema(call: ast.Call) -> tuple[list[str], list[str]]:
    """(relation names, key entries without the class) of a classical ``Table(name, metadata,
    Column(...), ..., UniqueConstraint(...))``."""
    relations: list[str] = []
    primary: list[str] = []
    unique: list[str] = []
    sets: list[tuple[str, ...]] = []
    for argument in call.args[2:]:
        if call_name(argument) == "Column" and isinstance(argument, ast.Call) and argument.args:
            name = _column_name(argument.args[0]) if isinstance(argument.args[0], ast.Constant) \
                else None
            if name is None:
                continue
            if _is_relation_value(argument):
                relations.append(name)
            flags = {k.arg: k.value for k in argument.keywords if k.arg in _KEY_FLAGS}
            if _is_true(flags.get("primary_key", ast.Constant(False))):
                primary.append(name)
            elif _is_true(flags.get("unique", ast.Constant(False))):
                unique.append(name)
        else:
            columns = _constraint_columns(argument)
            if columns:
                sets.append(columns)
    if len(primary) > 1:
        sets.append(tuple(primary))
    else:
        unique = primary + unique
    return relations, _key_entries("", unique, sets)


@dataclass(frozen=True)
class ClassicalMapping:
    """A class mapped onto a classical ``Table`` of the same module."""

    name: str  # the class
    table: str | None  # the table's SQL name, when a string literal
    relations: list[str]
    keys: list[str]  # ``Class.field`` / ``Class.a&b``


def classical_mappings(tree: ast.Module) -> Iterator[ClassicalMapping]:
    """Each class mapped onto a classical ``Table`` of this module:
    ``registry.map_imperatively(Group, group_table, properties={...})``, the older
    ``mapper(Group, group_table)``, or ``__table__ = group_table`` in a class body."""
    tables = {name: value for name, value in _named_assignments(tree.body)
              if isinstance(value, ast.Call) and call_name(value) == "Table"}
    if not tables:
        return

    def mapping(name: str, table: ast.Call, properties: ast.AST | None) -> ClassicalMapping:
        relations, keys = _table_schema(table)
        if isinstance(properties, ast.Dict):
            relations.extend(str(key.value) for key, value in zip(properties.keys,
                                                                  properties.values)
                             if isinstance(key, ast.Constant) and isinstance(key.value, str)
                             and value is not None and _is_relation_value(value))
        sql_name = _string(table.args[0]) if table.args else None
        return ClassicalMapping(name, sql_name, relations, [name + k for k in keys])

    for statement in tree.body:
        call = statement.value if isinstance(statement, (ast.Expr, ast.Assign)) else None
        if isinstance(call, ast.Call) and call_name(call) in ("map_imperatively", "mapper") \
                and len(call.args) >= 2 and isinstance(call.args[0], ast.Name) \
                and isinstance(call.args[1], ast.Name) and call.args[1].id in tables:
            properties = next((k.value for k in call.keywords if k.arg == "properties"), None)
            yield mapping(call.args[0].id, tables[call.args[1].id], properties)
        elif isinstance(statement, ast.ClassDef):
            table = dict(_named_assignments(statement.body)).get("__table__")
            if isinstance(table, ast.Name) and table.id in tables:
                yield mapping(statement.name, tables[table.id], None)


def _classes(facts: ModuleFacts) -> Iterator[ast.ClassDef]:
    for node in facts.tree.body:
        if isinstance(node, ast.ClassDef):
            yield node
        elif isinstance(node, ast.If):  # `if TYPE_CHECKING:` / version switches
            yield from (n for n in node.body if isinstance(n, ast.ClassDef))


def summarize_relations(facts: ModuleFacts) -> Mapping[str, Mapping[str, Any]]:
    prefix = f"{facts.module_name}." if facts.module_name else ""
    summaries: dict[str, dict[str, Any]] = {}
    for klass in _classes(facts):
        summary: dict[str, Any] = {}
        fields = class_relation_fields(klass)
        if fields:
            summary[RELATIONS_KEY] = tuple(fields)
            summary[MODEL_RELATIONS_KEY] = tuple(f"{klass.name}.{field}" for field in fields)
        keys = class_key_fields(klass)
        if keys:
            summary[KEYS_KEY] = tuple(keys)
        managers = class_manager_names(klass)
        if managers:
            summary[MANAGERS_KEY] = tuple(managers)
        own_managers = class_model_managers(klass)
        if own_managers:
            summary[MODEL_MANAGERS_KEY] = tuple(own_managers)
        manager_classes = class_manager_classes(klass)
        if manager_classes:
            summary[MANAGER_CLASSES_KEY] = tuple(manager_classes)
        methods = class_queryset_methods(klass)
        if methods:
            summary[QUERYSET_METHODS_KEY] = tuple(methods)
        shape = _shape(klass, bool(fields))
        if shape is not None:
            summary[SHAPES_KEY] = (shape,)
        tables = class_tables(klass, facts.module_name)
        if tables:
            summary[TABLES_KEY] = tuple((klass.name, table) for table in tables)
        bases = tuple(b for b in map(base_name, klass.bases) if b)
        if bases and (shape is not None or _meta(klass) or "__mapper_args__" in dict(
                _named_assignments(klass.body))):
            summary[BASES_KEY] = ((klass.name, bases),)
        if summary:
            summaries[prefix + klass.name] = summary
    for mapped in classical_mappings(facts.tree):
        summary = summaries.setdefault(prefix + mapped.name, {})
        summary[RELATIONS_KEY] = tuple(summary.get(RELATIONS_KEY, ())) + tuple(mapped.relations)
        summary[MODEL_RELATIONS_KEY] = tuple(summary.get(MODEL_RELATIONS_KEY, ())) + tuple(
            f"{mapped.name}.{field}" for field in mapped.relations)
        summary[KEYS_KEY] = tuple(summary.get(KEYS_KEY, ())) + tuple(mapped.keys)
        summary[SHAPES_KEY] = tuple(summary.get(SHAPES_KEY, ())) + (
            (mapped.name, bool(mapped.relations), ()),)
        if mapped.table:
            summary[TABLES_KEY] = tuple(summary.get(TABLES_KEY, ())) + (
                (mapped.name, mapped.table),)
    return summaries


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def class_tables(klass: ast.ClassDef, module_name: str) -> tuple[str, ...]:
    """The table a model class maps: SQLAlchemy's ``__tablename__``, Django's ``Meta.db_table``,
    or Django's default ``<app label>_<model name>`` for a model of an app's ``models`` module
    (the app label is the package that holds ``models``)."""
    declared = dict(_named_assignments(klass.body)).get("__tablename__") \
        or _meta(klass).get("db_table")
    if declared is not None:
        name = _string(declared)
        return (name,) if name else ()
    parts = module_name.split(".")
    if "models" not in parts[1:] or not is_django_model(klass):
        return ()
    label = parts[parts.index("models", 1) - 1]
    return (f"{label}_{klass.name}".lower(),)


def is_django_model(klass: ast.ClassDef) -> bool:
    """A base ``models.Model`` or a field ``models.SomethingField(...)`` in the body."""
    if any(isinstance(b, ast.Attribute) and b.attr == "Model" for b in klass.bases):
        return True
    return any(isinstance(value.func, ast.Attribute) and isinstance(value.func.value, ast.Name)
               and value.func.value.id == "models" for _, value in _fields(klass))


def small_models(facts: ModuleFacts, project: ProjectIndex,
                 small: Iterable[str]) -> frozenset[str]:
    """Names of the model classes whose table is listed in ``small-tables`` (as `dbleak tables`
    prints it: ``documents_documenttype``, ``realms``), so one list serves the SQL and ORM rules."""
    listed = frozenset(name.lower() for name in small)
    if not listed:
        return frozenset()
    return _small(_listed(facts, project, TABLES_KEY), listed)


def mapped_models(facts: ModuleFacts, project: ProjectIndex) -> frozenset[str]:
    """Names of the project's classes that map a table (SQLAlchemy's ``__tablename__`` or a
    classical mapping, Django's ``Meta.db_table`` or app models)."""
    return _mapped(_listed(facts, project, TABLES_KEY))


@lru_cache(maxsize=16)
def _mapped(tables: frozenset[tuple[str, str]]) -> frozenset[str]:
    return frozenset(name for name, _table in tables)


@lru_cache(maxsize=16)
def _small(tables: frozenset[tuple[str, str]], listed: frozenset[str]) -> frozenset[str]:
    return frozenset(name for name, table in tables if table.lower() in listed)


def _shape(klass: ast.ClassDef, related: bool) -> tuple[str, bool, tuple[str, ...]] | None:
    """(name, has a relation field, base names) of a class that declares fields, else None."""
    if not related and not any(True for _ in _fields(klass)):
        return None
    return klass.name, related, tuple(b for b in map(base_name, klass.bases) if b)


# Accounts are the root table that grows with sign-ups: never a lookup table.
_ACCOUNT_BASES = frozenset({"AbstractBaseUser", "AbstractUser", "UserMixin", "BaseUser",
                            "SQLAlchemyBaseUserTable", "SQLAlchemyBaseUserTableUUID"})
_ACCOUNT_SUFFIXES = ("User", "Users", "Account", "Accounts", "Member", "Members")


_Shapes = dict[str, list[tuple[bool, tuple[str, ...]]]]


@lru_cache(maxsize=16)
def _roots(shapes: frozenset[tuple[str, bool, tuple[str, ...]]]) -> frozenset[str]:
    by_name: _Shapes = {}
    for name, has_relation, bases in shapes:
        by_name.setdefault(name, []).append((has_relation, bases))
    memo: dict[str, bool] = {}
    return frozenset(name for name in by_name
                     if not _is_related(by_name, memo, name) and not _is_account(by_name, name))


# Module-level, not nested: a nested function that calls itself is a reference cycle that
# outlives the call until the cyclic collector runs (a run pauses it).
def _is_related(by_name: _Shapes, memo: dict[str, bool], name: str, depth: int = 0) -> bool:
    if name in memo:
        return memo[name]
    memo[name] = False  # a cycle of base names adds nothing
    found = depth < 8 and any(
        rel or any(_is_related(by_name, memo, base, depth + 1) for base in bases if base != name)
        for rel, bases in by_name.get(name, ()))
    memo[name] = found
    return found


def _is_account(by_name: _Shapes, name: str, depth: int = 0) -> bool:
    if name.endswith(_ACCOUNT_SUFFIXES) or name in _ACCOUNT_BASES:
        return True
    return depth < 8 and any(_is_account(by_name, base, depth + 1) for _, bases in by_name.get(name, ())
                             for base in bases if base != name)


def root_models(facts: ModuleFacts, project: ProjectIndex) -> frozenset[str]:
    """Names of the checked tree's model classes with no relation to another model, in their
    own body or their bases' (every class of that name agreeing), accounts left out.

    A table that references no other table is a root of the schema. In a normalised schema
    the rows that grow with use (orders, events, log entries) point at what they belong to;
    a table pointing at nothing is a dimension: a lookup or configuration table (document
    types, workflows, realms, roles), sized by the people who define it. Accounts are the
    exception that grows with sign-ups, and stay reported.

    On by default (``[tool.dbleak.sql] root-tables = "report"`` turns it off): over five
    reviewed sets of applications it silenced 78 false findings and 21 real ones; 12 and 4 on
    the three held-out sets it was not designed on. The real ones it loses are growing roots:
    tenants, root entities, blob caches, and fact tables whose foreign keys a helper declares
    (``benchmarks/corpus-review.md``)."""
    return _roots(_listed(facts, project, SHAPES_KEY))


def lookup_roots(facts: ModuleFacts, project: ProjectIndex, settings: Settings | None,
                 path: str = "") -> frozenset[str]:
    """The :func:`root_models` read as lookup tables in the module at ``path``: every root,
    unless ``[tool.dbleak.sql] root-tables = "report"`` (none). In a migration
    (:func:`in_migrations`) only the roots with a natural key (a unique field or set of fields
    other than a surrogate ``id``/``uuid``: a label, a code, a name) are: a data migration
    walks a table to rewrite every row of it, and the roots without such a key are the growing
    ones (attributes, shortened URLs, uploaded files, notifications). Measured on the corpus
    reviews (``benchmarks/corpus-review.md``): in migrations 10 real findings and 5 false; in
    management commands and tasks 1 real and 8 false (there roots stay lookup tables)."""
    if settings is not None and settings.option("sql", "root-tables", "small") != "small":
        return frozenset()
    roots = root_models(facts, project)
    if not roots or not in_migrations(path):
        return roots
    keyed = {key.split(".", 1)[0] for key in key_fields(facts, project)
             if not set(key.split(".", 1)[1].lower().split("&")) <= _SURROGATE_KEYS}
    return roots & frozenset(keyed)


def in_migrations(path: str) -> bool:
    """A module of a ``migrations`` folder (Django's; Alembic's and Flask-Migrate's
    ``versions`` below one)."""
    return "/migrations/" in "/" + path.replace("\\", "/")


_SURROGATE_KEYS = frozenset({"id", "pk", "uuid"})


def _package(facts: ModuleFacts) -> str:
    """The top-level package of the checked module: its models are read from disk when the
    run was not given them (a file checked alone, by pre-commit or an editor)."""
    return facts.module_name.split(".", 1)[0] if "." in facts.module_name else ""


def _listed(facts: ModuleFacts, project: ProjectIndex, key: str) -> frozenset[Any]:
    """Every value listed under ``key`` by this module and by the project's models (the
    package's on disk too, when the run was not given them)."""
    own = _own(facts, key)
    indexed = project.union_of(key, _package(facts))
    return own | indexed if indexed else own


def _own(facts: ModuleFacts, key: str) -> frozenset[Any]:
    """The values this module's own summary lists under ``key``: what the project index holds
    for the module, made once per module for a check without an index (a single file, the
    editor) and for the module being edited."""
    cached: dict[str, frozenset[Any]] | None = getattr(facts, "_dbleak_model_summary", None)
    if cached is None:
        merged: dict[str, set[Any]] = {}
        for summary in summarize_relations(facts).values():
            for name, values in summary.items():
                merged.setdefault(name, set()).update(values)
        cached = {name: frozenset(values) for name, values in merged.items()}
        facts._dbleak_model_summary = cached  # type: ignore[attr-defined]
    return cached.get(key, frozenset())


def key_fields(facts: ModuleFacts, project: ProjectIndex) -> frozenset[str]:
    """``Class.field`` of every primary-key or unique field of the project's models, and
    ``Class.a&b`` for every key of several columns (see ``analysis.fetch_orm.unique_sets``).
    A class inherits the keys of its bases: a proxy model reads its concrete model's table, a
    multi-table child shares its parent's key, and an abstract base's fields are the child's."""
    keys = _inherited_keys(_listed(facts, project, KEYS_KEY),
                           _listed(facts, project, BASES_KEY))
    aliases = _class_aliases(facts)
    if not aliases:
        return keys
    return keys | _aliased_keys(keys, aliases)


def _class_aliases(facts: ModuleFacts) -> frozenset[tuple[str, str]]:
    """``(local name, class name)`` for each ``from m import TaskInstance as TI`` of the module
    (a name imported under another name), so ``TI.dag_id`` finds ``TaskInstance``'s keys."""
    cached: frozenset[tuple[str, str]] | None = getattr(facts, "_dbleak_class_aliases", None)
    if cached is None:
        resolver = facts.resolver
        cached = frozenset(
            (local, target.rsplit(".", 1)[-1]) for local, target in resolver.bindings.items()
            if target.rsplit(".", 1)[-1] != local and local[:1].isupper()
            and resolver.resolve(ast.Name(id=local)) is not None)
        facts._dbleak_class_aliases = cached  # type: ignore[attr-defined]
    return cached


def _by_class(keys: frozenset[str]) -> dict[str, set[str]]:
    """``{class name: {"field", "a&b", …}}`` of ``Class.field`` / ``Class.a&b`` key entries."""
    found: dict[str, set[str]] = {}
    for entry in keys:
        owner, _, columns = entry.rpartition(".")
        found.setdefault(owner.rsplit(".", 1)[-1], set()).add(columns)
    return found


@lru_cache(maxsize=64)
def _aliased_keys(keys: frozenset[str], aliases: frozenset[tuple[str, str]]) -> frozenset[str]:
    by_class = _by_class(keys)
    return frozenset(f"{local}.{columns}" for local, name in aliases
                     for columns in by_class.get(name, ()))


@lru_cache(maxsize=16)
def _inherited_keys(keys: frozenset[str],
                    bases: frozenset[tuple[str, tuple[str, ...]]]) -> frozenset[str]:
    if not bases:
        return keys
    declared = _by_class(keys)
    parents: dict[str, set[str]] = {}
    for name, names in bases:
        parents.setdefault(name, set()).update(b for b in names if b != name)
    found = set(keys)
    for name, direct in parents.items():
        seen: set[str] = set()
        todo = list(direct)
        while todo and len(seen) < 32:
            base = todo.pop()
            if base in seen or base == name:
                continue
            seen.add(base)
            found.update(f"{name}.{columns}" for columns in declared.get(base, ()))
            todo.extend(parents.get(base, ()))
    return frozenset(found)


def table_keys(facts: ModuleFacts, project: ProjectIndex) -> frozenset[tuple[str, str]]:
    """``(table, column)`` of every one-column key of the models whose table is known
    (``__tablename__``, ``Meta.db_table``, Django's ``<app>_<model>``), so raw SQL on a model's
    table knows its keys as ``CREATE TABLE`` text would tell them. A Django relation used as a
    key (``OneToOneField(primary_key=True)``) is its ``<name>_id`` column."""
    return _table_keys(_listed(facts, project, TABLES_KEY), key_fields(facts, project),
                       relation_names(facts, project))


@lru_cache(maxsize=16)
def _table_keys(tables: frozenset[tuple[str, str]], keys: frozenset[str],
                relations: frozenset[str]) -> frozenset[tuple[str, str]]:
    columns = _by_class(keys)
    found: set[tuple[str, str]] = set()
    for name, table in tables:
        for column in columns.get(name, ()):
            if "&" in column:
                continue  # a key of several columns makes no one column unique
            found.add((table.lower(), column.lower()))
            if column in relations:
                found.add((table.lower(), f"{column.lower()}_id"))
    return frozenset(found)


def relation_names(facts: ModuleFacts, project: ProjectIndex) -> frozenset[str]:
    """Relation field names of every model in the project and in this module."""
    return _listed(facts, project, RELATIONS_KEY)


def model_relation_names(facts: ModuleFacts, project: ProjectIndex,
                         model: str) -> frozenset[str] | None:
    """The relation fields of the model class ``model`` (its own and its bases'), when every
    class of that name and all their bases are models of the project (their fields known),
    else None: a field of ``model`` named like another model's relation (pretix's plain
    `provider` column) is then no parent of its rows."""
    if not model:
        return None
    return _model_relations(_listed(facts, project, SHAPES_KEY),
                            _listed(facts, project, MODEL_RELATIONS_KEY), model)


@lru_cache(maxsize=256)
def _model_relations(shapes: frozenset[tuple[str, bool, tuple[str, ...]]],
                     declared_fields: frozenset[str], model: str) -> frozenset[str] | None:
    by_name: dict[str, list[tuple[str, ...]]] = {}
    for name, _related, bases in shapes:
        by_name.setdefault(name, []).append(bases)
    if model not in by_name:
        return None
    declared = _by_class(declared_fields)
    found: set[str] = set()
    seen: set[str] = set()
    todo = [model]
    while todo and len(seen) < 32:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found.update(field.lower() for field in declared.get(name, ()))
        for bases in by_name.get(name, ()):
            for base in bases:
                if base in _MODEL_ROOTS or base == name:
                    continue
                if base not in by_name:
                    return None  # a base from elsewhere may declare relations
                todo.append(base)
    return frozenset(found)


# Base names (last names, see `names.base_name`) that declare no relation: Django's and
# Flask-SQLAlchemy's `Model`, a declarative `Base`.
_MODEL_ROOTS = frozenset({"Model", "Base", "DeclarativeBase", "object"})


def model_class_names(facts: ModuleFacts, project: ProjectIndex) -> frozenset[str]:
    """The names of the project's model classes (and of this module's)."""
    return frozenset(shape[0] for shape in _listed(facts, project, SHAPES_KEY))


def related_manager_names(facts: ModuleFacts, project: ProjectIndex) -> frozenset[str]:
    """Related manager names of every model in the project and in this module."""
    return _listed(facts, project, MANAGERS_KEY)


def model_managers(facts: ModuleFacts, project: ProjectIndex) -> frozenset[str]:
    """The names the project's classes bind to managers of their own (see
    :func:`class_model_managers`)."""
    return _listed(facts, project, MODEL_MANAGERS_KEY)


def manager_model(facts: ModuleFacts, project: ProjectIndex, manager: str) -> str | None:
    """The model class whose body makes a manager of class ``manager`` (one model only)."""
    models = {model for name, model in _listed(facts, project, MANAGER_CLASSES_KEY)
              if name == manager}
    return next(iter(models)) if len(models) == 1 else None


def queryset_methods(facts: ModuleFacts, project: ProjectIndex) -> dict[str, str]:
    """``{method: "filter" | "bounded"}`` of the project's custom queryset methods (see
    :func:`class_queryset_methods`); a name two classes read differently is left out."""
    verdicts: dict[str, set[str]] = {}
    for name, verdict in _listed(facts, project, QUERYSET_METHODS_KEY):
        verdicts.setdefault(name, set()).add(verdict)
    return {name: next(iter(found)) for name, found in verdicts.items() if len(found) == 1}


if summarize_relations not in SUMMARIZERS:
    SUMMARIZERS.append(summarize_relations)
