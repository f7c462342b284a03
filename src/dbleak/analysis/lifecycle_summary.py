"""Project-index summaries for the lifecycle rules: user factories, and helpers that release or
only borrow a parameter.

Cheap and syntactic (one walk per function). A factory is recorded as "returns the result of
calls X, Y" — the qualified names are resolved lazily at check time, so a factory of a factory
in another module composes without ordering the modules.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from dbleak.analysis.module import ModuleFacts, iter_children, walk, walk_scope
from dbleak.analysis.project import SUMMARIZERS, module_functions

SUMMARY_RETURNS = "lifecycle.returns"  # tuple of qualnames whose call result is returned
SUMMARY_PARAMS = "lifecycle.params"  # parameter names in positional order
SUMMARY_RELEASES = "lifecycle.releases"  # parameters the body closes
SUMMARY_BORROWS = "lifecycle.borrows"  # parameters the body only uses
# On ``<module>.<name>``: the module re-exports a driver module under that name
# (``from peewee import sqlite3``); the value is what the name stands for.
SUMMARY_MODULE_ALIAS = "lifecycle.module_alias"

_RELEASE_METHODS = frozenset({"close", "aclose", "dispose", "disconnect", "terminate"})
_DB_METHODS = _RELEASE_METHODS | {
    "execute", "executemany", "executescript", "cursor", "commit", "rollback", "fetchone",
    "fetchall", "fetchmany", "fetchval", "fetchrow", "fetch", "query", "scalar", "scalars",
    "begin", "cmd_query", "get_rows", "exec_driver_sql",
}
# Decorators that keep a plain function a fresh-object factory.
_NEUTRAL_DECORATORS = frozenset({"staticmethod", "classmethod"})
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _own_nodes(function: ast.AST) -> list[ast.AST]:
    """The function's own nodes (nested scopes not entered), as the facts traversal stored them."""
    return list(walk_scope(function))


def _call_target(facts: ModuleFacts, call: ast.Call, class_name: str | None) -> str | None:
    func = call.func
    if (class_name is not None and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id in ("self", "cls")):
        prefix = f"{facts.module_name}." if facts.module_name else ""
        return f"{prefix}{class_name}.{func.attr}"
    return facts.call_qualname(call)


def _returned_calls(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef,
                    nodes: list[ast.AST], class_name: str | None) -> tuple[str, ...]:
    """The calls whose fresh result every ``return`` hands back; () when it is not a factory."""
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes):
        return ()
    for deco in function.decorator_list:
        if not (isinstance(deco, ast.Name) and deco.id in _NEUTRAL_DECORATORS):
            return ()  # a cache or a property returns a shared object
    assigned: dict[str, list[ast.expr]] = {}
    stored: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
                elif isinstance(node.value, ast.Name):
                    stored.add(node.value.id)  # also kept on self / in a container
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            stored.update(node.names)
    targets: list[str] = []
    for node in nodes:
        if not isinstance(node, ast.Return):
            continue
        value = node.value
        if value is None or (isinstance(value, ast.Constant) and value.value is None):
            continue
        values = [value]
        if isinstance(value, ast.Name):
            if value.id in stored or value.id not in assigned:
                return ()
            values = assigned[value.id]
        for item in values:
            inner = item.value if isinstance(item, ast.Await) else item
            if not isinstance(inner, ast.Call):
                return ()
            called = _call_target(facts, inner, class_name)
            if called is None:
                return ()
            targets.append(called)
    return tuple(dict.fromkeys(targets))


