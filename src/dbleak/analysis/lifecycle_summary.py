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
from collections.abc import Mapping
from typing import Any

from dbleak.analysis.call_sites import module_call_sites
from dbleak.analysis.module import (
    PORTABLE_CACHES,
    SCOPE_NODES,
    ModuleFacts,
    enclosing_handler,
    walk,
    walk_scope,
)
from dbleak.analysis.names import import_bindings
from dbleak.analysis.origins import (
    Origin,
    OriginReader,
    any_origin,
    decorator_name,
    function_kind,
    is_fresh,
    is_none,
    module_globals,
    module_level_statements,
    scope_readers,
    star_imports,
    unwrap_annotation,
)
from dbleak.analysis.project import SUMMARIZERS
from dbleak.knowledge.calls import (
    BORROWING_BUILTINS,
    BORROWING_METHODS,
    KEEPING_METHODS,
    POOL_RELEASE_METHODS,
    RELEASE_METHODS,
    borrows_by_receiver,
    callee_keeps,
    is_keeping_name,
)

SUMMARY_KIND = "lifecycle.kind"  # "function", "property", "cached_property", "contextmanager",
#                                   "cached" (a memoized function), "class", "global", "module"
SUMMARY_PARAMS = "lifecycle.params"  # parameter names in positional order
SUMMARY_RETURNS = "lifecycle.returns"  # origins of the fresh values every `return` gives
# When not every `return` gives a new object (a cached engine, a kept session): the origins of
# what the returns give, fresh or not; the caller learns the type, not an object to release.
SUMMARY_HELD = "lifecycle.held"
# On a function whose returns give a new object on some paths and one it keeps (on `self`, in
# a global) on the others (`return self.connection` if shared, else a fresh `connect()`): the
# origins of the new ones. A caller that never releases the result leaks it on those paths.
SUMMARY_SOMETIMES_FRESH = "lifecycle.sometimes_fresh"
SUMMARY_RETURN_ITEMS = "lifecycle.return_items"  # `return a, b`: per position, an origin or None
SUMMARY_YIELDS = "lifecycle.yields"  # a generator's yielded origins
SUMMARY_EFFECTS = "lifecycle.effects"  # {parameter: effect}
SUMMARY_IMPORTS = "lifecycle.imports"  # on a module: {local name: qualified name}
SUMMARY_STARS = "lifecycle.stars"  # on a module: the modules it imports `*` from, in order
SUMMARY_VALUE = "lifecycle.value"  # on a global: its origin
SUMMARY_BASES = "lifecycle.bases"  # on a class: its bases' qualified names
SUMMARY_ATTRS = "lifecycle.attrs"  # on a class: {attribute: origin}
SUMMARY_RELEASED_ATTRS = "lifecycle.released_attrs"  # on a class: attributes it may release
# On a class: its methods that release an attribute they keep (`end()`: `self.conn.close()`).
SUMMARY_RELEASERS = "lifecycle.releasers"
# On a class: attributes passed to the project's functions ("pass" tuples, resolved at check
# time) or used as a `with` item (("with",)).
SUMMARY_PASSED_ATTRS = "lifecycle.passed_attrs"
SUMMARY_METHODS = "lifecycle.methods"  # on a class: the names of the methods it defines
# On a class: {private method returning an attribute: what the class's own calls of it do with
# the result} (a merged effect, as SUMMARY_EFFECTS holds for a parameter).
SUMMARY_GETTER_RESULTS = "lifecycle.getter_results"
# On a class: constructing an instance calls a driver's factory (`__init__`, or a method it
# calls on `self`, or `run()` when it starts a thread).
SUMMARY_MAKES_DB = "lifecycle.makes_db"
SUMMARY_INIT_ATTRS = "lifecycle.init_attrs"  # on a class: the attributes its constructor sets
# On a class: {parameter of `__init__`: attribute} for `self.attr = parameter` in `__init__`.
SUMMARY_ADOPTS = "lifecycle.adopts"
# On a function: ``(parameter, origins)``: it returns the parameter when the caller passes one
# (not None), and otherwise a new object (`def get(conn=None): return conn or connect()`).
SUMMARY_UNLESS_PASSED = "lifecycle.unless_passed"
# On a `@contextmanager`: the parameter it yields back to the `with` body, never rebound.
SUMMARY_LENDS = "lifecycle.lends"
# On a class: its `__exit__` (or `__aexit__`) closes the instance (`self.close()`), so `with`
# an instance closes it even when the class derives from a driver's connection, whose own
# `with` only ends a transaction (a `factory=` subclass of `sqlite3.Connection`).
SUMMARY_EXIT_CLOSES = "lifecycle.exit_closes"

# Suffix of the attribute name under which a class's summary keeps what the items of that
# attribute hold (`self._dbs[key] = SqliteDb(...)`: `_dbs[]`).
ITEMS = "[]"

