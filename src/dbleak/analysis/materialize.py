"""Materialization sites: lazy rows turned into a list that is then walked only once.

A *site* is ``list(x)``, ``tuple(x)``, ``[y for y in x]``, ``[*x]``, ``[y async for y in x]``
over a lazy source (a generator, a cursor, a query result), or a ``fetchall()`` / ``.all()``
that builds the list of every row. The site records the source, and the one way the list is
used afterwards: walked by a loop or a comprehension, passed to a consumer of iterables, measured
with ``len()``, or indexed with ``[0]``. Any other use (used twice, returned, stored, mutated,
passed to unknown code, outliving the block of the resource) keeps the list: no site.

Rules DBL301–DBL305 are thin filters over these sites. The rewrites they offer are built in
:mod:`dbleak.analysis.materialize_fix` (text replacements over the ranges the sites record), and
the SQL a site reads and whether it is bounded by nature in
:mod:`dbleak.analysis.materialize_sql`.
"""

from __future__ import annotations

import ast
import enum
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dbleak.analysis.fetch_orm import RESULT_RESHAPES, strip_refinements
from dbleak.analysis.fetch_summary import callee_qualname
from dbleak.analysis.generator_summary import (
    CALLS_KEY,
    GENERATOR_KEY,
    READING_METHODS,
    READS_DB_KEY,
    body_reads,
    generator_kind,
    local_generator_def,
    local_generators,
    project_generator,
    summarize_generators,
)
from dbleak.analysis.module import (
    SCOPE_NODES,
    ModuleFacts,
    Scope,
    iter_children,
    statement_block,
    walk,
    walk_same_scope,
    walk_scope,
)
from dbleak.analysis.names import receiver_root
from dbleak.analysis.project import ProjectIndex
from dbleak.analysis.rows_summary import returns_query
from dbleak.analysis.sources import ObjectSources, flask_models, object_sources
from dbleak.analysis.usage import UseKind as NameUseKind
from dbleak.analysis.usage import name_uses
from dbleak.knowledge.drivers import DriverTable, Kind, ObjectSpec

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


class SourceKind(str, enum.Enum):
    GENERATOR = "generator"  # a generator call, a generator expression, a lazy iterator (DBL301)
    CURSOR = "cursor"  # a cursor, a query result, a streaming query (DBL302)
    FETCHED = "fetched"  # the list `fetchall()` / `.all()` builds from a cursor or result (DBL305)


class ListUseKind(str, enum.Enum):
    LOOP = "loop"  # walked once by a `for` statement
    COMPREHENSION = "comprehension"  # walked once by a comprehension's first `for`
    CONSUMER = "consumer"  # passed once to a function that only iterates it
    LENGTH = "length"  # only measured with len()
    FIRST = "first"  # only indexed with [0]


@dataclass(frozen=True)
class LazySource:
    kind: SourceKind
    node: ast.expr  # the lazy expression (for FETCHED: the receiver of fetchall()/all())
    what: str  # how messages name it: "the generator `rows()`", "a sqlite3 cursor"
    is_async: bool = False
    driver_object: ObjectSpec | None = None
    # The rows come out of direct iteration exactly as from the materialized list.
    iterable: bool = True
    # A SQLAlchemy legacy `Query` (has `.count()` and `.first()`), or a `Result` (`.first()`).
    orm_query: bool = False
    orm_result: bool = False
    fetch_method: str | None = None  # "fetchall" or "all" for FETCHED
    # For a GENERATOR: whether it yields database rows (reads a database itself, or walks
    # something that does); the family is about memory held from query results.
    rows: bool = True


@dataclass(frozen=True)
class ListUse:
    kind: ListUseKind
    node: ast.expr  # what holds the list at the use: the site itself or the name it was bound to
    holder: ast.AST  # the For statement, comprehension, consumer call, len() call or subscript
    stmt: ast.stmt  # the statement of the use
    consumer: str | None = None  # "sum", "writerows", …
    assignment: ast.Assign | ast.AnnAssign | None = None  # `rows = list(g)`, when named first
    gap_runs_code: bool = False  # calls (or compound statements) run between the list and the use
    early_exit: bool = False  # the loop may stop before the last row (break, return, yield)
    body_calls_unknown: bool = False  # the loop body calls code that might reach the database
    through: ast.Call | None = None  # enumerate()/zip()/… the list went through on its way
    # The name is bound in each branch of an `if` (one list per branch): no local rewrite of
    # one branch's list keeps the other branches' meaning.
    alternatives: bool = False


@dataclass(frozen=True)
class MaterializationSite:
    node: ast.expr  # list(g) / tuple(g) / [...] / [*g] / cur.fetchall() / await cur.fetchall()
    form: str  # "list", "tuple", "comprehension", "unpack", "fetchall", "all"
    source: LazySource
    stmt: ast.stmt
    scope: ast.AST
    use: ListUse
    identity: bool = True  # the list holds the source's items unchanged
    comprehension: ast.ListComp | None = None


# --- vocabulary ------------------------------------------------------------------------------

# Calls that return a lazy iterator over their arguments.
LAZY_BUILTINS = frozenset({"map", "filter", "zip", "enumerate", "reversed"})
LAZY_ITERTOOLS = frozenset({
    "itertools.chain", "itertools.chain.from_iterable", "itertools.islice", "itertools.starmap",
    "itertools.filterfalse", "itertools.takewhile", "itertools.dropwhile",
    "itertools.zip_longest", "itertools.accumulate", "itertools.compress",
    "itertools.pairwise", "itertools.batched",
})
# Wrappers that walk their iterable argument once when they are walked once themselves.
PASS_THROUGH = frozenset({"enumerate", "zip", "map", "filter"})
PASS_THROUGH_QUALNAMES = frozenset({"itertools.islice", "itertools.chain", "itertools.starmap"})
# Builtins that take one iterable, walk it once and keep nothing of it. `sorted` is not one:
# it builds its own list, so the materialization is not the waste there.
CONSUMER_BUILTINS = frozenset({"sum", "min", "max", "any", "all", "set", "frozenset", "dict",
                               "tuple", "list"})
