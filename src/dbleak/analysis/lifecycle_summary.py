"""Project-index summaries for the lifecycle rules, and the *origins* they are written in.

An origin says where a value comes from without deciding what it is: ``("call", "db.connect",
())`` is "the result of calling ``db.connect``", ``("attr", "app.Repo", "conn")`` "what
``Repo`` instances keep in ``self.conn``", ``("method", <origin>, "cursor", ())`` "the result of
calling ``cursor()`` on that". Summaries are written in origins (plain tuples: picklable,
hashable, cheap) and resolved at check time against the driver table and the project index
(:mod:`dbleak.analysis.sources`), so a factory of a factory in another module composes without
ordering the modules, and a module summarized on its own says the same as in a whole-project run.

Per module, the summarizer records:

- ``<module>``: the names its top-level imports bind (re-exports are followed through them);
- ``<module>.<NAME>``: the origin of each module-level global (``Session = sessionmaker(...)``);
- ``<module>.<Class>``: its bases, the origins of what its methods store on ``self`` (and its
  class-body attributes), and the attributes some code of the class may release;
- ``<module>.<function>`` and ``<module>.<Class>.<method>``: its parameters, the origins of
  what it returns (a *factory* when every ``return`` gives one), yields, and what it does with
  each parameter (:data:`EFFECT_RELEASE`, :data:`EFFECT_ESCAPE`, :data:`EFFECT_BORROW`, or the
  calls it passes the parameter to, resolved later).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import Any

from dbleak.analysis.module import SCOPE_NODES, ModuleFacts, walk, walk_scope
from dbleak.analysis.names import import_bindings
from dbleak.analysis.project import SUMMARIZERS, module_functions

Origin = tuple[Any, ...]

SUMMARY_KIND = "lifecycle.kind"  # "function", "property", "cached_property", "contextmanager",
#                                   "cached" (a memoized function), "class", "global", "module"
SUMMARY_PARAMS = "lifecycle.params"  # parameter names in positional order
SUMMARY_RETURNS = "lifecycle.returns"  # origins of the fresh values every `return` gives
SUMMARY_RETURN_ITEMS = "lifecycle.return_items"  # `return a, b`: per position, an origin or None
SUMMARY_YIELDS = "lifecycle.yields"  # a generator's yielded origins
SUMMARY_EFFECTS = "lifecycle.effects"  # {parameter: effect}
SUMMARY_IMPORTS = "lifecycle.imports"  # on a module: {local name: qualified name}
SUMMARY_VALUE = "lifecycle.value"  # on a global: its origin
SUMMARY_BASES = "lifecycle.bases"  # on a class: its bases' qualified names
SUMMARY_ATTRS = "lifecycle.attrs"  # on a class: {attribute: origin}
SUMMARY_RELEASED_ATTRS = "lifecycle.released_attrs"  # on a class: attributes it may release

EFFECT_RELEASE, EFFECT_ESCAPE, EFFECT_BORROW, EFFECT_WITH = "release", "escape", "borrow", "with"

RELEASE_METHODS = frozenset({"close", "aclose", "dispose", "release", "disconnect", "terminate",
                             "shutdown", "closeall", "close_all", "ensure_closed", "remove"})
# Calls that only look at their arguments.
BORROWING_BUILTINS = frozenset({
    "print", "len", "isinstance", "issubclass", "id", "repr", "str", "type", "hasattr", "getattr",
    "bool", "hash", "callable", "vars", "dir", "format", "list", "tuple", "set", "frozenset",
    "sorted", "sum", "any", "all", "min", "max", "dict", "next", "int", "float",
})
# Method names that only use their arguments, whatever the receiver (logging, pandas, a
# cursor's parameters, string formatting).
BORROWING_METHODS = frozenset({
    "debug", "info", "warning", "warn", "error", "exception", "critical", "log", "format",
    "to_sql", "read_sql", "read_sql_query", "read_sql_table", "execute", "executemany",
    "write", "writerow", "writerows", "assertIsNotNone", "assertIsInstance", "assertTrue",
    "assertEqual", "assertIs",
})
# Method names by which a receiver keeps what it is given (a container, a registry, an
# executor that runs it later, an exit stack).
KEEPING_METHODS = frozenset({
    "append", "appendleft", "add", "extend", "insert", "put", "put_nowait", "push", "setdefault",
    "update", "register", "submit", "apply_async", "create_task", "ensure_future",
    "run_in_executor", "call_soon", "call_later", "call_soon_threadsafe", "start_soon", "spawn",
    "enter_context", "enter_async_context", "callback", "push_async_callback", "push_async_exit",
    "set", "attach", "adopt", "track", "bind", "addCleanup", "addAsyncCleanup", "setattr",
})
# Words in an unknown function's name that say it keeps its argument.
KEEPING_WORDS = frozenset({
    "register", "attach", "add", "append", "put", "push", "set", "store", "keep", "track",
    "manage", "adopt", "own", "cache", "bind", "install", "wrap", "enter", "save", "spawn",
    "start", "submit", "schedule", "thread", "partial", "finalize", "setattr",
})
_CACHING_DECORATORS = frozenset({"lru_cache", "cache", "cached", "memoize", "memoized", "singleton",
                                 "cachedmethod", "reify", "cache_on_self"})
_NEUTRAL_DECORATORS = frozenset({"staticmethod", "classmethod", "abstractmethod", "overload",
                                 "wraps", "override", "final"})


def decorator_name(deco: ast.expr) -> str:
    target = deco.func if isinstance(deco, ast.Call) else deco
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def function_kind(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """"property", "cached_property", "contextmanager", "cached" or "function"."""
    kind = "function"
    for deco in function.decorator_list:
        name = decorator_name(deco)
        if name in ("property",):
            kind = "property"
        elif name in ("cached_property", "cachedproperty", "memoized_property", "lazy_property",
                      "reify", "lazyproperty"):
            return "cached_property"
        elif name in ("contextmanager", "asynccontextmanager"):
            return "contextmanager"
        elif name in _CACHING_DECORATORS:
            return "cached"
        elif name in ("fixture", "yield_fixture"):
            return "fixture"
    return kind


def self_name(function: ast.AST) -> str | None:
    """The name of a method's first parameter (``self``/``cls``), if it has one."""
    args = getattr(function, "args", None)
    if args is None:
        return None
    positional = [*args.posonlyargs, *args.args]
    return positional[0].arg if positional else None