EFFECT_RELEASE, EFFECT_ESCAPE, EFFECT_BORROW, EFFECT_WITH = "release", "escape", "borrow", "with"
# Returned as it is: the caller's object leaves with the call's result, wherever that goes.
EFFECT_RETURN = "return"
# Given to a callee nothing is known of, that does not look like keeping it: a borrow, but
# only a likely one (a fix that closes the object is unsafe), as for the same call in scope.
EFFECT_GUESS = "guess"
# Both: handed back in the result of a callee nothing is known of (`return f(conn)`).
EFFECT_RETURN_GUESS = "return-guess"

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
    captured: dict[str, list[tuple[ast.AST, ast.Name]]] = {}
    wanted = set(params) - {reader.self_name or ""}
    for node in walk_scope(function):
        kind = type(node)
        if kind is ast.Name and node.id in wanted:  # type: ignore[attr-defined]
            uses.setdefault(node.id, []).append(node)  # type: ignore[attr-defined,arg-type]
        elif kind in _SCOPE_TYPES and node is not function:
            for sub in walk(node):
                if isinstance(sub, ast.Name) and sub.id in wanted:
                    captured.setdefault(sub.id, []).append((node, sub))
    effects: dict[str, Any] = {}
    for param in wanted & (set(uses) | set(captured)):
        effect = _combined_effect(facts, function, reader, uses[param], set()) if param in uses else EFFECT_BORROW
        if param in captured:
            effect = merge_effects([effect, _closure_effect(facts, captured[param])])
        effects[param] = effect
    return dict(sorted(effects.items()))


def _closure_effect(facts: ModuleFacts, uses: list[tuple[ast.AST, ast.Name]]) -> Any:
    """What closures (a lambda, a nested function, a comprehension) do with a name of the
    enclosing function they read: what their own uses of it do, and no more than a likely
    borrow (``guess``) when they only use it, since a closure may run after the function
    returns. Rebound there, returned by the closure, or read by a closure of the closure: it
    escapes. A list, set or dict comprehension runs at once: its uses are the function's."""
    found: list[Any] = []
    readers = scope_readers(facts)
    own: dict[int, set[int]] = {}
    for scope, name in uses:
        reader = readers.get(id(scope))
        if reader is None or not isinstance(name.ctx, ast.Load):
            return EFFECT_ESCAPE
        if id(scope) not in own:
            own[id(scope)] = {id(node) for node in walk_scope(scope)}
        if id(name) not in own[id(scope)]:
            return EFFECT_ESCAPE
        effect = _use_effect(facts, scope, reader, name, set())
        if isinstance(effect, tuple) and any(use[0] in (EFFECT_RETURN, EFFECT_RETURN_GUESS) for use in effect):
            return EFFECT_ESCAPE
        found.append(effect)
        if not isinstance(scope, (ast.ListComp, ast.SetComp, ast.DictComp)):
            found.append(EFFECT_GUESS)
    return merge_effects(found)


def _combined_effect(facts: ModuleFacts, function: ast.AST, reader: OriginReader,
                     nodes: list[ast.Name], seen_aliases: set[str], home: str | None = None) -> Any:
    found: list[Any] = []
    parents = facts.parent
    for node in nodes:
        if not isinstance(node.ctx, ast.Load):
            if isinstance(node.ctx, ast.Store):
                continue  # rebound: later uses are of another value
            found.append(EFFECT_ESCAPE)
            continue
        quick = _attribute_use(parents, node)
        found.append(quick if quick is not None
                     else _use_effect(facts, function, reader, node, seen_aliases, home))
    return merge_effects(found)


def _attribute_use(parents: Mapping[int, ast.AST], node: ast.expr) -> str | None:
    """The effect of ``node.attr`` (the commonest use, decided without the full walk)."""
    parent = parents.get(id(node))
    if not isinstance(parent, ast.Attribute) or parent.value is not node:
        return None
    if parent.attr not in RELEASE_METHODS:
        return EFFECT_BORROW
    grand = parents.get(id(parent))
    return EFFECT_RELEASE if isinstance(grand, ast.Call) and grand.func is parent else EFFECT_ESCAPE


def merge_effects(effects: list[Any]) -> Any:
    """release > escape > with > passes (and returns, resolved with them) > guess > borrow."""
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
        if EFFECT_GUESS in effects:
            passes.append((EFFECT_GUESS,))
        return tuple(dict.fromkeys(passes))
    return EFFECT_GUESS if EFFECT_GUESS in effects else EFFECT_BORROW


