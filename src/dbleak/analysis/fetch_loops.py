"""Loop shapes around fetch sites: what a loop body does, and how a loop can be rewritten.

Plain `ast` questions the DBL2xx fixes ask before rewriting a loop: does the body run another
query on the same cursor, does it `break` out of the loop, is a name used anywhere else, does
the loop hold a multi-line string (which re-indenting would change).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dbleak.analysis.module import iter_children, walk, walk_scope
from dbleak.analysis.names import chain_text

_NESTED_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
QUERY_METHODS = frozenset({"execute", "executemany", "executescript", "callproc", "nextset",
                           "scroll", "copy_expert", "copy_from", "copy_to", "fetchone",
                           "fetchmany", "fetchall", "close"})
WRITE_METHODS = frozenset({"execute", "executemany", "executescript", "commit", "rollback"})



def _calls_in(stmts: list[ast.stmt]) -> Iterator[ast.Call]:
    for stmt in stmts:
        for node in walk(stmt):
            if isinstance(node, ast.Call):
                yield node


def body_uses_cursor(stmts: list[ast.stmt], key: str) -> bool:
    """The statements call a query method (``execute``, ``fetchone`` …) on the cursor ``key``."""
    for call in _calls_in(stmts):
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in QUERY_METHODS \
                and chain_text(func.value) == key:
            return True
    return False


def body_writes(stmts: list[ast.stmt]) -> bool:
    """The statements run any execute/commit at all (on any object)."""
    for call in _calls_in(stmts):
        if isinstance(call.func, ast.Attribute) and call.func.attr in WRITE_METHODS:
            return True
    return False


def breaks_out(loop: ast.For | ast.AsyncFor | ast.While) -> bool:
    """A `break` that leaves this loop (not one of a nested loop)."""
    stack: list[ast.AST] = list(loop.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (*_NESTED_LOOPS, *_SCOPES)):
            if isinstance(node, _NESTED_LOOPS):
                stack.extend(node.orelse)
            continue
        stack.extend(iter_children(node))
    return False


def has_multiline_string(node: ast.AST) -> bool:
    for sub in walk(node):
        is_string = isinstance(sub, ast.JoinedStr) or (
            isinstance(sub, ast.Constant) and isinstance(sub.value, (str, bytes)))
        if is_string and (sub.end_lineno or sub.lineno) > sub.lineno:  # type: ignore[attr-defined]
            return True
    return False


def name_loads(scope: ast.AST, name: str) -> list[ast.Name]:
    """Every read of ``name`` in the scope (nested scopes reading it count too)."""
    found: list[ast.Name] = []
    for node in walk_scope(scope):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
            found.append(node)
        elif isinstance(node, _SCOPES):
            for sub in walk(node):
                if isinstance(sub, ast.Name) and sub.id == name:
                    found.append(sub)
    return found


def name_stores(scope: ast.AST, name: str) -> int:
    count = 0
    for node in walk_scope(scope):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            count += 1
    return count


def next_statement(parent: ast.AST | None, stmt: ast.stmt) -> ast.stmt | None:
    """The statement after ``stmt`` in the same statement list."""
    if parent is None:
        return None
    for field in ("body", "orelse", "finalbody"):
        stmts = getattr(parent, field, None)
        if isinstance(stmts, list) and stmt in stmts:
            index = stmts.index(stmt)
            return stmts[index + 1] if index + 1 < len(stmts) else None
    for handler in getattr(parent, "handlers", []) or []:
        if stmt in handler.body:
            index = handler.body.index(stmt)
            return handler.body[index + 1] if index + 1 < len(handler.body) else None
    return None


def indent_block(text: str, extra: str) -> str:
    """Indent every line but the first of ``text`` by ``extra`` (blank lines stay blank)."""
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        out.append(extra + line if line.strip() else line)
    return "\n".join(out)


def target_at_least(target_version: str, minor: int) -> bool:
    """``target_version`` ("py310") is Python 3.``minor`` or newer."""
    try:
        return int(target_version.removeprefix("py")[1:]) >= minor
    except ValueError:
        return False
