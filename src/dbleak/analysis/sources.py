"""Where database objects come from: what the calls, names and attributes of a module make or
hold, resolved through imports, import fallbacks, re-exports, the driver table, the configured
factories and the project's own code (factories, module globals, class attributes, properties,
generators, annotations).

The project's code is read through its summaries (:mod:`dbleak.analysis.lifecycle_summary`),
written in *origins*; :meth:`ObjectSources.resolve` turns an origin into a :data:`Value`: a
driver-table object (:class:`~dbleak.knowledge.drivers.ObjectSpec`) or an instance of a class of
the project (:class:`ProjectClass`, whose methods and attributes are read in turn).

What happens to an object afterwards is :mod:`dbleak.analysis.flow`'s business; what a callee
does with one passed to it is :mod:`dbleak.analysis.handover`'s.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dbleak.analysis.call_sites import (
    argument_parameter,
    parameter_sites,
    result_walked_by_callers,
    top_package,
)
from dbleak.analysis.lifecycle_summary import (
    EFFECT_BORROW,
    EFFECT_ESCAPE,
    EFFECT_GUESS,
    EFFECT_RELEASE,
    EFFECT_RETURN,
    EFFECT_RETURN_GUESS,
    EFFECT_WITH,
    ITEMS,
    SUMMARY_ADOPTS,
    SUMMARY_ATTRS,
    SUMMARY_BASES,
    SUMMARY_EFFECTS,
    SUMMARY_EXIT_CLOSES,
    SUMMARY_HELD,
    SUMMARY_IMPORTS,
    SUMMARY_INIT_ATTRS,
    SUMMARY_KIND,
    SUMMARY_LENDS,
    SUMMARY_MAKES_DB,
    SUMMARY_METHODS,
    SUMMARY_PARAMS,
    SUMMARY_PASSED_ATTRS,
    SUMMARY_RELEASED_ATTRS,
    SUMMARY_RELEASERS,
    SUMMARY_RETURN_ITEMS,
    SUMMARY_RETURNS,
    SUMMARY_SOMETIMES_FRESH,
    SUMMARY_STARS,
    SUMMARY_UNLESS_PASSED,
    SUMMARY_VALUE,
    SUMMARY_YIELDS,
    summarize_lifecycle,
)
from dbleak.analysis.module import result_has_method
from dbleak.analysis.origins import (
    FACTORY_CLASS_KEYWORDS,
    Origin,
    OriginReader,
    creator_qualname,
    decorator_wrappers,
    factory_class_keywords,
    is_fresh,
    plain_call,
    scope_readers,
    star_imports,
)
from dbleak.analysis.project import module_functions
from dbleak.knowledge.calls import PROXY_BASES
from dbleak.knowledge.drivers import FactorySpec, Kind, ObjectSpec, WithSpec

if TYPE_CHECKING:
    from dbleak.analysis.context import CheckContext
    from dbleak.analysis.module import ModuleFacts

# A connection from a factory named in `[tool.dbleak.lifecycle] factories`: closes with `with`.
USER_CONNECTION = ObjectSpec("user.connection", "user", Kind.CONNECTION,
                             with_=WithSpec(closes=True))

# Connection classes that open nothing when called without arguments (missing from the table).
CONNECT_ON_ARGUMENTS = frozenset({
    "mysql.connector.MySQLConnection", "mysql.connector.connection.MySQLConnection",
    "mysql.connector.CMySQLConnection", "mysql.connector.connection_cext.CMySQLConnection",
})

# Keyword arguments with which a driver's factory opens nothing yet (PyMySQL, mysqlclient).
DEFERRED_CONNECT_KEYWORDS = frozenset({"defer_connect"})

CLOSING_WRAPPERS = frozenset({"contextlib.closing", "contextlib.aclosing"})
_MAX_DEPTH = 8
# The table's generic PEP 249 cursor: what `x.cursor()` makes when nothing says what `x` is but
# the result runs `execute()` or `fetch*()`.
DUCK_CURSOR = "dbapi.Cursor"
DUCK_CONNECTION = "dbapi.Connection"
# The methods by which an instance of a project class is released, and what it must own.
_RESOURCE_RELEASES = frozenset({"close", "aclose", "terminate", "disconnect", "shutdown", "dispose"})
# Other names of a method that ends an object's use, when it releases what the class keeps
# (`def end(self): self.connection.close()`); a method that closes as a step of its work
# (`add_value()`, `remove_session()`) is no release of the instance.
_RELEASER_NAMES = frozenset({"end", "release", "stop", "finish", "quit", "teardown", "cleanup",
                             "destroy", "free", "exit"})
_RELEASER_PREFIXES = ("close", "dispose", "disconnect", "release", "shutdown", "teardown")
_OWNED_KINDS = (Kind.CONNECTION, Kind.SESSION, Kind.CURSOR, Kind.ENGINE, Kind.POOL)
# Summary kinds of the attributes a method computes (`@property`, `functools.cached_property`).
_PROPERTY_KINDS = ("property", "cached_property")
# The package of Flask-SQLAlchemy (its `SQLAlchemy` extension and `Model` bases).
_FLASK_SQLALCHEMY = "flask_sqlalchemy."


@dataclass(frozen=True)
class ProjectClass:
    """An instance of a class defined in the project (its methods and attributes are read
    from the project index)."""

    qualname: str


Value = ObjectSpec | ProjectClass


def as_class(value: Value | None) -> ProjectClass | None:
    """The project class of a value, when it is an instance of one (a resource or not)."""
    if isinstance(value, ProjectClass):
        return value
    if isinstance(value, ObjectSpec) and value.project_class:
        return ProjectClass(value.project_class)
    return None


def value_key(value: Value) -> str:
    return value.name if isinstance(value, ObjectSpec) else f"class:{value.qualname}"


_CACHE_KEY = "_dbleak_object_sources"


def object_sources(ctx: CheckContext) -> ObjectSources:
    """The module's :class:`ObjectSources`, made once per check and shared by the rules."""
    cached = ctx.__dict__.get(_CACHE_KEY)
    if cached is None:
        cached = ObjectSources(ctx)
        ctx.__dict__[_CACHE_KEY] = cached
    assert isinstance(cached, ObjectSources)
    return cached


def handed_out(registry: Value | None, registry_origin: Any, method: str,
               value: Value | None) -> Value | None:
    """What a registry's call hands out (``scoped_session(...)()``): the registry's to release,
    unless the registry itself is made here (a fresh call) and dropped with the scope; then
    nothing else can release it, and it is this scope's to close."""
    if (isinstance(value, ObjectSpec) and not value.must_release and method == "__call__"
            and isinstance(registry, ObjectSpec) and registry.kind is Kind.FACTORY
            and registry.release and isinstance(registry_origin, tuple)
            and plain_call(registry_origin)[:1] == ("call",)):
        return replace(value, must_release=True)
    return value