def _use_effect(facts: ModuleFacts, function: ast.AST, reader: OriginReader, node: ast.expr,
                seen_aliases: set[str], home: str | None = None) -> Any:
    """The effect of one use of an object; ``home`` is the attribute of ``self`` it was read
    from (an alias stored back there, `old = self.conn` ... `self.conn = old`, is no release)."""
    # The callers pass uses of the function's own scope: one in a closure is their business.
    parents = facts.parent
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
        if isinstance(parent, ast.Return):
            return ((EFFECT_RETURN,),)
        if isinstance(parent, (ast.Yield, ast.YieldFrom)):
            if (isinstance(parent, ast.Yield) and current is node
                    and isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and function_kind(function) in ("contextmanager", "fixture")):
                return EFFECT_BORROW  # a context manager lends it to the `with` body and back
            return EFFECT_ESCAPE
        if isinstance(parent, ast.Assign) and parent.value is current:
            if home is not None and all(_is_self_attr(t, reader.self_name, home) for t in parent.targets):
                return EFFECT_BORROW  # put back where it was read from
            if all(_on_caught_exception(parents, t) for t in parent.targets):
                return EFFECT_BORROW  # `except E as e: e.session = session`: context for the error
            if (current is node and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name)
                    and reader.is_local(parent.targets[0].id)):
                alias = parent.targets[0].id
                if alias in seen_aliases:
                    return EFFECT_BORROW
                seen_aliases.add(alias)
                alias_uses = [n for n in walk_scope(function)
                              if isinstance(n, ast.Name) and n.id == alias and isinstance(n.ctx, ast.Load)]
                return _combined_effect(facts, function, reader, alias_uses, seen_aliases, home)
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


def _on_caught_exception(parents: Mapping[int, ast.AST], target: ast.expr) -> bool:
    """``e.attr`` inside the handler ``except ... as e``: the exception carries the object while
    it propagates; nobody is given it to keep."""
    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)):
        return False
    node: ast.AST | None = target
    while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        if isinstance(node, ast.ExceptHandler):
            return node.name == target.value.id
        node = parents.get(id(node))
    return False


def _is_self_attr(node: ast.AST, me: str | None, attr: str) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == attr and me is not None
            and isinstance(node.value, ast.Name) and node.value.id == me)


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
        kept: bool | str = "return" if _only_returned(facts.parent, call) else _result_kept(facts, reader, call)
        return (("pass", target, index, keyword, kept, bound),)
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if isinstance(func, ast.Attribute) and name in POOL_RELEASE_METHODS:
        return EFFECT_RELEASE  # `self._connpool.putconn(connection)`: given back to its pool
    if name in BORROWING_METHODS or borrows_by_receiver(func):
        return EFFECT_BORROW
    if callee_keeps(name, isinstance(func, ast.Attribute), bool(call.keywords)):
        return EFFECT_ESCAPE
    if _only_returned(facts.parent, call):
        # `return f(conn)`, `return run(f(conn))`: the result may hold it, and goes to the
        # caller; it goes where the caller puts that result
        return ((EFFECT_RETURN,), (EFFECT_GUESS,))
    return EFFECT_ESCAPE if _result_kept(facts, reader, call) else EFFECT_GUESS


def _only_returned(parents: Mapping[int, ast.AST], call: ast.Call) -> bool:
    """Whether the call's result is returned at once, maybe awaited or given to other calls
    whose results are (``return f(conn)``, ``return run_async(f(conn))``), and goes nowhere else."""
    current: ast.AST = call
    while True:
        parent = parents.get(id(current))
        if isinstance(parent, ast.Return):
            return True
        if isinstance(parent, ast.Await):
            current = parent
            continue
        if isinstance(parent, ast.Call) and parent.func is not current:
            func = parent.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in KEEPING_METHODS or is_keeping_name(name):
                return False
            current = parent
            continue
        return False


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
             nodes: list[ast.AST]
             ) -> tuple[tuple[Origin, ...], tuple[Origin | None, ...], tuple[Origin, ...], tuple[Origin, ...]]:
    """(origins every `return` gives when each gives a new object, or (); per-position origins
    of tuple returns; the origins of what the returns give, fresh or kept, where they have one;
    when each return gives a new object or a kept one and some give new ones, those)."""
    stored: set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node.value, ast.Name) and any(not isinstance(t, ast.Name) for t in targets):
                stored.add(node.value.id)  # also kept on self / in a container: shared
    origins: list[Origin] = []
    items: list[list[Origin | None]] = []
    held: list[Origin] = []
    factory = True
    mixed = True  # every return gives a new object or one kept on `self` / in a global
    for node in nodes:
        if not isinstance(node, ast.Return):
            continue
        value = node.value
        if value is None or is_none(value) or (
                isinstance(value, ast.Constant) and value.value is False):
            mixed = False  # nothing made on this path (`return False` on a failure, as None)
            continue
        given = reader.origin(value) if not isinstance(value, (ast.Tuple, *_PLAIN_VALUES)) else None
        if given is not None:
            held.append(given)
        if not (is_fresh(given) or given is not None and given[:1] in (("attr",), ("global",))):
            mixed = False
        if isinstance(value, ast.Tuple):
            factory = False
            row = [None if isinstance(e, ast.Name) and e.id in stored else reader.origin(e)
                   for e in value.elts]
            items.append(row)
            continue
        if isinstance(value, ast.Name) and value.id in stored:
            factory = False
            continue
        if not factory or isinstance(value, _PLAIN_VALUES):
            factory = False  # data, or a function already known not to be a factory
            continue
        origin = given
        if not is_fresh(origin):
            factory = False  # a shared object (kept on self, a module global), or unknown
            continue
        assert origin is not None
        if isinstance(value, ast.Name) and _used_as_cursor(nodes, value.id):
            origin = ("cursorlike", origin)  # `cur = ...; cur.execute(q); return cur`
        origins.append(origin)
    merged_items: tuple[Origin | None, ...] = ()
    if items and all(len(row) == len(items[0]) for row in items):
        merged_items = tuple(any_origin(list(column)) if all(c is not None for c in column) else None
                             for column in zip(*items, strict=True))
    held_origins = tuple(dict.fromkeys(held))
    if not factory:
        sometimes = tuple(dict.fromkeys(o for o in held if is_fresh(o))) if mixed else ()
        return (), merged_items, held_origins, sometimes
    computed = any_origin(list(dict.fromkeys(origins))) if origins else None
    declared = reader.facts.qualname(unwrap_annotation(function.returns)) \
        if function.returns is not None else None
    if computed is not None and declared is not None:
        # `def get_session() -> Session:` whose every return is a new object: the annotation
        # is the function's contract, whatever the calls inside return (when it names a type
        # that can be resolved; the calls are read otherwise).
        return (("annotated", declared, computed),), merged_items, held_origins, ()
    return tuple(dict.fromkeys(origins)), merged_items, held_origins, ()


