"""Origins: where a value comes from, written without deciding what it is.

``("call", "db.connect", ())`` is "the result of calling ``db.connect``", ``("attr",
"app.Repo", "conn")`` "what ``Repo`` instances keep in ``self.conn``", ``("method", <origin>,
"cursor", ())`` "the result of calling ``cursor()`` on that", ``("global", "app.db.engine")``
"the module-level object ``engine`` of ``app.db``", ``("type", "sqlite3.Connection")`` "a
value declared of that type", ``("adopt", <call origin>, ((1, <origin>),))`` "the result of a
call given a new object as its second argument" (a wrapper may take it over). Origins are plain tuples (picklable, hashable, cheap): the
project's summaries are written in them, and :mod:`dbleak.analysis.sources` resolves them
against the driver table and the project index.

One :class:`OriginReader` per scope reads them, syntactically and flow-insensitively; a
nested function's reader knows its enclosing function's (closures, ``nonlocal`` factories).
:func:`scope_readers` makes the readers of a module, with the qualified names the project
index uses (``mod.func``, ``mod.Class.method``, ``mod.func.inner``).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterator
from typing import Any

from dbleak.analysis.module import ModuleFacts, Scope, walk, walk_scope
from dbleak.analysis.names import chain_text, import_bindings, import_from_base

Origin = tuple[Any, ...]
# The nodes that bind names (what `OriginReader.assigned` looks at; the rest is skipped).
_BINDING_NODES = frozenset({
    ast.Global, ast.Nonlocal, ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.For, ast.AsyncFor,
    ast.comprehension, ast.With, ast.AsyncWith, ast.AugAssign, ast.FunctionDef,
    ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.ExceptHandler,
})
# The origin of a value nothing is known of (kept where the shape of a call still tells
# something: `x.cursor()` is a cursor of some connection).
UNKNOWN: tuple[Any, ...] = ("unknown",)
# The value a function-level import binds a name to (its origin is the import's target).
IMPORTED = ast.Name(id="<import>", ctx=ast.Load())

_CACHING_DECORATORS = frozenset({"lru_cache", "cache", "cached", "memoize", "memoized", "singleton",
                                 "cachedmethod", "reify", "cache_on_self"})


def creator_qualname(call: ast.Call, keyword: str, qualname: Callable[[ast.AST], str | None]
                     ) -> str | None:
    """The qualified name of the DB-API module a wrapping factory is given: the ``keyword``
    argument, else the first positional one (``PooledDB(creator=pymysql)``, ``PooledDB(pymysql)``)."""
    given = next((k.value for k in call.keywords if k.arg == keyword), None)
    if given is None and call.args and not isinstance(call.args[0], ast.Starred):
        given = call.args[0]
    return qualname(given) if given is not None else None


def decorator_name(deco: ast.expr) -> str:
    target = deco.func if isinstance(deco, ast.Call) else deco
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def has_decorator(function: ast.AST, names: frozenset[str] | set[str]) -> bool:
    """Whether one of ``function``'s decorators is named in ``names``."""
    return any(decorator_name(d) in names for d in getattr(function, "decorator_list", ()))


# Decorators after which a method's first parameter is no instance of its class (or no call
# is made).
NOT_INSTANCE_METHODS = frozenset({"staticmethod", "classmethod", "property", "cached_property",
                                  "setter", "getter", "deleter"})


def instance_method_of(scope: Scope) -> tuple[str, ast.ClassDef] | None:
    """``(self, the class)`` when ``scope`` is a plain method of a class (no static or class
    method, no property), else None."""
    function = scope.node
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or scope.parent is None \
            or not isinstance(scope.parent.node, ast.ClassDef) \
            or has_decorator(function, NOT_INSTANCE_METHODS):
        return None
    first = self_name(function)
    return (first, scope.parent.node) if first is not None else None


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


def identity_return(facts: ModuleFacts, qualname: str) -> int | None:
    """The position of the parameter that the method ``qualname`` (of a top-level class of the
    module) returns unchanged on every ``return`` (returning nothing else), or None. Each method
    is read once, when first asked about."""
    cached: dict[str, int | None] | None = facts.__dict__.get("_identity_returns")
    if cached is None:
        cached = facts.__dict__["_identity_returns"] = {}
    if qualname not in cached:
        cached[qualname] = _identity_return(facts, qualname)
    return cached[qualname]


