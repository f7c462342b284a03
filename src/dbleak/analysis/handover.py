"""What a use of a database object does to it: borrows it, releases it, or hands it over to
someone who will (returned, stored, passed to an owner).

Read by the flow interpreter (:mod:`dbleak.analysis.flow`) for every read of a tracked name.
"""

from __future__ import annotations

import ast
from collections.abc import MutableMapping

from dbleak.analysis.sources import CLOSING_WRAPPERS, ObjectSources

# Calls that only look at their arguments.
BORROWING_BUILTINS = frozenset({
    "print", "len", "isinstance", "issubclass", "id", "repr", "str", "type", "hasattr", "getattr",
    "bool", "hash", "callable", "vars", "dir", "format", "list", "tuple", "set", "frozenset",
    "sorted", "sum", "any", "all", "min", "max", "dict", "next",
})
# Calls whose result wraps their argument lazily: the argument goes where the result goes.
LAZY_WRAPPERS = frozenset({"enumerate", "zip", "map", "filter", "iter", "reversed"})

# Method names that only use their arguments, whatever the receiver (logging, pandas).
BORROWING_METHODS = frozenset({
    "debug", "info", "warning", "warn", "error", "exception", "critical", "log",
    "to_sql", "read_sql", "read_sql_query", "read_sql_table", "execute", "executemany",
})
# Method names by which a pool takes a connection back.
POOL_RELEASE_METHODS = frozenset({"putconn", "release", "release_connection"})

# Method names by which an exit stack takes ownership.
STACK_METHODS = frozenset({"enter_context", "enter_async_context", "callback", "push",
                           "push_async_callback", "push_async_exit"})

RELEASE_METHODS = frozenset({"close", "aclose", "dispose", "release", "disconnect", "terminate",
                             "shutdown", "closeall", "ensure_closed"})


class HandOver:
    """Where values go in one scope (``cls``: the class whose method it is)."""

    def __init__(self, sources: ObjectSources, parents: MutableMapping[int, ast.AST],
                 cls: ast.ClassDef | None, unknown_calls: str) -> None:
        self.sources = sources
        self.parents = parents
        self.cls = cls
        self.unknown_calls = unknown_calls

    def _release_methods(self, name: str) -> frozenset[str]:
        return RELEASE_METHODS

    def value_fate(self, node: ast.expr) -> tuple[str, ast.AST]:
        """Where a value goes: "escape", "borrow", "release" (an owner in a with) or "yield"."""
        current: ast.AST = node
        while True:
            parent = self.parents.get(id(current))
            if parent is None:
                return "escape", current
            if isinstance(parent, (ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Starred, ast.BoolOp,
                                   ast.NamedExpr, ast.Await)):
                if isinstance(parent, ast.NamedExpr):
                    return "escape", parent
                current = parent
                continue
            if isinstance(parent, ast.IfExp):
                if parent.test is current:
                    return "borrow", current
                current = parent
                continue
            if isinstance(parent, ast.comprehension):
                return "borrow", current  # iterated where it stands
            if isinstance(parent, (ast.ListComp, ast.SetComp, ast.DictComp)):
                current = parent  # the element flows into the new container
                continue
            if isinstance(parent, ast.GeneratorExp):
                current = parent  # lazy: the generator holds it
                continue
            if isinstance(parent, ast.keyword):
                call = self.parents.get(id(parent))
                if isinstance(call, ast.Call):
                    return self.call_fate(call, None, parent.arg), call
                return "escape", parent
            if isinstance(parent, ast.Call):
                if parent.func is current:
                    return "borrow", current
                index = parent.args.index(current) if current in parent.args else None
                fate = self.call_fate(parent, index, None)
                if fate == "lazy":
                    current = parent
                    continue
                return fate, parent
            if isinstance(parent, (ast.Return,)):
                return "escape", parent
            if isinstance(parent, (ast.Yield, ast.YieldFrom)):
                if isinstance(parent, ast.Yield) and current is node:
                    return "yield", parent
                return "escape", parent
            if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                return "escape", parent
            if isinstance(parent, ast.withitem):
                return "borrow", parent  # the with statement itself decides
            if isinstance(parent, (ast.Compare, ast.UnaryOp, ast.If, ast.While, ast.Assert,
                                   ast.JoinedStr, ast.FormattedValue, ast.Expr, ast.For,
                                   ast.AsyncFor, ast.Subscript, ast.Attribute, ast.BinOp,
                                   ast.Match, ast.Raise, ast.Delete)):
                return "borrow", current
            return "escape", current

    def call_fate(self, call: ast.Call, index: int | None, keyword: str | None) -> str:
        """What a call does with an argument: "borrow", "escape", "release" or "lazy"."""
        module = self.sources
        func = call.func
        if isinstance(func, ast.Name) and func.id in BORROWING_BUILTINS and module.facts.qualname(func) is None:
            return "borrow"
        if isinstance(func, ast.Name) and func.id in LAZY_WRAPPERS and module.facts.qualname(func) is None:
            return "lazy"
        qualname = module.call_target(call, self.cls)
        if qualname in CLOSING_WRAPPERS:
            holder = self.parents.get(id(call))
            if isinstance(holder, ast.withitem):
                return "release"
            return "escape"
        if qualname is not None:
            if qualname in module.drivers.borrowers:
                return "borrow"
            if qualname in module.drivers.owners:
                return "escape"
            effect = module.param_effect(qualname, index, keyword,
                                         isinstance(func, ast.Attribute))
            if effect is not None:
                return effect
        if isinstance(func, ast.Attribute):
            if func.attr in POOL_RELEASE_METHODS:
                return "release"
            if func.attr in STACK_METHODS:
                return "escape"
            if func.attr in BORROWING_METHODS:
                return "borrow"
        if self.unknown_calls == "borrow":
            return "borrow"
        return "escape"