_YIELDS = frozenset({ast.Yield, ast.YieldFrom})
_SCOPE_TYPES = frozenset(SCOPE_NODES)
# The nodes a class's methods are read for (the rest is skipped by type).
_CLASS_FACT_NODES = frozenset({ast.Assign, ast.AnnAssign, ast.Attribute, *SCOPE_NODES})
# Expressions that make plain data, never a database object.
_PLAIN_VALUES = (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Compare, ast.BoolOp, ast.UnaryOp,
                 ast.Dict, ast.List, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp,
                 ast.GeneratorExp, ast.Lambda)

CURSOR_USES = frozenset({"execute", "executemany", "fetchone", "fetchall", "fetchmany",
                         "callproc", "mogrify", "copy_expert", "copy_from", "copy_to"})


def _used_as_cursor(nodes: list[ast.AST], name: str) -> bool:
    """Whether the scope runs ``name.execute(...)`` / ``name.fetch*()``: a PEP 249 cursor."""
    return any(isinstance(node, ast.Attribute) and node.attr in CURSOR_USES
               and isinstance(node.value, ast.Name) and node.value.id == name for node in nodes)


def _made_instance(method: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The one local name a ``__new__`` binds to ``<class>.__new__(cls, ...)`` or
    ``super().__new__(cls)``: the instance its attribute stores are made on."""
    names = {target.id for node in walk_scope(method) if isinstance(node, ast.Assign)
             and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)
             and node.value.func.attr == "__new__"
             for target in node.targets if isinstance(target, ast.Name)}
    return next(iter(names)) if len(names) == 1 else None


def _class_facts(facts: ModuleFacts, cls: ast.ClassDef, class_qualname: str) -> dict[str, Any]:
    bases: list[str] = []
    defined = {node.name for node in facts.tree.body if isinstance(node, ast.ClassDef)}
    for base in cls.bases:
        qualname = facts.qualname(base)
        if qualname is None and isinstance(base, ast.Name):
            if base.id in defined or base.id in module_globals(facts.tree):
                qualname = (f"{facts.module_name}." if facts.module_name else "") + base.id
            else:
                qualname = base.id  # a builtin: `object`, `Exception`, `dict`
        elif qualname is None and isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) \
                and base.value.id in module_globals(facts.tree):
            # `db.Model` of the module's own `db = SQLAlchemy()`
            qualname = (f"{facts.module_name}." if facts.module_name else "") \
                + f"{base.value.id}.{base.attr}"
        bases.append(qualname or "?")
    attrs: dict[str, list[Origin | None]] = {}
    released: set[str] = set()
    releasers: set[str] = set()  # the methods that release an attribute (`def end(self): self.conn.close()`)
    methods_alias: set[str] = set()  # release methods bound on the instance (`self.close = ...`)
    # Attributes passed to project calls (resolved at check time) or used as a `with` item.
    passed: dict[str, list[Any]] = {}
    body_reader = scope_readers(facts)[id(cls)]
    for item in cls.body:
        if isinstance(item, ast.Assign):
            if is_none(item.value):
                continue  # `_connpool = None`: a placeholder until an instance sets its own
            for target in item.targets:
                if isinstance(target, ast.Name):
                    attrs.setdefault(target.id, []).append(body_reader.origin(item.value))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            if item.value is not None:
                attrs.setdefault(item.target.id, []).append(body_reader.origin(item.value))
            else:
                qualname = facts.qualname(unwrap_annotation(item.annotation))
                attrs.setdefault(item.target.id, []).append(("type", qualname) if qualname else None)
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            reader = scope_readers(facts)[id(item)]
            me = reader.self_name
            if item.name == "__new__":
                me = _made_instance(item)  # `inst = Base.__new__(cls)`: the instance
            if me is None or any(decorator_name(d) == "staticmethod" for d in item.decorator_list):
                continue
            nested: list[ast.AST] = []
            stored_from: dict[str, set[str]] = {}  # local name -> attributes it is stored in
            aliased: list[str] = []  # local names whose release method the instance exposes
            for node in walk_scope(item):
                kind = type(node)
                if kind not in _CLASS_FACT_NODES:
                    continue
                if kind in _SCOPE_TYPES:
                    nested.append(node)
                elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                                and target.value.id == cls.name and node.value is not None \
                                and not is_none(node.value):
                            # `DownloadArchive._sqlite3 = __import__("sqlite3")`: a class
                            # attribute a method sets (once, for every instance)
                            attrs.setdefault(target.attr, []).append(reader.origin(node.value))
                            continue
                        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute) \
                                and isinstance(target.value.value, ast.Name) and target.value.value.id == me \
                                and node.value is not None and not is_none(node.value):
                            # `self._dbs[threading.get_ident()] = SqliteDb(...)`: what the items
                            # of the attribute (a registry per key) hold
                            attrs.setdefault(target.value.attr + ITEMS, []).append(reader.origin(node.value))
                            continue
                        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                and target.value.id == me):
                            continue
                        value = node.value
                        for other in targets:
                            if isinstance(other, ast.Name):  # `self.conn = con = connect(...)`
                                stored_from.setdefault(other.id, set()).add(target.attr)
                        if isinstance(value, ast.Name):
                            stored_from.setdefault(value.id, set()).add(target.attr)
                        elif isinstance(value, ast.Attribute) and value.attr in RELEASE_METHODS \
                                and target.attr in RELEASE_METHODS:
                            # `self.close = con.close` (con also kept: `self.connection = con`),
                            # `self.close = self.connection.close`: the instance's own `close`
                            # releases that object
                            holder = value.value
                            if isinstance(holder, ast.Name) and holder.id != me:
                                aliased.append(holder.id)
                                methods_alias.add(target.attr)
                            elif isinstance(holder, ast.Attribute) and isinstance(holder.value, ast.Name) \
                                    and holder.value.id == me:
                                released.add(holder.attr)
                                methods_alias.add(target.attr)
                    for target in targets:
                        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                and target.value.id == me):
                            if node.value is None:
                                qualname = facts.qualname(unwrap_annotation(node.annotation)) if isinstance(node, ast.AnnAssign) else None
                                if qualname:  # a declaration of a type not known says nothing
                                    attrs.setdefault(target.attr, []).append(("type", qualname))
                            elif is_none(node.value):
                                continue
                            else:
                                attrs.setdefault(target.attr, []).append(reader.origin(node.value))
                elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id == me and isinstance(node.ctx, ast.Load)):
                    effect = _attribute_use(facts.parent, node)
                    if effect is None:
                        effect = _use_effect(facts, item, reader, node, set(), node.attr)
                    if effect == EFFECT_RELEASE and _in_reraising_handler(facts.parent, node, item):
                        pass  # clean-up of a failure (`except: self.conn.close(); raise`)
                    elif effect == EFFECT_RELEASE and _replaced_after(item, me, node):
                        pass  # a reconnect: the old object goes, a new one takes its place
                    elif effect in (EFFECT_RELEASE, EFFECT_ESCAPE):
                        released.add(node.attr)
                        if effect == EFFECT_RELEASE and isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            releasers.add(item.name)
                    elif effect == EFFECT_WITH:
                        passed.setdefault(node.attr, []).append(("with",))
                    elif isinstance(effect, tuple):
                        passed.setdefault(node.attr, []).extend(_name_getter(effect, item.name))
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Del):
                    released.add(node.attr)
            for name in aliased:
                released.update(stored_from.get(name, ()))
            for sub in nested:
                # A closure or lambda of the method reads the attribute when it runs (it keeps
                # `self`, not the object): a method call on it (`self.conn.commit()`) is a use;
                # anything else may keep or release it.
                for inner in walk(sub):
                    if (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
                            and inner.value.id == me and isinstance(inner.ctx, ast.Load)
                            and _attribute_use(facts.parent, inner) != EFFECT_BORROW):
                        released.add(inner.attr)
    summary: dict[str, Any] = {SUMMARY_KIND: "class", SUMMARY_BASES: tuple(bases)}
    merged = {attr: any_origin([o for o in origins]) for attr, origins in attrs.items()}
    kept = {attr: origin for attr, origin in merged.items() if origin is not None}
    if kept:
        summary[SUMMARY_ATTRS] = kept
    if released:
        summary[SUMMARY_RELEASED_ATTRS] = tuple(sorted(released))
    if releasers:
        summary[SUMMARY_RELEASERS] = tuple(sorted(releasers))
    passed = {attr: uses for attr, uses in passed.items() if attr not in released}
    if passed:
        summary[SUMMARY_PASSED_ATTRS] = {attr: tuple(dict.fromkeys(uses)) for attr, uses in passed.items()}
        getters = {use[1] for uses in passed.values() for use in uses if use[0] == EFFECT_RETURN and len(use) > 1}
        if getters:
            summary[SUMMARY_GETTER_RESULTS] = _getter_results(facts, cls, getters)
    methods = tuple(dict.fromkeys([
        *(item.name for item in module_level_statements(cls.body)
          if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))),
        *sorted(methods_alias)]))
    if methods:
        summary[SUMMARY_METHODS] = methods
    if _exit_closes(cls):
        summary[SUMMARY_EXIT_CLOSES] = True
    makes_db, init_attrs, adopts = _construction(facts, cls)
    if makes_db:
        summary[SUMMARY_MAKES_DB] = True
    if init_attrs:
        summary[SUMMARY_INIT_ATTRS] = init_attrs
    if adopts:
        summary[SUMMARY_ADOPTS] = adopts
    return summary


def _name_getter(effects: tuple[Any, ...], method: str) -> tuple[Any, ...]:
    """``return self._engine`` in a private method (``_get_engine``): the return names the
    method, so that what the class's own calls of it do with the result can be read."""
    if not (method.startswith("_") and not method.endswith("__")):
        return effects
    return tuple((EFFECT_RETURN, method) if use == (EFFECT_RETURN,) else use for use in effects)


def _getter_results(facts: ModuleFacts, cls: ast.ClassDef, getters: set[str]) -> dict[str, Any]:
    """{private getter: the merged effect of its results} over the class's own calls of it
    (``engine = self._get_engine()``, then what happens to ``engine``). A getter read but not
    called (``callback(self._get_engine)``), or called in a closure, escapes."""
    found: dict[str, list[Any]] = {}
    for item in cls.body:
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        reader = scope_readers(facts)[id(item)]
        me = reader.self_name
        if me is None:
            continue
        own = {id(node) for node in walk_scope(item)}
        for node in walk(item):
            if not (isinstance(node, ast.Attribute) and node.attr in getters and isinstance(node.value, ast.Name)
                    and node.value.id == me and isinstance(node.ctx, ast.Load)):
                continue
            call = facts.parent.get(id(node))
            if id(node) in own and isinstance(call, ast.Call) and call.func is node:
                found.setdefault(node.attr, []).append(_use_effect(facts, item, reader, call, set()))
            else:
                found.setdefault(node.attr, []).append(EFFECT_ESCAPE)
    return {getter: merge_effects(effects) for getter, effects in found.items()}


def _exit_closes(cls: ast.ClassDef) -> bool:
    """Whether the class's ``__exit__``/``__aexit__`` calls ``close()`` on the instance."""
    for item in cls.body:
        if not (isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                and item.name in ("__exit__", "__aexit__") and item.args.args):
            continue
        me = item.args.args[0].arg
        if any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr in ("close", "aclose") and isinstance(node.func.value, ast.Name)
               and node.func.value.id == me for node in walk_scope(item)):
            return True
    return False


