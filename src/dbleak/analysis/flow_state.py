"""The states of the resource-flow analysis (:mod:`dbleak.analysis.flow`): what one resource
is, what happens to it on every path out of its scope, and the small set of path states the
interpreter carries from statement to statement (each maps a tracked resource to its status and
a local name to the resource it holds, with the flags the path has learnt).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from dbleak.analysis.flow_syntax import raising_header
from dbleak.knowledge.drivers import Kind, ObjectSpec

OPEN, RELEASED, ESCAPED, YIELDED = "open", "released", "escaped", "yielded"
MAX_STATES = 256


@dataclass(eq=False)
class Resource:
    """One creation site of an object that must be released."""

    rid: int
    node: ast.expr  # the creating call (or the `await` around it)
    call: ast.Call | ast.Attribute  # the call, or the read of a property that makes it
    spec: ObjectSpec
    stmt: ast.stmt
    scope: ast.AST
    name: str | None = None
    factory: str = ""  # qualified name or `.method` it came from
    awaited: bool = False
    # A cursor whose connection's release closes it too: made on a connection this scope does
    # not follow (a local of unknown origin, a `with` target), so it is never reported itself.
    parent_tracked: bool = False
    # A cursor of a connection this scope follows: it is covered wherever that connection is
    # closed or handed on, and left open with it where the connection is dropped.
    parent_rid: int | None = None
    # Made by a `with` item whose `__exit__` does not close it (DBL104's finding): followed only
    # so that its cursors know whether it is closed, never reported as dropped itself.
    with_unclosed: bool = False
    # For a cursor of an attribute's connection (`self.cnx.cursor()`): "self.cnx", whose
    # release releases the cursor too.
    parent_key: str | None = None

    @property
    def kind(self) -> Kind:
        return self.spec.kind


@dataclass(eq=False)
class ResourceFlow:
    """What happens to one resource on every path out of its scope."""

    resource: Resource
    # (node, reason): reason is "scope-exit", "rebound", "temporary", "via-cursor", "holder"
    drops: list[tuple[ast.AST, str]] = field(default_factory=list)
    exception_exits: list[ast.AST] = field(default_factory=list)
    raise_exits: list[ast.AST] = field(default_factory=list)  # the scope's own `raise` statements
    normal_statuses: set[str] = field(default_factory=set)
    releases: list[ast.AST] = field(default_factory=list)  # release call nodes
    escapes: list[ast.AST] = field(default_factory=list)
    yielded: bool = False
    in_loop: bool = False
    handle: str | None = None  # the cursor through which a temporary connection is kept
    holder: str | None = None  # the local object it is stored on (`cfg` of `cfg.attrs["c"] = ...`)
    # Calls it is passed to that nothing is known of, taken to borrow it (a fix that closes
    # it is then unsafe: such a callee might keep it).
    guessed: list[ast.AST] = field(default_factory=list)
    # Exception exits where it had been handed over (stored on an object, passed to a
    # constructor): a leak only if the scope closes it itself on every normal path.
    lent_exception_exits: list[ast.AST] = field(default_factory=list)

    @property
    def dropped(self) -> bool:
        return bool(self.drops)

    @property
    def hand_over_skipped_by_exception(self) -> bool:
        """Handed over (returned, stored) on every normal path, but an exception raised by a
        call between its creation and the hand-over leaves it open: nobody got it to close."""
        return (not self.drops and not self.yielded and bool(self.escapes)
                and self.normal_statuses == {ESCAPED}
                and any(raising_header(node) for node in self.exception_exits))

    @property
    def skipped_by_exception(self) -> bool:
        """Released on every normal path, but an exception can skip the release. What the
        scope stored somewhere and still closes itself on every normal path was only lent
        (`data_layer.connection = conn` ... `await conn.close()`): an exception after the
        loan skips the close too."""
        if self.drops or OPEN in self.normal_statuses:
            return False
        if self.exception_exits and RELEASED in self.normal_statuses:
            return True
        return bool(self.lent_exception_exits) and self.normal_statuses == {RELEASED}


@dataclass(eq=False)
class StoredResource:
    """``self.<attr> = <resource>`` inside a class."""

    class_node: ast.ClassDef
    attr: str
    node: ast.AST  # the creating call or the assignment
    spec: ObjectSpec
    method: ast.AST | None = None  # the method that stores it
    stmt: ast.stmt | None = None  # the assignment
    # Kept by the object the attribute holds, made with it (`self.db =
    # scoped_session(sessionmaker(bind=engine))`), not stored there itself.
    through: bool = False


@dataclass(eq=False)
class ModuleFlow:
    flows: list[ResourceFlow] = field(default_factory=list)
    stored_on_self: list[StoredResource] = field(default_factory=list)
    module_level: list[ResourceFlow] = field(default_factory=list)  # open at module end
    scopes_given_up: int = 0


class GiveUp(Exception):
    """The scope is beyond what the analysis models: no findings for it."""


# --- path states ----------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    status: frozenset[tuple[int, str]] = frozenset()
    binds: frozenset[tuple[str, int]] = frozenset()
    # What this path knows of flags the scope tests more than once (`own`, `self._owns`):
    # `if own: conn = connect()` ... `if own: conn.close()` is one path or the other.
    flags: frozenset[tuple[str, bool]] = frozenset()

    def get(self, rid: int) -> str | None:
        for key, value in self.status:
            if key == rid:
                return value
        return None

    def bound(self, name: str) -> int | None:
        for key, value in self.binds:
            if key == name:
                return value
        return None

    def set_status(self, rid: int, value: str) -> State:
        return State(frozenset({(k, v) for k, v in self.status if k != rid} | {(rid, value)}),
                     self.binds, self.flags)

    def bind(self, name: str, rid: int | None) -> State:
        binds = {(k, v) for k, v in self.binds if k != name}
        if rid is not None:
            binds.add((name, rid))
        return State(self.status, frozenset(binds), self.flags)

    def without(self, rid: int) -> State:
        return State(frozenset((k, v) for k, v in self.status if k != rid),
                     frozenset((k, v) for k, v in self.binds if v != rid), self.flags)

    def flag(self, key: str) -> bool | None:
        for name, value in self.flags:
            if name == key:
                return value
        return None

    def with_flag(self, key: str, value: bool | None) -> State:
        flags = {(k, v) for k, v in self.flags if k != key}
        if value is not None:
            flags.add((key, value))
        return State(self.status, self.binds, frozenset(flags))


States = frozenset[State]


def cap(states: Iterable[State]) -> States:
    result = frozenset(states)
    if len(result) > MAX_STATES:
        raise GiveUp("too many paths")
    return result


# --- frames for control transfers -----------------------------------------------------------

@dataclass(eq=False)
class Frame:
    kind: str  # "handler", "finally", "loop"
    exc: set[State] = field(default_factory=set)
    transfers: list[tuple[str, States, ast.AST]] = field(default_factory=list)
    breaks: set[State] = field(default_factory=set)
    continues: set[State] = field(default_factory=set)



def split_on_flag(state: State, key: str, when: bool, taken: set[State],
                   skipped: set[State]) -> None:
    """A path that knew the flag goes to its branch; one that did not learns it in each."""
    known = state.flag(key)
    if known is None:
        taken.add(state.with_flag(key, when))
        skipped.add(state.with_flag(key, not when))
    else:
        (taken if known == when else skipped).add(state)