def _param_effects(function: ast.FunctionDef | ast.AsyncFunctionDef, nodes: list[ast.AST],
                   params: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(released, only borrowed) parameter names."""
    # Only parameters used like a connection or cursor are worth the full look.
    wanted = {n.value.id for n in nodes
              if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
              and n.value.id in params and n.attr in _DB_METHODS}
    if not wanted:
        return (), ()
    parents: dict[int, ast.AST] = {}
    for node in nodes:
        for child in iter_children(node):
            parents[id(child)] = node
    for child in iter_children(function):
        parents[id(child)] = function
    uses: dict[str, list[str]] = {}
    for node in nodes:
        if isinstance(node, _SCOPES) and any(
                isinstance(sub, ast.Name) and sub.id in wanted for sub in walk(node)):
            for sub in walk(node):
                if isinstance(sub, ast.Name) and sub.id in wanted:
                    uses.setdefault(sub.id, []).append("escape")
            continue
        if not (isinstance(node, ast.Name) and node.id in wanted):
            continue
        if not isinstance(node.ctx, ast.Load):
            uses.setdefault(node.id, []).append("escape")
            continue
        parent = parents.get(id(node))
        grand = parents.get(id(parent)) if parent is not None else None
        if isinstance(parent, ast.Attribute):
            if parent.attr in _RELEASE_METHODS:
                called = isinstance(grand, ast.Call) and grand.func is parent
                uses.setdefault(node.id, []).append("release" if called else "escape")
            else:
                uses.setdefault(node.id, []).append("use")
        elif isinstance(parent, (ast.Compare, ast.If, ast.While, ast.UnaryOp, ast.Expr, ast.Assert,
                                 ast.FormattedValue)) or isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id in (
                "print", "len", "isinstance", "repr", "str", "id", "type"):
            uses.setdefault(node.id, []).append("use")
        else:
            uses.setdefault(node.id, []).append("escape")
    released = tuple(p for p in params if "release" in uses.get(p, ()))
    borrowed = tuple(p for p in params if uses.get(p) and set(uses[p]) == {"use"})
    return released, borrowed


def _module_level_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at import time, through `if` and `try` blocks."""
    found: list[ast.stmt] = []
    for stmt in body:
        found.append(stmt)
        if isinstance(stmt, ast.If):
            found.extend(_module_level_statements(stmt.body + stmt.orelse))
        elif isinstance(stmt, ast.Try):
            handlers = [s for h in stmt.handlers for s in h.body]
            found.extend(_module_level_statements(stmt.body + handlers + stmt.orelse + stmt.finalbody))
    return found


def _driver_reexports(facts: ModuleFacts) -> dict[str, Mapping[str, Any]]:
    """``import sqlite3`` (or ``from x import sqlite3``) at module level: ``<module>.sqlite3``
    means the driver module to the modules that import it from here."""
    drivers = facts.drivers.module_names
    found: dict[str, Mapping[str, Any]] = {}
    if not facts.module_name:
        return found
    for stmt in _module_level_statements(facts.tree.body):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.name in drivers:
                    local = alias.asname or alias.name
                    found[f"{facts.module_name}.{local}"] = {SUMMARY_MODULE_ALIAS: alias.name}
        elif isinstance(stmt, ast.ImportFrom) and stmt.module is not None:
            for alias in stmt.names:
                if alias.name in drivers and (alias.asname or alias.name) == alias.name:
                    base = stmt.module
                    if stmt.level:
                        package = facts.module_name.split(".")[: -stmt.level]
                        base = ".".join([*package, base])
                    key = f"{facts.module_name}.{alias.name}"
                    found.setdefault(key, {SUMMARY_MODULE_ALIAS: f"{base}.{alias.name}"})
    return found


def summarize_lifecycle(facts: ModuleFacts) -> dict[str, Mapping[str, Any]]:
    """Lifecycle facts of the module's top-level functions and methods."""
    summaries: dict[str, Mapping[str, Any]] = dict(_driver_reexports(facts))
    class_names = {id(item): node.name for node in facts.tree.body if isinstance(node, ast.ClassDef)
                   for item in node.body}
    for qualname, function in module_functions(facts).items():
        nodes = _own_nodes(function)
        class_name = class_names.get(id(function))
        args = function.args
        params = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
        summary: dict[str, Any] = {SUMMARY_PARAMS: tuple(params)}
        returns = _returned_calls(facts, function, nodes, class_name)
        if returns:
            summary[SUMMARY_RETURNS] = returns
        released, borrowed = _param_effects(function, nodes, params)
        if released:
            summary[SUMMARY_RELEASES] = released
        if borrowed:
            summary[SUMMARY_BORROWS] = borrowed
        summaries[qualname] = summary
    return summaries


if summarize_lifecycle not in SUMMARIZERS:
    SUMMARIZERS.append(summarize_lifecycle)