def _construction(facts: ModuleFacts, cls: ast.ClassDef) -> tuple[bool, tuple[str, ...], dict[str, str]]:
    """What constructing an instance runs: whether it calls a driver's factory, the attributes
    it sets, and which attribute keeps each parameter of `__init__` (``self.attr = param``, the
    first one when several do). Read through `__init__`, the methods it calls on `self`, and
    `run()` when it calls `self.start()` (a thread that connects as it starts)."""
    methods = {item.name: item for item in cls.body
               if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
    drivers = facts.drivers
    todo: list[str] = [name for name in ("__init__", "__new__", "__post_init__") if name in methods]
    seen: set[str] = set()
    makes_db = False
    attrs: set[str] = set()
    adopts: dict[str, str] = {}
    init = methods.get("__init__")
    init_args = [*init.args.posonlyargs, *init.args.args, *init.args.kwonlyargs] if init else []
    me, params = (init_args[0].arg, {a.arg for a in init_args[1:]}) if init_args else ("", set())
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        nodes = list(walk(methods[name]))
        # local names the method binds to a call's result (`con = connect(...)`), kept below
        # as `self.conn = con`
        made = {target.id for node in nodes if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call) for target in node.targets
                if isinstance(target, ast.Name)}
        for node in nodes:
            if isinstance(node, ast.Call):
                qualname = facts.call_qualname(node)
                if qualname is not None and (qualname in drivers.factories
                                             or qualname in drivers.factory_variants):
                    makes_db = True
                func = node.func
                if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                        and func.value.id == "self"):
                    called = "run" if func.attr == "start" else func.attr
                    if called in methods:
                        todo.append(called)
            elif isinstance(node, ast.Assign):
                value = node.value
                if isinstance(value, ast.Await):
                    value = value.value
                for target in node.targets:  # `self.conn = conn = connect(...)`: each target
                    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)):
                        continue
                    if target.value.id == "self" and (isinstance(value, ast.Call) or (
                            isinstance(value, ast.Name) and value.id in made)):
                        attrs.add(target.attr)  # made by the constructor (not `= None`, not a param)
                    elif name == "__init__" and len(node.targets) == 1 and target.value.id == me \
                            and isinstance(node.value, ast.Name) and node.value.id in params:
                        adopts.setdefault(node.value.id, target.attr)
    return makes_db, tuple(sorted(attrs)), adopts


