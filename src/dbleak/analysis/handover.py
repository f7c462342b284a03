"""What a use of a database object does to it: borrows it, releases it, or hands it over to
someone who will (returned, stored, passed to an owner).

Read by the flow interpreter (:mod:`dbleak.analysis.flow`) for every read of a tracked name.
"""

from __future__ import annotations

import ast
from collections.abc import MutableMapping

from dbleak.analysis.lifecycle_summary import (
    EFFECT_BORROW,
    EFFECT_ESCAPE,
    EFFECT_GUESS,
    EFFECT_RELEASE,
    EFFECT_RETURN,
    EFFECT_RETURN_GUESS,
    EFFECT_WITH,
    value_leaves,
)
from dbleak.analysis.module import result_has_method, walk, walk_scope
from dbleak.analysis.origins import module_globals, scope_readers
from dbleak.analysis.sources import CLOSING_WRAPPERS, ObjectSources, ProjectClass
from dbleak.knowledge.calls import (
    BORROWING_BUILTINS,
    BORROWING_METHODS,
    LAZY_WRAPPERS,
    POOL_RELEASE_METHODS,
    RELEASE_METHODS,
    RUNNING_CLASSES,
    STACK_METHODS,
    borrows_by_receiver,
    callee_keeps,
    keeps_argument,
)
from dbleak.knowledge.drivers import Kind, ObjectSpec


def _returns_through(function: ast.FunctionDef | ast.AsyncFunctionDef, index: int | None,
                     keyword: str | None) -> bool:
    """Whether ``function`` returns a method call's result on the parameter at ``index`` (or
    named ``keyword``): ``return cur.execute(q)``, which may be the object itself."""
    params = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    name = keyword if keyword is not None else params[index] if index is not None and index < len(params) else None
    if name is None:
        return False
    for node in walk_scope(function):
        value = node.value if isinstance(node, ast.Return) else None
        while isinstance(value, ast.Await):
            value = value.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
                and isinstance(value.func.value, ast.Name) and value.func.value.id == name:
            return True
    return False


