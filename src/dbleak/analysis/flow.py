"""Resource flow: for every object that must be released, how each path leaves its scope.

A structured abstract interpretation over the statement lists of one scope (module, function,
method, lambda). The abstract state is a small *set* of path states (disjunctive, so guards like
``if conn is not None: conn.close()`` stay exact); each path state maps a tracked resource to
``open``/``released``/``escaped``/``yielded`` and a local name to the resource it holds.
Exceptions are modelled: every statement that may raise sends its state to the innermost
handler, ``finally`` or the scope's exceptional exit. When unsure the analysis gives up on
the scope (precision first): no flow, no finding.

Computed once per module (:func:`module_flow`) and shared by DBL101–DBL108. The states it
carries are in :mod:`dbleak.analysis.flow_state`, the syntax it reads (what may raise, guards)
in :mod:`dbleak.analysis.flow_syntax`, what an expression makes and where a new object goes at
once in :mod:`dbleak.analysis.flow_creations`.
"""

from __future__ import annotations

import ast
from collections import ChainMap
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

from dbleak.analysis.flow_creations import TRACKED_KINDS, Creations
from dbleak.analysis.flow_state import (
    ESCAPED,
    OPEN,
    RELEASED,
    YIELDED,
    Frame,
    GiveUp,
    ModuleFlow,
    Resource,
    ResourceFlow,
    State,
    States,
    StoredResource,
    cap,
    split_on_flag,
)
from dbleak.analysis.flow_syntax import (
    flag_guard,
    free_names,
    guard,
    holds_any,
    in_main_guard,
    is_catch_all,
    is_interrupt_only,
    is_pytest_fixture,
    lends_what_it_yields,
    may_raise,
    returned_to_nobody,
    walk_expr,
)
from dbleak.analysis.handover import HandOver
from dbleak.analysis.module import SCOPE_NODES, iter_children, walk, walk_scope
from dbleak.analysis.names import chain_text
from dbleak.analysis.sources import (
    CLOSING_WRAPPERS,
    object_sources,
)
from dbleak.analysis.use_evidence import UseEvidence
from dbleak.knowledge.calls import RELEASE_METHODS
from dbleak.knowledge.drivers import Kind, ObjectSpec

if TYPE_CHECKING:
    from dbleak.analysis.context import CheckContext

REPORTED_KINDS = (Kind.CONNECTION, Kind.SESSION, Kind.CURSOR)
# The exception classes that cover every error a driver raises (PEP 249's base classes, and
# the ORMs' roots).
_DRIVER_ERRORS = frozenset({"Error", "DatabaseError", "SQLAlchemyError", "DBAPIError"})
_MAX_LOOP_ROUNDS = 6


# --- the module-level driver ------------------------------------------------------------------

_CACHE_KEY = "_dbleak_module_flow"


def module_flow(ctx: CheckContext) -> ModuleFlow:
    """The resource flows of ``ctx``'s module, computed once and shared by the DBL1xx rules."""
    cached = ctx.__dict__.get(_CACHE_KEY)
    if cached is None:
        cached = _ModuleAnalysis(ctx).run()
        ctx.__dict__[_CACHE_KEY] = cached
    assert isinstance(cached, ModuleFlow)
    return cached


class _ModuleAnalysis:
    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.facts = ctx.facts
        self.sources = object_sources(ctx)
        self.parents: MutableMapping[int, ast.AST] = {}
        self.result = ModuleFlow()
        self.next_rid = 0
        self.unknown_calls = ctx.settings.option("lifecycle", "unknown-calls", "evidence")
        # `[tool.dbleak.lifecycle] shortcut-cursors = "report"`: the cursors of a driver's
        # `conn.execute(q)` shortcut are followed like any (PyPy collects them late)
        self.shortcut_cursors = ctx.settings.option("lifecycle", "shortcut-cursors", "ignore") == "report"

    # -- entry

    def run(self) -> ModuleFlow:
        tree = self.ctx.tree
        if not self.sources.may_create():
            return self.result
        # The shared parent map of the module's facts (a lambda's interpreter overlays its
        # synthetic `return`, which never reaches other rules).
        self.parents = self.facts.parent
        self._interpret(tree, None)
        for scope in self.facts.scopes:
            node = scope.node
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                self._interpret(node, self.sources.class_of.get(id(node)))
        return self.result

    def _interpret(self, scope: ast.AST, cls: ast.ClassDef | None) -> None:
        interpreter = _ScopeInterpreter(self, scope, cls)
        try:
            flows = interpreter.run()
        except (GiveUp, RecursionError):
            self.result.scopes_given_up += 1
            return
        self.result.flows.extend(flows)
        self.result.stored_on_self.extend(interpreter.stored_on_self)
        self.result.module_level.extend(interpreter.module_level)