def _in_reraising_handler(parents: Mapping[int, ast.AST], node: ast.AST, method: ast.AST) -> bool:
    """Whether ``node`` is in an ``except`` block of ``method`` that ends by raising: the clean-up
    of a failed call, not the owner's release of what it keeps."""
    handler = enclosing_handler(parents, node, method)
    return handler is not None and bool(handler.body) and isinstance(handler.body[-1], ast.Raise)


_SUMMARIES_KEY = "_dbleak_lifecycle_summaries"
PORTABLE_CACHES.add(_SUMMARIES_KEY)  # origins and names only: plain data


def _replaced_after(method: ast.AST, me: str, released: ast.Attribute) -> bool:
    """``self.conn.close()`` followed in the same method by ``self.conn = <new object>``: the
    method replaces the object (a reconnect); it does not release what the instance ends with."""
    where = (released.lineno, released.col_offset)
    for node in walk_scope(method):
        if isinstance(node, ast.Assign) and not is_none(node.value) \
                and (node.lineno, node.col_offset) > where:
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == released.attr \
                        and isinstance(target.value, ast.Name) and target.value.id == me:
                    return True
    return False


def summarize_lifecycle(facts: ModuleFacts) -> dict[str, Mapping[str, Any]]:
    """Lifecycle facts of the module: its imports, globals, classes, functions and methods
    (made once per module: the project pass and the checking pass share them)."""
    cached = facts.__dict__.get(_SUMMARIES_KEY)
    if cached is None:
        cached = _summarize_lifecycle(facts)
        facts.__dict__[_SUMMARIES_KEY] = cached
    return cached