def _identity_return(facts: ModuleFacts, qualname: str) -> int | None:
    prefix = f"{facts.module_name}." if facts.module_name else ""
    owner, _, method = qualname.rpartition(".")
    found = None
    for cls in facts.tree.body:
        if isinstance(cls, ast.ClassDef) and prefix + cls.name == owner:
            for item in cls.body:  # (the last definition that returns a parameter)
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    position = _returned_parameter(item)
                    found = position if position is not None else found
    return found


def _returned_parameter(item: ast.FunctionDef) -> int | None:
    params = [a.arg for a in (*item.args.posonlyargs, *item.args.args)]
    returned: set[str] = set()
    rebound = False
    for node in walk_scope(item):
        if isinstance(node, ast.Return):
            returned.add(node.value.id if isinstance(node.value, ast.Name) else "")
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            rebound = rebound or node.id in params
        elif isinstance(node, (ast.Yield, ast.YieldFrom)):
            returned.add("")
    if len(returned) == 1 and not rebound:
        name = next(iter(returned))
        if name in params[1:]:
            return params.index(name)
    return None


def self_name(function: ast.AST) -> str | None:
    """The name of a method's first parameter (``self``/``cls``), if it has one."""
    args = getattr(function, "args", None)
    if args is None:
        return None
    positional = [*args.posonlyargs, *args.args]
    return positional[0].arg if positional else None


