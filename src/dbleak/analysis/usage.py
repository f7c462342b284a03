"""How a local name is used in its scope: plain uses, releases, hand-overs and escapes.

Computed on demand, for the few names a rule asks about (not on the hot path).
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from dbleak.analysis.module import iter_children, walk

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


class UseKind(str, enum.Enum):
    ATTRIBUTE = "attribute"  # conn.execute(...), conn.total_changes
    CLOSE = "close"  # conn.close() (or another release method)
    BORROWED = "borrowed"  # passed to a known borrower (pandas.read_sql)
    OWNED = "owned"  # passed to a known owner (contextlib.closing)
    PASSED = "passed"  # passed to a call we know nothing of
    ESCAPES = "escapes"  # returned, yielded, stored, aliased, captured by a closure
    WITH_ITEM = "with-item"  # `with conn:` / `with conn, ...`
    COMPARED = "compared"  # `conn is None`, `if conn:`
    REBOUND = "rebound"  # the name is assigned again
    OTHER = "other"


@dataclass(frozen=True)
class Use:
    kind: UseKind
    node: ast.AST
    line: int


def _parents(root: ast.AST) -> dict[int, ast.AST]:
    parents: dict[int, ast.AST] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in iter_children(node):
            parents[id(child)] = node
            stack.append(child)
    return parents


def _binds(node: ast.AST, name: str) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = node.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if args.vararg:
            every.append(args.vararg)
        if args.kwarg:
            every.append(args.kwarg)
        if any(a.arg == name for a in every):
            return True
        body = node.body if isinstance(node.body, list) else [node.body]
        for child in body:
            for sub in walk(child):
                if isinstance(sub, ast.Name) and sub.id == name and isinstance(sub.ctx, ast.Store):
                    return True
    return False


def name_uses(scope: ast.AST, name: str, call_kind: Callable[[ast.Call], str | None],
              release_methods: tuple[str, ...] = ("close",),
              parents: Mapping[int, ast.AST] | None = None) -> Iterator[Use]:
    """Every use of ``name`` in ``scope`` (nested scopes that read it count as escapes).

    ``call_kind(call)`` says what a call does with its arguments: "borrow", "own" or None.
    ``parents``: the module's parent map (``facts.parent``), to avoid building one here.
    """
    if parents is None:
        parents = _parents(scope)
    for node in _walk(scope, name):
        if isinstance(node, _SCOPES):
            calls = _helper_calls(scope, node, name, parents, call_kind, release_methods)
            if calls is None:
                yield Use(UseKind.ESCAPES, node, node.lineno)
            else:
                # a local helper that only uses it: each call of it is a use here
                yield from (Use(UseKind.ATTRIBUTE, call, call.lineno) for call in calls)
            continue
        assert isinstance(node, ast.Name)
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            yield Use(UseKind.REBOUND, node, node.lineno)
            continue
        yield Use(_classify(node, parents, call_kind, release_methods), node, node.lineno)


def _helper_calls(scope: ast.AST, helper: ast.AST, name: str, parents: Mapping[int, ast.AST],
                  call_kind: Callable[[ast.Call], str | None],
                  release_methods: tuple[str, ...]) -> list[ast.Call] | None:
    """The calls of a nested helper that only uses ``name`` (``def _analyse(): with
    conn.cursor() as cur: ...``, called in the block), or None when it may keep or release it:
    a plain ``def`` (no decorator, which may register it) that its scope only calls, and whose
    every read of the name is an attribute use or a borrow."""
    if not isinstance(helper, (ast.FunctionDef, ast.AsyncFunctionDef)) or helper.decorator_list:
        return None
    calls: list[ast.Call] = []
    for node in _walk(scope, helper.name):
        if isinstance(node, _SCOPES):
            if node is helper:
                continue
            return None  # another nested scope names it: it may be kept there
        parent = parents.get(id(node))
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
                and isinstance(parent, ast.Call) and parent.func is node):
            return None  # passed on, stored, returned: it may outlive the scope
        calls.append(parent)
    for sub in walk(helper):
        if isinstance(sub, (ast.Nonlocal, ast.Global)):
            return None
        if isinstance(sub, ast.Name) and sub.id == name and not (
                isinstance(sub.ctx, ast.Load)
                and _classify(sub, parents, call_kind, release_methods) in _HELPER_USES):
            return None
    return calls


# What a local helper may do with the name and still only use it.
_HELPER_USES = frozenset({UseKind.ATTRIBUTE, UseKind.BORROWED, UseKind.COMPARED, UseKind.OTHER})


def _walk(scope: ast.AST, name: str) -> Iterator[ast.AST]:
    stack = list(iter_children(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and node.id == name:
            yield node
        if isinstance(node, _SCOPES):
            if not _binds(node, name) and any(
                isinstance(sub, ast.Name) and sub.id == name for sub in walk(node)
            ):
                yield node  # a closure that reads the name
            if isinstance(node, ast.Lambda):
                stack.extend(node.args.defaults)
            elif not isinstance(node, ast.ClassDef):
                stack.extend(node.decorator_list)
                stack.extend(node.args.defaults)
            continue
        stack.extend(iter_children(node))


def _classify(node: ast.Name, parents: Mapping[int, ast.AST],
              call_kind: Callable[[ast.Call], str | None],
              release_methods: tuple[str, ...]) -> UseKind:
    parent = parents.get(id(node))
    if isinstance(parent, ast.Attribute):
        grand = parents.get(id(parent))
        if parent.attr in release_methods and isinstance(grand, ast.Call) and grand.func is parent:
            return UseKind.CLOSE
        if isinstance(grand, (ast.Assign, ast.AnnAssign)) and getattr(grand, "value", None) is parent:
            # `x = conn.attr` reads an attribute; the object itself is not stored.
            return UseKind.ATTRIBUTE
        return UseKind.ATTRIBUTE
    if isinstance(parent, ast.Call):
        if parent.func is node:
            return UseKind.OTHER
        kind = call_kind(parent)
        if kind == "borrow":
            return UseKind.BORROWED
        if kind == "own":
            return UseKind.OWNED
        return UseKind.PASSED
    if isinstance(parent, ast.keyword):
        call = parents.get(id(parent))
        if isinstance(call, ast.Call):
            kind = call_kind(call)
            if kind == "borrow":
                return UseKind.BORROWED
            if kind == "own":
                return UseKind.OWNED
        return UseKind.PASSED
    if isinstance(parent, ast.withitem):
        return UseKind.WITH_ITEM
    if isinstance(parent, ast.Subscript) and parent.value is node:
        # `db["items"].insert(...)`: an item read from it, as an attribute is (dataset's tables)
        return UseKind.ATTRIBUTE
    if isinstance(parent, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.If, ast.While, ast.IfExp,
                           ast.Assert)):
        if isinstance(parent, ast.BoolOp):
            grand = parents.get(id(parent))
            if isinstance(grand, (ast.Return, ast.Assign, ast.Yield)):
                return UseKind.ESCAPES
        if isinstance(parent, ast.IfExp) and parent.test is not node:
            return UseKind.ESCAPES
        return UseKind.COMPARED
    if isinstance(parent, ast.Expr):
        return UseKind.OTHER
    return UseKind.ESCAPES
