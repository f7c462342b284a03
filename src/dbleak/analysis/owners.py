"""Classes that own database objects: what a class keeps on ``self``, and whether any code of
the class, of its bases in the project or of its subclasses in the module may release it.

Read by DBL106. Releases are found as the lifecycle analysis finds them elsewhere: a release
call on the attribute, a hand-over of it (returned, stored, given to a keeping call), or a call
of the project whose summary says it releases what it is given; a call the project says only
uses it (``self.helper(self.conn)``) is no release.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbleak.analysis.call_sites import calls_repeatedly
from dbleak.analysis.flow import REPORTED_KINDS, module_flow
from dbleak.analysis.flow_state import ResourceFlow, StoredResource
from dbleak.analysis.lifecycle_summary import (
    EFFECT_ESCAPE,
    EFFECT_GUESS,
    EFFECT_RELEASE,
    EFFECT_RETURN,
    EFFECT_RETURN_GUESS,
    EFFECT_WITH,
    SUMMARY_BASES,
    SUMMARY_GETTER_RESULTS,
    SUMMARY_KIND,
    SUMMARY_PASSED_ATTRS,
    SUMMARY_RELEASED_ATTRS,
    SUMMARY_RETURNS,
)
from dbleak.analysis.module import walk, walk_scope
from dbleak.analysis.origins import decorator_name
from dbleak.analysis.sources import ObjectSources, object_sources
from dbleak.knowledge.calls import RELEASE_METHODS
from dbleak.knowledge.drivers import Kind, ObjectSpec
from dbleak.knowledge.frameworks import REQUEST_GLOBALS, TEARDOWN_HOOKS

if TYPE_CHECKING:
    from dbleak.analysis.context import CheckContext

_INIT_METHODS = frozenset({"__init__", "__new__", "__post_init__", "setUp", "setUpClass",
                           "asyncSetUp", "__enter__", "__aenter__"})


@dataclass(eq=False)
class OwnedObject:
    """An object of the driver table a class keeps on ``self``."""

    class_node: ast.ClassDef
    attr: str
    node: ast.AST
    spec: ObjectSpec
    # A cursor made from another attribute's connection (`self.cur = self.cnx.cursor()`):
    # releasing that connection releases it.
    parent_attr: str | None = None
    # Kept by the object the attribute holds (a session factory made with it).
    through: bool = False


@dataclass(eq=False)
class Reopened:
    """A method that stores a new object on ``self.attr`` while the previous one may still be
    open there, and releases nothing first."""

    class_node: ast.ClassDef
    attr: str
    node: ast.AST
    spec: ObjectSpec
    method: str


def owned_objects(ctx: CheckContext) -> list[OwnedObject]:
    """Every attribute a class of the module keeps a database object in: its first store, and
    the other stores of the method that makes it first (`if exists: self._con = connect(a)`
    / `else: self._con = connect(b)`: each branch makes one)."""
    flow = module_flow(ctx)
    found: list[OwnedObject] = []
    first: dict[tuple[int, str], int] = {}  # (class, attribute) -> the method that stores it first
    listed: set[int] = set()  # the stores found already (a store may come from two sources)
    items = [*flow.stored_on_self, *_stored_locals(ctx, flow.flows), *_cached_properties(ctx)]
    for item in sorted(items, key=lambda i: (getattr(i.node, "lineno", 0), getattr(i.node, "col_offset", 0))):
        if item.spec.kind not in (*REPORTED_KINDS, Kind.ENGINE):
            continue
        key = (id(item.class_node), item.attr)
        method = id(_method_of(item.class_node, item.node))
        if first.setdefault(key, method) != method or id(item.node) in listed:
            continue
        listed.add(id(item.node))
        found.append(OwnedObject(item.class_node, item.attr, item.node, item.spec,
                                 _parent_attr(item.node), item.through))
    return found


_Function = ast.FunctionDef | ast.AsyncFunctionDef


class RequestGlobal:
    """A database object stored on Flask's ``g`` (``g.session = session``): the attribute,
    the creating call, what it makes."""

    __slots__ = ("attr", "node", "spec")

    def __init__(self, attr: str, node: ast.AST, spec: ObjectSpec) -> None:
        self.attr, self.node, self.spec = attr, node, spec


def request_globals(ctx: CheckContext) -> list[RequestGlobal]:
    """Objects stored on Flask's request globals (``g.db = sqlite3.connect(...)``, ``g.session
    = session``) in a module that registers teardown functions, none of which (nor a module
    function they call) mentions that attribute: at the end of each request ``g`` is dropped
    with the object still open. Silent in a module with no teardown function (the app's
    teardown may be registered elsewhere)."""
    functions: dict[str, _Function] = {scope.node.name: scope.node for scope in ctx.facts.scopes
                                       if isinstance(scope.node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    teardowns = _teardown_functions(ctx, functions)
    if not teardowns:
        return []
    mentioned = _mentioned_names(teardowns, functions)
    found: list[RequestGlobal] = []
    for flow in module_flow(ctx).flows:
        if flow.resource.spec.kind not in (*REPORTED_KINDS, Kind.ENGINE):
            continue
        for escape in flow.escapes:
            if not isinstance(escape, ast.Assign):
                continue
            for target in escape.targets:
                if isinstance(target, ast.Attribute) and ctx.facts.qualname(target.value) in REQUEST_GLOBALS \
                        and target.attr not in mentioned:
                    found.append(RequestGlobal(target.attr, flow.resource.node, flow.resource.spec))
    return found


def _teardown_functions(ctx: CheckContext, functions: Mapping[str, _Function]) -> list[ast.AST]:
    """The module's functions decorated ``@app.teardown_request`` / ``teardown_appcontext``
    (any receiver), or registered by a call (``app.teardown_appcontext(close_db)``)."""
    found: list[ast.AST] = []
    for function in functions.values():
        for decorator in function.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(target, ast.Attribute) and target.attr in TEARDOWN_HOOKS:
                found.append(function)
    for site in ctx.facts.calls:
        func, args = site.node.func, site.node.args
        if isinstance(func, ast.Attribute) and func.attr in TEARDOWN_HOOKS and args \
                and isinstance(args[0], ast.Name) and args[0].id in functions:
            found.append(functions[args[0].id])
    return found


def _mentioned_names(teardowns: list[ast.AST], functions: Mapping[str, _Function]) -> frozenset[str]:
    """Attribute names and strings the teardown functions mention, and those of the module's
    functions they call (one level: ``close_db()`` called by the teardown)."""
    callees = [functions[node.func.id] for teardown in teardowns for node in walk(teardown)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions]
    names: set[str] = set()
    for function in {id(f): f for f in (*teardowns, *callees)}.values():
        for node in walk(function):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    return frozenset(names)


def _method_of(cls: ast.ClassDef, node: ast.AST) -> ast.AST | None:
    """The method of ``cls`` whose body holds ``node``."""
    for method in cls.body:
        if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                method.lineno <= getattr(node, "lineno", 0) <= (method.end_lineno or method.lineno):
            return method
    return None


def _parent_attr(node: ast.AST) -> str | None:
    """``cnx`` for ``self.cnx.cursor()``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) and owner.value.id == "self":
            return owner.attr
    return None


