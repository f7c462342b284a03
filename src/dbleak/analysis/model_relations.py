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
from collections.abc import Iterator, Mapping
from typing import Any

from dbleak.analysis.fetch_orm import call_name
from dbleak.analysis.module import ModuleFacts
from dbleak.analysis.project import SUMMARIZERS, ProjectIndex

RELATIONS_KEY = "relation-fields"
KEYS_KEY = "key-fields"

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
    """The names a model class's body binds to relation fields, in order."""
    return [name for name, value in _fields(klass) if _is_relation_value(value)]


def class_key_fields(klass: ast.ClassDef) -> list[str]:
    """``Class.field`` for each field declared ``primary_key=True`` or ``unique=True``."""
    return [f"{klass.name}.{name}" for name, value in _fields(klass)
            if any(k.arg in _KEY_FLAGS and isinstance(k.value, ast.Constant)
                   and k.value.value is True for k in value.keywords)]


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
        keys = class_key_fields(klass)
        if keys:
            summary[KEYS_KEY] = tuple(keys)
        if summary:
            summaries[prefix + klass.name] = summary
    return summaries


def _module_models(facts: ModuleFacts) -> tuple[frozenset[str], frozenset[str]]:
    """(relation names, ``Class.field`` keys) of this module's model classes, made once."""
    cached: tuple[frozenset[str], frozenset[str]] | None = getattr(facts, "_dbleak_models", None)
    if cached is None:
        classes = list(_classes(facts))
        cached = (frozenset(n for k in classes for n in class_relation_fields(k)),
                  frozenset(n for k in classes for n in class_key_fields(k)))
        facts._dbleak_models = cached  # type: ignore[attr-defined]
    return cached


def key_fields(facts: ModuleFacts, project: ProjectIndex) -> frozenset[str]:
    """``Class.field`` of every primary-key or unique field of the project's models."""
    own = _module_models(facts)[1]
    indexed = project.union_of(KEYS_KEY)
    return own | indexed if indexed else own


def relation_names(facts: ModuleFacts, project: ProjectIndex) -> frozenset[str]:
    """Relation field names of every model in the project and in this module."""
    own = _module_models(facts)[0]
    indexed = project.union_of(RELATIONS_KEY)
    return own | indexed if indexed else own


if summarize_relations not in SUMMARIZERS:
    SUMMARIZERS.append(summarize_relations)