def _instance_spec(qualname: str, chain: list[tuple[str, Mapping[str, Any], int]], kind: Kind,
                   note: str) -> ObjectSpec | None:
    """The spec of a project class's instances as objects to release (by the release methods
    the class and its project bases define), or None when it has no such method."""
    methods = {m for _name, summary, _level in chain for m in summary.get(SUMMARY_METHODS, ())}
    # The conventional names, and the public methods that release what the class keeps
    # (kolibri's `Bridge.end()`: `self.connection.close()`).
    releasers = {m for _name, summary, _level in chain for m in summary.get(SUMMARY_RELEASERS, ())
                 if m in _RELEASER_NAMES or m.startswith(_RELEASER_PREFIXES)}
    releases = tuple(sorted((methods & _RESOURCE_RELEASES) | releasers))
    if not releases:
        return None
    has_exit = "__exit__" in methods
    return ObjectSpec(
        f"project:{qualname}", "project", kind, release=releases,
        with_=WithSpec(closes=True) if has_exit else None,
        async_with=WithSpec(closes=True) if "__aexit__" in methods else None,
        closing_context="closing" if "close" in releases else ("self" if has_exit else "try-finally"),
        project_class=qualname, note=note)


# While set (the editor's incremental check, see ``dbleak.incremental``): the functions whose
# parameters an analysis typed by their call sites, whose findings may change with a caller.
CALL_SITE_TYPED: ContextVar[set[str] | None] = ContextVar("dbleak_call_site_typed", default=None)


def depends_on_callers(qualname: str) -> None:
    """Record that what is found in the function ``qualname`` depends on its calls (see
    :data:`CALL_SITE_TYPED`)."""
    typed = CALL_SITE_TYPED.get()
    if typed is not None:
        typed.add(qualname)


