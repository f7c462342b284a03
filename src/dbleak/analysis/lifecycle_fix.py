"""Planning the lifecycle fixes: which statements a `with`/`closing()` (or `try/finally`) can
cover without changing what the code does. Produces plan data; libcst renders it later.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dbleak.analysis.flow_state import ResourceFlow
from dbleak.analysis.flow_syntax import free_names, in_main_guard, lends_what_it_yields, may_raise
from dbleak.analysis.module import iter_children, walk, walk_same_scope
from dbleak.analysis.names import fresh_name, names_used
from dbleak.fixes.plan import AddImport, ReplaceRange
from dbleak.fixes.plan_lifecycle import MoveReleaseToFinally, WrapInTryFinally, WrapInWith
from dbleak.knowledge.drivers import Kind
from dbleak.models import Applicability, FixPlan
from dbleak.source import source_segment

if TYPE_CHECKING:
    from dbleak.analysis.context import CheckContext

# Results of these are plain data: returning them after the close is fine.
MATERIALIZING_METHODS = frozenset({
    "fetchone", "fetchall", "fetchmany", "fetchval", "fetchrow", "fetch", "scalar", "one",
    "one_or_none", "first", "all", "df", "fetchdf", "fetchnumpy", "arrow", "fetch_arrow_table",
    "total_changes", "rowcount", "lastrowid", "commit", "rollback", "keys",
})
MATERIALIZING_CALLS = frozenset({
    "list", "tuple", "dict", "set", "frozenset", "sorted", "len", "sum", "any", "all", "bool",
    "int", "float", "str", "repr", "min", "max", "print", "isinstance",
})
_SINK_BORROWERS = MATERIALIZING_CALLS | {"print", "enumerate", "zip"}


@dataclass(frozen=True)
class PlannedFix:
    plan: FixPlan | None
    reason: str | None = None  # why no fix, when plan is None


def _parents_of(root: ast.AST) -> dict[int, ast.AST]:
    parents: dict[int, ast.AST] = {}
    for node in walk(root):
        for child in iter_children(node):
            parents[id(child)] = node
    return parents


def _index_in(node: ast.AST, block: list[ast.stmt], parents: dict[int, ast.AST]) -> int | None:
    ids = {id(s): i for i, s in enumerate(block)}
    current: ast.AST | None = node
    while current is not None:
        if id(current) in ids:
            return ids[id(current)]
        current = parents.get(id(current))
    return None


def _has_comment(ctx: CheckContext, stmt: ast.stmt) -> bool:
    lines = ctx.text.splitlines()
    end_line = stmt.end_lineno or stmt.lineno
    if end_line - 1 < len(lines):
        tail = lines[end_line - 1].encode("utf-8")[stmt.end_col_offset or 0:].decode("utf-8", "replace")
        if "#" in tail:
            return True
    return bool(stmt.lineno >= 2 and lines[stmt.lineno - 2].strip().startswith("#"))


def _mentions(expr: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in walk(expr))


def _materialized(expr: ast.AST, names: set[str], clean: set[str]) -> bool:
    """True when ``expr`` cannot hold on to the resource after it is closed."""
    # `await x` and `x[i]` hold what `x` holds: unwrap such a chain in a loop (it may be thousands
    # deep). A link mentions the resource whenever its value does.
    while isinstance(expr, (ast.Await, ast.Subscript)):
        expr = expr.value
    if not _mentions(expr, names):
        return True
    if isinstance(expr, ast.Name):
        return expr.id in clean
    if isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Attribute) and func.attr in MATERIALIZING_METHODS:
            return True
        return bool(isinstance(func, ast.Name) and func.id in MATERIALIZING_CALLS)
    if isinstance(expr, (ast.ListComp, ast.SetComp, ast.DictComp, ast.Constant, ast.JoinedStr,
                         ast.Compare, ast.BinOp, ast.UnaryOp)):
        return True
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        return all(_materialized(e, names, clean) for e in expr.elts)
    if isinstance(expr, ast.Dict):
        return all(_materialized(e, names, clean) for e in expr.values if e is not None)
    if isinstance(expr, ast.Attribute):
        return expr.attr in MATERIALIZING_METHODS
    return False


def _derived_names(scope: ast.AST, name: str) -> tuple[set[str], set[str]]:
    """Names that get a value computed from ``name`` (transitively), and those of them whose
    value is plain data (``rows = cur.fetchall()``)."""
    names = {name}
    clean: set[str] = set()
    unclean: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in walk_same_scope(scope):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value, sources = node.value, node.value
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets, value, sources = [node.target], None, node.iter
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                targets, value, sources = [node.optional_vars], None, node.context_expr
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                # a local helper reading it uses it wherever it is called
                if node.name not in names and free_names(node) & names:
                    names.add(node.name)
                    unclean.add(node.name)
                    changed = True
                continue
            else:
                continue
            if not any(isinstance(n, ast.Name) and n.id in names for n in walk(sources)):
                continue
            for target in targets:
                for sub in walk(target):
                    if not isinstance(sub, ast.Name) or sub.id == name:
                        continue
                    if value is None and isinstance(node, (ast.For, ast.AsyncFor)):
                        clean.add(sub.id)  # rows read from a cursor are plain data
                    elif value is not None and _materialized(value, names, clean):
                        clean.add(sub.id)
                    else:
                        unclean.add(sub.id)
                    if sub.id not in names:
                        names.add(sub.id)
                        changed = True
    return names, clean - unclean


def _escaping_sink(node: ast.Name, parents: dict[int, ast.AST], names: set[str],
                   clean: set[str], owner: str, lends: bool = False) -> bool:
    """Whether this read of a name (or something derived) can outlive the close. ``lends``: the
    scope is a fixture or a context manager, whose ``yield owner`` gets the object back."""
    current: ast.AST = node
    while True:
        parent = parents.get(id(current))
        if parent is None or isinstance(parent, ast.stmt) and not isinstance(
                parent, (ast.Return, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)):
            return False
        if isinstance(parent, (ast.Lambda, ast.GeneratorExp)):
            return True
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return True
        if isinstance(parent, ast.Yield) and lends and current is node and node.id == owner:
            return False
        if isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom)):
            value = parent.value
            return value is not None and not _materialized(value, names, clean)
        if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if all(isinstance(t, (ast.Name, ast.Tuple, ast.List)) for t in targets):
                return False  # a local: followed as a derived name
            return parent.value is not None and not _materialized(parent.value, names, clean)
        if isinstance(parent, ast.Call) and current is not parent.func:
            if current is node and node.id == owner:
                return False  # the flow analysis already found this call only borrows it
            func = parent.func
            if isinstance(func, ast.Name) and func.id in _SINK_BORROWERS:
                return False
            if isinstance(parents.get(id(parent)), ast.withitem):
                return False  # `with closing(conn.cursor())` inside the block: released there
            if isinstance(func, ast.Attribute) and func.attr in (
                    "execute", "executemany", "debug", "info", "warning", "error", "exception",
                    "append", "extend") and _materialized(current, names, clean):
                return False
            return not _materialized(current, names, clean)
        if isinstance(parent, ast.keyword):
            current = parent
            continue
        current = parent


_TITLE_WORDS = {Kind.SESSION: "session", Kind.ENGINE: "engine", Kind.POOL: "pool"}


def plan_fix(ctx: CheckContext, flow: ResourceFlow, title_kind: str) -> PlannedFix:
    """A `with closing(...)` / `with` / `try: … finally:` plan for one resource, or why not.

    Unsafe when the object is passed to a callee nothing is known of: it was taken to borrow
    it, but it might keep it, and closing it at the end of the block would then change what
    the code does. Unsafe too when a context manager or a fixture lends it by ``yield``
    and never closes it."""
    spec = flow.resource.spec
    if spec.maybe_shared:
        # made here on some paths only: the helper hands out an object it keeps on the others
        return PlannedFix(None, "the helper that makes it hands out a shared one on other "
                                "paths; close it only where it is new")
    if spec.unreleasable:
        # a project class with no method that releases what it keeps: nothing to call
        return PlannedFix(None, "its class has no method that releases it: add one, such as `close()`")
    if not spec.release and spec.pool_release:
        # a pool's connection goes back by the pool's own method, on the pool object: closing
        # it would leave its slot taken
        return PlannedFix(None, f"give it back with the pool's `{spec.pool_release[0]}()` in a `finally`")
    # The fix's title names what the message names (`Wrap the session in …`).
    title_kind = _TITLE_WORDS.get(flow.resource.kind, title_kind)
    planned = _plan_fix(ctx, flow, title_kind)
    if planned.plan is not None and (flow.guessed or spec.project_class
                                     or (spec.driver == "dbapi" and spec.kind is Kind.CONNECTION)
                                     or lends_what_it_yields(flow.resource.scope)
                                     and not flow.releases
                                     or _imported_with_the_module(ctx, flow)):
        # A project class's `close()` may do more than release (flush, commit): unsafe too.
        # So is a connection known only by its use (`engine.connect()` of no known type): its
        # driver may release it by another name (`shutdown()`).
        # What a context manager lends and never closes, its `with` body reads from, and may
        # keep (ORM objects a closed session detaches).
        return PlannedFix(replace(planned.plan, applicability=Applicability.UNSAFE))
    return planned


def _imported_with_the_module(ctx: CheckContext, flow: ResourceFlow) -> bool:
    """A module global made at import time (outside ``if __name__ == "__main__":``): another
    module may import it, and would get it closed after the fix."""
    resource = flow.resource
    return isinstance(resource.scope, ast.Module) and not in_main_guard(resource.stmt, ctx.facts.parent)


def _plan_fix(ctx: CheckContext, flow: ResourceFlow, title_kind: str) -> PlannedFix:
    resource = flow.resource
    stmt = resource.stmt
    name = resource.name
    if any(reason == "fixture-return" for _, reason in flow.drops):
        return PlannedFix(None, "yield it instead, and release it after the `yield`")
    if any(reason == "enter-return" for _, reason in flow.drops):
        return PlannedFix(None, "keep it on `self` in `__enter__` and close it in `__exit__`")
    if resource.parent_key is not None and name is None and resource.kind is not Kind.CURSOR:
        return PlannedFix(None, f"it is kept on `{resource.parent_key}`; close it in a `finally`")
    if flow.holder is not None and name is None:
        return PlannedFix(None, f"close it before `{flow.holder}` is dropped")
    if name is None:
        return _plan_temporary(ctx, flow, title_kind)
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and stmt.value is resource.node):
        return PlannedFix(None, None)
    if flow.yielded:
        return PlannedFix(None, "it is yielded; put the `yield` in `try/finally`")
    if flow.escapes:
        return PlannedFix(None, "it is handed over on another path")
    block = ctx.facts.statement_list(stmt)
    if block is None:
        return PlannedFix(None, None)
    scope = resource.scope
    lends = lends_what_it_yields(scope)
    parents = _parents_of(scope)
    start = next(i for i, s in enumerate(block) if s is stmt)
    names, clean = _derived_names(scope, name)
    last = start
    for node in walk_same_scope(scope):
        if not (isinstance(node, ast.Name) and node.id in names):
            continue
        if node is stmt.targets[0]:
            continue
        if node.id in clean:
            continue  # plain data read from it may live anywhere
        index = _index_in(node, block, parents)
        if index is None or index < start or (index == start and node.id == name):
            return PlannedFix(None, "it is used outside the block that creates it")
        if node.id == name and not isinstance(node.ctx, ast.Load):
            return PlannedFix(None, f"`{name}` is assigned again")
        if isinstance(node.ctx, ast.Load) and _escaping_sink(node, parents, names, clean, name, lends):
            return PlannedFix(None, "it, or something read from it, is passed on or returned")
        last = max(last, index)
    releases = flow.releases
    drop: list[ast.stmt] = []
    move_try: ast.Try | None = None
    for release in releases:
        holder = parents.get(id(release))
        if isinstance(holder, ast.Await):
            holder = parents.get(id(holder))
        if not isinstance(holder, ast.Expr):
            return PlannedFix(None, "it is closed in a way the fix cannot move")
        if not (isinstance(release, ast.Call) and isinstance(release.func, ast.Attribute)
                and isinstance(release.func.value, ast.Name) and release.func.value.id == name):
            return PlannedFix(None, "it is released by a helper call the fix would have to keep")
        index = next((i for i, s in enumerate(block) if s is holder), None)
        if index is not None:
            drop.append(holder)
            continue
        outer = parents.get(id(holder))
        if (len(releases) == 1 and isinstance(outer, ast.Try) and not outer.finalbody
                and any(s is holder for s in outer.body) and any(s is outer for s in block)):
            move_try = outer
            continue
        return PlannedFix(None, "it is closed in only some branches")
    if any(_has_comment(ctx, dropped) for dropped in drop):
        return PlannedFix(None, "the fix would drop a comment")
    if drop and max(block.index(d) for d in drop) < last:
        return PlannedFix(None, "it is used after `close()`")
    if drop:
        last = max(last, max(block.index(d) for d in drop))
    position = ctx.position
    if move_try is not None:
        try_index = block.index(move_try)
        if any(may_raise(s) for s in block[start + 1:try_index]):
            return PlannedFix(None, "statements between the creation and the `try` may raise")
        if last > try_index:
            return PlannedFix(None, "it is used after the `try`")
        release_stmt = parents.get(id(releases[0]))
        if isinstance(release_stmt, ast.Await):
            release_stmt = parents.get(id(release_stmt))
        assert isinstance(release_stmt, ast.stmt)
        if _has_comment(ctx, release_stmt):
            return PlannedFix(None, "the fix would drop a comment")
        move = MoveReleaseToFinally(position(move_try.lineno, move_try.col_offset),
                                    position(release_stmt.lineno, release_stmt.col_offset))
        return PlannedFix(FixPlan("Move the release into a `finally` block", Applicability.SAFE, (move,)))
    drops = tuple(position(d.lineno, d.col_offset) for d in drop)
    first = position(stmt.lineno, stmt.col_offset)
    end = position(block[last].lineno, block[last].col_offset)
    spec = resource.spec
    release_name = spec.release[0] if spec.release else "close"
    factory = ctx.drivers.factory(resource.factory)
    call_async_with = getattr(factory, "call_async_with", None) if factory is not None else None
    if (resource.awaited and call_async_with is not None and call_async_with.closes
            and not call_async_with.commits):
        # `async with aiosqlite.connect(...)`: the call itself is the context (no await).
        call_text = source_segment(ctx.text, resource.call)
        if call_text is not None:
            op = WrapInWith(first, end, f"{call_text} as {name}", drops, is_async=True)
            return PlannedFix(FixPlan(f"Use `async with` for the {title_kind}",
                                      Applicability.SAFE, (op,)))
    if resource.awaited or spec.release_awaited:
        awaited = "await " if spec.release_awaited or resource.awaited else ""
        guarded = WrapInTryFinally(first, end, f"{awaited}{name}.{release_name}()", drops)
        return PlannedFix(FixPlan(f"Close `{name}` in a `finally` block", Applicability.SAFE, (guarded,)))
    if spec.closing_context == "try-finally" or release_name != "close":
        # An engine (`dispose()`), a pool (`closeall()`): no `close()` for `closing()` to call.
        guarded = WrapInTryFinally(first, end, f"{name}.{release_name}()", drops)
        verb = "Dispose" if release_name == "dispose" else "Release"
        return PlannedFix(FixPlan(f"{verb} `{name}` in a `finally` block", Applicability.SAFE, (guarded,)))
    call_text = source_segment(ctx.text, resource.call)
    if call_text is None or "\n" in call_text and "#" in call_text:
        return PlannedFix(None, "the fix would drop a comment")
    behaviour = spec.with_
    if spec.closing_context == "self" and behaviour is not None and behaviour.closes and not (
            behaviour.commits or behaviour.rolls_back):
        op = WrapInWith(first, end, f"{call_text} as {name}", drops)
        return PlannedFix(FixPlan(f"Use `with` for the {title_kind}", Applicability.SAFE, (op,)))
    wrapper, imports = closing_name(ctx)
    if wrapper is None:
        return PlannedFix(None, "`closing` cannot be imported under its name here")
    op = WrapInWith(first, end, f"{wrapper}({call_text}) as {name}", drops)
    return PlannedFix(FixPlan(f"Wrap the {title_kind} in `with closing(...)`", Applicability.SAFE,
                              (op, *imports)))


def closing_name(ctx: CheckContext) -> tuple[str | None, tuple[AddImport, ...]]:
    """The local expression for ``contextlib.closing`` and the import it needs."""
    wrapper = ctx.facts.resolver.local_name_for("contextlib.closing")
    if wrapper is not None:
        return wrapper, ()
    taken = names_used(ctx.tree)  # computed once per module, not once per finding
    if "closing" not in taken:
        return "closing", (AddImport("contextlib", "closing"),)
    if "contextlib" not in taken:
        return "contextlib.closing", (AddImport("contextlib"),)
    return None, ()


def _chain_top(node: ast.AST, parents: dict[int, ast.AST]) -> ast.AST:
    """The outermost call/attribute/subscript of the chain ``node`` starts."""
    current = node
    while True:
        parent = parents.get(id(current))
        if (isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is current) or (
                isinstance(parent, ast.Call) and parent.func is current):
            current = parent
            continue
        return current


def _plain_data(ctx: CheckContext, expr: ast.AST) -> bool:
    """A value that holds nothing of the connection: fetched rows, a count, a DataFrame."""
    while isinstance(expr, ast.Subscript):  # a loop: a chain of subscripts may be thousands deep
        expr = expr.value
    if isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Attribute) and func.attr in MATERIALIZING_METHODS:
            return True
        if ctx.facts.call_qualname(expr) in ctx.drivers.borrowers:
            return not any(k.arg in ("chunksize", "iterator") for k in expr.keywords)
        if isinstance(func, ast.Name) and func.id in MATERIALIZING_CALLS:
            return True
    return False



def _plan_temporary(ctx: CheckContext, flow: ResourceFlow, title_kind: str) -> PlannedFix:
    """``sqlite3.connect(p).execute(q).fetchone()`` → bind it in `with closing(...) as conn:`."""
    resource = flow.resource
    stmt = resource.stmt
    no_fix = PlannedFix(None, "it is a temporary; bind it in a `with` block")
    if resource.awaited or isinstance(resource.scope, ast.Lambda) or flow.escapes:
        return no_fix
    if flow.releases:
        # `conn.cursor().execute(q).close()`: wrapping it would close it twice
        return PlannedFix(None, "it is closed at the end of its own statement; bind it in a `with` block instead")
    if not isinstance(stmt, (ast.Expr, ast.Return, ast.Assign)):
        return no_fix
    if isinstance(stmt, ast.Assign) and not all(isinstance(t, ast.Name) for t in stmt.targets):
        return no_fix
    block = ctx.facts.statement_list(stmt)
    if block is None:
        return no_fix
    value = stmt.value
    if value is resource.node:
        return no_fix  # a bare `connect(...)` statement: nothing to bind
    if not isinstance(stmt, ast.Expr):
        parents = _parents_of(stmt)
        top = _chain_top(resource.call, parents)
        holder = parents.get(id(top))
        data = _plain_data(ctx, top) or (isinstance(holder, ast.Call) and _plain_data(ctx, holder))
        if value is None or not data or not (top is value or holder is value):
            return PlannedFix(None, "its result may still read from it; bind it in a `with` block")
    call_text = source_segment(ctx.text, resource.call)
    if call_text is None or "#" in call_text:
        return no_fix
    wrapper, imports = closing_name(ctx)
    if wrapper is None:
        return no_fix
    name = fresh_name(ctx.tree, resource.scope, "conn" if resource.kind is not Kind.CURSOR else "cur")
    call = resource.call
    position = ctx.position
    replace = ReplaceRange(position(call.lineno, call.col_offset),
                           position(call.end_lineno or call.lineno, call.end_col_offset or 0), name)
    start = position(stmt.lineno, stmt.col_offset)
    wrap = WrapInWith(start, start, f"{wrapper}({call_text}) as {name}", keep_first=True)
    return PlannedFix(FixPlan(f"Bind the {title_kind} in `with closing(...)`", Applicability.SAFE,
                              (replace, wrap, *imports)))
