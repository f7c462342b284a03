"""What the code's own use says an object of no known type is.

When neither the driver table nor the project says what a call returns, the scope that uses
the result may: ``cur = x.cursor(); cur.execute(q)`` is a PEP 249 cursor, ``conn =
engine.connect(); conn.cursor()`` a connection, ``c = conn.execute(q); ...; c.close()`` a cursor
the code means to close. These objects get the driver table's generic ``dbapi`` rows
(:data:`~dbleak.analysis.sources.DUCK_CURSOR`, :data:`~dbleak.analysis.sources.DUCK_CONNECTION`).

The evidence must come from the scope itself, and never from names that an import, a function
or a class binds (the driver table or the project says what those make), nor from test doubles.
Read by the resource flow (:mod:`dbleak.analysis.flow`) for each call it cannot resolve.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from dbleak.analysis.lifecycle_summary import CURSOR_USES
from dbleak.analysis.module import result_has_method, walk_scope
from dbleak.analysis.names import chain_text, root_name
from dbleak.analysis.sources import DUCK_CONNECTION, DUCK_CURSOR, ObjectSources
from dbleak.knowledge.drivers import ObjectSpec

# What a connection's result does: makes cursors or runs statements.
CONNECTION_USES = frozenset({"cursor", "execute", "executemany", "executescript"})
# What PEP 249 gives a cursor (and the drivers' common additions).
PEP249_CURSOR_ATTRIBUTES = CURSOR_USES | frozenset({
    "close", "description", "rowcount", "lastrowid", "arraysize", "callproc", "nextset",
    "setinputsizes", "setoutputsize", "scroll", "rownumber", "connection", "messages",
    "statusmessage", "query", "copy_expert", "executescript", "withhold", "itersize"})
_MOCK_MODULES = ("unittest.mock.", "mock.")


def names_a_cursor(method: str) -> bool:
    """``cursor``, ``_cursor``, ``get_cursor``, ``new_cursor``: a method that says it gives a
    cursor."""
    return method == "cursor" or method.endswith("_cursor")


class UseEvidence:
    """The evidence of use in one scope (``cls``: the class whose method it is)."""

    def __init__(self, sources: ObjectSources, parents: Mapping[int, ast.AST], scope: ast.AST,
                 cls: ast.ClassDef | None) -> None:
        self.sources = sources
        self.parents = parents
        self.scope = scope
        self.cls = cls
        self._names_using: dict[frozenset[str], set[str]] = {}  # by the methods they call

    # -- what a call gives

    def unknown_receiver(self, call: ast.Call, method: str) -> ObjectSpec | None:
        """``x.<method>(...)`` of an ``x`` of no known type: what the result's use says."""
        drivers = self.sources.drivers
        if names_a_cursor(method) and (
                (method == "cursor" and (self.result_used_as(call) or (
                    self.closed_by_name(call) and self.only_cursor_attributes(call))))
                or (self.result_used_as(call) and self.closed_by_name(call))):
            # `cur = x.cursor()` whose result runs statements or that the code closes
            # itself, or `cur = x.get_cursor()` that does both: a PEP 249 cursor
            return drivers.objects.get(DUCK_CURSOR)
        if (method == "connect" and not self.import_bound(call.func) and not self.mock_bound(call.func)
                and self.result_used_as(call, CONNECTION_USES)):
            # `conn = engine.connect()` of an object of no known type whose result makes
            # cursors or runs statements: a database connection (PEP 249's, or SQLAlchemy's:
            # both are released by `close()`)
            return drivers.objects.get(DUCK_CONNECTION)
        if method in ("execute", "executemany") and self.closed_by_name(call):
            # `cur = await conn.execute(q); ...; await cur.close()`: the code treats it as a
            # cursor to close, whatever the connection's driver
            return drivers.objects.get(DUCK_CURSOR)
        return None

    def helper_result(self, call: ast.Call, target: str | None) -> ObjectSpec | None:
        """A call of the project function ``target`` whose result nothing resolves, when the
        function returns ``x.cursor()`` / ``x.connect()`` of an object of no known type and
        the result is used here as what it says: ``cur = self._cursor(conn); cur.execute(q)``,
        ``conn = get_sqlconn(dc); conn.execute(q)``."""
        drivers = self.sources.drivers
        if self.sources.returns_method_call(target, "cursor") and self.result_used_as(call):
            return drivers.objects.get(DUCK_CURSOR)
        if self.sources.returns_method_call(target, "connect") and self.result_used_as(call, CONNECTION_USES):
            return drivers.objects.get(DUCK_CONNECTION)
        return None

    # -- the evidence

    def result_used_as(self, call: ast.Call, uses: frozenset[str] = CURSOR_USES) -> bool:
        """Whether the result of ``call`` (directly, or through the names it is bound to)
        runs one of ``uses``: ``x.cursor()`` whose result runs ``execute()`` or ``fetch*()`` is
        a PEP 249 cursor of no known driver; ``x.connect()`` whose result makes cursors or
        runs statements (:data:`CONNECTION_USES`) a connection."""
        holder = self.parents.get(id(call))
        node: ast.AST = call
        if isinstance(holder, ast.Await):
            node, holder = holder, self.parents.get(id(holder))
        if isinstance(holder, ast.Attribute) and holder.value is node:
            return holder.attr in uses
        names: list[str] = []
        if isinstance(holder, (ast.Assign, ast.AnnAssign)) and holder.value is node:
            targets = holder.targets if isinstance(holder, ast.Assign) else [holder.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        elif isinstance(holder, ast.withitem) and isinstance(holder.optional_vars, ast.Name):
            names = [holder.optional_vars.id]
        used = self._names_using.get(uses)
        if used is None:
            used = self._names_using[uses] = {
                node.value.id for node in walk_scope(self.scope)
                if isinstance(node, ast.Attribute) and node.attr in uses
                and isinstance(node.value, ast.Name)}
        return any(name in used for name in names)

    def closed_by_name(self, call: ast.Call) -> bool:
        """``c = conn.execute(q)`` with a ``c.close()`` in the scope."""
        return result_has_method(self.parents, self.scope, call, ("close",))

    def only_cursor_attributes(self, call: ast.Call) -> bool:
        """``c = x.cursor()`` whose name the scope reads no attribute of but a PEP 249
        cursor's (``c.move()`` says it is some other cursor)."""
        holder = self.parents.get(id(call))
        if not (isinstance(holder, ast.Assign) and len(holder.targets) == 1
                and isinstance(holder.targets[0], ast.Name)):
            return False
        name = holder.targets[0].id
        return all(node.attr in PEP249_CURSOR_ATTRIBUTES for node in walk_scope(self.scope)
                   if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                   and node.value.id == name)

    def import_bound(self, func: ast.expr) -> bool:
        """Whether the root name of ``func`` is bound by an import, a function or a class of
        the module (maybe among other bindings): what its calls make is the driver table's or
        the project's to say, not their use's."""
        root = root_name(func)
        if root is None or self.sources.reader(self.scope, self.cls).holds_value(root):
            return False  # (a parameter or a local shadows the module's name)
        return self.sources.facts.resolver.names_something(root)

    def mock_bound(self, func: ast.expr) -> bool:
        """Whether the root name of ``func`` holds a test double: bound in the scope by
        ``with patch(...) as m`` or ``m = MagicMock()`` (``unittest.mock``, ``mock``,
        pytest-mock's ``mocker``), or a parameter of a function a ``patch`` decorates."""
        root = root_name(func)
        if root is None:
            return False
        facts = self.sources.facts

        def is_mock(expr: ast.expr | None) -> bool:
            if isinstance(expr, ast.Call):
                expr = expr.func
            if expr is None:
                return False
            qualname = facts.qualname(expr) or ""
            text = chain_text(expr) or ""
            return qualname.startswith(_MOCK_MODULES) or text.startswith("mocker.")

        scope = self.scope
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                is_mock(d) for d in scope.decorator_list):
            names = {a.arg for a in [*scope.args.posonlyargs, *scope.args.args]}
            if root in names:
                return True
        for node in walk_scope(scope):
            if isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name) \
                    and node.optional_vars.id == root and is_mock(node.context_expr):
                return True
            if isinstance(node, ast.Assign) and is_mock(node.value) and any(
                    isinstance(t, ast.Name) and t.id == root for t in node.targets):
                return True
        return False