def never_released(ctx: CheckContext, owned: OwnedObject) -> bool:
    """Whether no code that could release ``self.attr`` does (nor hands it over)."""
    sources = object_sources(ctx)
    qualname = sources.class_qualname(owned.class_node)
    if qualname is None:
        return False
    if _may_release(ctx, qualname, owned.attr, owned.spec):
        return False
    if owned.spec.project_class and _calls_own_release(owned.class_node, owned.attr, owned.spec):
        return False  # `self.source.end()`: the kept project object's own release method
    if owned.spec.kind is Kind.CURSOR and owned.parent_attr is not None \
            and _may_release(ctx, qualname, owned.parent_attr, owned.spec):
        return False  # closing the connection it came from releases it
    if any(_may_release(ctx, sub, owned.attr, owned.spec)
           for sub in _module_subclasses(sources, qualname)):
        return False
    return not _released_from_outside(ctx, owned.attr)


def _calls_own_release(cls: ast.ClassDef, attr: str, spec: ObjectSpec) -> bool:
    """A method of the class calls a release method of the project class it keeps in
    ``self.attr`` (``self.source.end()``, where ``Bridge.end()`` closes what it holds)."""
    for node in walk(cls):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in spec.release and isinstance(node.func.value, ast.Attribute) \
                and node.func.value.attr == attr and isinstance(node.func.value.value, ast.Name) \
                and node.func.value.value.id == "self":
            return True
    return False