def _summarize_lifecycle(facts: ModuleFacts) -> dict[str, Mapping[str, Any]]:
    prefix = f"{facts.module_name}." if facts.module_name else ""
    summaries: dict[str, Mapping[str, Any]] = {}
    tree = facts.tree
    imports: dict[str, str] = {}
    module_reader = OriginReader(facts, tree)
    global_values: dict[str, list[Origin | None]] = {}
    raising = _raising_functions(tree)
    for stmt in module_level_statements(tree.body):
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) and stmt.value.id in raising:
            continue  # `Session = sessionwarn` (a stand-in that only raises): it makes nothing
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for name, qualname in import_bindings(stmt, facts.module_name, facts.is_package):
                imports.setdefault(name, facts.drivers.canonical(qualname))
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            if not is_none(stmt.value):
                global_values.setdefault(stmt.targets[0].id, []).append(module_reader.origin(stmt.value))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None and not is_none(stmt.value):
                global_values.setdefault(stmt.target.id, []).append(module_reader.origin(stmt.value))
            else:
                annotated = facts.qualname(unwrap_annotation(stmt.annotation))
                global_values.setdefault(stmt.target.id, []).append(("type", annotated) if annotated else None)
    # A name also bound to something else at module level is no re-export of the import.
    rebound = set(global_values) | {node.name for node in tree.body if isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    imports = {name: target for name, target in imports.items() if name not in rebound}
    stars = star_imports(facts)
    call_sites = module_call_sites(facts)
    if facts.module_name and (imports or stars or call_sites):
        module_summary: dict[str, Any] = {SUMMARY_KIND: "module", SUMMARY_IMPORTS: imports, **call_sites}
        if stars:
            module_summary[SUMMARY_STARS] = stars
        summaries[facts.module_name] = module_summary
    readers = scope_readers(facts)
    for scope in facts.scopes[1:]:
        node = scope.node
        reader = readers.get(id(node))
        if reader is None:
            continue
        has_global = any(type(n) is ast.Global for n in facts.scope_nodes.get(id(node), ()))
        for name, values in (reader.global_bindings() if has_global else {}).items():
            # `Session = None` at module level, `global Session; Session = sessionmaker(...)`
            # in a set-up function: the global holds what the function binds
            global_values.setdefault(name, []).extend(
                reader.origin(value) for value in values if value is not None and not is_none(value))
        if reader.qualname is None:
            continue
        if isinstance(node, ast.ClassDef):
            summaries[reader.qualname] = _class_facts(facts, node, reader.qualname)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            summaries[reader.qualname] = _function_facts(facts, node, reader)
    for name, origins in global_values.items():
        origin = any_origin(origins)
        if origin is not None:
            summaries[prefix + name] = {SUMMARY_KIND: "global", SUMMARY_VALUE: origin}
    return summaries


def _raising_functions(tree: ast.Module) -> frozenset[str]:
    """Module-level functions (also those defined in an ``if``/``else`` at import time) whose
    body only raises: a stand-in bound where a configuration is missing (``def sessionwarn():
    raise RuntimeError(...)``; ``Session = sessionwarn``), which never gives an object."""
    found: set[str] = set()
    seen: set[str] = set()
    for stmt in module_level_statements(tree.body):
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if stmt.name in seen:
            found.discard(stmt.name)  # defined twice: the other may return
            continue
        seen.add(stmt.name)
        body = [b for b in stmt.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
        if len(body) == 1 and isinstance(body[0], ast.Raise):
            found.add(stmt.name)
    return frozenset(found)


def _returns_param(reader: OriginReader, params: list[str], value: ast.expr,
                   found: list[str], fresh: list[Origin]) -> bool:
    """Whether ``value`` is one parameter (the one in ``found``, or it becomes it), or that
    parameter or a new object (``conn or connect()``, ``conn if conn else connect()``, nested on
    the parameter's side); the new objects' origins go to ``fresh``, innermost first.

    A loop, not a recursive closure: a nested function that calls itself is a reference cycle
    (function, closure cell, function) that keeps the module's facts and tree alive until the
    cyclic collector runs, and a run pauses it."""
    made: list[Origin] = []
    while True:
        if isinstance(value, ast.Name) and value.id in params:
            if found and found[0] != value.id:
                return False
            if not found:
                found.append(value.id)
            fresh.extend(reversed(made))
            return True
        if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or) and len(value.values) == 2:
            first, other = value.values
        elif isinstance(value, ast.IfExp):
            test = value.test
            negated = (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)) or (
                isinstance(test, ast.Compare) and len(test.ops) == 1
                and isinstance(test.ops[0], ast.Is) and is_none(test.comparators[0]))
            first, other = (value.orelse, value.body) if negated else (value.body, value.orelse)
        else:
            return False
        origin = reader.origin(other)
        if not is_fresh(origin):
            return False
        assert origin is not None
        made.append(origin)
        value = first


