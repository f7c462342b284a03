"""Generator functions, for the project index and for the module being checked.

A call to a generator function returns a lazy iterator; wrapping it in ``list()`` only to walk
it once defeats the point (DBL301). This module says which functions are generators: the
summarizer records them in the project index (so a generator of another module is known), and
:func:`local_generators` finds the ones of the module at hand, nested functions included.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from dbleak.analysis.module import ModuleFacts, walk_scope
from dbleak.analysis.project import SUMMARIZERS, ProjectIndex, module_functions

# The key under which the project index stores "sync" or "async" for a generator function.
GENERATOR_KEY = "generator"


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
            found[qualname] = {GENERATOR_KEY: kind}
    return found


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