SHORT_CIRCUIT = frozenset({"any", "all"})
CONSUMER_QUALNAMES = {
    "collections.Counter": 0,
    "pandas.DataFrame.from_records": 0,
}
# Methods that walk one argument: name -> its position.
CONSUMER_METHODS = {"writerows": 0, "executemany": 1, "from_records": 0}
NOT_LAZY_CALLS = frozenset({"range", "sorted", "list", "tuple", "dict", "set", "frozenset", "len"})
# Methods whose call in a loop body means the body works with the database.
DB_WORK_METHODS = frozenset({
    "execute", "executemany", "executescript", "commit", "rollback", "close", "cursor",
    "fetchone", "fetchmany", "fetchall", "flush", "begin", "scalars", "scalar", "query",
    "save", "delete", "merge", "refresh", "bulk_save_objects", "add_all", "expunge",
    "callproc", "nextset", "scroll", "copy_expert", "copy_from", "copy_to",
})
# Calls that cannot reach a database: a loop body calling only these keeps a safe fix.
HARMLESS_BUILTINS = frozenset({
    "print", "len", "str", "int", "float", "bool", "repr", "format", "round", "abs", "min", "max",
    "sum", "sorted", "list", "tuple", "dict", "set", "frozenset", "isinstance", "enumerate",
    "zip", "range", "bytes", "hash", "ord", "chr", "divmod", "any", "all", "type", "iter",
})
HARMLESS_METHODS = frozenset({
    "append", "extend", "add", "update", "write", "writerow", "get", "format", "join", "strip",
    "lstrip", "rstrip", "lower", "upper", "split", "items", "keys", "values", "setdefault",
    "startswith", "endswith", "replace", "encode", "decode", "isoformat", "title", "count",
    "index", "copy", "insert", "discard",
})
_DBISH_NAME = re.compile(r"(?:^|_)(?:conn|connection|con|cur|cursor|db|database|session|engine|"
                         r"sess|dbconn|dbh)$", re.IGNORECASE)
SQL_START = re.compile(r"^\s*(?:\(\s*)*(SELECT|WITH|PRAGMA|VALUES|SHOW|EXPLAIN|TABLE)\b",
                        re.IGNORECASE)
# Drivers whose cursor iteration yields exactly what fetchall() returns.
ITERABLE_CURSOR_DRIVERS = frozenset({"sqlite3", "psycopg2", "psycopg", "pymysql",
                                     "mysql.connector", "MySQLdb", "pyodbc", "oracledb",
                                     "pymssql"})


# --- the analysis ----------------------------------------------------------------------------

_CANDIDATE_KINDS = frozenset({ast.Call, ast.ListComp, ast.List})