def is_keeping_name(name: str) -> bool:
    """Whether an unknown callee's name says it keeps what it is given."""
    if name[:1].isupper():
        return True  # a constructor: the new object may hold it
    words = {w for w in name.lower().split("_") if w}
    return bool(words & KEEPING_WORDS)


def _unwrap_annotation(annotation: ast.expr) -> ast.expr:
    """``Optional[X]``, ``X | None``, ``"X"`` → ``X``."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return annotation
    if isinstance(annotation, ast.Subscript) and decorator_name(annotation.value) in ("Optional", "Annotated"):
        inner = annotation.slice
        if isinstance(inner, ast.Tuple) and inner.elts:
            inner = inner.elts[0]
        return _unwrap_annotation(inner)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        for side in (annotation.left, annotation.right):
            if not (isinstance(side, ast.Constant) and side.value is None):
                return _unwrap_annotation(side)
    return annotation


class OriginReader:
    """Origins of the expressions of one scope (a function, a method, or the module body).

    Syntactic and flow-insensitive: a local name's origin is the common origin of every value
    assigned to it in the scope (``None`` placeholders ignored); a parameter's is its
    annotation's type; a free name is a module global or an import.
    """

    def __init__(self, facts: ModuleFacts, scope: ast.AST, class_qualname: str | None = None) -> None:
        self.facts = facts
        self.scope = scope
        self.cls = class_qualname
        self.prefix = f"{facts.module_name}." if facts.module_name else ""
        self.is_module = isinstance(scope, ast.Module)
        self.self_name = self_name(scope) if class_qualname is not None else None
        self._assigned: dict[str, list[ast.expr | None]] | None = None
        self._params: dict[str, ast.arg] = {}
        if not self.is_module:
            args = getattr(scope, "args", None)
            if args is not None:
                for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    self._params[arg.arg] = arg
                if args.vararg is not None:
                    self._params[args.vararg.arg] = args.vararg
                if args.kwarg is not None:
                    self._params[args.kwarg.arg] = args.kwarg
        self._cache: dict[int, Origin | None] = {}
        self._visiting: set[str] = set()

    # -- local bindings

    def assigned(self) -> dict[str, list[ast.expr | None]]:
        """Every value bound to each local name (None: a binding whose value is unknown)."""
        if self._assigned is not None:
            return self._assigned
        found: dict[str, list[ast.expr | None]] = {}
        declared: set[str] = set()
        nodes = module_level_nodes(self.scope) if self.is_module else walk_scope(self.scope)
        for node in nodes:
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                declared.update(node.names)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    _bind_target(found, target, node.value if len(node.targets) == 1 else None)
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
                if isinstance(node.target, ast.Name):
                    found.setdefault(node.target.id, []).append(node.value)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                _bind_target(found, node.target, None)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        _bind_target(found, item.optional_vars, None)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                found.setdefault(node.target.id, []).append(None)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not self.scope:
                found.setdefault(node.name, []).append(None)
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and not self.is_module:
                for alias in node.names:
                    found.setdefault((alias.asname or alias.name).split(".")[0], []).append(None)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                found.setdefault(node.name, []).append(None)
        for name in declared:
            found.pop(name, None)
        self._assigned = found
        return found

    def is_param(self, name: str) -> bool:
        return not self.is_module and name in self._params

    def is_local(self, name: str) -> bool:
        return not self.is_module and (name in self._params or name in self.assigned())

    # -- origins

    def origin(self, expr: ast.AST | None, depth: int = 0) -> Origin | None:
        if expr is None or depth > 12:
            return None
        key = id(expr)
        if key in self._cache:
            return self._cache[key]
        found = self._origin(expr, depth)
        self._cache[key] = found
        return found

    def _origin(self, expr: ast.AST, depth: int) -> Origin | None:
        if isinstance(expr, ast.Await):
            return self.origin(expr.value, depth + 1)
        if isinstance(expr, ast.NamedExpr):
            return self.origin(expr.value, depth + 1)
        if isinstance(expr, ast.Call):
            return self._call_origin(expr, depth)
        if isinstance(expr, ast.Name):
            return self.name_origin(expr.id, depth)
        if isinstance(expr, ast.Attribute):
            value = expr.value
            if isinstance(value, ast.Name) and self.cls is not None and value.id == self.self_name:
                return ("attr", self.cls, expr.attr)
            qualname = self._free_qualname(expr)
            if qualname is not None:
                return ("global", qualname)
            base = self.origin(value, depth + 1)
            return ("getattr", base, expr.attr) if base is not None else None
        if isinstance(expr, ast.Subscript):
            base = self.origin(expr.value, depth + 1)
            return ("method", base, "__getitem__", ()) if base is not None else None
        if isinstance(expr, ast.IfExp):
            return _any([self.origin(side, depth + 1) for side in (expr.body, expr.orelse)
                         if not _is_none(side)])
        return None

    def _free_qualname(self, expr: ast.expr) -> str | None:
        """The qualified name of a chain whose root is not a local name."""
        root = expr
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name) or self.is_local(root.id):
            return None
        qualname = self.facts.qualname(expr)
        if qualname is not None:
            return qualname
        if root.id in module_globals(self.facts.tree):
            parts: list[str] = []
            node: ast.AST = expr
            while isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            return self.prefix + ".".join([root.id, *reversed(parts)])
        return None

    def name_origin(self, name: str, depth: int = 0) -> Origin | None:
        if not self.is_module and name in self._params:
            annotation = self._params[name].annotation
            if annotation is None:
                return None
            qualname = self.facts.qualname(_unwrap_annotation(annotation))
            return ("type", qualname) if qualname is not None else None
        assigned = self.assigned()
        if self.is_local(name):
            if name in self._visiting:
                return None
            self._visiting.add(name)
            try:
                values = assigned.get(name, [])
                if any(value is None for value in values):
                    return None
                origins = [self.origin(value, depth + 1) for value in values
                           if value is not None and not _is_none(value)]
                if any(o is None for o in origins):
                    return None
                return _any(origins)
            finally:
                self._visiting.discard(name)
        qualname = self.facts.qualname(ast.Name(id=name, ctx=ast.Load()))
        if qualname is not None:
            return ("global", qualname)
        if name in module_globals(self.facts.tree):
            return ("global", self.prefix + name)
        return None

    def _call_origin(self, call: ast.Call, depth: int) -> Origin | None:
        func = call.func
        keywords = tuple(sorted(k.arg for k in call.keywords if k.arg is not None
                                and not _is_none(k.value)))
        if (isinstance(func, ast.Name) and func.id == "next" and len(call.args) == 1
                and not self.is_local("next") and self.facts.qualname(func) is None):
            inner = self.origin(call.args[0], depth + 1)
            return ("next", inner) if inner is not None else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and self.cls is not None and func.value.id == self.self_name:
            return ("call", f"{self.cls}.{func.attr}", keywords)
        if isinstance(func, (ast.Name, ast.Attribute)):
            qualname = self._free_qualname(func)
            if qualname is not None:
                return ("call", qualname, keywords)
        if isinstance(func, ast.Name):
            base = self.name_origin(func.id, depth + 1)
            return ("method", base, "__call__", keywords) if base is not None else None
        if isinstance(func, ast.Attribute):
            base = self.origin(func.value, depth + 1)
            return ("method", base, func.attr, keywords) if base is not None else None
        return None


def _bind_target(found: dict[str, list[ast.expr | None]], target: ast.expr,
                 value: ast.expr | None) -> None:
    if isinstance(target, ast.Name):
        found.setdefault(target.id, []).append(value)
    elif isinstance(target, (ast.Tuple, ast.List)):
        values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) else None
        for index, element in enumerate(target.elts):
            inner = element.value if isinstance(element, ast.Starred) else element
            _bind_target(found, inner, values[index] if values is not None and not isinstance(element, ast.Starred) else None)
    elif isinstance(target, ast.Starred):
        _bind_target(found, target.value, None)


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _any(origins: list[Origin | None]) -> Origin | None:
    """One origin for several alternatives (None when any is unknown or there are none)."""
    if not origins or any(o is None for o in origins):
        return None
    distinct = list(dict.fromkeys(origins))
    return distinct[0] if len(distinct) == 1 else ("any", tuple(distinct))


def module_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import time, through `if`, `try` and `with` blocks."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from module_level_statements(stmt.body + stmt.orelse)
        elif isinstance(stmt, ast.Try) or (hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)):
            handlers = [s for h in stmt.handlers for s in h.body]
            yield from module_level_statements(stmt.body + handlers + stmt.orelse + stmt.finalbody)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield from module_level_statements(stmt.body)


def module_level_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes of the module's own scope (nested scopes not entered)."""
    yield from walk_scope(tree)