def _unless_passed(reader: OriginReader, params: list[str],
                   nodes: list[ast.AST]) -> tuple[str, tuple[Origin, ...]] | None:
    """``(parameter, origins)`` when the function returns one parameter, or a new object when
    the caller passes none: every ``return`` gives the parameter (``return conn``), or the
    parameter or a new object (``return conn or connect()``, ``return conn if conn else
    connect()``), and every assignment to the parameter is a new object (``if conn is None:
    conn = connect()``) or itself. A caller that passes None or nothing gets the new object
    (or None); one that passes its own object gets it back."""
    found: list[str] = []  # the parameter returned, once known
    fresh: list[Origin] = []
    returns = [n for n in nodes if isinstance(n, ast.Return) and n.value is not None
               and not is_none(n.value)]
    if not returns or not all(_returns_param(reader, params, n.value, found, fresh)
                              for n in returns if n.value is not None):
        return None
    param = found[0] if found else None
    for node in nodes:
        if isinstance(node, ast.Name) and node.id == param and not isinstance(node.ctx, ast.Load):
            assign = reader.facts.parent.get(id(node))
            if not isinstance(assign, ast.Assign) or assign.targets != [node]:
                return None  # a loop variable, an unpacking, a `with ... as`: not this shape
            if isinstance(assign.value, ast.Name) and assign.value.id == param:
                continue  # `conn = conn`
            origin = reader.origin(assign.value)
            if not is_fresh(origin):
                return None
            assert origin is not None
            fresh.append(origin)
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and param in node.names:
            return None
        elif (isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Name)
              and node.value.id == param):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(not isinstance(t, ast.Name) for t in targets):
                return None  # also kept on self or in a container: shared
    if param is None or not fresh:
        return None
    return param, tuple(dict.fromkeys(fresh))


def _function_facts(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef,
                    reader: OriginReader) -> dict[str, Any]:
    nodes = list(walk_scope(function))
    args = function.args
    params = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
    kind = function_kind(function)
    summary: dict[str, Any] = {SUMMARY_KIND: kind, SUMMARY_PARAMS: tuple(params)}
    is_generator = any(type(n) in _YIELDS for n in nodes)
    if is_generator:
        yielded = [reader.origin(n.value) for n in nodes if isinstance(n, ast.Yield) and n.value is not None]
        kept = tuple(dict.fromkeys(o for o in yielded if o is not None))
        if kept and len(kept) == len(yielded):
            summary[SUMMARY_YIELDS] = kept
        if kind == "contextmanager":
            lent = {n.value.id for n in nodes if isinstance(n, ast.Yield)
                    and isinstance(n.value, ast.Name)}
            if (len(lent) == 1 and len(yielded) == 1 and lent <= set(params)
                    and not any(isinstance(n, ast.Name) and n.id in lent
                                and not isinstance(n.ctx, ast.Load) for n in nodes)):
                summary[SUMMARY_LENDS] = next(iter(lent))
    elif kind != "fixture":
        returns, items, held, sometimes = _returns(reader, function, nodes)
        if kind == "cached":
            returns, items, sometimes = (), (), ()  # what a cache returns is shared
        unless = None if returns or kind == "cached" else _unless_passed(reader, params, nodes)
        if returns:
            summary[SUMMARY_RETURNS] = returns
        elif unless is not None:
            summary[SUMMARY_UNLESS_PASSED] = unless
        elif held:
            summary[SUMMARY_HELD] = held
            if sometimes:
                summary[SUMMARY_SOMETIMES_FRESH] = sometimes
        if any(item is not None for item in items):
            summary[SUMMARY_RETURN_ITEMS] = items
    effects = parameter_effects(facts, function, params, reader)
    if effects:
        summary[SUMMARY_EFFECTS] = effects
    return summary


if summarize_lifecycle not in SUMMARIZERS:
    SUMMARIZERS.append(summarize_lifecycle)