def parameter_defaults(function: ast.AST) -> list[tuple[ast.arg, ast.expr]]:
    """``(parameter, default)`` for each parameter of ``function`` that has a default,
    positional and keyword-only."""
    args = getattr(function, "args", None)
    if args is None:
        return []
    positional = [*args.posonlyargs, *args.args]
    return [*zip(positional[len(positional) - len(args.defaults):], args.defaults),
            *((a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None)]


# Annotations that say a parameter is callable, and nothing of what it makes.
_CALLABLE_TYPES = frozenset({"typing.Callable", "collections.abc.Callable"})


def unwrap_annotation(annotation: ast.expr) -> ast.expr:
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
        return unwrap_annotation(inner)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        for side in (annotation.left, annotation.right):
            if not (isinstance(side, ast.Constant) and side.value is None):
                return unwrap_annotation(side)
    return annotation


# Keywords whose value is the class of the object a driver's factory makes.
FACTORY_CLASS_KEYWORDS = frozenset({"factory", "connection_factory"})


def factory_class_keywords(call: ast.Call, qualname_of: Callable[[ast.expr], str | None]) -> list[str]:
    """``"factory=<qualname>"`` for each keyword of ``call`` that names the class of the object
    a driver's factory makes (``sqlite3.connect(p, factory=Closing)``): how origins record it."""
    found = []
    for keyword in call.keywords:
        if keyword.arg in FACTORY_CLASS_KEYWORDS and isinstance(keyword.value, (ast.Name, ast.Attribute)):
            qualname = qualname_of(keyword.value)
            if qualname is not None:
                found.append(f"{keyword.arg}={qualname}")
    return found


class OriginReader:
    """Origins of the expressions of one scope (a function, a method, or the module body).

    Syntactic and flow-insensitive: a local name's origin is the common origin of every value
    assigned to it in the scope (``None`` placeholders ignored); a parameter's is its
    annotation's type; a free name is the enclosing function's (``parent``), a module global
    or an import.
    """

    def __init__(self, facts: ModuleFacts, scope: ast.AST, class_qualname: str | None = None,
                 parent: OriginReader | None = None, qualname: str | None = None) -> None:
        self.facts = facts
        self.scope = scope
        self.cls = class_qualname
        self.parent = parent
        self.qualname = qualname  # the scope's own qualified name, for its nested functions
        self.prefix = f"{facts.module_name}." if facts.module_name else ""
        self._defs: dict[str, ast.AST] = {}
        self.is_module = isinstance(scope, ast.Module)
        self.self_name = self_name(scope) if class_qualname is not None else None
        self._assigned: dict[str, list[ast.expr | None]] | None = None
        # What the scope binds to names it declares `global` (see :meth:`global_bindings`).
        self._globals: dict[str, list[ast.expr | None]] = {}
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
        self._names: dict[str, Origin | None] = {}
        self._visiting: set[str] = set()
        self._isinstance: dict[str, list[ast.Call]] | None = None  # see `_isinstance_tests`

    # -- local bindings

    def assigned(self) -> dict[str, list[ast.expr | None]]:
        """Every value bound to each local name (None: a binding whose value is unknown)."""
        if self._assigned is not None:
            return self._assigned
        found: dict[str, list[ast.expr | None]] = {}
        declared: set[str] = set()
        globals_: set[str] = set()
        nodes = module_level_nodes(self.scope) if self.is_module else walk_scope(self.scope)
        binding = _BINDING_NODES
        for node in nodes:
            if type(node) not in binding:
                continue
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                declared.update(node.names)
                if isinstance(node, ast.Global):
                    globals_.update(node.names)
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
                self._defs[node.name] = node
                if not self.is_module and not isinstance(node, ast.ClassDef):
                    _nonlocal_assignments(node, found)
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and not self.is_module:
                for alias in node.names:
                    found.setdefault((alias.asname or alias.name).split(".")[0], []).append(IMPORTED)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                found.setdefault(node.name, []).append(None)
        for name in declared:
            values = found.pop(name, None)
            if name in globals_ and values:
                self._globals[name] = values
        self._assigned = found
        return found

    def global_bindings(self) -> dict[str, list[ast.expr | None]]:
        """The values a function binds to the module-level names it declares ``global``
        (``global Session; Session = sessionmaker(bind=engine)`` in an ``init_db()``)."""
        if self.is_module:
            return {}
        self.assigned()
        return self._globals

    def def_qualname(self, name: str) -> str | None:
        """The qualified name of a function defined in this scope or an enclosing function."""
        reader: OriginReader | None = self
        while reader is not None:
            if reader.is_module:
                return None
            assigned = reader.assigned()
            if name in reader._params or name in assigned:
                node = reader._defs.get(name)
                if node is None or len(assigned.get(name, ())) != 1 or reader.qualname is None:
                    return None
                return f"{reader.qualname}.{name}"
            reader = reader.parent
        return None

    def enclosing_holder(self, name: str) -> OriginReader | None:
        """The enclosing function's reader that binds a free name of this scope."""
        reader = self.parent
        while reader is not None and not reader.is_module:
            if reader.is_local(name):
                return reader
            reader = reader.parent
        return None

    def only_imported(self, name: str) -> bool:
        """A local name bound by imports only (``from app.db import connect`` in a function):
        it names what the import names."""
        values = self.assigned().get(name)
        return values is not None and bool(values) and name not in self._params \
            and all(v is IMPORTED for v in values)

    def is_param(self, name: str) -> bool:
        return not self.is_module and name in self._params

    def is_local(self, name: str) -> bool:
        return not self.is_module and (name in self._params or name in self.assigned())

    def holds_value(self, name: str) -> bool:
        """A parameter or a local holding a value, not an import: it shadows whatever the
        module binds to the same name."""
        return self.is_local(name) and not self.only_imported(name)

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
            narrowed = self._narrowed(expr)
            if narrowed is not None:
                return narrowed
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
            # an item of a container or a registry: shared, not made here
            return ("item", base) if base is not None else None
        if isinstance(expr, ast.IfExp):
            return any_origin([self.origin(side, depth + 1) for side in (expr.body, expr.orelse)
                         if not is_none(side)])
        return None

    def _narrowed(self, name: ast.Name) -> Origin | None:
        """``("type", T)`` for a name read in the body of ``if isinstance(name, T):`` (alone or
        as a term of an ``and``), when the body does not rebind it: there the name holds a
        ``T`` whatever it held before (records-mover's ``if isinstance(db, Engine):
        connection = db.connect()``)."""
        tested = self._isinstance_tests()
        if name.id not in tested:
            return None
        parents = self.facts.parent
        current: ast.AST = name
        while True:
            parent = parents.get(id(current))
            if parent is None or parent is self.scope or isinstance(
                    parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                return None
            if isinstance(parent, ast.If) and any(stmt is current for stmt in parent.body):
                for test in tested[name.id]:
                    if _tests_in(parent.test, test) and not _rebinds(parent.body, name.id):
                        qualname = self.facts.qualname(test.args[1])
                        if qualname is not None:
                            return ("type", qualname)
            current = parent

    def _isinstance_tests(self) -> dict[str, list[ast.Call]]:
        """The scope's ``isinstance(name, T)`` calls with one class ``T``, by name."""
        if self._isinstance is None:
            found: dict[str, list[ast.Call]] = {}
            for node in walk_scope(self.scope):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "isinstance" and len(node.args) == 2
                        and isinstance(node.args[0], ast.Name)
                        and isinstance(node.args[1], (ast.Name, ast.Attribute))):
                    found.setdefault(node.args[0].id, []).append(node)
            self._isinstance = found
        return self._isinstance

    def _free_qualname(self, expr: ast.expr) -> str | None:
        """The qualified name of a chain whose root is not a local name."""
        root = expr
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name):
            return None
        if self.holds_value(root.id):
            return None
        if not self.is_local(root.id) and self.enclosing_holder(root.id) is not None:
            return None
        # `def connect(p): from sqlite3 import connect; return connect(p)`: the module binds the
        # name twice (its own function, the import), this scope only by its import
        qualname = self._locally_imported(root.id, expr) if self.only_imported(root.id) else None
        if qualname is None:
            qualname = self.facts.qualname(expr)
        if qualname is not None:
            return qualname
        if root.id in module_globals(self.facts.tree) or self._star_bound(root.id):
            parts: list[str] = []
            node: ast.AST = expr
            while isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            return self.prefix + ".".join([root.id, *reversed(parts)])
        return None

    def _locally_imported(self, name: str, expr: ast.expr) -> str | None:
        """The qualified name of ``expr`` (a chain from ``name``) through the one absolute
        import of this scope that binds ``name``, else None."""
        found = {qualname for node in walk_scope(self.scope)
                 if isinstance(node, ast.Import) or isinstance(node, ast.ImportFrom) and node.level == 0
                 for bound, qualname in import_bindings(node) if bound == name}
        text = chain_text(expr)
        if len(found) != 1 or text is None:
            return None
        return self.facts.drivers.canonical(next(iter(found)) + text[len(name):])

    def name_origin(self, name: str, depth: int = 0) -> Origin | None:
        """The origin of what a name holds in this scope (memoized per name)."""
        if name in self._names:
            return self._names[name]
        found = self._name_origin(name, depth)
        if name not in self._visiting:
            self._names[name] = found
        return found

    def _name_origin(self, name: str, depth: int = 0) -> Origin | None:
        if not self.is_module and name in self._params:
            annotation = self._params[name].annotation
            if annotation is None:
                return self._untyped_parameter(name)
            declared = unwrap_annotation(annotation)
            generic = declared.value if isinstance(declared, ast.Subscript) else declared
            if self.facts.qualname(generic) in _CALLABLE_TYPES:
                return self._untyped_parameter(name)  # `func: Callable[..., T]`: says no type
            qualname = self.facts.qualname(declared)
            return ("type", qualname) if qualname is not None else None
        assigned = self.assigned()
        if self.holds_value(name):
            if name in self._visiting:
                return None
            self._visiting.add(name)
            try:
                values = assigned.get(name, [])
                if any(value is None for value in values):
                    return None
                # `session = self.prepare(session)` gives back what the name held already
                origins = [self.origin(value, depth + 1) for value in values
                           if value is not None and not is_none(value)
                           and not self._gives_back(value, name)]
                if any(o is None for o in origins):
                    return None
                return any_origin(origins)
            finally:
                self._visiting.discard(name)
        holder = self.enclosing_holder(name)
        if holder is not None:
            return holder.name_origin(name, depth + 1)
        qualname = self.facts.qualname(ast.Name(id=name, ctx=ast.Load()))
        if qualname is not None:
            return ("global", qualname)
        if name in module_globals(self.facts.tree) or self._star_bound(name):
            return ("global", self.prefix + name)
        return None

    def _untyped_parameter(self, name: str) -> Origin | None:
        """``("self", Class)`` for a method's own instance; ``("param", function, name)`` for a
        parameter its call sites may type (:mod:`dbleak.analysis.call_sites`)."""
        scope = self.scope
        if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) or self.qualname is None:
            return None
        decorators = {decorator_name(d) for d in scope.decorator_list}
        if name == self.self_name and self.cls is not None:
            return None if decorators & {"classmethod", "staticmethod"} else ("self", self.cls)
        args = scope.args
        if name in ((args.vararg.arg if args.vararg else None), (args.kwarg.arg if args.kwarg else None)):
            return None
        return ("param", self.qualname, name)

    def _star_bound(self, name: str) -> bool:
        """A name bound by nothing in the module but maybe by its ``from m import *``: it is
        read as the module's own global, which the module's summary resolves through ``m``."""
        return bool(self.prefix) and bool(star_imports(self.facts)) and not hasattr(builtins, name)

    def _passed_argument(self, call: ast.expr) -> ast.expr | None:
        """The argument ``self.prepare(arg)`` gives back, when the module's ``prepare`` returns
        that parameter unchanged on every path."""
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name) and self.cls is not None
                and call.func.value.id == self.self_name):
            return None
        position = identity_return(self.facts, f"{self.cls}.{call.func.attr}")
        index = -1 if position is None else position - 1  # `self`/`cls` is bound
        if not 0 <= index < len(call.args) or any(isinstance(a, ast.Starred) for a in call.args[:index + 1]):
            return None
        return call.args[index]

    def _gives_back(self, value: ast.expr, name: str) -> bool:
        """``name = self.prepare(name)``: the name keeps what it held."""
        argument = self._passed_argument(value)
        return isinstance(argument, ast.Name) and argument.id == name

    def _call_origin(self, call: ast.Call, depth: int) -> Origin | None:
        func = call.func
        # The keywords given a value other than None; positional arguments other than None as
        # `#<index>` (`#*` for `*args`, `**` for `**kwargs`): what a function that returns its
        # parameter unless it is given none is told (SUMMARY_UNLESS_PASSED).
        keywords = tuple(sorted([
            *(k.arg if k.arg is not None else "**" for k in call.keywords if not is_none(k.value)),
            *("#*" if isinstance(a, ast.Starred) else f"#{i}"
              for i, a in enumerate(call.args) if not is_none(a)),
            *factory_class_keywords(call, self._free_qualname)]))
        if (isinstance(func, ast.Name) and func.id == "next" and len(call.args) == 1
                and not self.is_local("next") and self.facts.qualname(func) is None):
            inner = self.origin(call.args[0], depth + 1)
            return ("next", inner) if inner is not None else None
        if isinstance(func, ast.Attribute) and func.attr == "__new__":
            owner = self._free_qualname(func.value)
            return ("new", owner) if owner is not None else None  # an instance not initialized
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and self.cls is not None and func.value.id == self.self_name:
            passed = self._passed_argument(call)
            if passed is not None:
                return self.origin(passed, depth + 1)
            return ("call", f"{self.cls}.{func.attr}", keywords)
        if isinstance(func, ast.Name) and self.cls is not None and func.id == self.self_name \
                and has_decorator(self.scope, {"classmethod"}):
            # `cls(path)` in a class method: a new instance of the class
            return self._adopting(("call", self.cls, keywords), call, depth)
        imported = self._imported_module(call)
        if imported is not None:
            return ("global", self.facts.drivers.canonical(imported))
        if isinstance(func, ast.Name):
            nested = self.def_qualname(func.id)
            if nested is not None:
                return ("call", nested, keywords)
            if len(call.args) == 2 and self.facts.qualname(func) in ("typing.cast", "typing_extensions.cast"):
                declared = self.facts.qualname(unwrap_annotation(call.args[0]))
                inner = self.origin(call.args[1], depth + 1)
                if declared is None:
                    return inner
                return ("cast", declared, inner)
        if isinstance(func, (ast.Name, ast.Attribute)):
            qualname = self._free_qualname(func)
            if qualname is not None:
                factory = self.facts.drivers.factory(self.facts.drivers.canonical(qualname))
                if factory is not None and factory.creator is not None and not self.facts.drivers.wraps_driver(
                        factory, creator_qualname(call, factory.creator, self.facts.qualname)):
                    return None  # `PooledDB(mock_db, 1)`: a pool over a stand-in opens nothing
                return self._adopting(("call", qualname, keywords), call, depth)
        if isinstance(func, ast.Name):
            base = self.name_origin(func.id, depth + 1)
            return ("method", base, "__call__", keywords) if base is not None else None
        if isinstance(func, ast.Attribute):
            base = self.origin(func.value, depth + 1)
            if base is None and func.attr.startswith("cursor"):
                base = UNKNOWN  # `conn.cursor()` of a parameter: a cursor of some connection
            return ("method", base, func.attr, keywords) if base is not None else None
        # `sessionmaker(bind=engine)()`, `factories[name]()`: calling what an expression holds
        base = self.origin(func, depth + 1)
        return ("method", base, "__call__", keywords) if base is not None else None


    def _imported_module(self, call: ast.Call) -> str | None:
        """The module a call imports by its name, a constant: ``importlib.import_module("a.b")``
        gives ``a.b``; ``__import__("a.b")`` gives ``a`` (``a.b`` with a ``fromlist``)."""
        if not call.args or not isinstance(call.args[0], ast.Constant) \
                or not isinstance(call.args[0].value, str) or not call.args[0].value:
            return None
        name: str = call.args[0].value
        func = call.func
        if isinstance(func, ast.Name) and func.id == "__import__" and not self.is_local(func.id) \
                and self.facts.qualname(func) is None:
            fromlist = call.args[3] if len(call.args) > 3 else next(
                (k.value for k in call.keywords if k.arg == "fromlist"), None)
            return name if fromlist is not None and not is_none(fromlist) else name.split(".")[0]
        if self.facts.qualname(func) == "importlib.import_module" and len(call.args) == 1 \
                and not name.startswith("."):
            return name
        return None

    def _adopting(self, made: Origin, call: ast.Call, depth: int) -> Origin:
        """``Wrapper(conn, sqlite3.connect(p))``: the call with the new objects it is given, by
        position or keyword (a class of the project may take them over)."""
        given: list[tuple[int | str, Origin]] = []
        for index, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                break
            if isinstance(arg, (ast.Call, ast.Await, ast.Name)):
                origin = self.origin(arg, depth + 1)
                if is_fresh(origin):
                    assert origin is not None
                    given.append((index, origin))
        for keyword in call.keywords:
            if keyword.arg is not None and isinstance(keyword.value, (ast.Call, ast.Await, ast.Name)):
                origin = self.origin(keyword.value, depth + 1)
                if is_fresh(origin):
                    assert origin is not None
                    given.append((keyword.arg, origin))
        return ("adopt", made, tuple(given)) if given else made


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