class SiteModule:
    """What the site search needs about one module: parents, scopes, bindings."""

    def __init__(self, tree: ast.Module, facts: ModuleFacts, drivers: DriverTable,
                 project: ProjectIndex, sources: ObjectSources | None = None,
                 text: str = "") -> None:
        self.tree = tree
        # Types what no local binding says: annotated parameters, parameters typed by their
        # call sites, attributes of `self` (the lifecycle rules' object sources).
        self.sources = sources
        self.facts = facts
        self.drivers = drivers
        self.project = project
        # The parents and nodes recorded by the facts traversal (no walk of our own).
        self.parents: dict[int, ast.AST] = facts.parent
        kinds = _CANDIDATE_KINDS
        self.candidates: list[ast.AST] = [
            node for nodes in facts.scope_nodes.values() for node in nodes if type(node) in kinds]
        self._bindings: dict[int, dict[str, list[ast.AST]]] = {}
        module_bound = set(facts.resolver.bindings)
        for node in walk_scope(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                module_bound.add(node.id)
        self.shadowed_builtins = module_bound
        self._generator_rows: dict[str, bool] = {}
        self._own_generators: Mapping[str, Mapping[str, Any]] | None = None
        self._call_scopes: dict[int, Scope] | None = None
        self._flask: Callable[[ast.Name], bool] | None = None
        self.text = text

    def flask(self, name: ast.Name) -> bool:
        """Whether ``name`` is a Flask-SQLAlchemy model class (see :func:`flask_models`)."""
        if self._flask is None:
            self._flask = (flask_models(self.text, self.facts, self.sources)
                           if self.sources is not None else lambda _name: False)
        return self._flask(name)

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self.parents.get(id(node))

    def statement_of(self, node: ast.AST) -> ast.stmt | None:
        return self.facts.statement_of(node)

    def scope_of(self, node: ast.AST) -> ast.AST:
        current = self.parent(node)
        while current is not None:
            if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return current
            if isinstance(current, ast.ClassDef):
                return current
            current = self.parent(current)
        return self.tree

    def scope_chain(self, node: ast.AST) -> list[ast.AST]:
        chain = []
        scope = self.scope_of(node)
        while True:
            if not isinstance(scope, ast.ClassDef):
                chain.append(scope)
            if scope is self.tree:
                break
            scope = self.scope_of(scope)
        return chain

    def bindings(self, scope: ast.AST) -> dict[str, list[ast.AST]]:
        """name -> the nodes that bind it in ``scope`` (Assign, withitem, for, args, defs...)."""
        cached = self._bindings.get(id(scope))
        if cached is not None:
            return cached
        found: dict[str, list[ast.AST]] = {}
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = scope.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None:
                    found.setdefault(arg.arg, []).append(arg)
        for node in walk_scope(scope):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                found.setdefault(node.id, []).append(self.parent(node) or node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.alias):
                found.setdefault((node.asname or node.name).split(".")[0], []).append(node)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                for name in node.names:
                    found.setdefault(name, []).append(node)
        self._bindings[id(scope)] = found
        return found

    def bound_value(self, name: ast.Name) -> tuple[str, ast.AST] | None:
        """How a name read is bound, when it has one binding in its scope:
        ("assign", value) or ("with", context expression)."""
        scope = self.scope_of(name)
        binders = self.bindings(scope).get(name.id)
        if binders is None:
            if scope is not self.tree and name.id not in self.bindings(scope):
                # A free name: the module-level binding, if any.
                binders = self.bindings(self.tree).get(name.id)
            if binders is None:
                return None
        if len(binders) != 1:
            return None
        binder = binders[0]
        if isinstance(binder, ast.Assign) and len(binder.targets) == 1 and isinstance(
                binder.targets[0], ast.Name):
            return ("assign", binder.value)
        if isinstance(binder, ast.AnnAssign) and binder.value is not None:
            return ("assign", binder.value)
        if isinstance(binder, ast.withitem) and isinstance(binder.optional_vars, ast.Name):
            return ("with", binder.context_expr)
        return None

    def is_builtin(self, func: ast.expr, names: frozenset[str] | set[str]) -> str | None:
        if isinstance(func, ast.Name) and func.id in names and func.id not in self.shadowed_builtins:
            for scope in self.scope_chain(func):
                if scope is not self.tree and func.id in self.bindings(scope):
                    return None
            return func.id
        return None

    # --- typing objects through the driver table --------------------------------------------

    def object_of(self, node: ast.AST, depth: int = 0) -> ObjectSpec | None:
        if depth > 6:
            return None
        if isinstance(node, ast.Call):
            qualname = self.facts.call_qualname(node)
            if qualname in self.drivers.owners and node.args:
                return self.object_of(node.args[0], depth + 1)  # closing(x) is x
            factory = self.drivers.factory(qualname)
            if factory is not None:
                if factory.awaited:
                    return None
                return self.drivers.objects.get(factory.returns)
            if isinstance(node.func, ast.Attribute):
                owner = self.object_of(node.func.value, depth + 1)
                if owner is not None:
                    keywords = frozenset(k.arg for k in node.keywords if k.arg is not None
                                         and not _is_none(k.value))
                    method = owner.method(node.func.attr, keywords)
                    if method is not None and not method.awaited:
                        return self.drivers.objects.get(method.returns)
            return None
        if isinstance(node, ast.Name):
            bound = self.bound_value(node)
            if bound is None:
                return self._typed_name(node)
            return self.object_of(bound[1], depth + 1)
        return None

    def _typed_name(self, node: ast.Name) -> ObjectSpec | None:
        """A driver object a parameter holds (by its annotation or its call sites)."""
        scope = self.scope_of(node)
        if self.sources is None or not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        binders = self.bindings(scope).get(node.id, [])
        if len(binders) != 1 or not isinstance(binders[0], ast.arg) \
                or binders[0] in (scope.args.vararg, scope.args.kwarg):
            return None  # not a parameter, or one rebound in the function
        value = self.sources.expr_value(node, scope, self.sources.class_of.get(id(scope)))
        return value if isinstance(value, ObjectSpec) and not value.project_class else None

    # --- lazy sources -------------------------------------------------------------------------

    def lazy_source(self, node: ast.expr, depth: int = 0) -> LazySource | None:
        """What lazy thing ``node`` is, or None when it is not known to be lazy."""
        if depth > 4:
            return None
        if isinstance(node, ast.GeneratorExp):
            is_async = any(gen.is_async for gen in node.generators)
            rows = any(self.iterates_rows(gen.iter, depth + 1) for gen in node.generators)
            return LazySource(SourceKind.GENERATOR, node, "a generator expression", is_async,
                              rows=rows)
        if isinstance(node, ast.Name):
            bound = self.bound_value(node)
            if bound is None:
                return None
            how, value = bound
            if how == "with":
                spec = self.object_of(value)
                return self._cursor_source(node, spec)
            inner = self.lazy_source(value, depth + 1) if isinstance(value, ast.expr) else None
            if inner is None or inner.kind is SourceKind.FETCHED:
                return None
            if inner.kind is SourceKind.GENERATOR and not isinstance(value, ast.Call) and not \
                    isinstance(value, ast.GeneratorExp):
                return None
            return LazySource(inner.kind, node, inner.what, inner.is_async, inner.driver_object,
                              inner.iterable, inner.orm_query, inner.orm_result, rows=inner.rows)
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        if self.is_builtin(func, NOT_LAZY_CALLS):
            return None
        spec = self.object_of(node)
        if spec is not None:
            return self._cursor_source(node, spec)
        qualname = self.facts.call_qualname(node)
        generator = project_generator(self.project, qualname)
        rows = generator is not None and self.generator_rows(qualname, depth + 1)
        if generator is None and isinstance(func, ast.Name):
            generator = local_generators(self.scope_chain(node), func.id)
            if generator is not None:
                found = local_generator_def(self.scope_chain(node), func.id)
                rows = found is not None and self.def_rows(found, depth + 1)
        if generator is None and isinstance(func, ast.Attribute) and isinstance(
                func.value, ast.Name) and func.value.id in ("self", "cls"):
            generator = self._method_generator(node, func.attr)
            if generator is not None:
                method = self._method_def(node, func.attr)
                rows = method is not None and self.def_rows(method, depth + 1)
        if generator is not None:
            name = ast.unparse(func)
            return LazySource(SourceKind.GENERATOR, node, f"the generator `{name}()`",
                              generator == "async", rows=rows)
        builtin = self.is_builtin(func, LAZY_BUILTINS)
        if builtin is not None or qualname in LAZY_ITERTOOLS:
            # `map()`, `zip()`, `chain()`… are as lazy as what they walk: over lists they
            # stream nothing worth keeping out of memory.
            name = builtin or (qualname or "").rsplit(".", 1)[-1]
            iterables = node.args[1:] if name in ("map", "filter", "starmap") else node.args
            for argument in iterables:
                if isinstance(argument, ast.Starred):
                    continue
                inner = self.lazy_source(argument, depth + 1)
                if inner is not None and inner.kind is not SourceKind.FETCHED:
                    return LazySource(inner.kind, node,
                                      f"`{name}()` over {inner.what}", inner.is_async,
                                      inner.driver_object, inner.iterable, inner.orm_query,
                                      inner.orm_result)
            return None
        if qualname is not None and qualname.startswith("pandas.read_sql") and any(
                k.arg == "chunksize" and not _is_none(k.value) for k in node.keywords):
            return LazySource(SourceKind.CURSOR, node, "a `read_sql(..., chunksize=...)` iterator")
        if isinstance(func, ast.Attribute):
            return self._method_source(node, func)
        return None

    def _cursor_source(self, node: ast.expr, spec: ObjectSpec | None) -> LazySource | None:
        if spec is None or spec.kind not in (Kind.CURSOR, Kind.RESULT):
            return None
        iterable = spec.driver in ITERABLE_CURSOR_DRIVERS
        return LazySource(SourceKind.CURSOR, node, f"a `{spec.name}`",
                          driver_object=spec, iterable=iterable)

    def _method_def(self, call: ast.Call, method: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        current = self.parent(call)
        while current is not None and not isinstance(current, ast.ClassDef):
            current = self.parent(current)
        if current is None:
            return None
        defs = [item for item in current.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == method]
        return defs[0] if len(defs) == 1 else None

    def _method_generator(self, call: ast.Call, method: str) -> str | None:
        found = self._method_def(call, method)
        if found is None:
            return None
        if any(isinstance(d, ast.Name) and d.id in ("property", "contextmanager")
               for d in found.decorator_list):
            return None
        return generator_kind(found)

    # -- whether a generator yields database rows

    def iterates_rows(self, node: ast.expr, depth: int) -> bool:
        """Whether walking ``node`` reads a database: a cursor, a result, fetched rows, a query,
        or a generator that yields rows."""
        if depth > 6:
            return False
        source = self.lazy_source(node, depth)
        if source is not None:
            return source.kind is not SourceKind.GENERATOR or source.rows
        if isinstance(node, ast.Name):
            bound = self.bound_value(node)
            return bound is not None and isinstance(bound[1], ast.expr) \
                and self.iterates_rows(bound[1], depth + 1)
        if isinstance(node, ast.Call):
            if self.object_of(node) is not None:
                return True
            func = node.func
            if isinstance(func, ast.Attribute) and (func.attr in READING_METHODS or _queryset_chain(node)):
                return True
        return isinstance(node, ast.Attribute) and _queryset_chain(node)

    def generator_rows(self, qualname: str | None, depth: int) -> bool:
        """Whether the generator function ``qualname`` (the module's or the project's) yields
        rows: it reads a database, or calls a generator that does."""
        if qualname is None or depth > 6:
            return False
        if qualname in self._generator_rows:
            return self._generator_rows[qualname]
        self._generator_rows[qualname] = False  # a cycle yields nothing
        summary = self._generator_summaries().get(qualname)
        if summary is None:
            found = self.project.get(qualname)
            summary = found.facts if found is not None else None
        rows = False
        if summary is not None and summary.get(GENERATOR_KEY):
            rows = bool(summary.get(READS_DB_KEY)) or any(
                self.generator_rows(str(callee), depth + 1) for callee in summary.get(CALLS_KEY, ()))
        self._generator_rows[qualname] = rows
        return rows

    def def_rows(self, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int) -> bool:
        """:meth:`generator_rows` for a function of this module found by its node."""
        reads, calls = body_reads(self.facts, function)
        return reads or any(self.generator_rows(callee, depth + 1) for callee in calls)

    def _generator_summaries(self) -> Mapping[str, Mapping[str, Any]]:
        if self._own_generators is None:
            self._own_generators = summarize_generators(self.facts)
        return self._own_generators

    def _queryset_value(self, node: ast.expr) -> bool:
        """A queryset chain, or a name bound once to one (``variants = M.objects.filter(...)``,
        then ``variants.iterator()``)."""
        if isinstance(node, ast.Name):
            bound = self.bound_value(node)
            return bound is not None and bound[0] == "assign" \
                and isinstance(bound[1], ast.expr) and _queryset_chain(bound[1])
        return _queryset_chain(node)

    def _method_source(self, call: ast.Call, func: ast.Attribute) -> LazySource | None:
        method = func.attr
        receiver = func.value
        if method == "yield_per":
            return LazySource(SourceKind.CURSOR, call, "a `yield_per()` query", orm_query=True)
        if method == "iterator" and not call.args and self._queryset_value(receiver):
            return LazySource(SourceKind.CURSOR, call, "a Django `.iterator()`")
        if method in ("scalars", "mappings") and _sqlalchemy_chain(receiver) or (
                method == "scalars" and call.args):
            return LazySource(SourceKind.CURSOR, call, "a SQLAlchemy result", orm_result=True)
        if method == "execute" and call.args and self._looks_like_query(call):
            return LazySource(SourceKind.CURSOR, call, "a query result", orm_result=True)
        return None

    def _looks_like_query(self, call: ast.Call) -> bool:
        assert isinstance(call.func, ast.Attribute)
        owner = self.object_of(call.func.value)
        if owner is not None:
            return owner.kind in (Kind.CONNECTION, Kind.CURSOR, Kind.SESSION, Kind.ENGINE)
        if self.sql_text(call.args[0]) is not None:
            return True
        first = call.args[0]
        if isinstance(first, ast.Call):
            name = first.func.attr if isinstance(first.func, ast.Attribute) else getattr(
                first.func, "id", "")
            if name in ("text", "select"):
                return True
        return _dbish(call.func.value)

    def sql_text(self, node: ast.AST, depth: int = 0) -> str | None:
        """The SQL text of a query argument, when it is a literal (or a constant) SELECT."""
        text = self.constant_text(node, depth)
        if text is not None and SQL_START.match(text):
            return text
        return None

    def constant_text(self, node: ast.AST, depth: int = 0) -> str | None:
        if depth > 4:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self.constant_text(node.left, depth + 1)
            right = self.constant_text(node.right, depth + 1)
            if left is not None and right is not None:
                return left + right
            return None
        if isinstance(node, ast.Name):
            bound = self.bound_value(node)
            if bound is not None and bound[0] == "assign":
                return self.constant_text(bound[1], depth + 1)
        return None

    # --- the fetched list (fetchall(), .all()) ------------------------------------------------

    def fetched_source(self, call: ast.Call) -> LazySource | None:
        func = call.func
        if not isinstance(func, ast.Attribute) or call.args or call.keywords:
            return None
        receiver = func.value
        if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
            return None
        if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name) and (
                receiver.func.id == "super"):
            return None  # a cursor class's own fetchall() builds on its parent's list
        if func.attr == "fetchall":
            spec = self.object_of(receiver)
            if spec is not None and spec.kind not in (Kind.CURSOR, Kind.RESULT):
                # duckdb: the connection itself fetches; iterating it is not supported.
                return LazySource(SourceKind.FETCHED, receiver, "a cursor", driver_object=spec,
                                  iterable=False, fetch_method="fetchall")
            if spec is not None:
                iterable = spec.driver in ITERABLE_CURSOR_DRIVERS
                return LazySource(SourceKind.FETCHED, receiver, f"a `{spec.name}`",
                                  driver_object=spec, iterable=iterable, fetch_method="fetchall")
            return LazySource(SourceKind.FETCHED, receiver, "a cursor", iterable=False,
                              fetch_method="fetchall")
        if func.attr == "all":
            kind = self._orm_kind(receiver)
            if kind is None:
                return None
            return LazySource(SourceKind.FETCHED, receiver,
                              "a SQLAlchemy query" if kind == "query" else "a SQLAlchemy result",
                              iterable=False, orm_query=kind == "query",
                              orm_result=kind == "result", fetch_method="all")
        return None

    def _helper_query(self, call: ast.Call) -> bool:
        """``call`` calls a project function whose every return is a legacy query."""
        if self._call_scopes is None:
            self._call_scopes = {id(site.node): site.scope for site in self.facts.calls}
        scope = self._call_scopes.get(id(call))
        if scope is None:
            return False
        return returns_query(self.project, callee_qualname(self.facts, call, scope))

    def _refined_query(self, name: ast.Name, depth: int) -> str | None:
        """"query" for a name every binding of which is a legacy query or a refinement of
        the name itself (`q = session.query(M)`, `q = q.filter(...)`, `q = q.outerjoin(j)`)."""
        binders = self.bindings(self.scope_of(name)).get(name.id) or []
        made = False
        for binder in binders:
            if not (isinstance(binder, ast.Assign) and len(binder.targets) == 1
                    and isinstance(binder.targets[0], ast.Name)):
                return None
            value = strip_refinements(binder.value)
            if isinstance(value, ast.Name) and value.id == name.id:
                continue  # `q = q.filter(...)`: still that query, no bound added
            if self._orm_kind(binder.value, depth + 1) != "query":
                return None
            made = True
        return "query" if made else None

    def _orm_kind(self, receiver: ast.expr, depth: int = 0) -> str | None:
        """"query" for a legacy ``session.query(...)`` chain, "result" for an executed statement."""
        if depth > 3:
            return None
        if isinstance(receiver, ast.Name):
            bound = self.bound_value(receiver)
            if bound is None:
                return self._refined_query(receiver, depth)
            if bound[0] != "assign" or not isinstance(bound[1], ast.expr):
                return None
            value = bound[1].value if isinstance(bound[1], ast.Await) else bound[1]
            return self._orm_kind(value, depth + 1)  # `res = await session.execute(stmt)`
        base = strip_refinements(receiver)
        if isinstance(base, ast.Name) and base is not receiver:
            # `valid = total.filter(...)`: a refinement of another query name is a query
            return "query" if self._orm_kind(base, depth + 1) == "query" else None
        if isinstance(base, ast.Call) and self._helper_query(base):
            return "query"  # `self.linked_query(...)`: a project helper that returns a query
        if isinstance(base, ast.Attribute) and base.attr == "query" \
                and isinstance(base.value, ast.Name) and base.value.id[:1].isupper() \
                and self.flask(base.value):
            return "query"  # Flask-SQLAlchemy's `Notification.query.filter_by(...)`
        current: ast.expr = receiver
        result_steps = True  # only a result's own methods so far (`scalars().unique()`)
        while isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
            attr = current.func.attr
            inner = current.func.value
            if attr == "query" and current.args and not isinstance(inner, ast.Call):
                return "query"
            if attr in ("execute", "scalars") and current.args and (
                    self._looks_like_query(current) if attr == "execute" else True):
                return "result"
            if attr in RESULT_RESHAPES and _sqlalchemy_chain(inner):
                return "result"
            result_steps = result_steps and attr in RESULT_RESHAPES
            current = inner
        if isinstance(current, ast.Name) and current is not receiver and result_steps \
                and self._orm_kind(current, depth + 1) == "result":
            return "result"  # `res = session.execute(stmt)`, then `res.scalars().all()`
        return None


_QUERYSET_METHODS = frozenset({"filter", "exclude", "all", "order_by", "select_related",
                               "prefetch_related", "values", "values_list", "only", "defer",
                               "annotate", "distinct", "using"})


def _queryset_chain(node: ast.expr) -> bool:
    """`Model.objects...` or a chain of QuerySet methods: what Django's `.iterator()` streams."""
    current = node
    while True:
        if isinstance(current, ast.Attribute):
            if current.attr == "objects":
                return True
            current = current.value
        elif isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
            if current.func.attr in _QUERYSET_METHODS:
                return True
            current = current.func.value
        else:
            return False


def _sqlalchemy_chain(node: ast.expr) -> bool:
    current = node
    while isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
        if current.func.attr in ("execute", "scalars", "stream") and current.args:
            return True
        current = current.func.value
    return False


def _dbish(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return bool(_DBISH_NAME.search(node.attr))
    if isinstance(node, ast.Name):
        return bool(_DBISH_NAME.search(node.id))
    return False


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _names_in(node: ast.AST) -> set[str]:
    """Names read in ``node`` (names bound by its own comprehensions excluded)."""
    bound: set[str] = set()
    for sub in walk(node):
        if isinstance(sub, ast.comprehension):
            for target in walk(sub.target):
                if isinstance(target, ast.Name):
                    bound.add(target.id)
    return {sub.id for sub in walk(node)
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)} - bound


def _has_yield_or_exit(body: list[ast.stmt]) -> bool:
    for stmt in body:
        for node in walk_same_scope(stmt):
            if isinstance(node, (ast.Return, ast.Raise, ast.Yield, ast.YieldFrom, ast.Await)):
                return True
            if isinstance(node, ast.Break) and not _inside_nested_loop(node, stmt):
                return True
    return False




def _inside_nested_loop(target: ast.AST, top: ast.stmt) -> bool:
    """Whether ``target`` sits inside a loop nested in ``top`` (a break that ends only that loop)."""
    return bool(_search_loop(target, top, isinstance(top, (ast.For, ast.AsyncFor, ast.While))))


def _search_loop(target: ast.AST, node: ast.AST, in_loop: bool) -> bool | None:
    """Whether ``target`` below ``node`` is in a loop (None: not below it). Module-level: a
    nested function calling itself is a reference cycle the paused collector leaves alive."""
    if node is target:
        return in_loop
    for child in iter_children(node):
        if isinstance(child, SCOPE_NODES):
            continue
        nested = in_loop or (isinstance(node, (ast.For, ast.AsyncFor, ast.While))
                             and child in (*node.body,))
        found = _search_loop(target, child, nested)
        if found is not None:
            return found
    return None


class _Finder:
    def __init__(self, module: SiteModule) -> None:
        self.m = module

    # --- how the list is used -------------------------------------------------------------------

    def direct_use(self, node: ast.expr, related: set[str]) -> ListUse | None:
        """The use of the list at ``node`` by its parent expression or statement."""
        m = self.m
        parent = m.parent(node)
        # enumerate(rows), zip(rows, …): walked once when the wrapper is walked once.
        if isinstance(parent, ast.Call) and node in parent.args:
            wrapper: str | None = m.is_builtin(parent.func, PASS_THROUGH)
            if wrapper is None and m.facts.call_qualname(parent) in PASS_THROUGH_QUALNAMES:
                wrapper = "islice"
            if parent.keywords and wrapper not in ("enumerate", "zip"):
                wrapper = None
            if wrapper and not (wrapper in ("map", "filter") and parent.args[0] is node):
                use = self.direct_use(parent, related)
                if use is not None and use.kind in (ListUseKind.LOOP, ListUseKind.COMPREHENSION,
                                                     ListUseKind.CONSUMER):
                    others = [a for a in parent.args if a is not node]
                    if any(_names_in(a) & related for a in others):
                        return None
                    return ListUse(use.kind, node, use.holder, use.stmt, use.consumer,
                                   early_exit=use.early_exit,
                                   body_calls_unknown=use.body_calls_unknown, through=parent)
                return None
        stmt = m.statement_of(node)
        if stmt is None:
            return None
        if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is node:
            if self._touches(parent.body + parent.orelse, related) or (
                    _names_in(parent.target) & related):
                return None
            if self._db_work(parent.body):
                return None
            return ListUse(ListUseKind.LOOP, node, parent, parent,
                           early_exit=_has_yield_or_exit(parent.body),
                           body_calls_unknown=self._calls_unknown(parent.body))
        if isinstance(parent, ast.comprehension) and parent.iter is node:
            owner = m.parent(parent)
            if not isinstance(owner, _COMPREHENSIONS):
                return None
            if isinstance(owner, ast.GeneratorExp) and not self._consumed_now(owner):
                return None  # a generator expression returned or stored walks the rows later
            rest: list[ast.AST] = (
                [owner.elt] if not isinstance(owner, ast.DictComp) else [owner.key, owner.value])
            rest += [g for g in owner.generators if g is not parent]
            rest += list(parent.ifs)
            if any(_names_in(r) & related for r in rest) or self._db_work(rest):
                return None
            if not self._rest_of_statement_clear(stmt, owner, related):
                return None
            return ListUse(ListUseKind.COMPREHENSION, node, owner, stmt,
                           body_calls_unknown=self._calls_unknown(rest))
        if isinstance(parent, ast.Call) and not any(isinstance(a, ast.Starred) for a in parent.args):
            consumer = self._consumer(parent, node)
            if consumer is not None:
                if not self._rest_of_statement_clear(stmt, node, related):
                    return None
                return ListUse(ListUseKind.CONSUMER, node, parent, stmt, consumer)
            if m.is_builtin(parent.func, {"len"}) and parent.args == [node] and not parent.keywords:
                if not self._rest_of_statement_clear(stmt, node, related):
                    return None
                return ListUse(ListUseKind.LENGTH, node, parent, stmt)
            return None
        if isinstance(parent, ast.Subscript) and parent.value is node and isinstance(
                parent.ctx, ast.Load):
            index = parent.slice
            if isinstance(index, ast.Constant) and index.value == 0 and not isinstance(
                    index.value, bool):
                if not self._rest_of_statement_clear(stmt, node, related):
                    return None
                return ListUse(ListUseKind.FIRST, node, parent, stmt)
        return None

    def _consumed_now(self, genexp: ast.GeneratorExp) -> bool:
        parent = self.m.parent(genexp)
        if isinstance(parent, ast.Call) and genexp in parent.args:
            return True
        return isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is genexp

    def _consumer(self, call: ast.Call, node: ast.expr) -> str | None:
        m = self.m
        builtin = m.is_builtin(call.func, CONSUMER_BUILTINS)
        if builtin is not None:
            if not call.args or call.args[0] is not node:
                return None
            if builtin in ("min", "max") and len(call.args) != 1:
                return None
            if builtin in ("set", "frozenset", "dict", "tuple", "list", "any", "all") and (
                    len(call.args) != 1 or (call.keywords and builtin != "dict")):
                return None
            return builtin
        qualname = m.facts.call_qualname(call)
        if qualname in CONSUMER_QUALNAMES:
            position = CONSUMER_QUALNAMES[qualname]
            if len(call.args) > position and call.args[position] is node:
                return qualname.rsplit(".", 1)[-1]
            return None
        func = call.func
        if isinstance(func, ast.Attribute):
            if func.attr == "join" and isinstance(func.value, ast.Constant) and isinstance(
                    func.value.value, str) and call.args == [node] and not call.keywords:
                return "str.join"
            method_position = CONSUMER_METHODS.get(func.attr)
            if method_position is not None and len(call.args) > method_position and (
                    call.args[method_position] is node):
                return func.attr
        return None

    def _rest_of_statement_clear(self, stmt: ast.stmt, skip: ast.AST, related: set[str]) -> bool:
        """The statement, apart from ``skip``, reads none of the source's names."""
        if not related:
            return True
        stack: list[ast.AST] = [stmt]
        while stack:
            node = stack.pop()
            if node is skip:
                continue
            if isinstance(node, ast.Name) and node.id in related:
                return False
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While)) and node is not stmt:
                pass
            stack.extend(iter_children(node))
        return True

    def _touches(self, nodes: list[Any], related: set[str]) -> bool:
        return any(_names_in(node) & related for node in nodes)

    def _db_work(self, nodes: list[Any]) -> bool:
        for top in nodes:
            for node in walk(top):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                        node.func.attr in DB_WORK_METHODS):
                    return True
        return False

    def _calls_unknown(self, nodes: list[Any]) -> bool:
        m = self.m
        for top in nodes:
            for node in walk(top):
                if not isinstance(node, ast.Call):
                    continue
                if m.is_builtin(node.func, HARMLESS_BUILTINS):
                    continue
                if isinstance(node.func, ast.Attribute) and node.func.attr in HARMLESS_METHODS:
                    continue
                return True
        return False

    def use_of(self, node: ast.expr, related: set[str]) -> ListUse | None:
        """The single use of the list made at ``node``: direct, or through the name it is bound to."""
        parent = self.m.parent(node)
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(
                parent.targets[0], ast.Name) and parent.value is node:
            return self.named_use(parent, parent.targets[0], related)
        if isinstance(parent, ast.AnnAssign) and parent.value is node and isinstance(
                parent.target, ast.Name) and parent.simple:
            return self.named_use(parent, parent.target, related)
        return self.direct_use(node, related)

    def named_use(self, assign: ast.Assign | ast.AnnAssign, target: ast.Name,
                  related: set[str]) -> ListUse | None:
        m = self.m
        scope = m.scope_of(assign)
        if isinstance(scope, ast.ClassDef):
            return None
        if target.id in related:
            return None  # `rows = list(rows)`: the name means two things
        uses = list(name_uses(scope, target.id, lambda _call: None, parents=self.m.parents))
        loads = []
        others: list[ast.AST] = []
        for name_use in uses:
            if isinstance(name_use.node, SCOPE_NODES):
                return None  # read by a nested function: it may keep the list
            if name_use.kind is NameUseKind.REBOUND:
                if name_use.node is not target:
                    others.append(name_use.node)
                continue
            loads.append(name_use.node)
        anchor: ast.stmt = assign
        if others:
            # `if a: rows = q1.all()` / `else: rows = q2.all()`, then one use after the `if`:
            # each branch's list is used once, there.
            branches = self._alternative_branches(assign, others)
            if branches is None:
                return None
            anchor = branches
        if len(loads) != 1 or not isinstance(loads[0], ast.Name):
            return None
        name = loads[0]
        if (name.lineno, name.col_offset) <= (assign.end_lineno or assign.lineno,
                                               assign.end_col_offset or 0):
            return None
        use = self.direct_use(name, related)
        if use is None:
            return None
        if not self._evaluated_once(name, use):
            return None
        placement = self._placement(anchor, use.stmt)
        if placement is None:
            return None
        between, nested_in = placement
        gap_nodes: list[ast.AST] = list(between)
        if nested_in is not None:
            gap_nodes.extend(_outside(nested_in, use.stmt))
        if any(_names_in(g) & related for g in gap_nodes) or self._db_work(gap_nodes):
            return None  # the source (or the database) is worked on before the list is used
        gap_runs_code = nested_in is not None or any(
            isinstance(sub, (ast.Call, ast.Await)) for g in between for sub in walk(g))
        return ListUse(use.kind, name, use.holder, use.stmt, use.consumer, assign,
                       gap_runs_code, use.early_exit, use.body_calls_unknown, use.through,
                       alternatives=anchor is not assign)

    def _alternative_branches(self, assign: ast.stmt, others: list[ast.AST]) -> ast.If | None:
        """The ``if`` statement whose branches bind the name, each once, as the last statement
        of the branch (``assign`` in one of them, ``others`` the targets of the rest): the
        bindings exclude each other, and the name holds one of them after the ``if``."""
        m = self.m
        owner = m.parent(assign)
        if not isinstance(owner, ast.If):
            return None
        top = owner  # up an `elif` chain: the `if` whose `orelse` holds the next one
        while True:
            up = m.parent(top)
            if isinstance(up, ast.If) and up.orelse == [top]:
                top = up
            else:
                break
        ends: list[ast.stmt] = []  # the last statement of each branch of the chain
        current: ast.If = top
        while True:
            ends.append(current.body[-1])
            if len(current.orelse) == 1 and isinstance(current.orelse[0], ast.If):
                current = current.orelse[0]
                continue
            if current.orelse:
                ends.append(current.orelse[-1])
            break
        if assign not in ends:
            return None
        for other in others:
            holder = m.parent(other)
            if not (isinstance(holder, ast.Assign) and holder in ends and holder is not assign
                    and len(holder.targets) == 1 and holder.targets[0] is other):
                return None
        return top

    def _evaluated_once(self, name: ast.Name, use: ListUse) -> bool:
        """The name is read once per run of its statement (not in a lambda or a comprehension
        element, not in a later `for` clause)."""
        m = self.m
        child: ast.AST = use.through if use.through is not None else name
        current = m.parent(child)
        while current is not None and not isinstance(current, ast.stmt):
            if isinstance(current, ast.Lambda):
                return False
            if isinstance(current, ast.comprehension):
                owner = m.parent(current)
                if not (isinstance(owner, _COMPREHENSIONS) and owner.generators[0] is current
                        and current.iter is child):
                    return False
            if isinstance(current, _COMPREHENSIONS) and not isinstance(child, ast.comprehension):
                return False
            child = current
            current = m.parent(current)
        return True

    def _placement(self, assign: ast.stmt, use_stmt: ast.stmt
                   ) -> tuple[list[ast.stmt], ast.stmt | None] | None:
        """The statements between ``assign`` and the statement of its block that holds the
        use, and that statement when the use is nested in it; None when the use is not later in
        the same block or a loop repeats it."""
        m = self.m
        block_owner = m.parent(assign)
        block = statement_block(block_owner, assign)
        if block is None:
            return None
        current: ast.AST = use_stmt
        while True:
            parent = m.parent(current)
            if parent is None:
                return None
            if parent is block_owner and current in block:
                break
            if isinstance(parent, (ast.For, ast.AsyncFor, ast.While)) and current in (
                    *parent.body, *parent.orelse):
                return None  # walked once per round of an outer loop
            if isinstance(parent, (SCOPE_NODES, ast.Module)):
                return None
            current = parent
        start = block.index(assign)
        end = block.index(current)
        if end <= start:
            return None
        nested_in = None if current is use_stmt else current
        return block[start + 1:end], nested_in

    # --- sites ----------------------------------------------------------------------------------

    def related_names(self, source: LazySource) -> set[str]:
        names = _names_in(source.node)
        frontier = [n for n in walk(source.node) if isinstance(n, ast.Name)]
        seen: set[str] = set()
        depth = 0
        while frontier and depth < 4:
            next_frontier: list[ast.Name] = []
            for name in frontier:
                if name.id in seen:
                    continue
                seen.add(name.id)
                bound = self.m.bound_value(name)
                if bound is None:
                    continue
                value = bound[1]
                names |= _names_in(value)
                next_frontier.extend(n for n in walk(value) if isinstance(n, ast.Name))
            frontier = next_frontier
            depth += 1
        return names

    def sites(self) -> Iterator[MaterializationSite]:
        m = self.m
        for node in m.candidates:
            site = None
            if isinstance(node, ast.Call):
                site = self._call_site(node)
            elif isinstance(node, ast.ListComp):
                site = self._comprehension_site(node)
            elif isinstance(node, ast.List) and len(node.elts) == 1 and isinstance(
                    node.elts[0], ast.Starred) and isinstance(node.ctx, ast.Load):
                site = self._site(node, "unpack", node.elts[0].value)
            if site is not None:
                yield site

    def _call_site(self, call: ast.Call) -> MaterializationSite | None:
        m = self.m
        builtin = m.is_builtin(call.func, {"list", "tuple"})
        if builtin is not None:
            if len(call.args) != 1 or call.keywords or isinstance(call.args[0], ast.Starred):
                return None
            return self._site(call, builtin, call.args[0])
        if isinstance(call.func, ast.Attribute) and call.func.attr in ("fetchall", "all"):
            source = m.fetched_source(call)
            if source is None:
                return None
            node: ast.expr = call
            parent = m.parent(call)
            if isinstance(parent, ast.Await):
                node = parent
                source = LazySource(source.kind, source.node, source.what, True,
                                    source.driver_object, False, source.orm_query,
                                    source.orm_result, source.fetch_method)
            # What the statement may read again without touching an ORM read's rows: anything
            # but the result they come from (`len(ids)` beside `len(res.scalars().all())`).
            root = receiver_root(source.node)
            related = ({root} if root else set()) if source.fetch_method == "all" \
                else self.related_names(source)
            use = self.use_of(node, related)
            if use is None and source.orm_query and not isinstance(parent, (ast.Assign, ast.AnnAssign)):
                # A legacy query keeps no read state: `{"valid": len(valid.all()), "total":
                # len(total.all())}` counts one whatever else the statement reads of its names.
                use = self.direct_use(node, set())
                if use is not None and use.kind is not ListUseKind.LENGTH:
                    use = None
            if use is None:
                return None
            if use.kind is ListUseKind.CONSUMER and use.consumer in ("list", "tuple") and (
                    source.driver_object is None and use.through is None):
                return None  # `list(cur.fetchall())` normalizes whatever an unknown driver returns
            if self._chosen_by_name(call, call.func.attr):
                return None  # `elif fetch_method == "fetchall":` exercises this very method
            if use.kind is ListUseKind.FIRST and not self._local_result(source.node):
                return None  # draining a cursor that lives on (`self.cursor`) may be the point
            stmt = m.statement_of(node)
            assert stmt is not None
            return MaterializationSite(node, call.func.attr, source, stmt, m.scope_of(node), use)
        return None

    def _chosen_by_name(self, node: ast.AST, method: str) -> bool:
        """Whether an enclosing `if` compares something with the method's own name."""
        current = self.m.parent(node)
        while current is not None and not isinstance(current, SCOPE_NODES):
            if isinstance(current, ast.If) and any(
                    isinstance(n, ast.Constant) and n.value == method
                    for n in walk(current.test)):
                return True
            current = self.m.parent(current)
        return False

    def _local_result(self, receiver: ast.expr) -> bool:
        """The cursor or result is made here: a call, or a name bound to a call in this scope."""
        if isinstance(receiver, ast.Call):
            return True
        if isinstance(receiver, ast.Name):
            scope = self.m.scope_of(receiver)
            binders = self.m.bindings(scope).get(receiver.id, [])
            return bool(binders) and all(
                isinstance(b, (ast.Assign, ast.withitem)) for b in binders)
        return False

    def _comprehension_site(self, comp: ast.ListComp) -> MaterializationSite | None:
        if len(comp.generators) != 1:
            return None
        generator = comp.generators[0]
        identity = (not generator.ifs and isinstance(comp.elt, ast.Name)
                    and isinstance(generator.target, ast.Name)
                    and comp.elt.id == generator.target.id)
        return self._site(comp, "comprehension", generator.iter, identity, comp,
                          bool(generator.is_async))

    def _site(self, node: ast.expr, form: str, inner: ast.expr, identity: bool = True,
              comprehension: ast.ListComp | None = None,
              is_async: bool = False) -> MaterializationSite | None:
        m = self.m
        source = m.lazy_source(inner)
        if source is None and is_async:
            # `async for` walks an async iterator: lazy by nature, whatever its type.
            source = LazySource(SourceKind.GENERATOR, inner, "an async iterator", True)
        if source is None:
            return None
        if is_async != source.is_async:
            if not is_async:
                return None  # list(agen()) is an error, not a materialization
            source = LazySource(source.kind, source.node, source.what, True,
                                source.driver_object, source.iterable, source.orm_query,
                                source.orm_result)
        related = self.related_names(source)
        if comprehension is not None:
            generator = comprehension.generators[0]
            own = _names_in(comprehension.elt) | set().union(*(_names_in(i) for i in generator.ifs))
            own -= {n.id for n in walk(generator.target) if isinstance(n, ast.Name)}
            if own & related:
                return None
        use = self.use_of(node, related)
        if use is None:
            return None
        stmt = m.statement_of(node)
        assert stmt is not None
        return MaterializationSite(node, form, source, stmt, m.scope_of(node), use, identity,
                                   comprehension)