class HandOver:
    """Where values go in one scope (``cls``: the class whose method it is)."""

    def __init__(self, sources: ObjectSources, parents: MutableMapping[int, ast.AST],
                 scope: ast.AST, cls: ast.ClassDef | None, unknown_calls: str) -> None:
        self.sources = sources
        self.parents = parents
        self.scope = scope
        self.cls = cls
        # "evidence" (a callee keeps what it is given only when something says so),
        # "hand-over" (every unknown callee keeps it) or "borrow" (none does).
        self.unknown_calls = unknown_calls
        self._dicts: dict[str, bool] = {}

    def _release_methods(self, name: str) -> frozenset[str]:
        return RELEASE_METHODS

    def value_fate(self, node: ast.expr, spec: ObjectSpec | None = None) -> tuple[str, ast.AST]:
        """Where a value goes: "escape", "borrow", "release" (an owner in a with) or "yield".

        ``spec``: the object's, when known (a callee's `with obj:` releases it when the
        object's own `with` closes)."""
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
                    fate = self.call_fate(call, None, parent.arg, spec)
                    if fate == "escape" and self._kept_by_local_instance(call, None, parent.arg):
                        fate = "guess"
                    return fate, call
                return "escape", parent
            if isinstance(parent, ast.Call):
                if parent.func is current:
                    return "borrow", current
                index = parent.args.index(current) if current in parent.args else None
                fate = self.call_fate(parent, index, None, spec)
                if fate == "lazy":
                    current = parent
                    continue
                if fate == "escape" and self._kept_by_local_instance(parent, index, None):
                    fate = "guess"
                return fate, parent
            if isinstance(parent, (ast.Return,)):
                return "escape", parent
            if isinstance(parent, (ast.Yield, ast.YieldFrom)):
                if isinstance(parent, ast.Yield) and current is node:
                    return "yield", parent
                return "escape", parent
            if isinstance(parent, ast.Assign) and parent.value is current and (
                    self._local_slots(parent) or self.local_holder(parent) is not None):
                # `kwargs["session"] = session` into a dict the scope only reads and unpacks
                # into calls (`func(**kwargs)`), or `cfg.attributes["connection"] = conn` on a
                # local object that never leaves the scope: given to those calls, not kept
                return "guess", parent
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

    def _kept_by_local_instance(self, call: ast.Call, index: int | None, keyword: str | None) -> bool:
        """``service = MigrationService(engine=engine)``: a class of the project keeps the
        object in an attribute it never releases, and the new instance is a local object that
        never leaves the scope (:meth:`local_holder`'s test): the object is dropped with it."""
        assign = self.parents.get(id(call))
        if not (isinstance(assign, ast.Assign) and assign.value is call and len(assign.targets) == 1
                and isinstance(assign.targets[0], ast.Name)):
            return False
        target = self.sources.call_target(call, self.cls)
        holder = assign.targets[0].id
        if self.sources.kept_unreleased(target, index, keyword):
            return self._holder(holder)
        # a library's instance may release what it was given with it (`store.close()`)
        return self._library_instance(call, target) and self._holder(holder) \
            and not self._result_released(call)

    def _library_instance(self, call: ast.Call, target: str | None) -> bool:
        """``alembic = Alembic(app, engines={"default": engine})``: an instance of a class
        outside the project (an imported capitalized callee the project does not define, not a
        thread or a process that runs on with what it was given)."""
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if not name[:1].isupper() or name in RUNNING_CLASSES:
            return False
        return target is not None and self.sources.summary(target) is None \
            and target not in self.sources.drivers.owners

    def local_holder(self, assign: ast.Assign) -> str | None:
        """The local object every target of ``assign`` is an attribute (or an item of one) of,
        when it is made in this scope by a call and stays in the scope: its other uses are
        attribute reads and writes, and arguments of calls that do not keep it; it is not
        returned, stored, aliased or captured, and nothing releases what it holds."""
        roots: set[str] = set()
        for target in assign.targets:
            if not isinstance(target, (ast.Attribute, ast.Subscript)) or (
                    isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)):
                return None  # `d[k] = v` on a name: the dict case
            node: ast.expr = target
            while isinstance(node, (ast.Attribute, ast.Subscript)):
                node = node.value
            if not isinstance(node, ast.Name):
                return None
            roots.add(node.id)
        if len(roots) != 1 or not self._holder(next(iter(roots))):
            return None
        return next(iter(roots))

    def _holder(self, name: str) -> bool:
        key = "holder:" + name
        found = self._dicts.get(key)
        if found is None:
            found = self._dicts[key] = self._find_holder(name)
        return found

    def _find_holder(self, name: str) -> bool:
        scope = self.scope
        if getattr(scope, "args", None) is None:
            return False
        reader = self.sources.reader(scope, self.cls)
        values = reader.assigned().get(name)
        if (reader.is_param(name) or not values or not reader.is_local(name)
                or not all(isinstance(v, ast.Call) for v in values)):
            return False
        for node in walk(scope):
            if node is scope or not isinstance(node, ast.Name) or node.id != name:
                continue
            if self.parents.get(id(node)) is None:
                return False
            if not self._holder_use(node):
                return False
        return True

    def _holder_use(self, node: ast.Name) -> bool:
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Assign) and node in parent.targets:
            return True  # `cfg = Config(path)`
        if isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is node:
            current: ast.AST = parent  # `cfg.attr`, `db["rows"]`
            while True:  # `cfg.attributes["connection"].close()` releases what it holds
                up = self.parents.get(id(current))
                if isinstance(up, (ast.Attribute, ast.Subscript)) and up.value is current:
                    if isinstance(up, ast.Attribute) and up.attr in self._release_methods(""):
                        return False
                    current = up
                    continue
                break
            return True
        if isinstance(parent, ast.Call) and node in parent.args:
            return self.call_fate(parent, parent.args.index(node), None) in ("borrow", "guess")
        if isinstance(parent, ast.keyword) and parent.arg is not None:
            call = self.parents.get(id(parent))
            return isinstance(call, ast.Call) and self.call_fate(call, None, parent.arg) in ("borrow", "guess")
        return False

    def _local_slots(self, assign: ast.Assign) -> bool:
        """Whether every target of ``assign`` is an item of a dict that stays in the scope:
        the function's own ``**kwargs``, or a local bound only to a dict display, whose every
        other use is an item read or write, a membership test, or ``**name`` in a call."""
        names: set[str] = set()
        for target in assign.targets:
            if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)):
                return False
            names.add(target.value.id)
        return all(self._local_dict(name) for name in names)

    def _local_dict(self, name: str) -> bool:
        found = self._dicts.get(name)
        if found is None:
            found = self._dicts[name] = self._find_local_dict(name)
        return found

    def _find_local_dict(self, name: str) -> bool:
        scope = self.scope
        args = getattr(scope, "args", None)
        if args is None:
            return False
        made = args.kwarg is not None and args.kwarg.arg == name
        reader = self.sources.reader(scope, self.cls)
        if not made:
            values = reader.assigned().get(name)
            if reader.is_param(name) or not values or not all(
                    isinstance(v, ast.Dict) or (isinstance(v, ast.Call) and isinstance(v.func, ast.Name)
                                                and v.func.id == "dict" and not v.args)
                    for v in values):
                return False
        for node in walk_scope(scope):
            if not (isinstance(node, ast.Name) and node.id == name):
                continue
            parent = self.parents.get(id(node))
            if isinstance(parent, ast.Subscript) and parent.value is node:
                continue
            if isinstance(parent, ast.keyword) and parent.arg is None:
                continue  # `func(**kwargs)`
            if isinstance(parent, ast.Compare) and node in parent.comparators:
                continue  # `"key" in kwargs`
            if isinstance(parent, ast.Assign) and node in parent.targets and isinstance(node.ctx, ast.Store):
                continue  # `kwargs = {}`
            return False
        return True

    def call_fate(self, call: ast.Call, index: int | None, keyword: str | None,
                  spec: ObjectSpec | None = None) -> str:
        """What a call does with an argument: "borrow", "escape", "release", "lazy", or
        "guess" (a callee nothing is known of, taken to borrow it)."""
        sources = self.sources
        func = call.func
        if isinstance(func, ast.Name) and sources.facts.qualname(func) is None \
                and not sources.reader(self.scope, self.cls).is_local(func.id):
            if func.id in BORROWING_BUILTINS:
                return "borrow"
            if func.id in LAZY_WRAPPERS:
                return "lazy"
        qualname = sources.call_target(call, self.cls)
        if qualname is None and isinstance(func, ast.Attribute):
            qualname = self._method_of_instance(func)
        if qualname is None and isinstance(func, ast.Name):
            decorated = self._decorated_fate(func, index, keyword)
            if decorated is not None:
                return decorated
        if qualname in CLOSING_WRAPPERS:
            holder = self.parents.get(id(call))
            if isinstance(holder, ast.withitem):
                return "release"
            return "escape"
        if qualname is not None:
            if qualname in sources.drivers.borrowers:
                return "borrow"
            if qualname in sources.drivers.owners:
                return "escape"
            effect = sources.param_effect(qualname, index, keyword, isinstance(func, ast.Attribute))
            if effect == EFFECT_WITH:
                behaviour = spec.with_ if spec is not None else None
                return "release" if behaviour is not None and behaviour.closes else "borrow"
            if effect in (EFFECT_RETURN, EFFECT_RETURN_GUESS):
                if self._result_leaves(call) or self._result_released(call):
                    # `w = wrap(conn); ...; w.close()`: the code closes what it was handed back
                    return "escape"
                return "borrow" if effect == EFFECT_RETURN else "guess"
            if effect is not None:
                return effect
            if qualname in sources.drivers.factories or qualname in sources.drivers.factory_variants:
                # `sessionmaker(bind=engine)`, `Session(engine)`: the new object uses it; it
                # leaves with the new object, and is not released by it. An engine given to a
                # session stays this scope's to dispose: no session disposes its bind, so its
                # holder cannot release it (a session factory is made once, for the process;
                # so is what a scope caches in a module's registry, `_CLIENTS[url] = client`).
                if spec is not None and spec.kind is Kind.ENGINE and self._session_of(call, qualname) \
                        and not self._caches_globally():
                    return "borrow"
                return "escape" if self._result_leaves(call) else "borrow"
        if isinstance(func, ast.Attribute):
            if func.attr in POOL_RELEASE_METHODS:
                return "release"
            if func.attr in STACK_METHODS:
                return "escape"
            if func.attr in BORROWING_METHODS or borrows_by_receiver(func):
                return "borrow"
            if keeps_argument(func.attr, bool(call.keywords)):
                return "escape"  # `pool.append(conn)`, `registry.register(conn)`
        if self.unknown_calls == "borrow":
            return "borrow"
        if self.unknown_calls == "hand-over":
            return "escape"
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if callee_keeps(name, isinstance(func, ast.Attribute), bool(call.keywords)) \
                or self._result_leaves(call) or self._result_released(call):
            return "escape"
        return "guess"  # nothing says the callee keeps it: a borrow, but only a likely one

    def _decorated_fate(self, func: ast.Name, index: int | None, keyword: str | None) -> str | None:
        """``return f(self, self._db.cursor(), *args)`` in the wrapper of a decorator
        ``def commitandrollback(f)``: ``f`` is each function of the module decorated with
        ``@commitandrollback``, and what they all do with that argument is what the call does
        ("escape" when one keeps or returns it, "guess" when they only use it: functions of
        other modules may be decorated too); None when the module has no such function or one
        of them is not summarised."""
        decorator = self._decorator_taking(func.id)
        if decorator is None:
            return None
        readers = scope_readers(self.sources.facts)
        fates: set[str] = set()
        for scope in self.sources.facts.scopes:
            node = scope.node
            if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    isinstance(d, ast.Name) and d.id == decorator for d in node.decorator_list)):
                continue
            qualname = readers[id(node)].qualname if id(node) in readers else None
            effect = self.sources.param_effect(qualname, index, keyword, False) if qualname else None
            if effect is None:
                return None
            if _returns_through(node, index, keyword):
                effect = EFFECT_ESCAPE  # `return cur.execute(q)`: a driver's execute gives the cursor back
            # only a likely borrow: the decorator may be applied in other modules too
            fates.add("release" if effect in (EFFECT_RELEASE, EFFECT_WITH)
                      else "guess" if effect in (EFFECT_BORROW, EFFECT_GUESS) else "escape")
        if not fates:
            return None
        return fates.pop() if len(fates) == 1 else "escape"

    def _decorator_taking(self, name: str) -> str | None:
        """The name of the module-level function whose parameter ``name`` is, when the scope
        is a function nested in it (a decorator's wrapper)."""
        node = self.parents.get(id(self.scope))
        while node is not None and not isinstance(node, ast.Module):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                params = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
                if name in params:
                    return node.name if isinstance(self.parents.get(id(node)), ast.Module) else None
            node = self.parents.get(id(node))
        return None

    def _session_of(self, call: ast.Call, qualname: str) -> bool:
        """Whether the factory call makes a session (`Session(engine)`, or a session factory
        called at once: `sessionmaker(bind=engine)()`), not a factory kept for later."""
        factory = self.sources.drivers.factory(qualname)
        made = self.sources.drivers.objects.get(factory.returns) if factory is not None else None
        if made is not None and made.kind is Kind.SESSION:
            return True
        parent = self.parents.get(id(call))
        return made is not None and made.kind is Kind.FACTORY and isinstance(parent, ast.Call) \
            and parent.func is call

    def _caches_globally(self) -> bool:
        """Whether the scope stores into an item of a module global (`_CLIENTS[key][url] = x`,
        `_engines[url] = engine`): a registry that keeps what it makes for the process."""
        names = module_globals(self.sources.facts.tree)
        for node in walk_scope(self.scope):
            if not isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not isinstance(target, ast.Subscript):
                    continue
                base = target.value
                while isinstance(base, (ast.Subscript, ast.Attribute)):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in names:
                    return True
        return False

    def _method_of_instance(self, func: ast.Attribute) -> str | None:
        """``helper.close_connection`` where ``helper`` holds an instance of a project class
        (``helper = self.build_connection()``, annotated or returning ``OracleDB(...)``): that
        class's method, found through its bases by the summary look-up."""
        if not isinstance(func.value, ast.Name):
            return None
        value = self.sources.expr_value(func.value, self.scope, self.cls)
        if isinstance(value, ObjectSpec) and value.project_class:
            value = ProjectClass(value.project_class)
        if isinstance(value, ProjectClass):
            return f"{value.qualname}.{func.attr}"
        return None

    def _result_released(self, call: ast.Call) -> bool:
        """``cnx = instrument(connect(...)); ...; cnx.close()``: the code closes what the call
        gave back, so that is (or wraps) what it was given."""
        return result_has_method(self.parents, self.scope, call, RELEASE_METHODS)

    def _result_leaves(self, call: ast.Call) -> bool:
        """Whether the call's result leaves the scope: what it was given may live in it."""
        return value_leaves(self.sources.facts, self.sources.reader(self.scope, self.cls), call)