class _ScopeInterpreter(Creations):
    def __init__(self, module: _ModuleAnalysis, scope: ast.AST, cls: ast.ClassDef | None) -> None:
        self.module = module
        self.sources = module.sources
        self.scope = scope
        self.cls = cls
        self.parents = module.parents
        self.handover = HandOver(module.sources, module.parents, scope, cls, module.unknown_calls)
        self.evidence = UseEvidence(module.sources, module.parents, scope, cls)
        self.resources: dict[int, Resource] = {}
        self.flows: dict[int, ResourceFlow] = {}
        # By the id of the creating call (and, for an item of a factory's tuple, its position).
        self.by_node: dict[object, Resource] = {}
        self.frames: list[Frame] = []
        self.stored_on_self: list[StoredResource] = []
        self.module_level: list[ResourceFlow] = []
        self.is_module = isinstance(scope, ast.Module)
        self.is_generator = False
        # pytest resumes a fixture after the test whatever happened: its `yield` does not raise.
        # A `@contextmanager` gets the `with` body's exception at its `yield`.
        self.yield_raises = not is_pytest_fixture(scope)
        self.yield_lends = lends_what_it_yields(scope)
        # What a function-scoped fixture or an `__enter__` returns, nobody closes.
        self.return_drop = returned_to_nobody(scope)
        self.globals: set[str] = set()
        self.with_managed: set[str] = set()
        # Calls resolved as a driver object's method other than `cursor()` (`conn.execute(q)`).
        self._table_shortcuts: set[int] = set()
        # The attribute chains whose cursors are followed (`self.cnx`).
        self._parent_keys: set[str] = set()
        self._made: dict[tuple[int, bool], ObjectSpec | None] = {}
        self._flags: frozenset[str] | None = None
        self._properties: dict[tuple[str, str], ObjectSpec | None] = {}
        self.loop_depth = 0
        self.in_finally = 0
        self._nested_reads: frozenset[str] | None = None
        self._desugared: dict[int, ast.If] = {}
        self._helper_borrows: dict[int, set[str]] = {}

    # -- running

    def run(self) -> list[ResourceFlow]:
        scope = self.scope
        if isinstance(scope, ast.Lambda):
            # The lambda's synthetic `return` goes to an overlay: it never reaches other scopes.
            self.parents = ChainMap({}, self.parents)
            self.handover.parents = self.parents
            body: list[ast.stmt] = [ast.Return(value=scope.body, lineno=scope.body.lineno,
                                               col_offset=scope.body.col_offset)]
            self.parents[id(body[0])] = scope
            self.parents[id(scope.body)] = body[0]
        elif isinstance(scope, ast.Module):
            body = scope.body
        else:
            assert isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
            body = scope.body
        if not self._worth_running(scope):
            return []
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in walk_scope(scope):  # the scope's own nodes (stored by the traversal)
                kind = type(node)
                if kind is ast.Yield or kind is ast.YieldFrom:
                    self.is_generator = True
                elif kind is ast.Global or kind is ast.Nonlocal:
                    self.globals.update(node.names)  # type: ignore[attr-defined]
        start: States = frozenset({State()})
        end = self.block(body, start)
        self._exit(end, "normal", scope)
        for flow in self.flows.values():
            if (flow.raise_exits and not flow.normal_statuses and not flow.drops
                    and not flow.releases and not flow.escapes and not flow.yielded):
                # every path that makes it ends in a `raise` of the scope's own, and nothing
                # ever closes it or hands it over: it is dropped there (yoyo's lock timeout)
                flow.drops.append((flow.raise_exits[0], "scope-exit"))
        return [f for f in self.flows.values()]

    def _conditional_creation(self, stmt: ast.Assign) -> ast.If | None:
        """``con = con if con else connect()`` / ``con = con or connect()``: the ``if``
        statement it means (``if con: con = con`` / ``else: con = connect()``), so that the
        path that made the object holds it and the other holds what was passed in. Only for
        one name bound to a branch that is itself the creating call."""
        if not (len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            return None
        value = stmt.value
        if isinstance(value, ast.IfExp):
            test, body, orelse = value.test, value.body, value.orelse
        elif (isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or) and len(value.values) == 2
              and isinstance(value.values[0], (ast.Name, ast.Attribute))):
            test, body, orelse = value.values[0], value.values[0], value.values[1]
        else:
            return None

        known = self._desugared.get(id(stmt))
        if known is not None:
            return known  # a loop interprets it again: the same statements

        def creates(expr: ast.expr) -> bool:
            call = expr.value if isinstance(expr, ast.Await) else expr
            return isinstance(call, ast.Call) and self._creation_spec(call) is not None

        if creates(body) == creates(orelse):
            return None
        if not isinstance(self.parents, ChainMap):
            # The synthetic statements' parents go to an overlay: other rules never see them.
            self.parents = ChainMap({}, self.parents)
            self.handover.parents = self.parents
        target = stmt.targets[0]
        arms = [ast.Assign(targets=[target], value=branch) for branch in (body, orelse)]
        branches = ast.If(test=test, body=[arms[0]], orelse=[arms[1]])
        holder = self.parents.get(id(stmt))
        for node in (*arms, branches):
            ast.copy_location(node, stmt)
            node.end_lineno, node.end_col_offset = stmt.end_lineno, stmt.end_col_offset
        self.parents[id(branches)] = holder  # type: ignore[assignment]
        for arm, branch in zip(arms, (body, orelse)):
            self.parents[id(arm)] = branches
            self.parents[id(branch)] = arm
        self._desugared[id(stmt)] = branches
        return branches

    def _worth_running(self, scope: ast.AST) -> bool:
        """Only scopes that hold a creating call are interpreted."""
        call, attribute = ast.Call, ast.Attribute
        for node in walk_scope(scope):
            kind = type(node)
            if kind is call:
                if self._creation_spec(node) is not None or self._tuple_return(node):  # type: ignore[arg-type]
                    return True
            elif kind is attribute and self._property_spec(node) is not None:  # type: ignore[arg-type]
                return True
        return False

    def _tuple_return(self, call: ast.Call) -> bool:
        holder = self.parents.get(id(call))
        if isinstance(holder, ast.Await):
            holder = self.parents.get(id(holder))
        if not (isinstance(holder, ast.Assign) and len(holder.targets) == 1
                and isinstance(holder.targets[0], (ast.Tuple, ast.List))):
            return False
        items = self.sources.return_items(self.sources.call_target(call, self.cls))
        return any(isinstance(v, ObjectSpec) and v.owed_release and v.kind in TRACKED_KINDS
                   for v in items)

    # -- exits

    def _exit(self, states: States, kind: str, node: ast.AST) -> None:
        if kind == "exception" and self.is_module:
            return
        for state in states:
            for rid, status in state.status:
                flow = self.flows[rid]
                resource = flow.resource
                if resource.with_unclosed:
                    continue  # DBL104's
                if kind == "normal":
                    flow.normal_statuses.add(status)
                    if status == OPEN and self._covered_by_parent(resource, state):
                        continue
                    if status == OPEN:
                        if self.is_module and resource.name is not None and not self._script_use(resource):
                            if flow not in self.module_level:
                                self.module_level.append(flow)
                            continue
                        if not any(r == "scope-exit" for _, r in flow.drops):
                            flow.drops.append((node, "scope-exit"))
                elif status in (OPEN, YIELDED) and node not in flow.exception_exits:
                    flow.exception_exits.append(node)
                    if status == OPEN and isinstance(node, ast.Raise) \
                            and not self._covered_by_parent(resource, state):
                        flow.raise_exits.append(node)
                elif status == ESCAPED and node not in flow.lent_exception_exits \
                        and not holds_any(node, flow.escapes):
                    # (the statement that hands it over raising is the hand-over failing)
                    flow.lent_exception_exits.append(node)

    def _covered_by_parent(self, resource: Resource, state: State) -> bool:
        """A cursor of a followed connection that this path closes, hands on or keeps (a module's
        shared connection) is covered by it; one whose connection is left open here is not."""
        if resource.parent_rid is None:
            return False
        if state.get(resource.parent_rid) != OPEN:
            return True
        return self.is_module and not self._script_use(self.resources[resource.parent_rid])

    def _script_use(self, resource: Resource) -> bool:
        """A module-level object the module uses as a script does, as a function's local: made
        under ``if __name__ == "__main__":``, or read by no function or class of the module (only
        by the statements that run at import). Left open at the module's end, it is never
        closed. An engine or a pool is meant for the process's life: not one of these."""
        if resource.spec.kind in (Kind.ENGINE, Kind.POOL) or resource.name is None:
            return False
        return (in_main_guard(resource.stmt, self.parents)
                or resource.name not in self._names_read_in_nested_scopes())

    def _names_read_in_nested_scopes(self) -> frozenset[str]:
        if self._nested_reads is None:
            self._nested_reads = frozenset(
                sub.id for scope in self.module.facts.scopes if scope.node is not self.scope
                for sub in walk_scope(scope.node) if type(sub) is ast.Name)
        return self._nested_reads

    def emit(self, kind: str, states: States, node: ast.AST, start: int | None = None) -> None:
        """Send a control transfer (raise, return, break, continue) to the frame that takes it."""
        if not states:
            return
        index = len(self.frames) - 1 if start is None else start
        while index >= 0:
            frame = self.frames[index]
            if kind == "raise" and frame.kind in ("handler", "finally"):
                frame.exc.update(states)
                return
            if frame.kind == "finally" and kind != "raise":
                frame.transfers.append((kind, states, node))
                return
            if frame.kind == "loop" and kind in ("break", "continue"):
                (frame.breaks if kind == "break" else frame.continues).update(states)
                return
            index -= 1
        if kind == "raise":
            self._exit(states, "exception", node)
        elif kind == "return":
            self._exit(states, "normal", node)

    # -- statements

    def block(self, stmts: list[ast.stmt], states: States) -> States:
        for stmt in stmts:
            if not states:
                break
            states = self.statement(stmt, states)
        return states

    def statement(self, stmt: ast.stmt, states: States) -> States:
        if isinstance(stmt, ast.If):
            states = self.header(stmt.test, states, stmt)
            true, false = self.narrow(stmt.test, states)
            return cap(self.block(stmt.body, true) | self.block(stmt.orelse, false))
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            states = self.header(stmt.iter, states, stmt)
            states = self.assign_targets(stmt.target, None, states, stmt)
            return self.loop(stmt, states, may_skip=True)
        if isinstance(stmt, ast.While):
            states = self.header(stmt.test, states, stmt)
            forever = isinstance(stmt.test, ast.Constant) and bool(stmt.test.value)
            return self.loop(stmt, states, may_skip=not forever)
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            return self.with_statement(stmt, states)
        if isinstance(stmt, ast.Try) or (hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)):
            return self.try_statement(stmt, states)  # type: ignore[arg-type]
        if isinstance(stmt, ast.Match):
            states = self.header(stmt.subject, states, stmt)
            out: set[State] = set()
            exhaustive = False
            for case in stmt.cases:
                if isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None and case.guard is None:
                    exhaustive = True
                out |= self.block(case.body, states)
            if not exhaustive:
                out |= states
            return cap(out)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for deco in stmt.decorator_list:
                states = self.header(deco, states, stmt)
            states = self.capture(stmt, states)
            return self.rebind(stmt.name, states, stmt)
        if isinstance(stmt, ast.Return):
            if stmt.value is not None:
                states = self.header(stmt.value, states, stmt)
            self.emit("return", states, stmt)
            return frozenset()
        if isinstance(stmt, ast.Raise):
            for part in (stmt.exc, stmt.cause):
                if part is not None:
                    states = self.effects(part, states, stmt)
            self.emit("raise", states, stmt)
            return frozenset()
        if isinstance(stmt, ast.Break):
            self.emit("break", states, stmt)
            return frozenset()
        if isinstance(stmt, ast.Continue):
            self.emit("continue", states, stmt)
            return frozenset()
        if isinstance(stmt, ast.Assign):
            branches = self._conditional_creation(stmt)
            if branches is not None:
                return self.statement(branches, states)
            states = self.header(stmt.value, states, stmt)
            for target in stmt.targets:
                states = self.assign_targets(target, stmt.value if len(stmt.targets) == 1 else None,
                                             states, stmt)
            return states
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                states = self.header(stmt.value, states, stmt)
                states = self.assign_targets(stmt.target, stmt.value, states, stmt)
            return states
        if isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    states = cap(self._mark(s, s.bound(target.id), RELEASED, stmt) for s in states)
                    states = cap(s.bind(target.id, None) for s in states)
                else:
                    states = self.header(target, states, stmt)
            return states
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                states = self.rebind((alias.asname or alias.name).split(".")[0], states, stmt)
            return states
        if isinstance(stmt, (ast.Global, ast.Nonlocal, ast.Pass)):
            return states
        # Expr, AugAssign, Assert, and anything newer: evaluate every expression in it.
        for child in iter_children(stmt):
            if isinstance(child, ast.expr):
                states = self.header(child, states, stmt)
        return states

    def header(self, expr: ast.expr, states: States, stmt: ast.stmt) -> States:
        """Effects of an expression, a raise point when it may raise, then its creations."""
        states = self.effects(expr, states, stmt)
        # Cleanup code in a `finally` is already the error path: not a new way to skip a close.
        if may_raise(expr, self.yield_raises) and not self.in_finally and not self._makes_factory(expr):
            self.emit("raise", states, stmt)
        return self.creations(expr, states, stmt)

    def _makes_factory(self, expr: ast.expr) -> bool:
        """``factory = sessionmaker(bind=engine)``, or a project helper that returns one: a
        session factory is made without I/O (its sessions connect when they run a query)."""
        if not isinstance(expr, ast.Call) or any(
                may_raise(arg) for arg in [*expr.args, *(k.value for k in expr.keywords)]):
            return False
        value = self.sources.expr_value(expr, self.scope, self.cls)
        return isinstance(value, ObjectSpec) and value.kind is Kind.FACTORY

    def loop(self, stmt: ast.For | ast.AsyncFor | ast.While, states: States, may_skip: bool) -> States:
        frame = Frame("loop")
        self.frames.append(frame)
        self.loop_depth += 1
        head = states
        try:
            for _ in range(_MAX_LOOP_ROUNDS):
                if isinstance(stmt, ast.While):
                    body_in, _false = self.narrow(stmt.test, head)
                else:
                    body_in = head
                out = self.block(stmt.body, body_in)
                new_head = cap(head | out | frame.continues)
                if new_head == head:
                    break
                head = new_head
            else:
                raise GiveUp("loop did not settle")
        finally:
            self.loop_depth -= 1
            self.frames.pop()
        exits: States = frozenset()
        if may_skip:
            if isinstance(stmt, ast.While):
                _true, exits = self.narrow(stmt.test, head)
            else:
                exits = head
        exits = self.block(stmt.orelse, exits) if stmt.orelse else exits
        return cap(exits | frame.breaks)

    def try_statement(self, stmt: ast.Try, states: States) -> States:
        finally_frame = Frame("finally") if stmt.finalbody else None
        if finally_frame is not None:
            self.frames.append(finally_frame)
        handler_frame = Frame("handler")
        self.frames.append(handler_frame)
        body_out = self.block(stmt.body, states)
        self.frames.pop()
        caught = frozenset(handler_frame.exc)
        # A body with no raising call still raises where it reads an attribute or an item
        # (`try: db = thread_data.db` / `except AttributeError: db = connect()`): its handlers
        # are reached, with what the body made of the states (a `close()` in it is done: `try:
        # conn.close()` / `except Exception: pass`), though no exception path leaves from there.
        reached = caught or body_out
        normal = self.block(stmt.orelse, body_out) if stmt.orelse else body_out
        out = set(normal)
        catch_all = False
        for handler in stmt.handlers:
            catch_all = catch_all or is_catch_all(handler) or self._catches_driver_errors(handler)
            # Ctrl-C and exit requests come from outside, not from the calls in the body.
            entry = frozenset() if is_interrupt_only(handler) else reached
            if handler.type is not None:
                entry = self.effects(handler.type, entry, stmt)
            if handler.name:
                entry = self.rebind(handler.name, entry, stmt)
            out |= self.block(handler.body, entry)
        if not catch_all:
            self.emit("raise", caught, stmt)
        result = cap(out)
        if finally_frame is not None:
            self.frames.pop()
            self.in_finally += 1
            try:
                result = self.block(stmt.finalbody, result)
                for kind, transfer, node in finally_frame.transfers:
                    self.emit(kind, self.block(stmt.finalbody, transfer), node)
                if finally_frame.exc:
                    self.emit("raise", self.block(stmt.finalbody, frozenset(finally_frame.exc)), stmt)
            finally:
                self.in_finally -= 1
        return result

    def with_statement(self, stmt: ast.With | ast.AsyncWith, states: States) -> States:
        is_async = isinstance(stmt, ast.AsyncWith)
        managed: list[str] = []
        for item in stmt.items:
            expr = item.context_expr
            states = self.effects(expr, states, stmt)
            if may_raise(expr) and not self.in_finally:
                self.emit("raise", states, stmt)
            states = self.creations(expr, states, stmt)
            if isinstance(expr, ast.Name):
                spec = self._receiver_spec(expr, states)
                behaviour = None if spec is None else (spec.async_with if is_async else spec.with_)
                if behaviour is not None and behaviour.closes:
                    states = cap(self._mark(s, s.bound(expr.id), RELEASED, item) for s in states)
            target = item.optional_vars
            lent = self.sources.yielded_argument(expr, self.cls) if isinstance(expr, ast.Call) else None
            if isinstance(target, ast.Name) and isinstance(lent, ast.Name):
                # `with atomic(conn) as conn:`: the context manager lends the object back
                if target.id != lent.id:
                    states = self._alias(target.id, lent.id, states, stmt)
            elif isinstance(target, ast.Name):
                if self._with_closes(expr, is_async) or self._with_creates(expr, is_async):
                    managed.append(target.id)
                states = self.rebind(target.id, states, stmt)
                unclosed = self._bound_resource(expr)
                if unclosed is not None and unclosed.with_unclosed:
                    # `with sqlite3.connect(p) as conn:`: still open after the block; followed
                    # for its cursors (DBL104 reports the connection itself).
                    states = cap(s.bind(target.id, unclosed.rid).set_status(unclosed.rid, OPEN)
                                 for s in states)
            elif target is not None:
                states = self.assign_targets(target, None, states, stmt)
        self.with_managed.update(managed)
        return self.block(stmt.body, states)

    def _with_creates(self, expr: ast.expr, is_async: bool) -> bool:
        """`with factory() as x` / `with closing(...)`: x is managed by the with (or by DBL104)."""
        inner = expr.value if isinstance(expr, ast.Await) else expr
        if not isinstance(inner, ast.Call):
            return False
        if self.sources.facts.call_qualname(inner) in CLOSING_WRAPPERS:
            return True
        return self._creation_spec(inner, in_async_with=is_async) is not None

    def _with_closes(self, expr: ast.expr, is_async: bool) -> bool:
        spec = self._receiver_spec(expr, None)
        if spec is None:
            return False
        behaviour = spec.async_with if is_async else spec.with_
        return behaviour is not None and behaviour.closes

    # -- names and bindings

    def assign_targets(self, target: ast.expr, value: ast.expr | None, states: States,
                       stmt: ast.stmt) -> States:
        flag_key = target.id if isinstance(target, ast.Name) else chain_text(target)
        if flag_key is not None and flag_key in self._flag_keys():
            source, when = flag_guard(value) if value is not None and not isinstance(value, ast.Name) \
                else (None, True)
            if source is not None and source != flag_key and source in self._flag_keys():
                # `own = conn is None`: own is what the test of conn gives, path by path
                taken: set[State] = set()
                skipped: set[State] = set()
                for state in states:
                    split_on_flag(state, source, when, taken, skipped)
                states = cap([*(s.with_flag(flag_key, True) for s in taken),
                               *(s.with_flag(flag_key, False) for s in skipped)])
            else:
                value_flag = value.value if isinstance(value, ast.Constant) and isinstance(value.value, bool) else None
                states = cap(s.with_flag(flag_key, value_flag) for s in states)
        if isinstance(target, ast.Name):
            if target.id in self.globals:
                return self.rebind(target.id, states, stmt)
            if isinstance(value, ast.Name) and value.id != target.id:
                return self._alias(target.id, value.id, states, stmt)
            same = self._same_object(value, states)
            if same is not None:  # `conn = conn.execution_options(...)`: still that object
                return states if same == target.id else self._alias(target.id, same, states, stmt)
            resource = self._bound_resource(value)
            states = self.rebind(target.id, states, stmt)
            if resource is not None:
                resource.name = target.id
                states = cap(s.bind(target.id, resource.rid).set_status(resource.rid, OPEN)
                              for s in states)
            return states
        if isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) \
                and len(value.elts) == len(target.elts) else None
            for position, element in enumerate(target.elts):
                inner = element.value if isinstance(element, ast.Starred) else element
                item = values[position] if values is not None and not isinstance(element, ast.Starred) else None
                states = self.assign_targets(inner, item, states, stmt)
                if isinstance(inner, ast.Name) and item is None and isinstance(value, (ast.Call, ast.Await)):
                    states = self._bind_item(inner.id, value, position, states)
            return states
        if isinstance(target, ast.Starred):
            return self.assign_targets(target.value, None, states, stmt)
        # Attribute or subscript target: its parts are read.
        return self.effects(target, states, stmt)

    def _same_object(self, value: ast.expr | None, states: States) -> str | None:
        """The tracked name ``value`` returns itself of: ``conn.execution_options(...)``
        (``await``-ed or not) for a method the table lists in ``same_object``."""
        inner = value.value if isinstance(value, ast.Await) else value
        if not (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
                and isinstance(inner.func.value, ast.Name)):
            return None
        spec = self._receiver_spec(inner.func.value, states)
        if spec is None or inner.func.attr not in spec.same_object:
            return None
        return inner.func.value.id

    def _alias(self, name: str, other: str, states: States, stmt: ast.stmt) -> States:
        """``name = other``: both names hold the same object."""
        result = set()
        for state in self.rebind(name, states, stmt):
            rid = state.bound(other)
            result.add(state.bind(name, rid) if rid is not None else state)
        return cap(result)

    def _bind_item(self, name: str, value: ast.expr, position: int, states: States) -> States:
        """``conn, cur = make()``: the resource the factory's tuple holds at ``position``."""
        inner = value.value if isinstance(value, ast.Await) else value
        resource = self.by_node.get((id(inner), position))
        if resource is None:
            return states
        resource.name = name
        return cap(s.bind(name, resource.rid).set_status(resource.rid, OPEN) for s in states)

    def _bound_resource(self, value: ast.expr | None) -> Resource | None:
        """The resource created by exactly ``value`` (``connect()`` or ``await connect()``)."""
        if value is None:
            return None
        if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.And):
            value = value.values[-1]  # `conn and conn.cursor()`: the object, or a falsy value
        inner = value.value if isinstance(value, ast.Await) else value
        resource = self.by_node.get(id(inner))
        if resource is None or resource.parent_tracked or resource.node is not value:
            return None
        return resource

    def rebind(self, name: str, states: States, node: ast.AST) -> States:
        """``name`` gets a new value: what it held and is still open, and held by no other
        name, is dropped."""
        result = set()
        for state in states:
            rid = state.bound(name)
            if rid is not None:
                status = state.get(rid)
                others = any(v == rid and k != name for k, v in state.binds)
                if status == OPEN and not others:
                    flow = self.flows[rid]
                    if not (flow.resource.parent_tracked or flow.resource.with_unclosed
                            or self._covered_by_parent(flow.resource, state)):
                        flow.drops.append((node, "rebound"))
                        # Nothing can reach it any more: its fate is told (a leak, here). The
                        # paths that made it and those that did not become one again, so a
                        # scope that rebinds one name many times (`except: conn =
                        # engine.connect()` ten times over) stays within the path budget.
                        state = state.without(rid)
                state = state.bind(name, None)
            result.add(state)
        return cap(result)

    def capture(self, node: ast.AST, states: States) -> States:
        """A nested function or class reading a local resource may keep it: handed over."""
        if self.is_module:
            return states
        free = free_names(node)
        if not free:
            return states
        free -= self._borrowed_by_local_helper(node, free)
        result = set()
        for state in states:
            for name in free:
                rid = state.bound(name)
                if rid is not None:
                    state = self._mark(state, rid, ESCAPED, node)
            result.add(state)
        return cap(result)

    def _borrowed_by_local_helper(self, node: ast.AST, free: set[str]) -> set[str]:
        """The free names a nested helper only borrows: a plain ``def`` (no decorator, which
        may register it) that this scope only calls, whose every read of the name is a borrow
        (no close, no store, no return, no alias). Calling it is then using the object here:
        ``def do_search(t): return build_query(session, t)`` called in a comprehension.
        Memoized: a loop interprets the ``def`` again, and ``free`` is always its free names."""
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.decorator_list:
            return set()
        known = self._helper_borrows.get(id(node))
        if known is not None:
            return known
        borrowed: set[str] = set()
        self._helper_borrows[id(node)] = borrowed
        first, last = self.scope.lineno, self.scope.end_lineno or self.scope.lineno  # type: ignore[attr-defined]
        for use in self.module.facts.names.get(node.name, ()):
            parent = self.parents.get(id(use))
            if first <= use.lineno <= last and not (
                    isinstance(use.ctx, ast.Load) and isinstance(parent, ast.Call) and parent.func is use):
                return borrowed  # passed on, stored or rebound: a hand-over, as any closure
        reads: dict[str, list[ast.Name]] = {}
        for sub in walk(node):
            if isinstance(sub, (ast.Nonlocal, ast.Global)):
                return borrowed
            if isinstance(sub, ast.Name) and sub.id in free:
                reads.setdefault(sub.id, []).append(sub)
        borrowed.update(name for name, uses in reads.items()
                        if all(self.classify(use, node)[0] == "borrow" for use in uses))
        return borrowed

    def narrow(self, test: ast.expr, states: States) -> tuple[States, States]:
        """Split states by a guard on a tracked name (``conn is None``, ``if conn:``).

        A path where the name holds a resource takes one branch (resources are never None and
        always truthy); a path where it holds something else may take either.
        """
        name, when_bound = guard(test)
        if name is None:
            key, when = flag_guard(test)
            if key is not None and key in self._flag_keys():
                return self._narrow_flag(key, when, states)
            if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
                # `a and b`: true where every part is; false where one part is, the parts
                # before it true (short-circuit)
                true = states
                false: set[State] = set()
                for value in test.values:
                    true, otherwise = self.narrow(value, true)
                    false |= otherwise
                return true, frozenset(false)
            return states, states
        flagged = name in self._flag_keys() and flag_guard(test)[0] == name
        taken: set[State] = set()
        skipped: set[State] = set()
        for state in states:
            if state.bound(name) is not None:
                (taken if when_bound else skipped).add(state)
            elif flagged:
                split_on_flag(state, name, when_bound, taken, skipped)
            else:
                taken.add(state)
                skipped.add(state)
        return frozenset(taken), frozenset(skipped)

    def _narrow_flag(self, key: str, when: bool, states: States) -> tuple[States, States]:
        """``if self._owns:``: a path that knew the flag takes its branch; one that did not
        learns it in each branch."""
        taken: set[State] = set()
        skipped: set[State] = set()
        for state in states:
            split_on_flag(state, key, when, taken, skipped)
        return frozenset(taken), frozenset(skipped)

    def _catches_driver_errors(self, handler: ast.ExceptHandler) -> bool:
        """``except sqlite3.Error:`` (``psycopg2.DatabaseError``, ``conn.Error``, …): every
        error the driver raises is caught, which is every path the database calls can take."""
        if handler.type is None:
            return True
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        modules = self.sources.drivers.module_names | {"sqlalchemy", "django"}
        for node in names:
            if not isinstance(node, ast.Attribute) or not node.attr.endswith(("Error", "Exception")):
                continue
            qualname = self.sources.facts.qualname(node)
            if qualname is not None:
                root = qualname.split(".", 1)[0]
                if root in modules and node.attr in _DRIVER_ERRORS:
                    return True
            elif node.attr in ("Error", "DatabaseError"):
                return True  # `conn.Error`, `self.db.DatabaseError`: the PEP 249 base classes
        return False

    def _flag_keys(self) -> frozenset[str]:
        """Names and ``self.x`` attributes the scope's `if`/`while` tests read more than once:
        the only flags worth following (one test correlates nothing)."""
        if self._flags is None:
            counts: dict[str, int] = {}
            booleans: set[str] = set()
            for node in walk_scope(self.scope):
                if isinstance(node, (ast.If, ast.While, ast.IfExp)):
                    key, _when = flag_guard(node.test)
                    if key is not None:
                        counts[key] = counts.get(key, 0) + 1
                elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                      and isinstance(node.value.value, bool)):
                    booleans.update(k for k in (chain_text(t) for t in node.targets) if k)
                elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                    value = node.value
                    if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or):
                        key, _when = flag_guard(value.values[0])  # `conn = conn or connect()`
                    elif isinstance(value, ast.Name):
                        key = None  # `a = b` is an alias, not a test of b
                    else:
                        key, _when = flag_guard(value)  # `own = conn is None`
                        if key is not None and isinstance(node.targets[0], ast.Name):
                            booleans.add(node.targets[0].id)
                    if key is not None:
                        counts[key] = counts.get(key, 0) + 1
            self._flags = frozenset(k for k, n in counts.items() if n > 1 or k in booleans)
        return self._flags

    # -- expression effects

    def _mark(self, state: State, rid: int | None, status: str, node: ast.AST | None) -> State:
        if rid is None:
            return state
        current = state.get(rid)
        if current is None or current in (RELEASED,) and status != RELEASED:
            return state
        flow = self.flows[rid]
        if node is not None:
            if status == RELEASED and node not in flow.releases:
                flow.releases.append(node)
            elif status == ESCAPED and node not in flow.escapes:
                flow.escapes.append(node)
            elif status == YIELDED:
                flow.yielded = True
        if status == YIELDED and current != OPEN:
            return state
        return state.set_status(rid, status)

    def effects(self, expr: ast.AST, states: States, stmt: ast.stmt) -> States:
        """Releases and hand-overs of tracked names in ``expr`` (creations come after)."""
        if self._parent_keys:
            states = self._parent_releases(expr, states)
        tracked = {name for state in states for name, _ in state.binds}
        if not tracked:
            return states
        for node in walk_expr(expr):
            if isinstance(node, SCOPE_NODES):
                states = self.capture(node, states)
                continue
            if not (isinstance(node, ast.Name) and node.id in tracked and isinstance(node.ctx, ast.Load)):
                continue
            rids = {s.bound(node.id) for s in states} - {None}
            specs = {self.resources[r].spec.name: self.resources[r].spec for r in rids if r is not None}
            spec = next(iter(specs.values())) if len(specs) == 1 else None
            effect, at = self.classify(node, stmt, spec)
            if effect == "guess":
                for rid in rids:
                    if rid is not None and at not in self.flows[rid].guessed:
                        self.flows[rid].guessed.append(at)
                continue
            if effect == "yield" and self.yield_lends:
                # a fixture or a context manager lends what it yields and gets it back
                if self.yield_raises:
                    self.emit("raise", states, stmt)
                continue
            if effect in ("borrow", "alias"):
                continue
            status = {"release": RELEASED, "escape": ESCAPED, "yield": YIELDED}[effect]
            if effect == "escape" and self.return_drop and isinstance(at, ast.Return):
                self._returned_to_nobody(states, node.id, at)
            states = cap(self._mark(s, s.bound(node.id), status, at) for s in states)
            if effect == "yield" and self.yield_raises:
                self.emit("raise", states, stmt)
        return states

    def _returned_to_nobody(self, states: States, name: str, at: ast.Return) -> None:
        """``return engine`` from a function-scoped fixture (the test gets the object and
        pytest keeps nothing to close it with; a fixture that closes it after a ``yield``, or
        registers ``request.addfinalizer(engine.dispose)``, is fine), or ``return cur`` from
        ``__enter__`` (``__exit__`` has no hold of it): dropped there."""
        for state in states:
            rid = state.bound(name)
            if rid is not None and state.get(rid) == OPEN:
                self._drop_returned(self.flows[rid], at)

    def _parent_releases(self, expr: ast.AST, states: States) -> States:
        """``self.cnx.close()`` releases the cursors made by ``self.cnx.cursor()`` here, and
        ``registry.remove()`` the session made by ``registry()``."""
        for node in walk_expr(expr):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in RELEASE_METHODS
                    and isinstance(node.func.value, (ast.Attribute, ast.Name))):
                continue
            key = chain_text(node.func.value)
            if key not in self._parent_keys:
                continue
            for resource in self.resources.values():
                if resource.parent_key == key:
                    states = cap(self._mark(s, resource.rid, RELEASED, node) for s in states)
        return states

    def classify(self, node: ast.Name, stmt: ast.stmt,
                 spec: ObjectSpec | None = None) -> tuple[str, ast.AST]:
        """"release", "escape", "yield", "alias" or "borrow" for one read of a tracked name."""
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Attribute) and parent.value is node and parent.attr == "connection" \
                and spec is not None and spec.kind is Kind.CURSOR:
            # `cur.connection.close()`: the cursor's own connection (PEP 249's extension) is
            # closed, and the cursor with it
            closer = self.parents.get(id(parent))
            call = self.parents.get(id(closer))
            if isinstance(closer, ast.Attribute) and closer.attr in RELEASE_METHODS \
                    and isinstance(call, ast.Call) and call.func is closer:
                return "release", call
        if isinstance(parent, ast.Attribute) and parent.value is node:
            grand = self.parents.get(id(parent))
            release = self.handover._release_methods(node.id)
            if parent.attr in release or (spec is not None and spec.project_class
                                          and parent.attr in spec.release):
                # a project class's own release methods too (kolibri's `bridge.end()`)
                if isinstance(grand, ast.Call) and grand.func is parent:
                    return "release", grand
                if isinstance(grand, ast.Expr):
                    return "borrow", node  # `conn.close` alone: a call forgotten, nothing runs
                return "escape", parent  # `stack.callback(conn.close)`: someone else closes it
            return "borrow", node
        if isinstance(parent, ast.Subscript) and parent.value is node:
            return "borrow", node
        if (isinstance(parent, ast.Assign) and parent.value is node and len(parent.targets) == 1
                and isinstance(parent.targets[0], ast.Name) and parent.targets[0].id not in self.globals):
            return "alias", parent
        return self.handover.value_fate(node, spec)