_GLOBALS_KEY = "_dbleak_module_globals"


def module_globals(tree: ast.Module) -> frozenset[str]:
    """Names the module body assigns (not imports, defs or classes)."""
    cached = tree.__dict__.get(_GLOBALS_KEY)
    if cached is None:
        names: set[str] = set()
        for stmt in module_level_statements(tree.body):
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    names.update(n.id for n in walk(target) if isinstance(n, ast.Name))
            elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and isinstance(stmt.target, ast.Name):
                names.add(stmt.target.id)
        cached = frozenset(names)
        tree.__dict__[_GLOBALS_KEY] = cached
    assert isinstance(cached, frozenset)
    return cached


# --- what a function does with its parameters -----------------------------------------------

def parameter_effects(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef,
                      params: list[str], reader: OriginReader) -> dict[str, Any]:
    """{parameter: effect} for the parameters the function uses at all.

    An effect is ``"release"`` (some path releases it), ``"escape"`` (stored, returned,
    captured, given to something that keeps it), ``"with"`` (used as a `with` item: releases it
    when the object's own `with` closes), ``"borrow"``, or a tuple of the calls it is passed to
    (``("pass", callee origin, index, keyword)``), resolved at check time.
    """
    uses: dict[str, list[ast.Name]] = {}
    wanted = set(params) - {reader.self_name or ""}
    for node in walk_scope(function):
        if isinstance(node, ast.Name) and node.id in wanted:
            uses.setdefault(node.id, []).append(node)
        elif isinstance(node, SCOPE_NODES) and node is not function:
            for sub in walk(node):
                if isinstance(sub, ast.Name) and sub.id in wanted and isinstance(sub.ctx, ast.Load):
                    uses.setdefault(sub.id, []).append(sub)
    effects: dict[str, Any] = {}
    for param, nodes in uses.items():
        effects[param] = _combined_effect(facts, function, reader, nodes, set())
    return effects