class ObjectSources:
    """What the calls and names of one module make or hold (the driver table's objects)."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.facts = ctx.facts
        self.drivers = ctx.drivers
        self.user_factories = frozenset(ctx.settings.option("lifecycle", "factories", ()) or ())
        self.prefix = f"{ctx.module_name}." if ctx.module_name else ""
        self._local: Mapping[str, Mapping[str, Any]] | None = None
        self._memo: dict[Origin, Value | None] = {}
        self._resources: dict[str, ObjectSpec | None] = {}
        self._through: dict[str, tuple[str, Mapping[str, Any] | None]] = {}
        self._returned_calls: dict[tuple[str, str], bool] = {}
        self._properties: dict[tuple[str, str], str | None] = {}
        self._reexports: dict[str, str] = {}
        self._driver_modules: tuple[frozenset[str], frozenset[str]] | None = None
        self._readers: dict[int, OriginReader] = {}
        self._names_by_node: dict[int, str] | None = None
        self._parameter_origins: dict[tuple[str, str], list[Origin] | None] = {}
        self.class_of: dict[int, ast.ClassDef] = {}
        for scope in self.facts.scopes:
            node = scope.node
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.class_of[id(item)] = node
        self.class_of.update(decorator_wrappers(self.facts))

    # -- summaries

    def local_summaries(self) -> Mapping[str, Mapping[str, Any]]:
        """This module's own summaries (the same as the project index holds in a full run)."""
        if self._local is None:
            self._local = summarize_lifecycle(self.facts)
        return self._local

    def summary(self, qualname: str | None) -> Mapping[str, Any] | None:
        if not qualname:
            return None
        local = self.local_summaries().get(qualname)
        if local is not None:
            return local
        found = self.ctx.project.get(qualname)
        return found.facts if found is not None else None

    def through_reexports(self, qualname: str) -> str:
        """``pkg.connect`` → ``pkg.db.connect`` when ``pkg`` imports ``connect`` from
        ``pkg.db`` (and on, through every module that re-exports it)."""
        found = self._reexports.get(qualname)
        if found is None:
            found = self._through_reexports(qualname)
            self._reexports[qualname] = found
        return found

    def _through_reexports(self, qualname: str) -> str:
        seen = {qualname}
        for _ in range(6):
            parts = qualname.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                summary = self.summary(".".join(parts[:cut]))
                imports = summary.get(SUMMARY_IMPORTS) if summary is not None else None
                if imports and parts[cut] in imports:
                    target = str(imports[parts[cut]])
                    qualname = self.drivers.canonical(".".join([target, *parts[cut + 1:]]))
                    break
                star = self._star_source(summary, parts[cut]) if summary is not None else None
                if star is not None:
                    qualname = self.drivers.canonical(".".join([star, parts[cut], *parts[cut + 1:]]))
                    break
            else:
                return qualname
            if qualname in seen:
                return qualname
            seen.add(qualname)
        return qualname

    def _star_source(self, module: Mapping[str, Any], name: str, depth: int = 0) -> str | None:
        """The module a ``from m import *`` of ``module`` takes ``name`` from (the last one
        that has it), when nothing in ``module`` itself binds it."""
        stars = module.get(SUMMARY_STARS)
        if not stars or name.startswith("_") or depth > 4:
            return None
        for star in reversed(stars):
            qualname = f"{star}.{name}"
            if self.summary(qualname) is not None:
                return str(star)
            inner = self.summary(str(star))
            if inner is not None and (name in (inner.get(SUMMARY_IMPORTS) or {})
                                      or self._star_source(inner, name, depth + 1) is not None):
                return str(star)
            if self.drivers.factory(qualname) is not None or qualname in self.drivers.objects \
                    or self.drivers.instance(qualname) is not None:
                return str(star)
        return None

    def _summary_through(self, qualname: str) -> tuple[str, Mapping[str, Any] | None]:
        found = self._through.get(qualname)
        if found is None:
            summary = self.summary(qualname)
            found = (qualname, summary)
            if summary is None:
                moved = self.through_reexports(qualname)
                if moved != qualname:
                    found = (moved, self.summary(moved))
            self._through[qualname] = found
        return found

    # -- readers

    def class_qualname(self, cls: ast.ClassDef | None) -> str | None:
        if cls is None:
            return None
        reader = scope_readers(self.facts).get(id(cls))
        return reader.qualname if reader is not None else self.prefix + cls.name

    def reader(self, scope: ast.AST, cls: ast.ClassDef | None = None) -> OriginReader:
        found = scope_readers(self.facts).get(id(scope))
        if found is None:  # a scope the traversal did not record (a synthetic node)
            found = self._readers.get(id(scope))
            if found is None:
                found = OriginReader(self.facts, scope, self.class_qualname(cls))
                self._readers[id(scope)] = found
        return found

    def expr_value(self, expr: ast.AST, scope: ast.AST, cls: ast.ClassDef | None = None) -> Value | None:
        """What ``expr`` (in ``scope``) holds, when it is a database object or a project
        class's instance."""
        origin = self.reader(scope, cls).origin(expr)
        return self.resolve(origin) if origin is not None else None

    # -- resolving origins

    def resolve(self, origin: Origin | None, depth: int = 0) -> Value | None:
        if origin is None or depth > _MAX_DEPTH:
            return None
        if origin in self._memo:
            return self._memo[origin]
        self._memo[origin] = None  # a cycle resolves to nothing
        found = self._resolve(origin, depth)
        self._memo[origin] = found
        return found

    def _resolve(self, origin: Origin, depth: int) -> Value | None:
        tag = origin[0]
        if tag == "call":
            return self.call_value(str(origin[1]), frozenset(origin[2]), depth)
        if tag == "method":
            module = self.driver_module(origin[1])
            if module is not None:  # `self._sqlite3.connect(p)` of `_sqlite3 = sqlite3`
                return self.call_value(f"{module}.{origin[2]}", frozenset(origin[3]), depth)
            classes = self._named_classes(origin[1]) if origin[2] == "__call__" else []
            if classes:  # `cls = Archive if local else RemoteArchive; return cls(path)`
                return self._common([self.class_value(c, depth + 1) for c in classes])
            base = self.resolve(origin[1], depth + 1)
            value = self.method_value(base, str(origin[2]), frozenset(origin[3]), depth)
            return handed_out(base, origin[1], str(origin[2]), value)
        if tag == "attr":
            return self.attr_value(str(origin[1]), str(origin[2]), depth)
        if tag == "item":
            held = origin[1]
            if isinstance(held, tuple) and len(held) == 3 and held[0] == "attr":
                # `self._dbs[key]`: what the class stores in the attribute's items
                items = self.attr_value(str(held[1]), str(held[2]) + ITEMS, depth)
                if items is not None:
                    return items
            base = self.resolve(origin[1], depth + 1)
            return self.method_value(base, "__getitem__", frozenset(), depth)
        if tag == "getattr":
            owner = as_class(self.resolve(origin[1], depth + 1))
            if owner is not None:
                return self.attr_value(owner.qualname, str(origin[2]), depth)
            return None
        if tag == "global":
            return self.global_value(str(origin[1]), depth)
        if tag in ("type", "self"):
            return self.type_value(str(origin[1]))
        if tag == "param":
            return self.parameter_value(str(origin[1]), str(origin[2]), depth)
        if tag == "cast":
            return self.type_value(str(origin[1])) or self.resolve(origin[2], depth + 1)
        if tag == "annotated":
            # A driver type declared is the contract (`-> Session`); for a class of the
            # project, what the calls make says more (an instance made with `__new__` owns
            # nothing yet).
            declared = self.type_value(str(origin[1]))
            if isinstance(declared, ObjectSpec) and not declared.project_class:
                made = self.resolve(origin[2], depth + 1)
                if isinstance(made, ObjectSpec) and made.name == declared.name:
                    return made  # the same object, maybe made as a class of the project's
                return declared
            return self.resolve(origin[2], depth + 1) or declared
        if tag == "new":
            return ProjectClass(str(origin[1]))
        if tag == "cursorlike":
            # what the function returns runs `execute()`/`fetch*()` there: a PEP 249 cursor
            return self.resolve(origin[1], depth + 1) or self.drivers.objects.get(DUCK_CURSOR)
        if tag == "adopt":
            made = self.resolve(origin[1], depth + 1)
            if isinstance(made, ProjectClass):
                return (self.adopted(made.qualname, origin[2], depth)
                        or self.proxied(made.qualname, origin[2], depth) or made)
            return made
        if tag == "next":
            inner = plain_call(origin[1])
            if inner[0] != "call":
                return None
            _name, summary = self._summary_through(str(inner[1]))
            if summary is None:
                return None
            return self._common([self.resolve(o, depth + 1) for o in summary.get(SUMMARY_YIELDS, ())])
        if tag == "any":
            return self._common([self.resolve(o, depth + 1) for o in origin[1]])
        return None

    def _named_classes(self, origin: Origin) -> list[str]:
        """The project classes an origin names, one or any of several (``cls = A`` in one branch,
        ``cls = B`` in another); empty when one alternative is anything else."""
        parts = origin[1] if isinstance(origin, tuple) and origin[:1] == ("any",) else (origin,)
        names: list[str] = []
        for part in parts:
            if not (isinstance(part, tuple) and len(part) > 1 and part[0] == "global"):
                return []
            name, summary = self._summary_through(str(part[1]))
            if summary is None or summary.get(SUMMARY_KIND) != "class":
                return []
            names.append(name)
        return names

    def driver_module(self, origin: Origin | None) -> str | None:
        """The driver module an origin names: a global (``sqlite3``), or a class attribute
        bound to one (``_sqlite3 = __import__("sqlite3")``, kept on the class), else None."""
        if not isinstance(origin, tuple) or not origin:
            return None
        if origin[0] == "attr" and len(origin) > 2:
            for _owner, summary, _level in self.class_chain(str(origin[1])):
                attrs = summary.get(SUMMARY_ATTRS) or {}
                if origin[2] in attrs:
                    origin = attrs[origin[2]]
                    break
            else:
                return None
        if not (isinstance(origin, tuple) and len(origin) > 1 and origin[0] == "global"):
            return None
        return str(origin[1]) if str(origin[1]) in self._driver_names()[0] else None

    def driver_functions(self) -> frozenset[str]:
        """The names of the driver modules' factory functions (``connect``, …)."""
        return self._driver_names()[1]

    def _driver_names(self) -> tuple[frozenset[str], frozenset[str]]:
        if self._driver_modules is None:
            qualnames = (*self.drivers.factories, *self.drivers.factory_variants)
            self._driver_modules = (frozenset(q.rsplit(".", 1)[0] for q in qualnames),
                                    frozenset(q.rsplit(".", 1)[-1] for q in qualnames))
        return self._driver_modules

    def called_argument(self, call: ast.Call, qualname: str | None, reader: OriginReader,
                        depth: int = 0) -> Value | None:
        """``retry(engine.connect, retries=3)`` of a project function whose one return is the
        result of calling a parameter (``def retry(func, ...): ... return func(*args)``):
        what calling the callable this call passes makes (a method of a known object, a
        driver or project function by name), else None."""
        if not (isinstance(call.func, ast.Name) or self.facts.qualname(call.func) is not None):
            return None  # a plain function's call: its parameters are the call's arguments
        summary = self._function_summary(qualname)
        if summary is None or summary.get(SUMMARY_KIND) != "function":
            return None
        returns: list[Origin] = list(summary.get(SUMMARY_RETURNS) or ())
        if len(returns) != 1:
            return None
        returned = returns[0]
        if not (isinstance(returned, tuple) and len(returned) >= 3 and returned[0] == "method"
                and returned[2] == "__call__"):
            return None
        called = returned[1]
        if not (isinstance(called, tuple) and len(called) == 3 and called[0] == "param"):
            return None
        given = _argument_for(call, tuple(summary.get(SUMMARY_PARAMS) or ()), str(called[2]))
        origin = reader.origin(given) if isinstance(given, (ast.Name, ast.Attribute)) else None
        if not isinstance(origin, tuple):
            return None
        if origin[0] == "global" and len(origin) == 2:
            return self.resolve(("call", origin[1], ()), depth + 1)  # `retry(sqlite3.connect, ...)`
        if origin[0] == "getattr" and len(origin) == 3:
            return self.resolve(("method", origin[1], origin[2], ()), depth + 1)  # `engine.connect`
        if origin[0] == "attr" and len(origin) == 3:
            return self.resolve(("call", f"{origin[1]}.{origin[2]}", ()), depth + 1)  # `self.connect`
        return None

    def parameter_value(self, qualname: str, param: str, depth: int) -> Value | None:
        """An untyped parameter: what every call site in the function's package passes."""
        origins = self.parameter_origins(qualname, param)
        if origins is None:
            return None
        return self._common([self.resolve(o, depth + 1) for o in origins])

    def parameter_origins_of(self, function: ast.AST, param: str) -> list[Origin] | None:
        """:meth:`parameter_origins` of ``param``, a parameter of ``function``, a top-level
        function or a method of a top-level class of the checked module; None otherwise."""
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or not any(
                a.arg == param for a in (*function.args.posonlyargs, *function.args.args,
                                         *function.args.kwonlyargs)):
            return None
        qualname = self._function_names().get(id(function))
        return self.parameter_origins(qualname, param) if qualname is not None else None

    def _function_names(self) -> dict[int, str]:
        """The qualified name of each of the module's top-level functions and methods, by the
        id of its node."""
        if self._names_by_node is None:
            self._names_by_node = {id(f): q for q, f in module_functions(self.facts).items()}
        return self._names_by_node

    def parameter_origins(self, qualname: str, param: str) -> list[Origin] | None:
        """The origins every call site of the function ``qualname`` in its package passes
        for ``param`` (see :func:`~dbleak.analysis.call_sites.parameter_sites`); asked once
        per function and parameter (a helper's parameter is read at each of its uses)."""
        depends_on_callers(qualname)
        key = (qualname, param)
        if key not in self._parameter_origins:
            self._parameter_origins[key] = self._parameter_origins_uncached(qualname, param)
        return self._parameter_origins[key]

    def _parameter_origins_uncached(self, qualname: str, param: str) -> list[Origin] | None:
        summary = self.summary(qualname)
        params = summary.get(SUMMARY_PARAMS) if summary is not None else None
        if not isinstance(params, (tuple, list)) or summary is None \
                or summary.get(SUMMARY_KIND) not in ("function", "contextmanager", "cached"):
            return None
        # A constructor's parameters are what the calls of its class pass.
        modules = self.calling_modules(qualname.removesuffix(".__init__"))
        return parameter_sites(qualname, param, params, modules, self.through_reexports,
                               self.ctx.project.site_groups)

    def calling_modules(self, qualname: str) -> list[tuple[str, Mapping[str, Any]]]:
        """``(module name, module summary)`` of the modules of the package of ``qualname``
        that mention its name: where its calls may be."""
        package = top_package(qualname)
        modules = self.ctx.project.package_mentions(package, qualname.rsplit(".", 1)[-1])
        own = self.ctx.module_name
        if own and top_package(own) == package and all(module != own for module, _ in modules):
            # a text checked on its own (the editor's buffer, the API): its own calls count
            local = self.local_summaries().get(own)
            if local is not None:
                modules = [*modules, (own, local)]
        return modules

    def result_walked(self, qualname: str) -> bool:
        """Whether every call of the project function ``qualname`` only walks its result once
        (see :func:`~dbleak.analysis.call_sites.result_walked_by_callers`)."""
        depends_on_callers(qualname)
        return result_walked_by_callers(qualname, self.calling_modules(qualname))

    def made_as(self, spec: ObjectSpec | None, keywords: Iterable[str]) -> ObjectSpec | None:
        """A driver's object made as an instance of a class given by keyword (``factory=``,
        ``connection_factory=``; recorded as ``"factory=<qualname>"``): a project class whose
        ``__exit__`` closes the instance makes its ``with`` close it."""
        if spec is None:
            return None
        for keyword in keywords:
            name, _, qualname = keyword.partition("=")
            if not qualname or name not in FACTORY_CLASS_KEYWORDS:
                continue
            _found, summary = self._summary_through(qualname)
            if summary is not None and summary.get(SUMMARY_KIND) == "class" \
                    and summary.get(SUMMARY_EXIT_CLOSES):
                closing = replace(spec.with_, closes=True, note="") if spec.with_ else WithSpec(closes=True)
                return replace(spec, with_=closing)
        return spec

    @staticmethod
    def _common(values: Sequence[Value | None]) -> Value | None:
        """One value for alternatives: the same object, or for driver objects of one kind the
        stricter one (whose `with` closes nothing)."""
        if not values or any(v is None for v in values):
            return None
        first = values[0]
        assert first is not None
        if all(value_key(v) == value_key(first) for v in values if v is not None):
            return first
        specs = [v for v in values if isinstance(v, ObjectSpec)]
        if len(specs) != len(values) or len({s.kind for s in specs}) != 1:
            return None
        for spec in specs:
            if spec.with_ is None or not spec.with_.closes:
                return spec
        return specs[0]

    def _factory_value(self, factory: FactorySpec, keywords: Iterable[str]) -> ObjectSpec | None:
        """What a driver factory makes, given the keywords of its call; held by the factory
        when the table says it keeps what it makes (its caller owes no release)."""
        spec = self.made_as(self.drivers.objects.get(factory.returns), keywords)
        return replace(spec, held=True) if spec is not None and factory.held else spec

    def call_value(self, qualname: str, keywords: frozenset[str] = frozenset(),
                   depth: int = 0) -> Value | None:
        """What calling ``qualname`` returns."""
        factory = self.drivers.factory_for(qualname, keywords)
        if factory is not None:
            if factory.context_only:
                return None
            return self._factory_value(factory, keywords)
        if qualname in self.user_factories:
            return USER_CONNECTION
        qualname, summary = self._summary_through(qualname)
        if summary is None:
            factory = self.drivers.factory_for(qualname, keywords)
            if factory is not None and not factory.context_only:
                return self._factory_value(factory, keywords)
            owner, _, method = qualname.rpartition(".")
            if owner and method:
                found = self.method_summary(owner, method)
                if found is not None:
                    return self._called_value(found, depth, keywords)
                # `self.cursor()` in a project class deriving from a driver's connection
                inherited = self.class_value(owner, depth + 1) if self.summary(owner) is not None else None
                if isinstance(inherited, ObjectSpec) and not inherited.project_class:
                    return self.method_value(inherited, method, keywords, depth)
                # `self.Session()`: an attribute of the class holding a callable object
                kept = self.attr_value(owner, method, depth + 1)
                if kept is not None:
                    return self.method_value(kept, "__call__", keywords, depth)
                # `connection.cursor()`, `db.engine.connect()`: a method of a module-level object
                holder = self.global_value(owner, depth + 1)
                if holder is not None:
                    return self.method_value(holder, method, keywords, depth)
            return None
        kind = summary.get(SUMMARY_KIND)
        if kind == "class":
            return self.class_value(qualname)
        if kind == "global":
            value = self.resolve(summary.get(SUMMARY_VALUE), depth + 1)
            return self.method_value(value, "__call__", keywords, depth)
        if kind in ("function", "cached", *_PROPERTY_KINDS):
            return self._called_value(summary, depth, keywords)
        return None

    def _called_value(self, summary: Mapping[str, Any], depth: int,
                      keywords: frozenset[str]) -> Value | None:
        """What calling a function or method gives; for a property, what calling the value it
        gives does (``self.sessionmaker()`` of ``@property def sessionmaker(self): return
        sessionmaker(bind=self.engine)``: a session)."""
        if summary.get(SUMMARY_KIND) in _PROPERTY_KINDS:
            return self.method_value(self._property_value(summary, depth), "__call__", keywords, depth)
        return self._returns_value(summary, depth, keywords)

    def _returns_value(self, summary: Mapping[str, Any], depth: int,
                       given: frozenset[str] = frozenset()) -> Value | None:
        """What a call of the function returns; ``given`` holds the keywords and the
        positions (``#0``) the call passes a value other than None."""
        kind = summary.get(SUMMARY_KIND)
        if kind not in ("function", "cached"):
            return None
        returns = summary.get(SUMMARY_RETURNS) if kind == "function" else None
        if returns:
            return self._common([self.resolve(o, depth + 1) for o in returns])
        unless = summary.get(SUMMARY_UNLESS_PASSED)
        if unless is not None:
            if _passes(summary.get(SUMMARY_PARAMS) or (), str(unless[0]), given):
                return None  # the caller's own object, handed back
            return self._common([self.resolve(o, depth + 1) for o in unless[1]])
        sometimes = summary.get(SUMMARY_SOMETIMES_FRESH)
        if sometimes:
            # a new object on some paths, a kept one on the others: the caller owns what it
            # gets on those paths (ezcord's `_connect()`: its shared connection, or a fresh one)
            fresh = self._common([self.resolve(o, depth + 1) for o in sometimes])
            if isinstance(fresh, ObjectSpec) and fresh.kind in _OWNED_KINDS:
                return replace(fresh, maybe_shared=True)
        return self._held_value(summary, depth)

    def _held_value(self, summary: Mapping[str, Any], depth: int) -> Value | None:
        """What a function or property gives that its instance keeps (``return self._engine``),
        as far as it is known: the caller borrows it."""
        held = summary.get(SUMMARY_HELD)
        if not held:
            return None
        known = [v for v in (self._known(o, depth + 1) for o in held) if v is not None]
        value = self._common(known) if known else None
        if isinstance(value, ObjectSpec) and value.kind in _OWNED_KINDS:
            return replace(value, held=True)
        return value

    def _known(self, origin: Origin, depth: int) -> Value | None:
        """What an origin resolves to, or for alternatives the one value the known ones share
        (``_engines.get(url)`` or ``create_engine(url)``: an engine)."""
        if origin[0] == "any":
            known = [v for v in (self.resolve(o, depth + 1) for o in origin[1]) if v is not None]
            return self._common(known) if known else None
        return self.resolve(origin, depth)

    def return_items(self, qualname: str | None, depth: int = 0) -> tuple[Value | None, ...]:
        """For ``a, b = f()``: what each position of ``f``'s tuple return holds."""
        summary = self._function_summary(qualname)
        if summary is None:
            return ()
        items = summary.get(SUMMARY_RETURN_ITEMS) or ()
        return tuple(self.resolve(o, depth + 1) if o is not None else None for o in items)

    def _function_summary(self, qualname: str | None) -> Mapping[str, Any] | None:
        """The summary of the project function ``qualname`` (through re-exports), or of the
        method it names through the class's bases; None for anything else."""
        if qualname is None:
            return None
        qualname, summary = self._summary_through(qualname)
        if summary is None:
            owner, _, method = qualname.rpartition(".")
            summary = self.method_summary(owner, method) if owner else None
        return summary if summary is not None and summary.get(SUMMARY_KIND) == "function" else None

    def method_value(self, base: Value | None, name: str, keywords: frozenset[str] = frozenset(),
                     depth: int = 0) -> Value | None:
        """What ``base.name(...)`` returns."""
        if isinstance(base, ObjectSpec) and base.project_class:
            base = ProjectClass(base.project_class)
        if isinstance(base, ObjectSpec):
            method = base.method(name, keywords)
            if method is None or method.context_only:
                return None
            return self.drivers.objects.get(method.returns)
        if isinstance(base, ProjectClass):
            summary = self.method_summary(base.qualname, name)
            if summary is None:
                return None
            if summary.get(SUMMARY_KIND) in _PROPERTY_KINDS:
                return self._called_value(summary, depth, keywords)
            return self._returns_value(summary, depth)
        return None

    def class_chain(self, qualname: str) -> Iterator[tuple[str, Mapping[str, Any], int]]:
        """A project class and its bases in the project, depth first (the order Python looks
        attributes up in, for single inheritance): ``(qualname, summary, level)``, each class
        once, at most ``_MAX_DEPTH`` levels down."""
        seen: set[str] = set()
        stack: list[tuple[str, int]] = [(qualname, 0)]
        while stack:
            name, level = stack.pop()
            name, summary = self._summary_through(name)
            if summary is None or summary.get(SUMMARY_KIND) != "class" or name in seen:
                continue
            seen.add(name)
            yield name, summary, level
            if level < _MAX_DEPTH:
                stack.extend((str(base), level + 1)
                             for base in reversed(summary.get(SUMMARY_BASES, ())))

    def lends_kept(self, qualname: str | None) -> bool:
        """Whether the project function ``qualname`` gives its caller only what its instance keeps
        (``def connect(self): ... return self.connection``): a getter, whatever the kept
        object's type, not a factory."""
        summary = self._function_summary(qualname)
        if summary is None or summary.get(SUMMARY_RETURNS):
            return False
        held = summary.get(SUMMARY_HELD) or ()
        return bool(held) and all(isinstance(o, tuple) and o[:1] == ("attr",) for o in held)

    def flask_model(self, qualname: str) -> bool:
        """Whether ``qualname`` is a project class deriving from a Flask-SQLAlchemy model base:
        ``db.Model`` where the project's ``db = SQLAlchemy(app)`` (so ``Cls.query`` is a query
        over its table), or a base from ``flask_sqlalchemy`` itself."""
        for _name, summary, _level in self.class_chain(qualname):
            for base in map(str, summary.get(SUMMARY_BASES, ())):
                if base.startswith(_FLASK_SQLALCHEMY):
                    return True
                holder, _, attr = base.rpartition(".")
                if attr != "Model" or not holder:
                    continue
                _holder, made = self._summary_through(holder)
                value = made.get(SUMMARY_VALUE) if made is not None and made.get(SUMMARY_KIND) == "global" else None
                if isinstance(value, tuple) and len(value) > 1 and value[0] == "call" \
                        and str(value[1]).startswith(_FLASK_SQLALCHEMY):
                    return True
        return False

    def method_summary(self, class_qualname: str, name: str) -> Mapping[str, Any] | None:
        """The summary of a method of a project class, looked up through its bases."""
        for owner, _summary, _level in self.class_chain(class_qualname):
            own = self.summary(f"{owner}.{name}")
            if own is not None:
                return own
        return None

    def attr_value(self, class_qualname: str, attr: str, depth: int = 0) -> Value | None:
        """What instances of a project class keep in ``self.attr`` (or a property gives)."""
        for owner, summary, level in self.class_chain(class_qualname):
            attrs = summary.get(SUMMARY_ATTRS) or {}
            if attr in attrs:
                return self.resolve(attrs[attr], depth + level + 1)
            prop = self.summary(f"{owner}.{attr}")
            if prop is not None and prop.get(SUMMARY_KIND) in _PROPERTY_KINDS:
                return self._property_value(prop, depth + level)
        return None

    def _property_value(self, prop: Mapping[str, Any], depth: int) -> Value | None:
        """What a property gives."""
        returns = prop.get(SUMMARY_RETURNS)
        if not returns:
            # `def engine(self): return self.__engine`: the instance's own, lent
            return self._held_value(prop, depth + 1)
        return self._common([self.resolve(o, depth + 1) for o in returns])

    def property_kind(self, class_qualname: str, attr: str) -> str | None:
        """"property"/"cached_property" when ``attr`` of the class is one, through its bases."""
        key = (class_qualname, attr)
        if key not in self._properties:
            self._properties[key] = self._property_kind(class_qualname, attr)
        return self._properties[key]

    def _property_kind(self, class_qualname: str, attr: str) -> str | None:
        for owner, summary, _level in self.class_chain(class_qualname):
            if attr in (summary.get(SUMMARY_ATTRS) or {}):
                return None
            prop = self.summary(f"{owner}.{attr}")
            if prop is not None:
                kind = prop.get(SUMMARY_KIND)
                return str(kind) if kind in _PROPERTY_KINDS else None
        return None

    def global_value(self, qualname: str, depth: int = 0) -> Value | None:
        """What a module-level name holds (a driver's module-level object, a project global)."""
        instance = self.drivers.instance(qualname)
        if instance is not None:
            return instance
        qualname, summary = self._summary_through(qualname)
        instance = self.drivers.instance(qualname)
        if instance is not None:
            return instance
        if summary is not None and summary.get(SUMMARY_KIND) == "global":
            return self.resolve(summary.get(SUMMARY_VALUE), depth + 1)
        return None

    def connects_on_arguments(self, qualname: str, depth: int = 0) -> bool:
        """A class that opens nothing when called without arguments: a driver class so made
        (``MySQLConnection()``), or a project class deriving from one."""
        if qualname in CONNECT_ON_ARGUMENTS:
            return True
        qualname, summary = self._summary_through(qualname)
        if summary is None or summary.get(SUMMARY_KIND) != "class" or depth > _MAX_DEPTH:
            return False
        return any(self.connects_on_arguments(str(base), depth + 1)
                   for base in summary.get(SUMMARY_BASES, ()))

    def class_value(self, qualname: str, depth: int = 0) -> Value | None:
        """An instance of a project class; of a driver object when the class derives from one."""
        spec = self.type_value(qualname, project=False)
        if spec is not None:
            return spec
        _name, summary = self._summary_through(qualname)
        if summary is None or summary.get(SUMMARY_KIND) != "class" or depth > _MAX_DEPTH:
            return None
        for base in summary.get(SUMMARY_BASES, ()):
            inherited = self.type_value(str(base), project=False)
            if isinstance(inherited, ObjectSpec):
                return inherited
            base_summary = self.summary(str(base))
            if base_summary is not None and base_summary.get(SUMMARY_KIND) == "class":
                found = self.class_value(str(base), depth + 1)
                if isinstance(found, ObjectSpec) and not found.project_class:
                    return found
        resource = self.class_resource(qualname)
        return resource if resource is not None else ProjectClass(qualname)

    def class_resource(self, qualname: str) -> ObjectSpec | None:
        """A spec for the instances of a project class that own a database object (they keep
        one on ``self``, or a method opens one) and can be released (``close()``,
        ``terminate()``, …): such an instance is a connection of its own to whoever makes it."""
        if qualname in self._resources:
            return self._resources[qualname]
        self._resources[qualname] = None  # cycles: not a resource
        chain = list(self.class_chain(qualname))
        found = _instance_spec(qualname, chain, Kind.CONNECTION,
                               "a class of the project whose instances own a database object")
        if found is not None and not any(self._owns_db(summary) for _name, summary, _level in chain):
            found = None
        elif found is None and any(self._keeps_db(summary) for _name, summary, _level in chain):
            # no method releases what it keeps: an instance made per call leaves it open
            found = ObjectSpec(f"project:{qualname}", "project", Kind.CONNECTION, release=(),
                               closing_context="none", project_class=qualname,
                               note="a class of the project whose instances keep a database "
                                    "object that none of its methods releases")
        self._resources[qualname] = found
        return found

    def adopted(self, qualname: str, given: tuple[tuple[int | str, Origin], ...],
                depth: int) -> ObjectSpec | None:
        """``Wrapper(sqlite3.connect(p))``: an instance of a project class given a new database
        object that its constructor keeps (``self.conn = conn``) and that a release method
        (``close()``, …) may release. The instance has taken it over: it is an object of the
        same kind, released by the class's own methods."""
        chain = list(self.class_chain(qualname))
        released = {a for _name, summary, _level in chain for a in summary.get(SUMMARY_RELEASED_ATTRS, ())}
        for key, origin in given:
            attr = self._adopting_attribute(chain, key if isinstance(key, int) else None,
                                            key if isinstance(key, str) else None)
            if attr is None or attr not in released:
                continue
            value = self.resolve(origin, depth + 1)
            if not isinstance(value, ObjectSpec) or value.kind not in _OWNED_KINDS \
                    or not value.owed_release:
                continue
            return _instance_spec(qualname, chain, value.kind,
                                  f"a class of the project that takes over the {value.kind.value} it is given")
        return None

    def kept_unreleased(self, qualname: str | None, index: int | None, keyword: str | None) -> bool:
        """Whether ``qualname`` is a class of the project whose constructor keeps the argument
        (``self.engine = engine``) in an attribute that no method of the class or its bases
        releases or hands on: the object lives as long as the instance, and no longer."""
        if qualname is None:
            return False
        chain = list(self.class_chain(qualname))
        if not chain or chain[0][1].get(SUMMARY_KIND) != "class":
            return False
        attr = self._adopting_attribute(chain, index, keyword)
        if attr is None:
            return False
        return not any(attr in summary.get(SUMMARY_RELEASED_ATTRS, ())
                       or attr in (summary.get(SUMMARY_PASSED_ATTRS) or {})
                       for _name, summary, _level in chain)

    def _adopting_attribute(self, chain: list[tuple[str, Mapping[str, Any], int]], index: int | None,
                            keyword: str | None) -> str | None:
        """The attribute the class's ``__init__`` (its own or a base's) keeps one argument in
        (``self.conn = conn``), or None."""
        init_class = next((owner for owner, summary, _level in chain
                           if "__init__" in summary.get(SUMMARY_METHODS, ())), None)
        if init_class is None:
            return None
        kept = self.summary(init_class)
        init = self.method_summary(init_class, "__init__")
        params = init.get(SUMMARY_PARAMS) if init is not None else None
        if kept is None or not isinstance(params, (tuple, list)):
            return None
        name = argument_parameter(params, index, keyword, bound=True)
        return (kept.get(SUMMARY_ADOPTS) or {}).get(name) if name is not None else None

    def proxied(self, qualname: str, given: tuple[tuple[int | str, Origin], ...],
                depth: int) -> ObjectSpec | None:
        """``ConnectionPlus(sqlite3.connect(p))`` where ``ConnectionPlus`` derives from a
        transparent proxy (``wrapt.ObjectProxy``): the instance forwards everything, ``close()``
        included, to the object it wraps, so it is that object."""
        if not self._is_proxy(qualname):
            return None
        first = next((origin for key, origin in given if key == 0), None)
        value = self.resolve(first, depth + 1) if first is not None else None
        if isinstance(value, ObjectSpec) and value.kind in _OWNED_KINDS:
            return value
        return None

    def _is_proxy(self, qualname: str) -> bool:
        return any(str(base) in PROXY_BASES for _name, summary, _level in self.class_chain(qualname)
                   for base in summary.get(SUMMARY_BASES, ()))

    def _owns_db(self, summary: Mapping[str, Any]) -> bool:
        """Whether one class (not its bases) makes a database object it keeps."""
        return bool(summary.get(SUMMARY_MAKES_DB)) or self._keeps_db(summary)

    def _keeps_db(self, summary: Mapping[str, Any]) -> bool:
        """Whether one class's constructor keeps a database object it makes on ``self``."""
        made = set(summary.get(SUMMARY_INIT_ATTRS, ()))
        for attr, origin in (summary.get(SUMMARY_ATTRS) or {}).items():
            if attr not in made or not is_fresh(origin):
                continue  # set later (`connect()`), or given by the caller: not its own
            value = self.resolve(origin)
            if isinstance(value, ObjectSpec) and value.kind in _OWNED_KINDS:
                return True
        return False

    def type_value(self, qualname: str, project: bool = True) -> Value | None:
        """The value an annotation names: a driver object, or a project class's instance."""
        objects = self.drivers.objects
        if qualname in objects:
            return objects[qualname]
        spec = self.drivers.class_objects.get(qualname)
        if spec is not None:
            return spec
        factory = self.drivers.factory(qualname)  # a class that is its own factory
        if factory is not None and factory.returns in objects:
            return objects[factory.returns]
        parts = qualname.split(".")
        short = f"{parts[0]}.{parts[-1]}"
        if short in objects:
            return objects[short]
        if not project:
            return None
        moved, summary = self._summary_through(qualname)
        if summary is not None and summary.get(SUMMARY_KIND) == "class":
            return self.class_value(moved)
        if moved != qualname:
            return self.type_value(moved, project=False)
        return None

    # -- calls of the module

    def call_target(self, call: ast.Call, cls: ast.ClassDef | None) -> str | None:
        """The qualified name a call calls (``module.Class.method`` for ``self.method()``)."""
        func = call.func
        if (cls is not None and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in ("self", "cls")):
            return f"{self.prefix}{cls.name}.{func.attr}"
        qualname = self.facts.call_qualname(call)
        if qualname is not None and qualname not in self.drivers.factories:
            qualname = self.through_reexports(qualname)
        return qualname

    def yielded_argument(self, call: ast.Call, cls: ast.ClassDef | None) -> ast.expr | None:
        """The argument a project ``@contextmanager`` yields back to the ``with`` body
        (``@contextmanager def atomic(conn): ... yield conn``): ``with atomic(conn) as c:``
        binds ``c`` to ``conn``'s object."""
        qualname = self.call_target(call, cls)
        if qualname is None:
            return None
        qualname, summary = self._summary_through(qualname)
        if summary is None or summary.get(SUMMARY_LENDS) is None:
            return None
        return _argument_for(call, tuple(summary.get(SUMMARY_PARAMS) or ()), str(summary[SUMMARY_LENDS]))

    def call_alternatives(self, call: ast.Call) -> tuple[str, ...]:
        """Every qualified name the call may call, through import fallbacks."""
        return self.facts.resolver.resolve_alternatives(call.func)

    def factory_call_with(self, call: ast.Call, cls: ast.ClassDef | None, is_async: bool) -> WithSpec | None:
        """What `with f(...)` does when the factory says so (``async with aiosqlite.connect()``)."""
        qualname = self.call_target(call, cls)
        factory = self.drivers.factory(qualname)
        if factory is None:
            return None
        return getattr(factory, "call_async_with" if is_async else "call_with", None)

    def direct_factory(self, call: ast.Call, awaited: bool, in_async_with: bool) -> ObjectSpec | None | bool:
        """A driver factory's object for ``call``; False when the call is one that makes
        nothing to track (not awaited, context-only, an unconnected object); None when the
        call is no driver factory."""
        keywords = frozenset(k.arg for k in call.keywords if k.arg is not None)
        candidates = self.call_alternatives(call)
        specs: list[ObjectSpec] = []
        for qualname in candidates:
            factory = self.drivers.factory_for(qualname, keywords)
            if factory is None:
                moved = self.through_reexports(qualname)
                factory = self.drivers.factory_for(moved, keywords)
                qualname = moved
            if factory is None:
                if len(candidates) > 1 and self.facts.resolver.fallback_only(qualname):
                    continue  # runs only when the `try` body's import failed
                return None
            if factory.awaited and not (awaited or in_async_with):
                return False
            if qualname in CONNECT_ON_ARGUMENTS and not call.args and not call.keywords:
                return False  # `MySQLConnection()` connects only when given options
            if factory.creator is not None and not self.drivers.wraps_driver(
                    factory, creator_qualname(call, factory.creator, self.facts.qualname)):
                return False  # `PooledDB(mock_db, 1)`: a pool over a stand-in opens nothing
            deferred = any(k.arg in DEFERRED_CONNECT_KEYWORDS and isinstance(k.value, ast.Constant)
                           and k.value.value is True for k in call.keywords)
            if deferred and not self._connected_later(call):
                return False  # `pymysql.connect(defer_connect=True)` never connected here
            if factory.context_only:
                return False
            spec = self._factory_value(factory, factory_class_keywords(call, self.facts.qualname))
            if spec is None:
                return None
            specs.append(spec)
        if not specs:
            return None
        common = self._common(list(specs))
        return common if isinstance(common, ObjectSpec) else None

    def _connected_later(self, call: ast.Call) -> bool:
        """``c = pymysql.connect(defer_connect=True)`` and then ``c.connect(...)`` in the same
        scope: the object is connected there, and from then on holds its socket."""
        scope = self.facts.scope_of_stmt.get(id(self.facts.parent.get(id(call))))
        return scope is not None and result_has_method(self.facts.parent, scope.node, call, ("connect",))

    def param_effect(self, qualname: str, index: int | None, keyword: str | None,
                     bound: bool, depth: int = 0) -> str | None:
        """What the project function ``qualname`` does with one argument: "release",
        "escape", "with", "return" (hands it back), "borrow", or None when the project does not
        say."""
        if depth > 4:
            return None
        qualname, summary = self._summary_through(qualname)
        if summary is None:
            owner, _, method = qualname.rpartition(".")
            summary = self.method_summary(owner, method) if owner else None
            if summary is not None:
                bound = True
        if summary is None:
            return None
        if summary.get(SUMMARY_KIND) == "class":
            if index == 0 and keyword is None and self._is_proxy(qualname):
                return EFFECT_RETURN  # the proxy is the object: it goes where the proxy goes
            init = self.method_summary(qualname, "__init__")
            if init is None:
                return EFFECT_ESCAPE  # a constructor we cannot see keeps what it is given
            summary, bound = init, True
        params = summary.get(SUMMARY_PARAMS)
        if not isinstance(params, (tuple, list)):
            return None
        name = argument_parameter(params, index, keyword, bound)
        if name is None:
            return None
        effect = (summary.get(SUMMARY_EFFECTS) or {}).get(name, EFFECT_BORROW)
        if isinstance(effect, str):
            return effect
        results: list[str] = []
        for passed in effect:
            if passed[0] in (EFFECT_RETURN, EFFECT_GUESS):
                results.append(passed[0])
                continue
            _tag, target, passed_index, passed_keyword, kept, passed_bound = passed
            result = self.param_effect(str(target), passed_index, passed_keyword, bool(passed_bound),
                                       depth + 1)
            if result is None and kept == "return" and self._non_owning_factory(str(target)):
                # `return sessionmaker(bind=engine)`: the new object uses it and releases
                # nothing of it; the object goes where the function's result goes
                result = EFFECT_RETURN
            elif result is None:
                # a callee nothing is known of: it goes where the call's result goes, or is
                # only likely borrowed
                result = EFFECT_ESCAPE if kept else EFFECT_GUESS
            elif result in (EFFECT_RETURN, EFFECT_RETURN_GUESS):
                # a callee that hands it back: it goes where the call's result goes
                result = EFFECT_ESCAPE if kept else (
                    EFFECT_BORROW if result == EFFECT_RETURN else EFFECT_GUESS)
            results.append(result)
        for wanted in (EFFECT_RELEASE, EFFECT_ESCAPE, EFFECT_WITH):
            if wanted in results:
                return wanted
        if EFFECT_RETURN in results or EFFECT_RETURN_GUESS in results:
            guessed = EFFECT_GUESS in results or EFFECT_RETURN_GUESS in results
            return EFFECT_RETURN_GUESS if guessed else EFFECT_RETURN
        return EFFECT_GUESS if EFFECT_GUESS in results else EFFECT_BORROW

    def _non_owning_factory(self, qualname: str) -> bool:
        """A factory of the driver table that is not the project's and takes no ownership of
        what it is given (`sessionmaker(bind=engine)`, `Session(conn)`)."""
        drivers = self.drivers
        return (qualname in drivers.factories or qualname in drivers.factory_variants) \
            and qualname not in drivers.owners

    def returns_method_call(self, qualname: str | None, method: str, depth: int = 0) -> bool:
        """Whether the project function returns ``<something>.<method>(...)`` of an object
        nothing says the driver of (``cursor`` also matches ``cursor_factory``-style names
        that start with it), directly or through another such function:
        ``return conn.cursor()``, ``return dc.index._engine.connect()``."""
        if qualname is None or depth > 4:
            return False
        key = (qualname, method)
        if depth == 0:
            found = self._returned_calls.get(key)
            if found is None:
                found = self._returns_method_call(qualname, method, 0)
                self._returned_calls[key] = found
            return found
        return self._returns_method_call(qualname, method, depth)

    def _returns_method_call(self, qualname: str, method: str, depth: int) -> bool:
        qualname, summary = self._summary_through(qualname)
        if summary is None:
            owner, _, name = qualname.rpartition(".")
            summary = self.method_summary(owner, name) if owner else None
        if summary is None:
            return False
        for origin in summary.get(SUMMARY_RETURNS) or ():
            if origin[0] == "method" and (str(origin[2]) == method or (
                    method == "cursor" and str(origin[2]).startswith("cursor"))):
                return True
            origin = plain_call(origin)
            if origin[0] == "call" and self.returns_method_call(str(origin[1]), method, depth + 1):
                return True
        return False

    def may_create(self) -> bool:
        """Cheap first look: whether any call of the module may make a tracked object."""
        if star_imports(self.facts):
            return True  # names bound by `from m import *` are known only from `m`
        classes: set[str] = set()
        for site in self.facts.calls:
            call = site.node
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr in _MAKING_METHODS:
                return True
            qualname = self.facts.call_qualname(call)
            if qualname is None:
                if self.call_alternatives(call):
                    return True
                continue
            if qualname in self.drivers.factories or qualname in self.user_factories:
                return True
            if qualname in self.drivers.factory_variants:
                return True
            value = self.resolve(("call", qualname, ()))
            if isinstance(value, ObjectSpec):
                return True
            if any(isinstance(item, ObjectSpec) for item in self.return_items(qualname)):
                return True  # `session, base, engine, meta = load_connection(url)`
            made = as_class(value)
            if made is not None:
                classes.add(made.qualname)
        if classes:
            # `Database().get()`, `d = Database(); d.get()`: a project class whose method, called
            # here by name, returns a database object.
            called = {site.node.func.attr for site in self.facts.calls
                      if isinstance(site.node.func, ast.Attribute)}
            # Each class's chain walked once (not once per name, as `method_value` would), and
            # only the methods each class defines looked up.
            for cls in classes:
                seen: set[str] = set()
                for owner, class_summary, _level in self.class_chain(cls):
                    for name in called.intersection(class_summary.get(SUMMARY_METHODS, ())):
                        if name in seen:
                            continue  # found on a class nearer in the chain
                        seen.add(name)
                        summary = self.summary(f"{owner}.{name}")
                        if summary is not None \
                                and isinstance(self._returns_value(summary, 0), ObjectSpec):
                            return True
        for scope in self.facts.scopes:
            node = scope.node
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                    if arg.annotation is not None:
                        return True
        return False