def _tests_in(test: ast.expr, call: ast.Call) -> bool:
    """Whether ``call`` is the test, or a term of the ``and`` that is."""
    if test is call:
        return True
    return isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) \
        and any(value is call for value in test.values)


def _rebinds(body: list[ast.stmt], name: str) -> bool:
    for stmt in body:
        for node in walk(stmt):
            if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
                return True
    return False


def is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def plain_call(origin: Origin) -> Origin:
    """The call of an ``("adopt", call, given)`` origin; any other origin as it is."""
    if origin[0] == "adopt":
        return tuple(origin[1])
    return origin


def is_fresh(origin: Origin | None) -> bool:
    """Whether an origin makes a new object (a call), rather than naming a shared one (an
    attribute, a module global, a declared type)."""
    if origin is None:
        return False
    tag = origin[0]
    if tag in ("call", "method", "next", "new", "adopt"):
        return True
    if tag in ("cast", "annotated"):
        return is_fresh(origin[2])
    if tag == "cursorlike":
        return is_fresh(origin[1])
    if tag == "any":
        return all(is_fresh(o) for o in origin[1])
    return False


def any_origin(origins: list[Origin | None]) -> Origin | None:
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
_STARS_KEY = "_dbleak_star_imports"


def star_imports(facts: ModuleFacts) -> tuple[str, ...]:
    """The modules the module body imports ``*`` from, in order (the last one binds a name
    last)."""
    cached = facts.tree.__dict__.get(_STARS_KEY)
    if cached is None:
        cached = tuple(dict.fromkeys(
            import_from_base(stmt, facts.module_name, facts.is_package)
            for stmt in module_level_statements(facts.tree.body)
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names)))
        facts.tree.__dict__[_STARS_KEY] = cached
    return tuple(cached)


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