def _combined_effect(facts: ModuleFacts, function: ast.AST, reader: OriginReader,
                     nodes: list[ast.Name], seen_aliases: set[str]) -> Any:
    found: list[Any] = []
    for node in nodes:
        if not isinstance(node.ctx, ast.Load):
            if isinstance(node.ctx, ast.Store):
                continue  # rebound: later uses are of another value
            found.append(EFFECT_ESCAPE)
            continue
        effect = _use_effect(facts, function, reader, node, seen_aliases)
        found.append(effect)
    return merge_effects(found)


def merge_effects(effects: list[Any]) -> Any:
    """release > escape > with > passes > borrow."""
    passes: list[Any] = []
    for wanted in (EFFECT_RELEASE, EFFECT_ESCAPE):
        if wanted in effects:
            return wanted
    if EFFECT_WITH in effects:
        return EFFECT_WITH
    for effect in effects:
        if isinstance(effect, tuple):
            passes.extend(effect)
    if passes:
        return tuple(dict.fromkeys(passes))
    return EFFECT_BORROW


def _use_effect(facts: ModuleFacts, function: ast.AST, reader: OriginReader, node: ast.Name,
                seen_aliases: set[str]) -> Any:
    parents = facts.parent
    # A use inside a nested function or lambda: captured, kept by the closure.
    owner = parents.get(id(node))
    while owner is not None and owner is not function:
        if isinstance(owner, SCOPE_NODES):
            return EFFECT_ESCAPE
        owner = parents.get(id(owner))
    current: ast.AST = node
    while True:
        parent = parents.get(id(current))
        if parent is None:
            return EFFECT_ESCAPE
        if isinstance(parent, ast.Attribute) and parent.value is current:
            grand = parents.get(id(parent))
            if parent.attr in RELEASE_METHODS:
                if isinstance(grand, ast.Call) and grand.func is parent:
                    return EFFECT_RELEASE
                return EFFECT_ESCAPE  # `stack.callback(conn.close)`: someone else releases it
            return EFFECT_BORROW
        if isinstance(parent, ast.Call):
            if parent.func is current:
                return EFFECT_BORROW
            return _argument_effect(facts, reader, parent, current)
        if isinstance(parent, ast.keyword):
            call = parents.get(id(parent))
            if isinstance(call, ast.Call):
                return _argument_effect(facts, reader, call, current, parent.arg)
            return EFFECT_ESCAPE
        if isinstance(parent, ast.withitem):
            holder = parents.get(id(parent))
            if parent.context_expr is current and holder is not None:
                return EFFECT_WITH
            return EFFECT_ESCAPE
        if isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom)):
            return EFFECT_ESCAPE
        if isinstance(parent, ast.Assign) and parent.value is current:
            if (current is node and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name)
                    and reader.is_local(parent.targets[0].id)):
                alias = parent.targets[0].id
                if alias in seen_aliases:
                    return EFFECT_BORROW
                seen_aliases.add(alias)
                alias_uses = [n for n in walk_scope(function)
                              if isinstance(n, ast.Name) and n.id == alias and isinstance(n.ctx, ast.Load)]
                return _combined_effect(facts, function, reader, alias_uses, seen_aliases)
            return EFFECT_ESCAPE
        if isinstance(parent, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.Starred,
                               ast.Tuple, ast.List, ast.Set, ast.Dict, ast.ListComp, ast.SetComp,
                               ast.DictComp, ast.GeneratorExp)):
            return EFFECT_ESCAPE
        if isinstance(parent, ast.comprehension):
            return EFFECT_BORROW if parent.iter is current else EFFECT_ESCAPE
        if isinstance(parent, (ast.BoolOp, ast.IfExp)):
            grand = parents.get(id(parent))
            if isinstance(grand, (ast.If, ast.While, ast.Assert, ast.UnaryOp)) or (
                    isinstance(parent, ast.IfExp) and parent.test is current):
                return EFFECT_BORROW
            current = parent  # `conn or default`: the value goes on
            continue
        if isinstance(parent, (ast.Compare, ast.UnaryOp, ast.If, ast.While, ast.Assert,
                               ast.JoinedStr, ast.FormattedValue, ast.Expr, ast.For, ast.AsyncFor,
                               ast.Subscript, ast.BinOp, ast.Match, ast.Raise, ast.Delete)):
            return EFFECT_BORROW
        return EFFECT_ESCAPE


