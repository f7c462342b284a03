"""Fetch sites: reads of a whole query result, with the SQL they read when it can be known.

The DBL2xx rules are thin queries over what this module finds:

- :class:`SqlResolver` turns an expression into SQL text statically (literals, implicit
  concatenation, module and class constants, ``+``, ``%``/``.format``/f-strings with holes, a
  name assigned once in its scope, ``sqlalchemy.text(...)``).
- :class:`LocalTypes` says which driver object a local name holds (``conn = sqlite3.connect()``,
  ``cur = conn.cursor()``, ``with conn.cursor() as cur``) from the driver table.
- :func:`dbapi_fetch_sites` finds ``fetchall()`` calls, cursor loops and ``fetchmany()`` loops,
  each with the SQL its cursor last executed and that SQL's bound.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dbleak.analysis.fetch_orm import RESULT_RESHAPES
from dbleak.analysis.module import ModuleFacts, Scope, statement_block, walk, walk_scope
from dbleak.analysis.names import chain_text
from dbleak.knowledge.drivers import Buffering, DriverTable, MethodSpec, ObjectSpec
from dbleak.knowledge.sql import Bound, hole_marker, query_bound, unique_columns
from dbleak.settings import Settings

# sqlglot dialect of each driver of the table.
DIALECTS: dict[str, str] = {
    "sqlite3": "sqlite", "aiosqlite": "sqlite", "psycopg2": "postgres", "psycopg": "postgres",
    "asyncpg": "postgres", "pymysql": "mysql", "mysql.connector": "mysql", "mysqlclient": "mysql",
    "MySQLdb": "mysql", "duckdb": "duckdb", "pyodbc": "tsql", "pymssql": "tsql",
    "snowflake": "snowflake", "snowflake.connector": "snowflake", "oracledb": "oracle",
    "aiomysql": "mysql", "databricks.sql": "databricks",
}

# Wrappers whose result is their argument's SQL text.
_TEXT_WRAPPERS = frozenset({
    "sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text",
    "textwrap.dedent", "inspect.cleandoc", "psycopg2.sql.SQL", "psycopg.sql.SQL",
})
_TEXT_METHODS = frozenset({"strip", "lstrip", "rstrip", "replace"})
_EXECUTE_METHODS = frozenset({"execute"})


@dataclass(frozen=True)
class SqlText:
    """SQL as far as it could be resolved; unknown parts are :func:`hole_marker` names."""

    text: str
    holes: int = 0


def dialect_of(spec: ObjectSpec | None) -> str | None:
    if spec is None:
        return None
    return DIALECTS.get(spec.driver)


class SqlResolver:
    """Resolves expressions of one module to SQL text."""

    MAX_DEPTH = 12

    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self._assignments: dict[int, dict[str, list[ast.AST]]] = {}
        self._class_of_scope: dict[int, ast.ClassDef | None] = {}

    def resolve(self, expr: ast.AST, scope: Scope) -> SqlText | None:
        """The SQL text of ``expr`` evaluated in ``scope``, or None when nothing is known."""
        counter = [0]
        parts = self._parts(expr, scope, counter, 0)
        if parts is None:
            return None
        if not any(p for p in parts if not p.startswith("\0")):
            return None
        holes = 0
        out = []
        for part in parts:
            if part.startswith("\0"):
                out.append(f" {hole_marker(holes)} " if part == "\0hole" else hole_marker(holes))
                holes += 1
            else:
                out.append(part)
        text = "".join(out)
        return SqlText(text, holes) if text.strip() else None

    # A part is literal text, or "\0hole" (a free-standing unknown) / "\0inner" (an unknown
    # inside a word, e.g. an f-string hole glued to text).
    def _parts(self, expr: ast.AST, scope: Scope, counter: list[int], depth: int) -> list[str] | None:
        if depth > self.MAX_DEPTH:
            return None
        if isinstance(expr, ast.Constant):
            return [expr.value] if isinstance(expr.value, str) else None
        if isinstance(expr, ast.JoinedStr):
            out: list[str] = []
            for value in expr.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    out.append(value.value)
                elif isinstance(value, ast.FormattedValue):
                    inner = self._parts(value.value, scope, counter, depth + 1)
                    if inner is not None and value.format_spec is None and value.conversion == -1:
                        out.extend(inner)
                    else:
                        out.append("\0hole")
            return out
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            left = self._parts(expr.left, scope, counter, depth + 1)
            right = self._parts(expr.right, scope, counter, depth + 1)
            if left is None and right is None:
                return None
            return [*(left if left is not None else ["\0hole"]),
                    *(right if right is not None else ["\0hole"])]
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mod):
            left = self._parts(expr.left, scope, counter, depth + 1)
            if left is None:
                return None
            return _percent_holes(left)
        if isinstance(expr, ast.Call):
            return self._call_parts(expr, scope, counter, depth)
        if isinstance(expr, ast.Name):
            assigned = self._single_assignment(expr.id, scope)
            if assigned is None:
                assigned = self._reaching_assignment(expr, scope)
            if assigned is None:
                return None
            return self._parts(assigned, value_scope(self, expr.id, scope), counter, depth + 1)
        if isinstance(expr, ast.Attribute):
            constant = self._class_constant(expr, scope)
            if constant is None:
                return None
            return self._parts(constant, self.facts.module_scope, counter, depth + 1)
        return None

    def _call_parts(self, call: ast.Call, scope: Scope, counter: list[int],
                    depth: int) -> list[str] | None:
        func = call.func
        qualname = self.facts.call_qualname(call)
        if qualname in _TEXT_WRAPPERS and call.args:
            return self._parts(call.args[0], scope, counter, depth + 1)
        if isinstance(func, ast.Attribute):
            if func.attr == "format":
                base = self._parts(func.value, scope, counter, depth + 1)
                if base is None:
                    return None
                return _format_holes(base)
            if func.attr in _TEXT_METHODS:
                base = self._parts(func.value, scope, counter, depth + 1)
                if base is None:
                    return None
                return base
            if func.attr == "join" and isinstance(func.value, ast.Constant):
                return ["\0hole"]
        return None

    # --- names ---------------------------------------------------------------------------

    def assignments(self, scope: Scope) -> dict[str, list[ast.AST]]:
        """Every binding of each name in ``scope``: assigned values, or the binding node."""
        cached = self._assignments.get(id(scope.node))
        if cached is not None:
            return cached
        found: dict[str, list[ast.AST]] = {}
        node = scope.node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None:
                    found.setdefault(arg.arg, []).append(arg)
        parents = self.facts.parent
        for child in walk_scope(node):
            kind = type(child)
            if kind not in _BINDING_KINDS:
                continue
            if kind is ast.Name:
                if isinstance(child.ctx, (ast.Store, ast.Del)):  # type: ignore[attr-defined]
                    holder = parents.get(id(child))
                    if isinstance(holder, ast.Assign) and child in holder.targets:
                        continue  # recorded with its value below
                    if isinstance(holder, ast.AnnAssign) and holder.target is child:
                        continue
                    found.setdefault(child.id, []).append(child)  # type: ignore[attr-defined]
            elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
                if child is not node:
                    found.setdefault(child.name, []).append(child)  # type: ignore[attr-defined]
            elif kind is ast.Assign:
                assign: ast.Assign = child  # type: ignore[assignment]
                for target in assign.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(
                            assign.value if len(assign.targets) == 1 else assign)
                    else:
                        for sub in walk(target):
                            if isinstance(sub, ast.Name):
                                found.setdefault(sub.id, []).append(assign)
            elif kind is ast.AnnAssign:
                annotated: ast.AnnAssign = child  # type: ignore[assignment]
                if isinstance(annotated.target, ast.Name) and annotated.value is not None:
                    found.setdefault(annotated.target.id, []).append(annotated.value)
            elif kind in (ast.Global, ast.Nonlocal):
                for name in child.names:  # type: ignore[attr-defined]
                    found.setdefault(name, []).append(child)
            else:  # Import, ImportFrom
                for alias in child.names:  # type: ignore[attr-defined]
                    found.setdefault((alias.asname or alias.name).split(".")[0], []).append(child)
        self._assignments[id(scope.node)] = found
        return found

    def _single_assignment(self, name: str, scope: Scope) -> ast.expr | None:
        current: Scope | None = scope
        while current is not None:
            if isinstance(current.node, ast.ClassDef) and current is not scope:
                current = current.parent  # class bodies are not enclosing scopes of methods
                continue
            bindings = self.assignments(current).get(name)
            if bindings:
                first = bindings[0]
                if len(bindings) == 1 and isinstance(first, ast.expr) and _is_value(first):
                    return first
                return None
            current = current.parent
        return None

    def _placed_values(self, use: ast.Name, scope: Scope
                       ) -> tuple[tuple[int, int], list[tuple[ast.stmt, ast.expr]]] | None:
        """The position of ``use``'s statement and every ``(statement, value)`` that assigns
        its name in ``scope``, when each of them is a plain value assignment."""
        bindings = self.assignments(scope).get(use.id)
        if not bindings or any(not (isinstance(b, ast.expr) and _is_value(b)) for b in bindings):
            return None
        use_stmt = self.facts.statement_of(use)
        placed: list[tuple[ast.stmt, ast.expr]] = []
        for value in bindings:
            stmt = self.facts.statement_of(value)
            if stmt is None or not isinstance(value, ast.expr):
                return None
            placed.append((stmt, value))
        if use_stmt is None:
            return None
        return (use_stmt.lineno, use_stmt.col_offset), placed

    def _reaching_assignment(self, use: ast.Name, scope: Scope) -> ast.expr | None:
        """The one assignment of a name of ``scope`` that reaches ``use`` when the name is
        assigned several times: the last one before it, in the statement list of the use or of
        a statement around it (so every path to the use passes it), with no assignment later in
        a loop around the use (whose next turn would read that one)."""
        found = self._placed_values(use, scope)
        if found is None:
            return None
        where, placed = found
        before = [(s, b) for s, b in placed if (s.lineno, s.col_offset) < where]
        if not before:
            return None
        reaching_stmt, value = max(before, key=lambda pair: (pair[0].lineno, pair[0].col_offset))
        facts = self.facts
        around: list[ast.stmt] = []  # the use's statement and the statements holding it
        current: ast.AST | None = facts.statement_of(use)
        while isinstance(current, ast.stmt) and current is not scope.node:
            around.append(current)
            current = facts.statement_parent.get(id(current))
        if not any(reaching_stmt in (facts.statement_list(stmt) or ()) for stmt in around):
            return None
        for stmt in around[1:]:
            if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)) and any(
                    (s.lineno, s.col_offset) > where
                    and stmt.lineno <= s.lineno <= (stmt.end_lineno or stmt.lineno)
                    for s, _ in placed):
                return None  # reassigned later in a loop around the use
        return value

    def alternatives(self, use: ast.Name, scope: Scope) -> list[SqlText] | None:
        """Every text a name of ``scope`` may hold at ``use`` when it is assigned in several
        branches: each assignment is a plain value before the use (none later in the function,
        which a loop could bring back), and each resolves. None otherwise."""
        found = self._placed_values(use, scope)
        if found is None or len(found[1]) < 2:
            return None
        where, placed = found
        texts: list[SqlText] = []
        for stmt, value in placed:
            text = self.resolve(value, scope) if (stmt.lineno, stmt.col_offset) < where else None
            if text is None:
                return None
            texts.append(text)
        return texts

    def _class_constant(self, expr: ast.Attribute, scope: Scope) -> ast.expr | None:
        owner = expr.value
        if not isinstance(owner, ast.Name):
            return None
        klass: ast.ClassDef | None = None
        if owner.id in ("self", "cls"):
            klass = self.enclosing_class(scope)
        else:
            for node in self.facts.tree.body:
                if isinstance(node, ast.ClassDef) and node.name == owner.id:
                    klass = node
        if klass is None:
            return None
        values = [stmt.value for stmt in klass.body
                  if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == expr.attr]
        values += [stmt.value for stmt in klass.body
                   if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                   and stmt.target.id == expr.attr and stmt.value is not None]
        if len(values) != 1 or values[0] is None:
            return None
        if owner.id == "self" and _assigned_on_self(klass, expr.attr):
            return None
        return values[0]

    def enclosing_class(self, scope: Scope) -> ast.ClassDef | None:
        current: Scope | None = scope
        while current is not None:
            if isinstance(current.node, ast.ClassDef):
                return current.node
            current = current.parent
        return None


def value_scope(resolver: SqlResolver, name: str, scope: Scope) -> Scope:
    """The scope whose binding of ``name`` is seen from ``scope``."""
    current: Scope | None = scope
    while current is not None:
        if isinstance(current.node, ast.ClassDef) and current is not scope:
            current = current.parent
            continue
        if name in resolver.assignments(current):
            return current
        current = current.parent
    return scope


def _assigned_on_self(klass: ast.ClassDef, attr: str) -> bool:
    for node in walk(klass):
        if isinstance(node, ast.Attribute) and node.attr == attr and isinstance(node.ctx, ast.Store):
            return True
    return False


def _percent_holes(parts: list[str]) -> list[str]:
    import re

    out: list[str] = []
    pattern = re.compile(r"%%|%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdrifuxXeEgGc]")
    for part in parts:
        if part.startswith("\0"):
            out.append(part)
            continue
        last = 0
        for match in pattern.finditer(part):
            out.append(part[last:match.start()])
            out.append("%" if match.group(0) == "%%" else "\0hole")
            last = match.end()
        out.append(part[last:])
    return out


def _format_holes(parts: list[str]) -> list[str]:
    import re

    out: list[str] = []
    pattern = re.compile(r"\{\{|\}\}|\{[^{}]*\}")
    for part in parts:
        if part.startswith("\0"):
            out.append(part)
            continue
        last = 0
        for match in pattern.finditer(part):
            out.append(part[last:match.start()])
            token = match.group(0)
            out.append(token[0] if token in ("{{", "}}") else "\0hole")
            last = match.end()
        out.append(part[last:])
    return out


# --- local object types ---------------------------------------------------------------------


class LocalTypes:
    """Which driver object a name or expression holds, from the driver table."""

    def __init__(self, facts: ModuleFacts, resolver: SqlResolver, drivers: DriverTable,
                 project_value: Callable[[ast.expr, ast.AST], object] | None = None) -> None:
        self.facts = facts
        self.resolver = resolver
        self.drivers = drivers
        # What the project's summaries say an expression holds (the lifecycle analysis's
        # sources): a connection from a project helper (`with open_connection(dsn) as conn:`).
        self.project_value = project_value
        self._with_targets: dict[int, dict[str, list[ast.expr]]] = {}

    def object_of(self, expr: ast.AST, scope: Scope, depth: int = 0) -> ObjectSpec | None:
        if depth > 8:
            return None
        if isinstance(expr, ast.Await):
            expr = expr.value
        if isinstance(expr, ast.Call):
            qualname = self.facts.call_qualname(expr)
            if qualname == "contextlib.closing" and len(expr.args) == 1:
                return self.object_of(expr.args[0], scope, depth + 1)
            factory = self.drivers.factory(qualname)
            if factory is not None:
                return self.drivers.objects.get(factory.returns)
            func = expr.func
            if isinstance(func, ast.Attribute):
                owner = self.object_of(func.value, scope, depth + 1)
                if owner is not None:
                    method = self._method(owner, func.attr, expr)
                    if method is not None:
                        return self.drivers.objects.get(method.returns)
                    return None
            return self._from_project(expr, scope)
        if isinstance(expr, ast.Name):
            annotated = self._annotated(expr.id, scope)
            if annotated is not None:
                return annotated
            values = self._bindings(expr.id, scope)
            if not values:
                return self._from_project(expr, scope) if self.resolver.assignments(scope).get(expr.id) else None
            specs = {id(s): s for s in (self.object_of(v, scope, depth + 1) for v in values)}
            if len(specs) == 1:
                return next(iter(specs.values()))
            return None
        return None

    def _from_project(self, expr: ast.expr, scope: Scope) -> ObjectSpec | None:
        """A driver object the project's summaries say ``expr`` holds: a project helper's
        connection, a parameter every caller passes one."""
        if self.project_value is None:
            return None
        value = self.project_value(expr, scope.node)
        if isinstance(value, ObjectSpec) and not value.project_class:
            return value
        return None

    def _annotated(self, name: str, scope: Scope) -> ObjectSpec | None:
        """The object of a parameter annotated with a driver class (``conn: sqlite3.Connection``)."""
        own = self.resolver.assignments(scope).get(name)
        if not own or len(own) != 1 or not isinstance(own[0], ast.arg):
            return None
        annotation = own[0].annotation
        if annotation is None:
            return None
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        qualname = self.facts.qualname(annotation)
        if qualname is None:
            return None
        return self._by_class().get(qualname)

    def _by_class(self) -> dict[str, ObjectSpec]:
        cached: dict[str, ObjectSpec] | None = getattr(self, "_classes", None)
        if cached is None:
            cached = {}
            ambiguous: set[str] = set()
            for spec in self.drivers.objects.values():
                for qualname in (spec.name, *getattr(spec, "classes", ())):
                    known = cached.setdefault(qualname, spec)
                    # One runtime class for two kinds (psycopg2's cursor, named or not): unknown.
                    if known.buffering is not spec.buffering or known.kind is not spec.kind:
                        ambiguous.add(qualname)
            for qualname in ambiguous:
                del cached[qualname]
            self._classes = cached
        return cached

    def _method(self, owner: ObjectSpec, name: str, call: ast.Call) -> MethodSpec | None:
        method_for = getattr(owner, "method_for", None)
        if method_for is None:  # an older table without keyword-constant matching
            names = frozenset(k.arg for k in call.keywords if k.arg and not _is_none(k.value))
            return owner.method(name, names)
        keywords: dict[str, object] = {}
        for keyword in call.keywords:
            if keyword.arg:
                value = keyword.value
                keywords[keyword.arg] = value.value if isinstance(value, ast.Constant) else ...
        arguments = frozenset(
            q for q in (self.facts.qualname(a) for a in [*call.args, *(k.value for k in call.keywords)])
            if q is not None)
        return method_for(name, keywords, arguments)  # type: ignore[no-any-return]

    def creating_call(self, name: str, scope: Scope) -> ast.Call | None:
        """The call that made the object ``name`` holds, when it is bound exactly once."""
        values = self._bindings(name, scope)
        if len(values) == 1 and isinstance(values[0], ast.Call):
            return values[0]
        return None

    def _bindings(self, name: str, scope: Scope) -> list[ast.expr]:
        own = self.resolver.assignments(scope).get(name)
        withs = self._with_bindings(scope).get(name, [])
        if own is None:
            return []
        values = [v for v in own if isinstance(v, ast.expr) and _is_value(v)]
        stores = [v for v in own if not _is_value(v)]
        # `with X as name` binds through a Store Name: match those to their context expressions.
        if len(stores) != len(withs):
            return []
        return [*values, *withs]

    def _with_bindings(self, scope: Scope) -> dict[str, list[ast.expr]]:
        cached = self._with_targets.get(id(scope.node))
        if cached is not None:
            return cached
        found: dict[str, list[ast.expr]] = {}
        for node in walk_scope(scope.node):
            if isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name):
                        found.setdefault(item.optional_vars.id, []).append(item.context_expr)
        self._with_targets[id(scope.node)] = found
        return found


# The nodes that bind names (what `assignments` looks at; the rest is skipped by type).
_BINDING_KINDS = frozenset({ast.Name, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                            ast.Assign, ast.AnnAssign, ast.Global, ast.Nonlocal, ast.Import,
                            ast.ImportFrom})


def _is_value(node: ast.AST) -> bool:
    """An assigned value (not a binding target such as a loop or `with` name)."""
    return isinstance(node, ast.expr) and not (
        isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)))


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


# --- fetch sites ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Executed:
    """The query a cursor runs: the execute call, and its SQL when resolved."""

    call: ast.Call
    sql: SqlText | None
    bound: Bound | None


@dataclass(frozen=True, eq=False)
class FetchSite:
    """One read of a whole result through the DB-API.

    ``kind``: "fetchall" (``x.fetchall()``), "loop" (``for row in cur``), "fetchmany"
    (a loop calling ``cur.fetchmany()``) or "fetchone" (a loop row by row on ``fetchone()``).
    """

    kind: str
    node: ast.AST  # the call (or the loop's iterable) to report
    stmt: ast.stmt
    scope: Scope
    receiver: ast.expr  # the cursor expression (``cur``, ``conn.execute(sql)``)
    executed: Executed | None
    cursor: ObjectSpec | None
    helper: str | None = None  # set when the read happens inside a project helper

    @property
    def bound(self) -> Bound | None:
        return self.executed.bound if self.executed is not None else None

    @property
    def sql(self) -> SqlText | None:
        return self.executed.sql if self.executed is not None else None


@dataclass(eq=False)
class FetchAnalysis:
    """Fetch facts of one module (built once per module, on first use)."""

    facts: ModuleFacts
    settings: Settings
    drivers: DriverTable
    # ``(table, column)`` keys of the project's models (``model_relations.table_keys``).
    schema_keys: frozenset[tuple[str, str]] = frozenset()
    project_value: Callable[[ast.expr, ast.AST], object] | None = None
    resolver: SqlResolver = field(init=False)
    types: LocalTypes = field(init=False)

    def __post_init__(self) -> None:
        self.resolver = SqlResolver(self.facts)
        self.types = LocalTypes(self.facts, self.resolver, self.drivers, self.project_value)

    def bound_of(self, sql: SqlText | None, dialect: str | None) -> Bound | None:
        if sql is None:
            return None
        return query_bound(sql.text, dialect, self.settings, self.keys_for(sql.text))

    def keys_for(self, sql_text: str) -> tuple[str, ...]:
        """``table.column`` keys for judging ``sql_text``: the module's own ``CREATE TABLE``
        keys, and the model keys of the tables the text names."""
        if not self.schema_keys:
            return self.unique_columns
        lowered = sql_text.lower()
        named = sorted(f"{table}.{column}" for table, column in self.schema_keys
                       if table in lowered)
        return self.unique_columns + tuple(named) if named else self.unique_columns

    @property
    def unique_columns(self) -> tuple[str, ...]:
        """``table.column`` keys declared by the module's own ``CREATE TABLE`` and ``CREATE
        UNIQUE INDEX`` strings."""
        cached: tuple[str, ...] | None = self.__dict__.get("_unique")
        if cached is None:
            found: list[str] = []
            for node in walk(self.facts.tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and ("create table" in node.value.lower()
                             or "create unique index" in node.value.lower()):
                    found.extend(unique_columns(node.value))
            cached = tuple(dict.fromkeys(found))
            self.__dict__["_unique"] = cached
        return cached

    def executed_by(self, receiver: ast.expr, scope: Scope, before: ast.AST,
                    cursor: ObjectSpec | None) -> Executed | None:
        """The execute that ``receiver`` ran last before ``before`` (only a dominating one)."""
        if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute) \
                and receiver.func.attr in _EXECUTE_METHODS and receiver.args:
            return self._executed(receiver, scope, cursor)
        key = chain_text(receiver)
        if key is None:
            return None
        best: ast.Call | None = None
        best_stmt: ast.stmt | None = None
        for site in self.facts.calls:
            call = site.node
            if site.scope is not scope or not isinstance(call.func, ast.Attribute):
                continue
            if call.func.attr not in _EXECUTE_METHODS or not call.args:
                continue
            if chain_text(call.func.value) != key:
                continue
            if (call.lineno, call.col_offset) >= (before.lineno, before.col_offset):  # type: ignore[attr-defined]
                continue
            if best is None or (call.lineno, call.col_offset) > (best.lineno, best.col_offset):
                best, best_stmt = call, site.stmt
        if best is None and isinstance(receiver, ast.Name):
            return self._executed_at_binding(receiver, scope, before, cursor)
        if best is None or best_stmt is None:
            return None
        before_stmt = before if isinstance(before, ast.stmt) else None
        if before_stmt is None or not self._dominates(best_stmt, before_stmt):
            return None
        return self._executed(best, scope, cursor)

    def _last_dominating(self, values: list[ast.AST], before: ast.AST) -> ast.AST | None:
        """The value of the last ``name = value`` before ``before`` when its statement runs
        on every path to ``before`` (no other binding can come between)."""
        if not isinstance(before, ast.stmt):
            return None
        loops = [n for n in self._enclosing(before) if isinstance(n, (ast.For, ast.AsyncFor, ast.While))]
        placed = []
        for value in values:
            statement = self.facts.statement_of(value) if isinstance(value, ast.expr) else None
            if statement is None:
                return None
            if (statement.lineno, statement.col_offset) >= (before.lineno, before.col_offset):
                if any(self.facts.within(statement, loop) for loop in loops):
                    return None  # a later turn of the loop around the read binds it again
                continue
            placed.append((statement.lineno, statement.col_offset, statement, value))
        if not placed:
            return None
        _line, _col, statement, value = max(placed, key=lambda p: (p[0], p[1]))
        return value if self._dominates(statement, before) else None

    def _enclosing(self, node: ast.AST) -> Iterator[ast.AST]:
        current = self.facts.parent.get(id(node))
        while current is not None:
            yield current
            current = self.facts.parent.get(id(current))

    def _executed_at_binding(self, receiver: ast.Name, scope: Scope, before: ast.AST,
                             cursor: ObjectSpec | None) -> Executed | None:
        """``cur = conn.execute(sql)`` (the cursor that sqlite3/DuckDB connections return),
        bound once in this scope by a statement that runs on every path to ``before``."""
        bindings = self.resolver.assignments(scope).get(receiver.id, [])
        if len(bindings) != 1:
            # `result = None`, ..., `result = await db.execute(q)`: the last binding before
            # the read, when it runs on every path to it
            last = self._last_dominating(bindings, before)
            if last is None:
                return None
            bindings = [last]
        bound = bindings[0]
        value = bound.value if isinstance(bound, ast.Await) else bound  # `res = await db.execute(q)`
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                and value.func.attr in _EXECUTE_METHODS and value.args):
            return None
        statement: ast.AST | None = value
        while statement is not None and not isinstance(statement, ast.stmt):
            statement = self.facts.parent.get(id(statement))
        if not isinstance(statement, ast.Assign) or statement.value is not bound \
                or not isinstance(before, ast.stmt) or not self._dominates(statement, before):
            return None
        return self._executed(value, scope, cursor)

    def _executed(self, call: ast.Call, scope: Scope, cursor: ObjectSpec | None) -> Executed:
        sql = self.resolver.resolve(call.args[0], scope)
        if sql is None and isinstance(call.args[0], ast.Name):
            # `sql = A` or `sql = B` by branch: unbounded when every text it may hold is
            alternatives = self.resolver.alternatives(call.args[0], scope)
            bounds = [self.bound_of(text, dialect_of(cursor)) for text in alternatives or ()]
            if bounds and all(b is not None and b.verdict == "unbounded" for b in bounds):
                assert alternatives is not None
                return Executed(call, alternatives[0], bounds[0])
        return Executed(call, sql, self.bound_of(sql, dialect_of(cursor)))

    def _dominates(self, first: ast.stmt, later: ast.stmt) -> bool:
        """``first`` runs on every path to ``later``: its block holds ``later`` (or an ancestor)."""
        block = self.facts.parent_statement(first)
        node: ast.AST | None = later
        while node is not None:
            parent = self.facts.parent_statement(node)
            if parent is block:
                return _same_branch(block, first, node)
            node = parent
        return False

    def cursor_of(self, receiver: ast.expr, scope: Scope) -> ObjectSpec | None:
        if isinstance(receiver, ast.Call):
            return self.types.object_of(receiver, scope)
        if isinstance(receiver, ast.Name):
            return self.types.object_of(receiver, scope)
        return None


def _same_branch(block: ast.AST | None, first: ast.stmt, later: ast.AST) -> bool:
    """Both statements sit in the same statement list of ``block`` (not if/else siblings)."""
    stmts = statement_block(block, first)
    return stmts is not None and any(s is later for s in stmts)



def is_test_module(path: str, root: str | None = None) -> bool:
    """``test_*.py``, ``*_test.py``, ``conftest.py``, and any module inside a ``tests``/
    ``test``/``testing``/``test_utils`` folder below ``root`` (test helpers and mixins): code
    that reads small fixture tables. Folders above ``root`` do not count (a project checked
    out under ``~/test/`` is no test)."""
    normal = path.replace("\\", "/")
    name = normal.rsplit("/", 1)[-1]
    if name.startswith("test_") or name.endswith("_test.py") or name in (
            "conftest.py", "tests.py"):
        return True
    if root is not None and normal not in ("-", "<stdin>"):
        relative = os.path.relpath(os.path.abspath(normal), os.path.abspath(root)) \
            .replace("\\", "/")
        if relative.startswith("../"):
            return False
        normal = relative
    folders = normal.split("/")[:-1]
    return any(folder in _TEST_FOLDERS for folder in folders)


_TEST_FOLDERS = frozenset({"tests", "test", "testing", "test_utils"})


def is_test_scope(scope: Scope | None) -> bool:
    """Inside a test: a function named ``test*`` or a class named ``Test*`` (unittest and
    pytest conventions), wherever the module is (``tests/smoke.py``). Asked by every rule of
    the family for every scope: kept on the scope once known."""
    if scope is None:
        return False
    known = scope.in_test
    if known is None:
        node = scope.node
        known = scope.in_test = (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and bool(_TEST_FUNCTION.match(node.name))
            or isinstance(node, ast.ClassDef) and bool(_TEST_CLASS.search(node.name))
            or is_test_scope(scope.parent))
    return known


# `test`, `test_rows`, `testRows` (not `testimonials`); `TestRows`, `Test_rows`, `RowsTest(s)`.
_TEST_FUNCTION = re.compile(r"test(?:$|_|[A-Z0-9])")
_TEST_CLASS = re.compile(r"^Test(?:$|_|[A-Z0-9])|Tests?$|TestCase$")


def fetch_analysis(ctx: object) -> FetchAnalysis:
    """The module's :class:`FetchAnalysis`, shared by every DBL2xx rule of one check."""
    cache: dict[str, object] = ctx.__dict__  # CheckContext keeps per-module facts there
    found = cache.get("_dbleak_fetch")
    if not isinstance(found, FetchAnalysis):
        from dbleak.analysis.model_relations import table_keys
        from dbleak.analysis.sources import object_sources

        def project_value(expr: ast.expr, scope: ast.AST) -> object:
            sources = object_sources(ctx)  # type: ignore[arg-type]
            return sources.expr_value(expr, scope, sources.class_of.get(id(scope)))

        found = FetchAnalysis(ctx.facts, ctx.settings, ctx.drivers,  # type: ignore[attr-defined]
                              table_keys(ctx.facts, ctx.project),  # type: ignore[attr-defined]
                              project_value)
        cache["_dbleak_fetch"] = found
    return found