def _released_from_outside(ctx: CheckContext, attr: str) -> bool:
    """``obj.conn.close()`` in code of the module that is not a method reading its own
    ``self``: some owner's caller releases it. (``self.conn.close()`` in another class closes
    that class's attribute, not this one's.)"""
    parents = ctx.facts.parent
    for node in _read_from_outside(ctx, attr):
        use = parents.get(id(node))
        if isinstance(use, ast.Attribute) and use.value is node and use.attr in RELEASE_METHODS:
            return True
    return False


def _read_from_outside(ctx: CheckContext, attr: str) -> Iterator[ast.Attribute]:
    """``obj.<attr>`` in the module, on an object other than ``self``/``cls``."""
    for node in ctx.facts.all_nodes():
        if isinstance(node, ast.Attribute) and node.attr == attr and not (
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            yield node


def reopened(ctx: CheckContext) -> list[Reopened]:
    """``self.conn = connect()`` in a method that may run while ``self.conn`` holds an open
    connection, with no release of it (or guard on it) before."""
    flow = module_flow(ctx)
    sources = object_sources(ctx)
    by_attr: dict[tuple[int, str], list[StoredResource]] = {}
    for item in flow.stored_on_self:
        by_attr.setdefault((id(item.class_node), item.attr), []).append(item)
    found: list[Reopened] = []
    for stores in by_attr.values():
        for item in stores:
            method = item.method
            if item.spec.kind not in REPORTED_KINDS or not isinstance(
                    method, (ast.FunctionDef, ast.AsyncFunctionDef)) or method.name in _INIT_METHODS:
                continue
            if not _runs_again(sources, item.class_node, method, stores):
                continue
            if _released_or_guarded_before(ctx, method, item):
                continue
            found.append(Reopened(item.class_node, item.attr, item.node, item.spec, method.name))
    return found


@dataclass(frozen=True)
class ReopenedGlobal:
    """A function that binds a module global (``global engine``) to a new object while the
    one the module made at import may still be open there, and releases nothing first."""

    name: str
    node: ast.AST  # the call that makes the new object
    spec: ObjectSpec
    function: str


# What a module global replaced without release leaves open: an engine keeps its pool's
# connections until it is garbage-collected.
_GLOBAL_KINDS = (*REPORTED_KINDS, Kind.ENGINE)


def reopened_globals(ctx: CheckContext) -> list[ReopenedGlobal]:
    """``global engine; engine = create_engine(...)`` in a function that runs more than once,
    where the module binds ``engine`` to an object of the same kind at import, with no
    release of the old one (or test of it, or ``try``) before."""
    facts = ctx.facts
    sources = object_sources(ctx)
    live: dict[str, Kind] = {}
    for stmt in facts.tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Call):
            value = sources.expr_value(stmt.value, facts.tree)
            if isinstance(value, ObjectSpec) and value.kind in _GLOBAL_KINDS and not value.held:
                live[stmt.targets[0].id] = value.kind
    if not live:
        return []
    found: list[ReopenedGlobal] = []
    for scope in facts.scopes:
        function = scope.node
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nodes = list(walk_scope(function))
        declared = {name for node in nodes if isinstance(node, ast.Global) for name in node.names}
        names = declared & live.keys()
        if not names or not _runs_repeatedly(ctx, function):
            continue
        for node in nodes:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id in names
                    and isinstance(node.value, ast.Call)):
                continue
            name = node.targets[0].id
            value = sources.expr_value(node.value, function)
            if not (isinstance(value, ObjectSpec) and value.kind is live[name]) \
                    or _global_released_or_guarded_before(ctx, function, nodes, name, node):
                continue
            found.append(ReopenedGlobal(name, node.value, value, function.name))
    return found