def _argument_effect(facts: ModuleFacts, reader: OriginReader, call: ast.Call, argument: ast.AST,
                     keyword: str | None = None) -> Any:
    """What passing ``argument`` to ``call`` does, as far as the summary can say."""
    func = call.func
    index = None if keyword is not None else next(
        (i for i, a in enumerate(call.args) if a is argument), None)
    if index is None and keyword is None:
        return EFFECT_ESCAPE  # *args
    if isinstance(func, ast.Name) and not reader.is_local(func.id) and facts.qualname(func) is None:
        if func.id in BORROWING_BUILTINS:
            return EFFECT_BORROW
        if func.id in ("iter", "enumerate", "zip", "map", "filter", "reversed"):
            return EFFECT_BORROW
    target: str | None = None
    bound = False
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and reader.cls is not None and func.value.id == reader.self_name:
        target, bound = f"{reader.cls}.{func.attr}", True
    elif isinstance(func, (ast.Name, ast.Attribute)):
        target = reader._free_qualname(func)
    if target is not None:
        if target in ("contextlib.closing", "contextlib.aclosing"):
            return EFFECT_RELEASE if isinstance(facts.parent.get(id(call)), ast.withitem) else EFFECT_ESCAPE
        return (("pass", target, index, keyword, _result_kept(facts, reader, call), bound),)
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in BORROWING_METHODS:
        return EFFECT_BORROW
    if name in KEEPING_METHODS or is_keeping_name(name):
        return EFFECT_ESCAPE
    return EFFECT_ESCAPE if _result_kept(facts, reader, call) else EFFECT_BORROW