# Method names that make a database object on some object of the table or of the project.
_MAKING_METHODS = frozenset({"cursor", "connect", "raw_connection", "getconn", "acquire",
                             "get_connection", "session", "Session", "begin", "execute"})


def _argument_for(call: ast.Call, params: tuple[str, ...], param: str) -> ast.expr | None:
    """The argument ``call`` passes for ``param`` of a summary's ``params``: by keyword, or
    by position (after ``self``/``cls`` for a method); None past a ``*spread``."""
    for keyword in call.keywords:
        if keyword.arg == param:
            return keyword.value
    for index, argument in enumerate(call.args):
        if isinstance(argument, ast.Starred):
            return None
        if argument_parameter(params, index, None, _bound(params)) == param:
            return argument
    return None


def _bound(params: Sequence[str]) -> bool:
    """A summary whose first parameter is ``self``/``cls`` is a method, called bound."""
    return bool(params) and params[0] in ("self", "cls")


def _passes(params: Sequence[str], param: str, given: frozenset[str]) -> bool:
    """Whether a call whose non-None arguments are ``given`` (keywords, ``#<index>``) may pass
    ``param``."""
    if param in given or "#*" in given or "**" in given or param not in params:
        return True
    return any(argument_parameter(tuple(params), int(key[1:]), None, _bound(params)) == param
               for key in given if key.startswith("#"))


def flask_models(text: str, facts: ModuleFacts, sources: ObjectSources) -> Callable[[ast.Name], bool]:
    """Whether a capitalised name is a Flask-SQLAlchemy model (``Name.query`` a query of its
    table): in a module that uses Flask-SQLAlchemy itself, any class; elsewhere, a project
    class deriving from ``db.Model`` of the project's ``db = SQLAlchemy(app)``, read from its
    own module (a service module that only imports the models), or a class imported from the
    ``models`` module of another package (invenio's ``invenio_accounts.models.User``)."""
    if "flask_sqlalchemy" in text or "db.Model" in text:
        return lambda _name: True
    seen: dict[str, bool] = {}

    def is_model(name: ast.Name) -> bool:
        if name.id not in seen:
            qualname = facts.qualname(name)
            seen[name.id] = qualname is not None and (
                sources.flask_model(qualname)
                # a class of another package's `models` module (`from invenio_accounts.models
                # import User`): its `User.query` is the extension's query all the same
                or sources.summary(qualname) is None and "models" in qualname.split(".")[:-1]
                and not sources.summary(qualname.rsplit(".", 1)[0]))
        return seen[name.id]

    return is_model