def dbapi_fetch_sites(analysis: FetchAnalysis) -> Iterator[FetchSite]:
    """Every ``x.fetchall()`` (DB-API shaped: the receiver ran ``execute``) of the module."""
    for site in analysis.facts.calls:
        call = site.node
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr != "fetchall" or call.args \
                or call.keywords or site.stmt is None:
            continue
        receiver = func.value
        cursor = analysis.cursor_of(receiver, site.scope)
        executed = analysis.executed_by(receiver, site.scope, site.stmt, cursor)
        if executed is None and cursor is None:
            continue
        yield FetchSite("fetchall", call, site.stmt, site.scope, receiver, executed, cursor)


def executed_all_sites(analysis: FetchAnalysis) -> Iterator[FetchSite]:
    """Every ``result.all()`` (also ``result.mappings().all()``) of a result whose statement is
    SQL text the module resolves: ``result = await db.execute("SELECT * FROM t")``, a
    SQLAlchemy ``Result`` read whole like ``fetchall()`` (kind "all")."""
    for site in analysis.facts.calls:
        call = site.node
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr != "all" or call.args \
                or call.keywords or site.stmt is None:
            continue
        base = func.value
        while isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) \
                and base.func.attr in RESULT_RESHAPES:
            base = base.func.value
        if isinstance(base, ast.Await):
            base = base.value
        if not (isinstance(base, ast.Name) or isinstance(base, ast.Call)
                and isinstance(base.func, ast.Attribute) and base.func.attr in _EXECUTE_METHODS):
            continue
        executed = analysis.executed_by(base, site.scope, site.stmt, None)
        if executed is None or executed.sql is None:
            continue  # an ORM statement (`select(M)`), a queryset: not SQL text
        yield FetchSite("all", call, site.stmt, site.scope, func.value, executed,
                        analysis.cursor_of(base, site.scope))