def _runs_repeatedly(ctx: CheckContext, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The package's calls of the module-level function run more than once: two calls in
    functions, or one in a loop or in a function nested in another (a decorator's wrapper runs
    on every call of what it wraps), in any module; calls at import time run once."""
    if not isinstance(ctx.facts.parent.get(id(function)), ast.Module):
        return False
    sources = object_sources(ctx)
    qualname = f"{sources.prefix}{function.name}"
    return calls_repeatedly(qualname, sources.calling_modules(qualname), sources.through_reexports) >= 2


def _guarded_store(ctx: CheckContext, function: ast.AST, stmt: ast.stmt,
                   reads: Callable[[ast.AST], bool]) -> bool:
    """The store sits in an ``if``/``while`` whose test ``reads`` the target (``if self.conn is
    None:``, ``if not session:``) or in a ``try`` (a retry loop, not a leak)."""
    current = ctx.facts.parent.get(id(stmt))
    while current is not None and current is not function:
        if isinstance(current, (ast.If, ast.While)) and reads(current.test):
            return True
        if isinstance(current, ast.Try):
            return True
        current = ctx.facts.parent.get(id(current))
    return False


def _global_released_or_guarded_before(ctx: CheckContext, function: ast.AST, nodes: list[ast.AST],
                                       name: str, stmt: ast.Assign) -> bool:
    """A test of the global around the store (``if engine is None:``), a ``try`` (a retry), a
    release of it before (``engine.dispose()``), or the old one kept aside (``old = engine``)."""
    if _guarded_store(ctx, function, stmt, lambda test: any(
            isinstance(n, ast.Name) and n.id == name for n in ast.walk(test))):
        return True
    for node in nodes:
        if getattr(node, "lineno", stmt.lineno) >= stmt.lineno:
            continue
        if isinstance(node, ast.Attribute) and node.attr in RELEASE_METHODS \
                and isinstance(node.value, ast.Name) and node.value.id == name:
            return True  # `engine.dispose()`, `session.close()`
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == name:
            return True  # `old = engine`: the function takes care of the one it replaces
        if isinstance(node, (ast.If, ast.While)) and any(
                isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.test)):
            return True
    return False


_SETUP_METHODS = frozenset({"setUp", "setUpClass", "asyncSetUp", "setup_method", "setup_class",
                            "setup"})


def _runs_again(sources: ObjectSources, cls: ast.ClassDef, method: ast.FunctionDef | ast.AsyncFunctionDef,
                stores: list[StoredResource]) -> bool:
    """The attribute may hold an open object when ``method`` stores a new one: another method
    stores one too, the class calls ``method`` from more than one place, or it is a property. A test method runs
    once, on a fresh instance, after the set-up: only what the set-up stores is there."""
    if method.name.startswith("test"):
        return any(isinstance(other.method, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and other.method.name in _SETUP_METHODS for other in stores)
    if any(other.method is not method and not _is_test_method(other.method) for other in stores):
        return True
    if any(decorator_name(d) == "property" for d in method.decorator_list):
        return True  # a property runs on every read of it: each read replaces what the last made
    calls = 0
    for item in cls.body:
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) or item is method:
            continue
        for node in walk_scope(item):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == method.name and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "self"):
                calls += 1 if item.name in _INIT_METHODS else 2
    return calls >= 2


def _is_test_method(method: ast.AST | None) -> bool:
    return isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) and method.name.startswith("test")


def _released_or_guarded_before(ctx: CheckContext, method: ast.AST, item: StoredResource) -> bool:
    stmt = item.stmt
    if stmt is None:
        return True
    # Inside `if self.conn is None:` / `if not self.conn:` (or any test that reads it), or a
    # `try: self.conn = connect() except ...`.
    if _guarded_store(ctx, method, stmt, lambda test: _reads_attr(test, item.attr)):
        return True
    if _old_one_kept_aside(method, item.attr, stmt.lineno):
        return True
    for node in walk_scope(method):
        if getattr(node, "lineno", 0) >= stmt.lineno:
            continue
        if isinstance(node, ast.Attribute) and node.attr in RELEASE_METHODS:
            target = node.value
            if (isinstance(target, ast.Attribute) and target.attr == item.attr) or (
                    isinstance(target, ast.Name) and target.id == "self"):
                return True  # `self.conn.close()`, `self.close()`
        if isinstance(node, ast.Name) and node.id in ("closing", "ExitStack"):
            return True
        if isinstance(node, (ast.If, ast.While)) and _reads_attr(node.test, item.attr):
            return True  # `if self.conn: ...` before: the method knows it may be set
    return False


def _old_one_kept_aside(method: ast.AST, attr: str, line: int) -> bool:
    """``old = self.conn`` before the store, and ``old`` closed or handed on in the method
    (``old.close()``, ``pool.put(old)``): the method takes care of the one it replaces."""
    aliases = {target.id for node in walk_scope(method)
               if isinstance(node, ast.Assign) and node.lineno < line and _reads_attr(node.value, attr)
               and isinstance(node.value, ast.Attribute)
               for target in node.targets if isinstance(target, ast.Name)}
    if not aliases:
        return False
    for node in walk_scope(method):
        if (isinstance(node, ast.Attribute) and node.attr in RELEASE_METHODS
                and isinstance(node.value, ast.Name) and node.value.id in aliases):
            return True
        if isinstance(node, ast.Call) and any(
                isinstance(arg, ast.Name) and arg.id in aliases
                for arg in [*node.args, *(k.value for k in node.keywords)]):
            return True
    return False


def _reads_attr(test: ast.AST, attr: str) -> bool:
    """``self.conn`` read in ``test``, or asked for by name (``hasattr(self, "conn")``,
    ``getattr(self, "conn", None)``)."""
    for n in ast.walk(test):
        if isinstance(n, ast.Attribute) and n.attr == attr and isinstance(n.value, ast.Name) \
                and n.value.id == "self":
            return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) \
                and n.func.id in ("hasattr", "getattr") and len(n.args) >= 2 \
                and isinstance(n.args[0], ast.Name) and n.args[0].id == "self" \
                and isinstance(n.args[1], ast.Constant) and n.args[1].value == attr:
            return True
    return False


def _may_release(ctx: CheckContext, qualname: str, attr: str, spec: ObjectSpec) -> bool:
    """Whether the class or one of its bases in the project may release ``self.attr``. A base
    from outside the project does not know the attributes its subclasses set: it releases none
    of them (no evidence that it does)."""
    sources = object_sources(ctx)
    for _name, summary, _level in sources.class_chain(qualname):
        if attr in summary.get(SUMMARY_RELEASED_ATTRS, ()):
            return True
        if any(_use_releases(ctx, summary, use, spec)
               for use in (summary.get(SUMMARY_PASSED_ATTRS) or {}).get(attr, ())):
            return True
    return False


def _effect_releases(ctx: CheckContext, summary: Mapping[str, Any], effect: Any, spec: ObjectSpec) -> bool:
    """Whether a merged effect (of a getter's results) may release the object."""
    if isinstance(effect, tuple):
        return any(_use_releases(ctx, summary, use, spec) for use in effect)
    if effect == EFFECT_WITH:
        return spec.with_ is not None and spec.with_.closes
    return effect in (EFFECT_RELEASE, EFFECT_ESCAPE)


def _use_releases(ctx: CheckContext, summary: Mapping[str, Any], use: tuple[Any, ...], spec: ObjectSpec) -> bool:
    sources = object_sources(ctx)
    if use[0] == "with":
        return spec.with_ is not None and spec.with_.closes
    if use[0] == EFFECT_RETURN:
        # Handed out by a method (a getter): its caller may close it. A private getter
        # (`_get_engine`) that only the class's own methods call, which only use what it gives
        # (`engine = self._get_engine()`, `run(engine)`), releases nothing.
        results = (summary.get(SUMMARY_GETTER_RESULTS) or {}).get(use[1]) if len(use) > 1 else None
        if results is None or next(_read_from_outside(ctx, use[1]), None) is not None:
            return True
        return _effect_releases(ctx, summary, results, spec)
    if use[0] == EFFECT_GUESS:
        return False  # given to a callee nothing is known of: likely borrowed
    _tag, target, index, keyword, kept, bound = use
    drivers = sources.drivers
    if target in drivers.factories or target in drivers.factory_variants or target in drivers.borrowers:
        return False  # `Session(self.engine)`: the new object uses it and releases nothing of it
    effect = sources.param_effect(str(target), index, keyword, bool(bound))
    if effect is None or effect in (EFFECT_RETURN, EFFECT_RETURN_GUESS):
        return bool(kept)
    if effect == EFFECT_WITH:
        return spec.with_ is not None and spec.with_.closes
    return effect in (EFFECT_RELEASE, EFFECT_ESCAPE)


def _module_subclasses(sources: ObjectSources, qualname: str) -> Iterator[str]:
    """Classes of the module that derive (directly or not) from ``qualname``."""
    local = sources.local_summaries()
    wanted = {qualname}
    changed = True
    while changed:
        changed = False
        for name, summary in local.items():
            if summary.get(SUMMARY_KIND) != "class" or name in wanted:
                continue
            if wanted & set(summary.get(SUMMARY_BASES, ())):
                wanted.add(name)
                changed = True
    wanted.discard(qualname)
    yield from sorted(wanted)


def _stored_locals(ctx: CheckContext, flows: list[ResourceFlow]) -> Iterator[StoredResource]:
    """``conn = connect(); self.conn = conn`` inside a method."""
    classes = {id(item): scope.node for scope in ctx.facts.scopes
               if isinstance(scope.node, ast.ClassDef) for item in scope.node.body}
    for flow in flows:
        cls = classes.get(id(flow.resource.scope))
        if cls is None or flow.resource.with_unclosed:
            continue
        for escape in flow.escapes:
            through = False
            if isinstance(escape, ast.Call) and flow.resource.kind is Kind.ENGINE:
                # `self.db = scoped_session(sessionmaker(bind=engine))`: the engine is kept by
                # what the attribute holds, which never disposes it
                kept = _kept_by_assignment(ctx, escape)
                escape, through = (kept, True) if kept is not None else (escape, False)
            if isinstance(escape, ast.Assign) and len(escape.targets) == 1:
                target = escape.targets[0]
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                        and isinstance(escape.value, ast.Call if through else ast.Name)):
                    yield StoredResource(cls, target.attr, flow.resource.node, flow.resource.spec,
                                         flow.resource.scope, escape, through)


def _kept_by_assignment(ctx: CheckContext, call: ast.Call) -> ast.Assign | None:
    """The assignment whose value is ``call``, or a call that takes it as an argument
    (``self.db = scoped_session(sessionmaker(bind=engine))`` for the ``sessionmaker`` call)."""
    parents = ctx.facts.parent
    node: ast.AST = call
    while True:
        parent = parents.get(id(node))
        if isinstance(parent, ast.keyword):
            node, parent = parent, parents.get(id(parent))
        if isinstance(parent, ast.Call) and node is not parent.func:
            node = parent
            continue
        return parent if isinstance(parent, ast.Assign) and parent.value is node else None


def _cached_properties(ctx: CheckContext) -> Iterator[StoredResource]:
    """``@cached_property def conn(self): return connect()``: kept on the instance."""
    sources = object_sources(ctx)
    for scope in ctx.facts.scopes:
        cls = scope.node
        if not isinstance(cls, ast.ClassDef):
            continue
        qualname = sources.class_qualname(cls)
        for item in cls.body:
            if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            summary = sources.summary(f"{qualname}.{item.name}")
            if summary is None or summary.get(SUMMARY_KIND) != "cached_property":
                continue
            returns = summary.get(SUMMARY_RETURNS)
            values = [sources.resolve(origin) for origin in returns or ()]
            spec = values[0] if values and all(v is not None and v == values[0] for v in values) else None
            if isinstance(spec, ObjectSpec) and spec.must_release:
                yield StoredResource(cls, item.name, item, spec, item, None)