def _outside(container: ast.stmt, inner: ast.stmt) -> list[ast.AST]:
    """The parts of ``container`` that are not ``inner`` (nor inside it)."""
    parts: list[ast.AST] = []
    stack: list[ast.AST] = list(iter_children(container))
    while stack:
        node = stack.pop()
        if node is inner:
            continue
        if any(sub is inner for sub in walk(node)):
            stack.extend(iter_children(node))
        else:
            parts.append(node)
    return parts


def reads_rows(site: MaterializationSite) -> bool:
    """Whether the site's source holds database rows: every source but a generator that reads
    no database (the tokens of a string, a lint check's hits): the family is about memory held
    from query results."""
    return site.source.kind is not SourceKind.GENERATOR or site.source.rows


def materialization_sites(ctx: Any) -> list[MaterializationSite]:
    """Every materialization site of the module ``ctx`` checks (computed once per context)."""
    cached = ctx.__dict__.get("_materialization_sites")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    module = SiteModule(ctx.tree, ctx.facts, ctx.drivers, ctx.project, object_sources(ctx),
                        ctx.text)
    sites = sorted(_Finder(module).sites(), key=lambda s: (s.node.lineno, s.node.col_offset))
    ctx.__dict__["_materialization_sites"] = sites
    ctx.__dict__["_materialization_module"] = module
    return sites


def describe_use(use: ListUse) -> str:
    """Words for the message: how the list is used."""
    if use.kind is ListUseKind.LOOP:
        return "only walked once by a loop"
    if use.kind is ListUseKind.COMPREHENSION:
        return "only walked once by a comprehension"
    if use.kind is ListUseKind.CONSUMER:
        return f"only passed to `{use.consumer}()`, which walks it once"
    if use.kind is ListUseKind.LENGTH:
        return "only counted"
    return "only read for its first item"


# --- how big the fetched result can be -------------------------------------------------------