def _result_kept(facts: ModuleFacts, reader: OriginReader, call: ast.Call) -> bool:
    """Whether a call's result leaves the scope (returned, stored, yielded): what it was
    given may live inside it."""
    return value_leaves(facts, reader, call)


def value_leaves(facts: ModuleFacts, reader: OriginReader, node: ast.AST) -> bool:
    """Whether the value of ``node`` is returned, yielded or stored outside locals — directly
    or through the local names it is assigned to."""
    parents = facts.parent
    current = node
    while True:
        parent = parents.get(id(current))
        if parent is None:
            return True
        if isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(parent, (ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Starred, ast.Await,
                               ast.IfExp, ast.BoolOp, ast.NamedExpr)):
            current = parent
            continue
        if isinstance(parent, ast.keyword):
            parent = parents.get(id(parent))
            if isinstance(parent, ast.Call):
                current = parent
                continue
            return True
        if isinstance(parent, ast.Call):
            if parent.func is current:
                return False
            func = parent.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in KEEPING_METHODS:
                return True
            if isinstance(func, ast.Name) and name in BORROWING_BUILTINS and not reader.is_local(name):
                return False  # `list(rows)`, `len(x)`: plain data, nothing of it is kept
            current = parent  # its result may hold it
            continue
        if isinstance(parent, (ast.Assign, ast.AnnAssign)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            for target in targets:
                if not isinstance(target, ast.Name) or not reader.is_local(target.id):
                    return True
                if _name_leaves(facts, reader, target.id):
                    return True
            return False
        if isinstance(parent, ast.withitem):
            return False
        return False


def _name_leaves(facts: ModuleFacts, reader: OriginReader, name: str) -> bool:
    key = f"_leaves:{name}"
    cached = reader.__dict__.get(key)
    if cached is not None:
        return bool(cached)
    reader.__dict__[key] = False  # cycles: assume not
    result = False
    for node in walk_scope(reader.scope):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
            parent = facts.parent.get(id(node))
            if isinstance(parent, ast.Attribute):
                continue
            if value_leaves(facts, reader, node):
                result = True
                break
    reader.__dict__[key] = result
    return result


# --- the summarizer ---------------------------------------------------------------------------

def _returns(reader: OriginReader, function: ast.FunctionDef | ast.AsyncFunctionDef,
             nodes: list[ast.AST]) -> tuple[tuple[Origin, ...], tuple[Origin | None, ...]]:
    """(origins every `return` gives, or (); per-position origins of tuple returns)."""
    stored: set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node.value, ast.Name) and any(not isinstance(t, ast.Name) for t in targets):
                stored.add(node.value.id)  # also kept on self / in a container: shared
    origins: list[Origin] = []
    items: list[list[Origin | None]] = []
    factory = True
    for node in nodes:
        if not isinstance(node, ast.Return):
            continue
        value = node.value
        if value is None or _is_none(value):
            continue
        if isinstance(value, ast.Tuple):
            factory = False
            row = [None if isinstance(e, ast.Name) and e.id in stored else reader.origin(e)
                   for e in value.elts]
            items.append(row)
            continue
        if isinstance(value, ast.Name) and value.id in stored:
            factory = False
            continue
        origin = reader.origin(value)
        if origin is None or origin[0] in ("attr", "global", "type", "getattr"):
            factory = False  # a shared object (kept on self, a module global), or unknown
            continue
        origins.append(origin)
    merged_items: tuple[Origin | None, ...] = ()
    if items and all(len(row) == len(items[0]) for row in items):
        merged_items = tuple(_any(list(column)) if all(c is not None for c in column) else None
                             for column in zip(*items, strict=True))
    if not factory:
        return (), merged_items
    return tuple(dict.fromkeys(origins)), merged_items


