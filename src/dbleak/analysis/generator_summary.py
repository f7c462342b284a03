"""Generator functions, for the project index and for the module being checked.

A call to a generator function returns a lazy iterator; wrapping it in ``list()`` only to walk
it once defeats the point (DBL301). This module says which functions are generators: the
summarizer records them in the project index (so a generator of another module is known), and
:func:`local_generators` finds the ones of the module at hand, nested functions included.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from dbleak.analysis.module import ModuleFacts, walk_scope
from dbleak.analysis.project import SUMMARIZERS, ProjectIndex, module_functions

# The key under which the project index stores "sync" or "async" for a generator function.
GENERATOR_KEY = "generator"
# True when the generator's own body reads a database (runs a query, walks a cursor or a result).
READS_DB_KEY = "generator.reads_db"
# The qualified names the generator's body calls (its rows may come from one of them).
CALLS_KEY = "generator.calls"

# Methods whose call in a generator's body reads rows from a database (cursors, SQLAlchemy,
# Django, pandas): the generator then yields rows, or values made from them.
READING_METHODS = frozenset({
    "execute", "executemany", "fetchone", "fetchmany", "fetchall", "cursor", "scalars",
    "scalar", "iterator", "yield_per", "query", "raw", "stream", "read_sql", "read_sql_query",
    "read_sql_table", "values_list", "select_related", "prefetch_related", "mappings",
    "partitions", "stream_results",
})


def generator_kind(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """"sync" or "async" when ``function`` is a generator function, else None."""
    for node in walk_scope(function):
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return "async" if isinstance(function, ast.AsyncFunctionDef) else "sync"
    return None


def summarize_generators(facts: ModuleFacts) -> Mapping[str, Mapping[str, Any]]:
    """Project-index summaries: ``{qualname: {"generator": "sync" | "async"}}``."""
    found: dict[str, dict[str, Any]] = {}
    for qualname, function in module_functions(facts).items():
        if _is_overload_or_abstract(function):
            continue
        kind = generator_kind(function)
        if kind is not None:
            summary: dict[str, Any] = {GENERATOR_KEY: kind}
            reads, calls = body_reads(facts, function)
            if reads:
                summary[READS_DB_KEY] = True
            if calls:
                summary[CALLS_KEY] = calls
            found[qualname] = summary
    return found


# Names that by convention hold a cursor or a result (`for row in cur: yield row`).
_ROW_SOURCE_NAME = re.compile(r"(?:^|_)(?:cur|curs|cursor|result|results|resultset|rs|qs|queryset)$")


def body_reads(facts: ModuleFacts, function: ast.AST) -> tuple[bool, tuple[str, ...]]:
    """In one walk of a function's own body: whether it reads a database (a query method, a
    Django manager, a driver's factory, a pandas read, or a walk of a name that by convention
    holds a cursor or a result: ``for row in cur``), and the qualified names it calls
    (``Class.method`` for ``self.method()``), where its rows may come from."""
    drivers = facts.drivers
    owner = _owner_class(facts, function)
    reads = False
    names: list[str] = []
    for node in walk_scope(function):
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            reads = True
        walked = node.iter if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) else \
            node.value if isinstance(node, ast.YieldFrom) else None
        if isinstance(walked, ast.Name) and _ROW_SOURCE_NAME.search(walked.id):
            reads = True
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in READING_METHODS:
            reads = True
        if owner and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and func.value.id in ("self", "cls"):
            names.append(f"{owner}.{func.attr}")
            continue
        qualname = facts.call_qualname(node)
        if qualname is None:
            continue
        names.append(qualname)
        if qualname in drivers.factories or qualname in drivers.factory_variants \
                or qualname.startswith("pandas.read_sql"):
            reads = True
    return reads, tuple(dict.fromkeys(names))


def _owner_class(facts: ModuleFacts, function: ast.AST) -> str | None:
    prefix = f"{facts.module_name}." if facts.module_name else ""
    for node in facts.tree.body:
        if isinstance(node, ast.ClassDef) and any(item is function for item in node.body):
            return prefix + node.name
    return None


def _is_overload_or_abstract(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        # A context manager or a fixture built from a generator does not return the generator.
        if name in ("contextmanager", "asynccontextmanager", "fixture", "overload",
                    "abstractmethod", "property", "cached_property", "wraps"):
            return True
    return False


def project_generator(project: ProjectIndex, qualname: str | None) -> str | None:
    """"sync"/"async" when the project index knows ``qualname`` as a generator function."""
    summary = project.get(qualname)
    if summary is None:
        return None
    kind = summary.get(GENERATOR_KEY)
    return kind if isinstance(kind, str) else None


def local_generator_def(scope_chain: list[ast.AST], name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function definition :func:`local_generators` found for ``name``, if any."""
    for scope in scope_chain:
        if not isinstance(getattr(scope, "body", None), list):
            continue
        found = [node for node in walk_scope(scope)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name]
        if found:
            return found[0] if len(found) == 1 else None
    return None


def local_generators(scope_chain: list[ast.AST], name: str) -> str | None:
    """"sync"/"async" when ``name`` is a generator function defined in one of the scopes
    ``scope_chain`` (innermost first) and bound nowhere else in that scope."""
    for scope in scope_chain:
        body = getattr(scope, "body", None)
        if not isinstance(body, list):
            continue
        definitions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        other_binding = False
        for node in walk_scope(scope):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                definitions.append(node)
            elif isinstance(node, ast.ClassDef) and node.name == name or isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store) or isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) == name:
                other_binding = True
        if not definitions and not other_binding:
            continue  # not bound here: look further out
        if other_binding or len(definitions) != 1 or _is_overload_or_abstract(definitions[0]):
            return None
        return generator_kind(definitions[0])
    return None


SUMMARIZERS.append(summarize_generators)