def _nonlocal_assignments(function: ast.AST, found: dict[str, list[ast.expr | None]]) -> None:
    """Values a nested function assigns to names it declares ``nonlocal``: they are the
    enclosing scope's (``nonlocal Session; Session = sessionmaker(...)``)."""
    names: set[str] = set()
    for node in walk_scope(function):
        if isinstance(node, ast.Nonlocal):
            names.update(node.names)
    if not names:
        return
    for node in walk_scope(function):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if isinstance(target, ast.Name) and target.id in names and not is_none(node.value):
            found.setdefault(target.id, []).append(node.value)


def decorator_wrappers(facts: ModuleFacts) -> dict[int, ast.ClassDef]:
    """``{id(wrapper): C}`` for the inner function a module-level decorator returns, when the
    decorator is applied only to methods of one class ``C`` of the module: the wrapper takes
    the decorated method's place, so its first parameter is a ``C`` (``def with_cursor(f):
    def wrapper(self, *args): return f(self, self._db.cursor(), *args)``). Top-level classes
    only."""
    cached: dict[int, ast.ClassDef] | None = facts.__dict__.get("_dbleak_decorator_wrappers")
    if cached is not None:
        return cached
    found: dict[int, ast.ClassDef] = {}
    facts.__dict__["_dbleak_decorator_wrappers"] = found
    tree = facts.tree
    decorators: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {
        node.name: node for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if not decorators:
        return found
    users: dict[str, set[int]] = {}
    classes: dict[int, ast.ClassDef] = {}
    for scope in facts.scopes:  # every function, wherever it is defined
        item = scope.node
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        outer = scope.parent
        owner: ast.ClassDef | None = None
        if outer is not None and isinstance(outer.node, ast.ClassDef) \
                and outer.parent is not None and outer.parent.node is tree:
            owner = outer.node  # a method of a top-level class
        for decorator in item.decorator_list:
            if isinstance(decorator, ast.Name) and decorator.id in decorators:
                if owner is None or not item.args.args:
                    users.setdefault(decorator.id, set()).add(0)  # a plain function too
                else:
                    users.setdefault(decorator.id, set()).add(id(owner))
                    classes[id(owner)] = owner
    for name, owners in users.items():
        if len(owners) != 1 or 0 in owners:
            continue
        klass = classes[next(iter(owners))]
        function = decorators[name]
        returned = {n.value.id for n in ast.walk(function)
                    if isinstance(n, ast.Return) and isinstance(n.value, ast.Name)}
        for inner in function.body:
            if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and inner.name in returned and inner.args.args:
                found[id(inner)] = klass
    return found


def scope_readers(facts: ModuleFacts) -> dict[int, OriginReader]:
    """One reader per scope of the module (by the id of its node), with the qualified names
    the project index uses: ``mod.func``, ``mod.Class``, ``mod.Class.method``,
    ``mod.func.inner``."""
    cached = facts.__dict__.get("_dbleak_scope_readers")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    readers: dict[int, OriginReader] = {}
    qualnames: dict[int, str] = {}
    classes: dict[int, str] = {}
    wrappers = decorator_wrappers(facts)
    module = facts.tree
    readers[id(module)] = OriginReader(facts, module, qualname=facts.module_name or None)
    qualnames[id(module)] = facts.module_name
    for scope in facts.scopes[1:]:
        node = scope.node
        outer = scope.parent
        outer_node = outer.node if outer is not None else module
        base = qualnames.get(id(outer_node), "")
        name = getattr(node, "name", None)
        qualname = f"{base}.{name}" if base and name else (name or "")
        qualnames[id(node)] = qualname
        if isinstance(node, ast.ClassDef):
            classes[id(node)] = qualname
            readers[id(node)] = OriginReader(facts, node, qualname=qualname)
            continue
        class_qualname = classes.get(id(outer_node))
        wrapped = wrappers.get(id(node))
        if wrapped is not None and class_qualname is None:
            # a decorator's wrapper stands for the methods of one class: its `self` is one
            class_qualname = f"{facts.module_name}.{wrapped.name}" if facts.module_name \
                else wrapped.name
        enclosing = outer
        while enclosing is not None and isinstance(enclosing.node, ast.ClassDef):
            enclosing = enclosing.parent
        parent = None
        if enclosing is not None and not isinstance(enclosing.node, ast.Module):
            parent = readers.get(id(enclosing.node))
        readers[id(node)] = OriginReader(facts, node, class_qualname, parent,
                                         qualname if name else None)
    facts.__dict__["_dbleak_scope_readers"] = readers
    return readers