def _class_facts(facts: ModuleFacts, cls: ast.ClassDef, class_qualname: str) -> dict[str, Any]:
    bases: list[str] = []
    for base in cls.bases:
        qualname = facts.qualname(base)
        if qualname is None and isinstance(base, ast.Name):
            qualname = (f"{facts.module_name}." if facts.module_name else "") + base.id
        bases.append(qualname or "?")
    attrs: dict[str, list[Origin | None]] = {}
    released: set[str] = set()
    body_reader = OriginReader(facts, cls)
    for item in cls.body:
        if isinstance(item, ast.Assign):
            for target in item.targets:
                if isinstance(target, ast.Name):
                    attrs.setdefault(target.id, []).append(body_reader.origin(item.value))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            if item.value is not None:
                attrs.setdefault(item.target.id, []).append(body_reader.origin(item.value))
            else:
                qualname = facts.qualname(_unwrap_annotation(item.annotation))
                attrs.setdefault(item.target.id, []).append(("type", qualname) if qualname else None)
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            reader = OriginReader(facts, item, class_qualname)
            me = reader.self_name
            if me is None or any(decorator_name(d) == "staticmethod" for d in item.decorator_list):
                continue
            for node in walk_scope(item):
                if isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                and target.value.id == me):
                            if node.value is None:
                                qualname = facts.qualname(_unwrap_annotation(node.annotation)) if isinstance(node, ast.AnnAssign) else None
                                attrs.setdefault(target.attr, []).append(("type", qualname) if qualname else None)
                            elif _is_none(node.value):
                                continue
                            else:
                                attrs.setdefault(target.attr, []).append(reader.origin(node.value))
                elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id == me and isinstance(node.ctx, ast.Load)):
                    if attribute_may_be_released(facts.parent, node):
                        released.add(node.attr)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Del):
                    released.add(node.attr)
            for sub in walk(item):  # closures and lambdas of the method
                if (isinstance(sub, SCOPE_NODES) and sub is not item):
                    for inner in walk(sub):
                        if (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
                                and inner.value.id == me and isinstance(inner.ctx, ast.Load)):
                            released.add(inner.attr)
    summary: dict[str, Any] = {SUMMARY_KIND: "class", SUMMARY_BASES: tuple(bases)}
    merged = {attr: _any([o for o in origins]) for attr, origins in attrs.items()}
    kept = {attr: origin for attr, origin in merged.items() if origin is not None}
    if kept:
        summary[SUMMARY_ATTRS] = kept
    if released:
        summary[SUMMARY_RELEASED_ATTRS] = tuple(sorted(released))
    return summary