def cursor_loops(analysis: FetchAnalysis) -> Iterator[FetchSite]:
    """``for row in cur:`` and ``while rows := cur.fetchmany(n)`` / ``fetchmany`` loops."""
    facts = analysis.facts
    for scope in facts.scopes:
        for node in walk_scope(scope.node):
            if isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.iter, ast.Name):
                loop_receiver: ast.expr = node.iter
                cursor = analysis.cursor_of(loop_receiver, scope)
                if cursor is None or cursor.kind.value != "cursor":
                    continue
                executed = analysis.executed_by(loop_receiver, scope, node, cursor)
                yield FetchSite("loop", node.iter, node, scope, loop_receiver, executed, cursor)
            elif isinstance(node, ast.While):
                call = _fetchmany_call(node) or _fetchone_call(node)
                if call is None or not isinstance(call.func, ast.Attribute):
                    continue
                receiver = call.func.value
                cursor = analysis.cursor_of(receiver, scope)
                if cursor is None:
                    continue
                executed = analysis.executed_by(receiver, scope, node, cursor)
                yield FetchSite(call.func.attr, call, node, scope, receiver, executed, cursor)


def _fetchmany_call(loop: ast.While) -> ast.Call | None:
    candidates = [loop.test, *loop.body[:2]]
    for candidate in candidates:
        for sub in walk(candidate):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) \
                    and sub.func.attr == "fetchmany":
                return sub
    return None


def _fetchone_call(loop: ast.While) -> ast.Call | None:
    """The ``fetchone()`` that drives a row-at-a-time loop: ``while (row := cur.fetchone())``,
    or ``row = cur.fetchone()`` as the body's last statement with ``row`` in the test."""
    for sub in walk(loop.test):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) \
                and sub.func.attr == "fetchone":
            return sub
    last = loop.body[-1] if loop.body else None
    if isinstance(last, ast.Assign) and len(last.targets) == 1 \
            and isinstance(last.targets[0], ast.Name) and isinstance(last.value, ast.Call) \
            and isinstance(last.value.func, ast.Attribute) and last.value.func.attr == "fetchone" \
            and any(isinstance(n, ast.Name) and n.id == last.targets[0].id for n in walk(loop.test)):
        return last.value
    return None


def is_client_buffered(cursor: ObjectSpec | None) -> bool:
    return cursor is not None and cursor.buffering is Buffering.CLIENT
