"""The values a local name may hold where it is read, through straight-line code and branches.

``qs = Model.objects.all()`` then ``if limit: qs = qs[:limit]`` then ``for o in qs:``: at the
loop the name holds ``Model.objects.all()`` or ``Model.objects.all()[:limit]``. Each binding
that reads the name itself (``qs = qs.filter(...)``) is spelled out with the values it refines,
so a reader of the result sees whole expressions and never has to follow the name again.

The reading is conservative: it gives up (None) on any binding it cannot spell as one value (a
tuple target, an augmented assignment, a loop target, ``with ... as``, an import, ``del``), on a
binding inside ``try`` or ``match``, and on a use inside a loop that binds the name (the next
turn could read a later value).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

from dbleak.analysis.module import ModuleFacts

# Statements whose body may run after a later part of itself (a loop's next turn, a handler
# after any part of its `try`).
_LOOPS_AND_HANDLERS: tuple[type[ast.stmt], ...] = (
    ast.For, ast.AsyncFor, ast.While, ast.Try, ast.Match,
    *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))

# More alternatives than this: give up (the code is not the simple refinement this reads).
_MOST = 8


class _Unknown(Exception):
    pass


def reaching_values(use: ast.Name, scope: ast.AST, facts: ModuleFacts) -> list[ast.expr] | None:
    """Every value ``use``'s name may hold at ``use``, in ``scope`` (a function or a module).

    A parameter, or a name with no binding before the use, contributes itself as an unknown
    value (the ``use`` node's name, unsubstituted). None when the bindings cannot be read."""
    body = getattr(scope, "body", None)
    if not isinstance(body, list):
        return None
    path: list[ast.stmt] = []  # the statements holding the use, outermost first
    current: ast.AST | None = facts.statement_of(use)
    while isinstance(current, ast.stmt) and current is not scope:
        path.append(current)
        current = facts.statement_parent.get(id(current))
    if current is not scope and not (current is None and isinstance(scope, ast.Module)):
        return None
    path.reverse()
    start: list[ast.expr] = [ast.Name(id=use.id, ctx=ast.Load())]
    try:
        found = _to_use(body, start, path, 0, use.id)
    except _Unknown:
        return None
    return found


def _to_use(block: list[ast.stmt], values: list[ast.expr], path: list[ast.stmt], depth: int,
            name: str) -> list[ast.expr]:
    target = path[depth]
    for stmt in block:
        if stmt is target:
            if depth == len(path) - 1:
                return values  # the use's own statement: read before it binds anything
            inner = path[depth + 1]
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                raise _Unknown  # read when it is called, not here
            # A later turn of a loop reads a later binding; a handler runs after any part of
            # its `try`.
            if isinstance(stmt, _LOOPS_AND_HANDLERS) and _binds(stmt, name):
                raise _Unknown
            for field in ("body", "orelse", "finalbody"):
                sub = getattr(stmt, field, None)
                if isinstance(sub, list) and any(s is inner for s in sub):
                    return _to_use(sub, values, path, depth + 1, name)
            raise _Unknown  # in an except handler or a match case
        values = _after(stmt, values, name)
    raise _Unknown


def _run(block: list[ast.stmt], values: list[ast.expr], name: str) -> list[ast.expr]:
    for stmt in block:
        values = _after(stmt, values, name)
    return values


def _after(stmt: ast.stmt, values: list[ast.expr], name: str) -> list[ast.expr]:
    """The values after ``stmt`` runs, given those before it."""
    if not _binds(stmt, name):
        return values
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], ast.Name) and not _binds_inside(stmt.value, name):
        return _refine(stmt.value, values, name)
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) \
            and stmt.value is not None and not _binds_inside(stmt.value, name):
        return _refine(stmt.value, values, name)
    if isinstance(stmt, ast.If):
        return _merge(_run(stmt.body, values, name), _run(stmt.orelse, values, name))
    if isinstance(stmt, (ast.With, ast.AsyncWith)) and not any(
            item.optional_vars is not None and _binds(item.optional_vars, name)
            for item in stmt.items):
        return _run(stmt.body, values, name)
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)) and not (
            not isinstance(stmt, ast.While) and _binds(stmt.target, name)):
        once = _run(stmt.body, values, name)  # the body may not run at all
        return _merge(values, _run(stmt.orelse, once, name) if stmt.orelse else once)
    raise _Unknown


def _refine(value: ast.expr, values: list[ast.expr], name: str) -> list[ast.expr]:
    if not any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(value)):
        return [value]
    return [_substitute(value, name, old) for old in values]


class _Swap(ast.NodeTransformer):
    def __init__(self, name: str, old: ast.expr) -> None:
        self.name = name
        self.old = old

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self.old if node.id == self.name and isinstance(node.ctx, ast.Load) else node


def _substitute(value: ast.expr, name: str, old: ast.expr) -> ast.expr:
    """A copy of ``value`` (positions kept) reading ``old`` where it reads ``name``."""
    swapped = _Swap(name, old).visit(copy.deepcopy(value))
    assert isinstance(swapped, ast.expr)
    return swapped


def _merge(first: list[ast.expr], second: list[ast.expr]) -> list[ast.expr]:
    merged = list(first)
    for value in second:
        if not any(value is seen for seen in merged):
            merged.append(value)
    if len(merged) > _MOST:
        raise _Unknown
    return merged


def _binds(node: ast.AST, name: str) -> bool:
    """Whether ``node`` binds ``name`` in the current scope (nested scopes' bodies excluded)."""
    bound: frozenset[str] | None = getattr(node, "_dbleak_bound", None)
    if bound is None:
        bound = frozenset(_bound_names(node))
        node._dbleak_bound = bound  # type: ignore[attr-defined]  # asked again for each use
    return name in bound


def _bound_names(node: ast.AST) -> Iterator[str]:
    for sub in _walk(node):
        if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
            yield sub.id
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield sub.name
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            yield from ((a.asname or a.name).split(".")[0] for a in sub.names)
        elif isinstance(sub, (ast.Global, ast.Nonlocal)):
            yield from sub.names
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            yield sub.name


def _binds_inside(value: ast.expr, name: str) -> bool:
    """A walrus in the value binds the name too."""
    return any(isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)
               and n.target.id == name for n in ast.walk(value))


_INNER_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
                 ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _walk(node: ast.AST) -> list[ast.AST]:
    found: list[ast.AST] = []
    stack = [node]
    while stack:
        current = stack.pop()
        found.append(current)
        if current is not node and isinstance(current, _INNER_SCOPES):
            continue  # its body is another scope (a def's own name was recorded above)
        stack.extend(ast.iter_child_nodes(current))
    return found
