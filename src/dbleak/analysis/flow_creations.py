"""Creations: which calls make an object the lifecycle analysis follows, and where it goes.

The part of :class:`dbleak.analysis.flow._ScopeInterpreter` that reads one expression: what a
call returns (a driver factory's object, a method of a known object, a project factory or
property), whether a cursor's connection is this scope's or lent by its owner, and what
becomes of a new object at once (bound to a name, stored on ``self``, a ``with`` item, a
temporary used and thrown away, handed over). The statement interpreter (:mod:`flow`) calls
:meth:`Creations.creations` for every expression it evaluates and follows the names bound here.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

from dbleak.analysis.flow_state import (
    OPEN,
    RELEASED,
    Resource,
    ResourceFlow,
    States,
    StoredResource,
    cap,
)
from dbleak.analysis.flow_syntax import self_attr, walk_expr
from dbleak.analysis.handover import HandOver
from dbleak.analysis.lifecycle_summary import value_leaves
from dbleak.analysis.module import walk_scope
from dbleak.analysis.names import chain_text, receiver_root, root_name
from dbleak.analysis.origins import is_fresh
from dbleak.analysis.sources import (
    CLOSING_WRAPPERS,
    ObjectSources,
    ProjectClass,
    Value,
    as_class,
    handed_out,
)
from dbleak.analysis.use_evidence import UseEvidence
from dbleak.knowledge.calls import RELEASE_METHODS
from dbleak.knowledge.drivers import Kind, ObjectSpec

if TYPE_CHECKING:
    from dbleak.analysis.flow import _ModuleAnalysis

TRACKED_KINDS = (Kind.CONNECTION, Kind.SESSION, Kind.CURSOR, Kind.POOL, Kind.ENGINE)
_CURSOR_MAKERS = frozenset({"cursor", "execute", "executemany", "executescript"})
# Builtins (but `next`, which resumes a generator that may yield a connection).
_BUILTIN_NAMES = frozenset(name for name in dir(builtins) if name != "next")
# A temporary whose chain ends in one of these was used and thrown away.
_CONSUMING_METHODS = frozenset({
    "fetchone", "fetchall", "fetchmany", "fetchval", "fetchrow", "fetch", "scalar", "scalars",
    "all", "first", "one", "one_or_none", "commit", "rollback", "executescript", "execute",
    "executemany", "df", "arrow", "fetchdf", "fetchnumpy", "rowcount", "lastrowid",
})


class Creations:
    """What a scope's expressions make; mixed into the scope interpreter, whose state it reads."""

    module: _ModuleAnalysis
    sources: ObjectSources
    scope: ast.AST
    cls: ast.ClassDef | None
    parents: MutableMapping[int, ast.AST]
    handover: HandOver
    evidence: UseEvidence
    resources: dict[int, Resource]
    flows: dict[int, ResourceFlow]
    by_node: dict[object, Resource]
    stored_on_self: list[StoredResource]
    is_module: bool
    return_drop: str | None
    globals: set[str]
    with_managed: set[str]
    loop_depth: int
    _table_shortcuts: set[int]
    _parent_keys: set[str]
    _made: dict[tuple[int, bool], ObjectSpec | None]
    _properties: dict[tuple[str, str], ObjectSpec | None]

    def _receiver_spec(self, expr: ast.expr, states: States | None) -> ObjectSpec | None:
        """The table object an expression holds, if known."""
        value = self._receiver_value(expr, states)
        return value if isinstance(value, ObjectSpec) else None

    def _receiver_value(self, expr: ast.expr, states: States | None) -> Value | None:
        """What an expression used as a receiver holds: a tracked object's spec first, then
        whatever the module and the project say (globals, attributes, annotations)."""
        if isinstance(expr, ast.Await):
            expr = expr.value
        if isinstance(expr, ast.Name) and states is not None:
            rids = {s.bound(expr.id) for s in states} - {None}
            specs = {self.resources[r].spec.name for r in rids if r is not None}
            if len(specs) == 1:
                return self.resources[next(r for r in rids if r is not None)].spec
        if isinstance(expr, ast.Call):
            made = self._made_by(expr, states=states)
            if made is not None:
                return made
            # `Database().get()`: an instance of a project class, read for its methods
            value = self.sources.expr_value(expr, self.scope, self.cls)
            return value if as_class(value) is not None else None
        return self.sources.expr_value(expr, self.scope, self.cls)

    def _creation_spec(self, call: ast.Call, in_async_with: bool = False,
                       states: States | None = None) -> ObjectSpec | None:
        """The spec of the object ``call`` makes when it is one this analysis tracks."""
        spec = self._made_by(call, in_async_with, states)
        if spec is None or spec.kind not in TRACKED_KINDS or spec.held:
            return None
        if not spec.must_release and not (spec.kind is Kind.ENGINE and not self.is_module):
            return None  # an engine is released only when made per call: in a function
        return spec

    def _made_by(self, call: ast.Call, in_async_with: bool = False,
                 states: States | None = None) -> ObjectSpec | None:
        """The table object ``call`` returns (a factory, a method of a known object, a
        project factory or property), or None. Memoized: only a receiver name bound to a
        tracked object here makes the answer depend on the path."""
        if states is not None and not self._binds_receiver(call, states):
            states = None
        key = (id(call), in_async_with)
        if states is None and key in self._made:
            return self._made[key]
        found = self._made_by_uncached(call, in_async_with, states)
        if states is None:
            self._made[key] = found
        return found

    def _binds_receiver(self, call: ast.Call, states: States) -> bool:
        """Whether the call's receiver chain starts at a name some path binds to a resource."""
        root = receiver_root(call.func)
        return root is not None and any(state.bound(root) is not None for state in states)

    def _made_by_uncached(self, call: ast.Call, in_async_with: bool,
                          states: States | None) -> ObjectSpec | None:
        func = call.func
        if (isinstance(func, ast.Name) and func.id in _BUILTIN_NAMES
                and self.sources.facts.qualname(func) is None
                and not self.sources.reader(self.scope, self.cls).is_local(func.id)):
            return None  # `len(x)`, `str(x)`: a builtin makes no database object
        parent = self.parents.get(id(call))
        awaited = isinstance(parent, ast.Await)
        if not in_async_with and isinstance(parent, ast.withitem):
            holder = self.parents.get(id(parent))
            in_async_with = isinstance(holder, ast.AsyncWith)
        direct = self.sources.direct_factory(call, awaited, in_async_with)
        if direct is False:
            return None
        if isinstance(direct, ObjectSpec):
            return direct
        func = call.func
        keywords = frozenset(k.arg for k in call.keywords if k.arg is not None
                             and not (isinstance(k.value, ast.Constant) and k.value.value is None))
        receiver: Value | None = None
        method_name = "__call__"
        if isinstance(func, ast.Attribute) and not isinstance(func.value, ast.Call) \
                and func.attr in self.sources.driver_functions():
            module = self.sources.driver_module(
                self.sources.reader(self.scope, self.cls).origin(func.value))
            made = self.sources.call_value(f"{module}.{func.attr}", keywords) \
                if module is not None else None
            if isinstance(made, ObjectSpec):  # `self._sqlite3.connect(p)`: a driver module
                return made
        if isinstance(func, ast.Attribute) and not self._names_module_function(func):
            receiver, method_name = self._receiver_value(func.value, states), func.attr
        elif isinstance(func, ast.Name) and self._local_value_name(func.id):
            receiver = self._receiver_value(func, states)
        else:
            origin = self.sources.reader(self.scope, self.cls).origin(call)
            if origin is not None and not is_fresh(origin):
                return None  # `cast(Engine, self.bind)`: names an object, makes none
            if (origin is not None and origin[0] == "call" and not call.args and not call.keywords
                    and self.sources.connects_on_arguments(str(origin[1]))):
                return None  # `_DummyConnection()`: a subclass of one that connects on options
            value = self.sources.resolve(origin) if origin is not None else None
            if value is None:
                target = self.sources.call_target(call, self.cls)
                value = self.sources.called_argument(
                    call, target, self.sources.reader(self.scope, self.cls)) \
                    or self.evidence.helper_result(call, target)
            return value if isinstance(value, ObjectSpec) else None
        if as_class(receiver) is not None:
            value = self.sources.method_value(receiver, method_name, keywords)
            return value if isinstance(value, ObjectSpec) else None
        if receiver is None:
            return self.evidence.unknown_receiver(call, method_name)
        assert isinstance(receiver, ObjectSpec)
        if not method_name.startswith("cursor"):
            self._table_shortcuts.add(id(call))
        method = receiver.method(method_name, keywords)
        if method is None or (method.awaited and not awaited) or method.context_only:
            return None
        spec = self.sources.drivers.objects.get(method.returns)
        if spec is None:
            return None
        if isinstance(func, ast.Name):
            registry_origin = self.sources.reader(self.scope, self.cls).name_origin(func.id, 0)
            made = handed_out(receiver, registry_origin, method_name, spec)
            spec = made if isinstance(made, ObjectSpec) else spec
        # `conn.execute(...)` shortcuts give cursors nobody is expected to close, unless the
        # code keeps one and closes it itself (`c = conn.execute(q); ...; c.close()`).
        if spec.kind is Kind.CURSOR and not method_name.startswith("cursor") \
                and not self.evidence.closed_by_name(call) and not self.module.shortcut_cursors:
            return None
        if spec.kind is receiver.kind and spec.kind is Kind.CONNECTION:
            return None  # duckdb's `conn.cursor()`: another handle, closed with its parent
        return spec

    def _local_value_name(self, name: str) -> bool:
        """A local name holding a value (``Session = sessionmaker(...)``), not an import."""
        return self.sources.reader(self.scope, self.cls).holds_value(name)

    def _names_module_function(self, func: ast.Attribute) -> bool:
        """``db.get_connection()`` with ``db`` an imported module, or ``self.method()``."""
        root: ast.expr = func
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and self.cls is not None and root.id == "self" and func.value is root:
            return True
        if self._shadowed_root(func):
            return False  # a parameter or a local shadows the module's name
        return self.sources.facts.qualname(func) is not None

    def _shadowed_root(self, func: ast.expr) -> bool:
        """Whether the root name of ``func`` is a parameter or a local of the scope (not an
        import), whatever the module binds to the same name."""
        root = root_name(func)
        if root is None or (self.cls is not None and root in (
                "self", "cls", self.sources.reader(self.scope, self.cls).self_name)):
            return False  # `self.method()`: the class's own, named by `call_target`
        return self._local_value_name(root)

    def creations(self, expr: ast.expr, states: States, stmt: ast.stmt) -> States:
        for node in walk_expr(expr):
            if isinstance(node, ast.Attribute):
                spec = self._property_spec(node, states)
                if spec is not None:
                    states = self.created(node, spec, states, stmt)
                continue
            if not isinstance(node, ast.Call):
                continue
            spec = self._creation_spec(node, states=states)
            if spec is None:
                self._tuple_items(node, stmt)
                continue
            states = self.created(node, spec, states, stmt)
        return states

    def _property_spec(self, node: ast.Attribute, states: States | None = None) -> ObjectSpec | None:
        """``self.conn`` / ``repo.conn`` where ``conn`` is a `@property` that makes a new
        connection on every read."""
        if not isinstance(node.ctx, ast.Load):
            return None
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Call) and parent.func is node:
            return None
        receiver = node.value
        if not isinstance(receiver, ast.Name):
            return None
        key = (receiver.id, node.attr)
        path_free = states is None or not any(s.bound(receiver.id) is not None for s in states)
        if path_free and key in self._properties:
            return self._properties[key]
        found = self._property_spec_of(receiver, node.attr, states)
        if path_free:
            self._properties[key] = found
        return found

    def _property_spec_of(self, receiver: ast.Name, attr: str,
                          states: States | None) -> ObjectSpec | None:
        if self.cls is not None and receiver.id == "self":
            owner: Value | None = ProjectClass(self.sources.class_qualname(self.cls) or "")
        else:
            owner = as_class(self._receiver_value(receiver, states))
        if not isinstance(owner, ProjectClass):
            return None
        if self.sources.property_kind(owner.qualname, attr) != "property":
            return None
        value = self.sources.attr_value(owner.qualname, attr)
        if not isinstance(value, ObjectSpec) or value.kind not in TRACKED_KINDS or not value.must_release \
                or value.held:
            return None  # `return self._session`: the instance's own, lent to every reader
        return value

    def _tuple_items(self, call: ast.Call, stmt: ast.stmt) -> None:
        """``conn, cur = make()``: one resource per position of the factory's tuple."""
        parent = self.parents.get(id(call))
        node: ast.expr = parent if isinstance(parent, ast.Await) else call
        holder = self.parents.get(id(node))
        if not (isinstance(holder, ast.Assign) and holder.value is node and len(holder.targets) == 1
                and isinstance(holder.targets[0], (ast.Tuple, ast.List))):
            return
        qualname = self.sources.call_target(call, self.cls)
        items = self.sources.return_items(qualname)
        for position, value in enumerate(items):
            if not isinstance(value, ObjectSpec) or value.kind not in TRACKED_KINDS \
                    or not value.owed_release:
                continue
            if (id(call), position) in self.by_node:
                continue
            covered = value.kind is Kind.CURSOR and any(
                isinstance(v, ObjectSpec) and v.kind is Kind.CONNECTION for v in items)
            resource = Resource(self.module.next_rid, node, call, value, stmt, self.scope,
                                awaited=node is not call, factory=qualname or ast.unparse(call.func),
                                parent_tracked=covered)
            self.module.next_rid += 1
            self.by_node[(id(call), position)] = resource
            self.resources[resource.rid] = resource
            self.flows[resource.rid] = ResourceFlow(resource, in_loop=self.loop_depth > 0)

    def created(self, call: ast.Call | ast.Attribute, spec: ObjectSpec, states: States,
                stmt: ast.stmt) -> States:
        parent = self.parents.get(id(call))
        node: ast.expr = parent if isinstance(parent, ast.Await) else call
        resource = self.by_node.get(id(call))
        parent_tracked = (spec.kind is Kind.CURSOR and isinstance(call, ast.Call)
                          and self._parent_is_local(call, states))
        parent_rid = (self._followed_parent(call, states)
                      if parent_tracked and resource is None and isinstance(call, ast.Call) else None)
        if parent_rid is not None:
            parent_tracked = False
        elif resource is not None:
            parent_tracked = parent_tracked and resource.parent_rid is None
        if resource is None:
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "next":
                factory = ast.unparse(call)
            elif isinstance(call, ast.Call):
                factory = ((None if self._shadowed_root(call.func) else self.sources.call_target(call, self.cls))
                           or ast.unparse(call.func))
            else:
                factory = ast.unparse(call)
            parent_key = None
            if spec.kind is Kind.CURSOR and isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                    and isinstance(call.func.value, ast.Attribute):
                parent_key = chain_text(call.func.value)
            elif spec.kind is Kind.SESSION and isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                parent_key = call.func.id  # `registry.remove()` releases what `registry()` made
            resource = Resource(self.module.next_rid, node, call,
                                spec, stmt, self.scope, awaited=node is not call,
                                factory=factory, parent_tracked=parent_tracked,
                                parent_key=parent_key, parent_rid=parent_rid)
            self.module.next_rid += 1
            self.by_node[id(call)] = resource
            self.resources[resource.rid] = resource
            if parent_key is not None:
                self._parent_keys.add(parent_key)
            self.flows[resource.rid] = ResourceFlow(resource, in_loop=self.loop_depth > 0)
        flow = self.flows[resource.rid]
        holder = self.parents.get(id(node))
        value_node: ast.AST = node
        if _last_of_and(holder, node) and isinstance(self.parents.get(id(holder)), (ast.Assign, ast.AnnAssign)):
            # `cur = conn and conn.cursor()`: the name holds the new object (or a falsy value)
            assert holder is not None
            value_node, holder = holder, self.parents.get(id(holder))
        if isinstance(holder, (ast.Assign, ast.AnnAssign)) and holder.value is value_node:
            targets = holder.targets if isinstance(holder, ast.Assign) else [holder.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name) and targets[0].id not in self.globals:
                if parent_tracked:
                    return states  # its parent's release covers it
                return states  # bound by assign_targets after the effects
            attr = self_attr(targets[0]) if len(targets) == 1 else None
            if attr is not None and self.cls is not None:
                self.stored_on_self.append(StoredResource(self.cls, attr, call, spec, self.scope, stmt))
            elif isinstance(holder, ast.Assign) and (kept_on := self.handover.local_holder(holder)) is not None:
                # `cfg.attributes["connection"] = engine.connect()` on a local object that never
                # leaves the scope: nobody else will close it (the fix is unsafe: its calls)
                flow.guessed.append(holder)
                flow.holder = kept_on
                if not parent_tracked and resource.parent_rid is None:
                    flow.drops.append((holder, "holder"))
                return states
            stash = chain_text(targets[0]) if len(targets) == 1 and attr is None \
                and isinstance(targets[0], ast.Attribute) else None
            if stash is not None and not parent_tracked and self._released_later(stash, holder):
                # `request.state.db = SessionLocal()`, closed further on as
                # `request.state.db.close()`: kept there only for the calls in between, and
                # still this scope's to close
                resource.parent_key = stash
                self._parent_keys.add(stash)
                return cap(state.set_status(resource.rid, OPEN) for state in states)
            flow.escapes.append(holder)
            return states
        if isinstance(holder, ast.withitem):
            is_async = isinstance(self.parents.get(id(holder)), ast.AsyncWith)
            behaviour = (self.sources.factory_call_with(call, self.cls, is_async)
                         if isinstance(call, ast.Call) else None)
            if behaviour is None:
                behaviour = spec.async_with if is_async else spec.with_
            if behaviour is not None and behaviour.closes:
                flow.releases.append(holder)
            elif behaviour is not None and spec.kind is Kind.CONNECTION:
                resource.with_unclosed = True
            # A with that does not close is DBL104's finding, not ours.
            return states
        if isinstance(holder, ast.Attribute) and holder.value is node:
            self._temporary(flow, node, holder)
            return states
        fate, at = self.handover.value_fate(node)
        if fate == "guess":
            flow.guessed.append(at)
            fate = "borrow"
        if fate == "escape" and self.return_drop and isinstance(at, ast.Return) \
                and not parent_tracked and resource.parent_rid is None:
            self._drop_returned(flow, at)  # `return sqlite3.connect(p)` in a fixture
        if fate == "release":
            flow.releases.append(at)
        elif fate == "borrow":
            if not parent_tracked and resource.parent_rid is None and (
                    spec.kind is not Kind.CURSOR or self._explicit_cursor(resource)):
                flow.drops.append((at, "temporary"))
        else:
            flow.escapes.append(at)
        return states

    def _drop_returned(self, flow: ResourceFlow, at: ast.Return) -> None:
        """Returned to nobody (a function-scoped fixture, ``__enter__``): dropped there, once
        (a loop runs it again)."""
        reason = self.return_drop
        if reason == "enter-return" and self._cursor_of_released_attr(flow.resource.call):
            return  # `return self.conn.cursor()`: `__exit__` closes the connection under it
        if reason is not None and not any(r == reason for _, r in flow.drops):
            flow.drops.append((at, reason))

    def _cursor_of_released_attr(self, call: ast.AST) -> bool:
        """``self.conn.cursor()`` where a method of the class closes ``self.conn`` (closing a
        connection ends its cursors; giving it back to a pool does not)."""
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)) \
                or self.cls is None:
            return False
        owner = call.func.value
        if not (isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name)
                and owner.value.id == "self"):
            return False
        return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                   and node.func.attr in ("close", "aclose")
                   and isinstance(node.func.value, ast.Attribute)
                   and node.func.value.attr == owner.attr
                   and isinstance(node.func.value.value, ast.Name)
                   and node.func.value.value.id == "self"
                   for node in ast.walk(self.cls))

    def _released_later(self, key: str, stored: ast.stmt) -> bool:
        """Whether the scope releases ``key`` (``request.state.db.close()``) after ``stored``."""
        for node in walk_scope(self.scope):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in RELEASE_METHODS and not node.args
                    and node.lineno > stored.lineno and chain_text(node.func.value) == key):
                return True
        return False

    def _followed_parent(self, call: ast.Call, states: States) -> int | None:
        """The connection resource a cursor's receiver name holds on every path that binds it
        (``cur = conn.cursor()`` after ``conn = connect()``), or None."""
        func = call.func
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if not isinstance(receiver, ast.Name):
            return None
        rids = {rid for s in states if (rid := s.bound(receiver.id)) is not None}
        if len(rids) != 1:
            return None
        rid = rids.pop()
        return rid if self.resources[rid].kind is Kind.CONNECTION else None

    def _parent_is_local(self, call: ast.Call, states: States) -> bool:
        """Whether a cursor's connection is this scope's: made here (and followed itself), or a
        local of unknown origin that this scope may close. A connection from a parameter, an
        attribute or a global outlives the scope."""
        func = call.func
        if not isinstance(func, ast.Attribute):
            return False
        receiver = func.value
        if isinstance(receiver, ast.Await):
            receiver = receiver.value
        if isinstance(receiver, ast.Call):
            # made right there, and followed (or not) itself; unless the call lends one the
            # project keeps (`self.connection().cursor()`, a getter of `self._conn`)
            return not (self._lent(self._made_by(receiver))
                        or self.sources.lends_kept(self.sources.call_target(receiver, self.cls)))
        if not isinstance(receiver, ast.Name):
            return False
        if receiver.id in self.with_managed or any(s.bound(receiver.id) is not None for s in states):
            return True
        reader = self.sources.reader(self.scope, self.cls)
        if not reader.is_local(receiver.id) or reader.is_param(receiver.id) or receiver.id in self.globals:
            return False
        origin = reader.name_origin(receiver.id)
        if origin is not None and origin[0] == "call" and (
                self._lent(self.sources.resolve(origin)) or self.sources.lends_kept(str(origin[1]))):
            return False  # `conn = self.connection()`: the class's connection, lent
        return origin is None or origin[0] not in ("attr", "global", "type", "getattr")

    @staticmethod
    def _lent(value: Value | None) -> bool:
        """A connection a project function gives its caller to borrow (it returns one it keeps)."""
        return isinstance(value, ObjectSpec) and value.held and value.kind is Kind.CONNECTION

    def _chained_close(self, first: ast.Attribute, end: ast.AST) -> ast.Attribute | None:
        """The ``.close()`` ending ``x.execute(q).close()`` (``first`` the ``execute``), when
        every step between is a statement run on the cursor, which gives the cursor back (a
        driver whose ``execute`` returns None cannot be chained so)."""
        if not (isinstance(end, ast.Call) and isinstance(end.func, ast.Attribute)
                and end.func.attr in self.handover._release_methods("") and not end.args):
            return None
        node: ast.AST = end.func.value
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr not in ("execute", "executemany", "executescript"):
                return None
            if node.func is first:
                return end.func
            node = node.func.value
        return None

    def _temporary(self, flow: ResourceFlow, node: ast.expr, first: ast.Attribute) -> None:
        """A resource used in a chain and never bound: ``connect(p).execute(q).fetchone()``."""
        if first.attr in self.handover._release_methods(""):
            flow.releases.append(first)
            return
        if flow.resource.parent_tracked or flow.resource.parent_rid is not None:
            return  # a one-shot cursor of a connection followed here: its release covers it
        if flow.resource.kind is Kind.CURSOR and not self._explicit_cursor(flow.resource):
            return  # a driver's `conn.execute(q)` shortcut: nobody is expected to close it
        current: ast.AST = first
        last_attr = first.attr
        while True:
            parent = self.parents.get(id(current))
            if isinstance(parent, ast.Call) and parent.func is current:
                current = parent
                continue
            if isinstance(parent, ast.Attribute) and parent.value is current:
                current = parent
                last_attr = parent.attr
                continue
            if isinstance(parent, ast.Subscript) and parent.value is current:
                current = parent
                continue
            if isinstance(parent, ast.Await):
                current = parent
                continue
            break
        parent = self.parents.get(id(current))
        if isinstance(parent, ast.withitem):
            flow.drops.append((node, "temporary"))
            return
        closing = self._chained_close(first, current)
        if closing is not None:
            # `conn.cursor().execute(q).close()`: execute gives the cursor back, closed at the
            # end, unless the statement it runs fails first (the close is then never reached)
            flow.releases.append(closing)
            flow.normal_statuses.add(RELEASED)
            call = self.parents.get(id(first))  # `first` is the chain's first `execute`
            if isinstance(call, ast.Call) and call.func is first and call not in flow.exception_exits:
                flow.exception_exits.append(call)
            return
        if (last_attr in _CURSOR_MAKERS and isinstance(current, ast.Call) and current.func is first
                and self._closing_item(current)):
            # `with closing(connect(p).cursor()) as cur:` closes the cursor, not the connection
            flow.drops.append((node, "via-cursor"))
            flow.handle = "closing()"
            return
        if (last_attr in _CURSOR_MAKERS and isinstance(parent, (ast.Return, ast.Yield))
                and parent.value is current and current is not first
                and isinstance(current, ast.Call) and current.func is first):
            # `return connect(p).cursor()`: the caller gets a cursor; nobody closes its connection
            flow.drops.append((node, "via-cursor"))
            flow.handle = f"{first.attr}()"
            return
        if (last_attr in _CURSOR_MAKERS and isinstance(parent, ast.Assign) and parent.value is current
                and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name)
                and parent.targets[0].id not in self.globals):
            # `cur = connect(p).cursor()`: only the cursor is kept; closing it leaves the
            # connection open.
            handle = parent.targets[0].id
            if value_leaves(self.sources.facts, self.sources.reader(self.scope, self.cls), current):
                flow.escapes.append(current)
            elif self._closes_connection_of(handle):
                flow.releases.append(current)
            else:
                flow.drops.append((node, "via-cursor"))
                flow.handle = handle
            return
        fate, at = self.handover.value_fate(current)  # type: ignore[arg-type]
        if fate == "guess":
            flow.guessed.append(at)
            fate = "borrow"
        if fate == "borrow" or (last_attr in _CONSUMING_METHODS and current is not first):
            flow.drops.append((node, "temporary"))
        else:
            flow.escapes.append(current)


    def _explicit_cursor(self, resource: Resource) -> bool:
        """A cursor asked for as one: ``x.cursor()``, or a project function that returns one
        (not a driver's ``conn.execute(q)`` shortcut)."""
        return isinstance(resource.call, ast.Call) and (
            id(resource.call) not in self._table_shortcuts or self.module.shortcut_cursors)

    def _closing_item(self, node: ast.AST) -> bool:
        """``closing(node)`` as a `with` item."""
        holder = self.parents.get(id(node))
        if not (isinstance(holder, ast.Call) and holder.args and holder.args[0] is node):
            return False
        return (self.sources.facts.call_qualname(holder) in CLOSING_WRAPPERS
                and isinstance(self.parents.get(id(holder)), ast.withitem))

    def _closes_connection_of(self, handle: str) -> bool:
        """``cur.connection.close()`` somewhere in the scope."""
        for node in walk_scope(self.scope):
            if (isinstance(node, ast.Attribute) and node.attr in RELEASE_METHODS
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "connection"
                    and isinstance(node.value.value, ast.Name) and node.value.value.id == handle):
                return True
        return False


def _last_of_and(holder: ast.AST | None, node: ast.AST) -> bool:
    """``a and node``: ``node`` is the value of the ``and`` whenever it runs."""
    return isinstance(holder, ast.BoolOp) and isinstance(holder.op, ast.And) and holder.values[-1] is node