def attribute_may_be_released(parents: Mapping[int, ast.AST], node: ast.Attribute) -> bool:
    """Whether a read of ``self.attr`` may release the object: a release call on it, or a use
    that hands it to other code (passed, returned, aliased, used in `with`)."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.Attribute) and parent.value is node:
        return parent.attr in RELEASE_METHODS
    if isinstance(parent, (ast.Compare, ast.If, ast.While, ast.UnaryOp, ast.Expr, ast.Assert,
                           ast.JoinedStr, ast.FormattedValue)):
        return False
    if isinstance(parent, ast.BoolOp):
        return not isinstance(parents.get(id(parent)), (ast.If, ast.While, ast.Assert))
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return False
    return not (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)
                and parent.func.id in ("isinstance", "print", "len", "repr", "str", "id", "type",
                                       "hasattr", "bool"))


def summarize_lifecycle(facts: ModuleFacts) -> dict[str, Mapping[str, Any]]:
    """Lifecycle facts of the module: its imports, globals, classes, functions and methods."""
    prefix = f"{facts.module_name}." if facts.module_name else ""
    summaries: dict[str, Mapping[str, Any]] = {}
    tree = facts.tree
    imports: dict[str, str] = {}
    module_reader = OriginReader(facts, tree)
    global_values: dict[str, list[Origin | None]] = {}
    for stmt in module_level_statements(tree.body):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for name, qualname in import_bindings(stmt, facts.module_name, facts.is_package):
                imports.setdefault(name, facts.drivers.canonical(qualname))
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            if not _is_none(stmt.value):
                global_values.setdefault(stmt.targets[0].id, []).append(module_reader.origin(stmt.value))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None and not _is_none(stmt.value):
                global_values.setdefault(stmt.target.id, []).append(module_reader.origin(stmt.value))
            else:
                annotated = facts.qualname(_unwrap_annotation(stmt.annotation))
                global_values.setdefault(stmt.target.id, []).append(("type", annotated) if annotated else None)
    # A name also bound to something else at module level is no re-export of the import.
    rebound = set(global_values) | {node.name for node in tree.body if isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    imports = {name: target for name, target in imports.items() if name not in rebound}
    if facts.module_name and imports:
        summaries[facts.module_name] = {SUMMARY_KIND: "module", SUMMARY_IMPORTS: imports}
    for name, origins in global_values.items():
        origin = _any(origins)
        if origin is not None:
            summaries[prefix + name] = {SUMMARY_KIND: "global", SUMMARY_VALUE: origin}
    class_names: dict[int, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            qualname = prefix + node.name
            summaries[qualname] = _class_facts(facts, node, qualname)
            for item in node.body:
                class_names[id(item)] = qualname
    for qualname, function in module_functions(facts).items():
        class_qualname = class_names.get(id(function))
        reader = OriginReader(facts, function, class_qualname)
        nodes = list(walk_scope(function))
        args = function.args
        params = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
        kind = function_kind(function)
        summary: dict[str, Any] = {SUMMARY_KIND: kind, SUMMARY_PARAMS: tuple(params)}
        is_generator = any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes)
        if is_generator:
            yielded = [reader.origin(n.value) for n in nodes if isinstance(n, ast.Yield) and n.value is not None]
            kept = tuple(dict.fromkeys(o for o in yielded if o is not None))
            if kept and len(kept) == len(yielded):
                summary[SUMMARY_YIELDS] = kept
        elif kind not in ("cached", "fixture"):
            returns, items = _returns(reader, function, nodes)
            if returns:
                summary[SUMMARY_RETURNS] = returns
            if any(item is not None for item in items):
                summary[SUMMARY_RETURN_ITEMS] = items
        effects = parameter_effects(facts, function, params, reader)
        if effects:
            summary[SUMMARY_EFFECTS] = effects
        summaries[qualname] = summary
    return summaries


if summarize_lifecycle not in SUMMARIZERS:
    SUMMARIZERS.append(summarize_lifecycle)
