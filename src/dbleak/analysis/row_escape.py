"""Whether the rows a read returns leave the function whole.

``return session.query(User).all()``, ``rows = cur.fetchall(); return rows`` and
``self.rows = cur.fetchall()`` hand the list of every row itself to someone else: reading all
rows is the function's contract, and no local rewrite (``yield_per``, ``fetchmany``,
``chunksize``) saves memory, because the caller receives that very list. The fix is an API
change (pagination, a generator), which is the caller's call. As with ownership in the lifecycle
rules, the DBL2xx rules do not report such reads unless ``[tool.dbleak.sql] returned = "report"``.

The same holds for a loop that keeps every row as it is: ``for row in q.all():
by_study[row.study_id].append(row)`` (unconditionally, in the loop's own body, into a container
made before the loop). Every row stays in memory whatever the read; streaming saves only the
list's spine.

Rows that are *transformed* on the way out (``return [u.to_entity() for u in users]``, a loop
appending ``row.name`` or ``Entity(row)`` to the result) are still reported: streaming them
drops the intermediate list (and the ORM objects), and the loop's rewrite is the usual one.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from dbleak.analysis.fetch_loops import name_loads
from dbleak.analysis.fetch_orm import call_name
from dbleak.analysis.module import ModuleFacts
from dbleak.knowledge.calls import LOG_METHODS
from dbleak.settings import Settings

if TYPE_CHECKING:
    from dbleak.analysis.context import CheckContext

# Calls that copy the rows as they are (the result is the same rows).
_COPIES = frozenset({"list", "tuple"})
_CONTAINERS = (ast.Tuple, ast.List, ast.Dict, ast.Starred)


def report_returned(settings: Settings | None) -> bool:
    return settings is not None and settings.option("sql", "returned", "ignore") == "report"


def left_to_caller(facts: ModuleFacts, settings: Settings, node: ast.AST, scope: ast.AST) -> bool:
    """The rows of ``node`` are the function's result and the user did not ask to hear of it."""
    return not report_returned(settings) and rows_escape(facts, node, scope)


def walked_by_callers(ctx: CheckContext, node: ast.AST, scope: ast.AST) -> str | None:
    """The name of the module-level function that returns the rows of ``node`` as they are
    (``return q.all()``, or ``rows = q.all()`` then only ``return rows``) when every call of it
    in the project walks them once (``for row in rows_of(...)``): the rows left to the caller
    are a list the callers did not need. None otherwise."""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) \
            or scope not in ctx.facts.tree.body or scope.decorator_list \
            or not _returned_as_is(ctx.facts, node, scope):
        return None
    from dbleak.analysis.sources import object_sources

    qualname = (f"{ctx.module_name}." if ctx.module_name else "") + scope.name
    return scope.name if object_sources(ctx).result_walked(qualname) else None


def _returned_as_is(facts: ModuleFacts, node: ast.AST, scope: ast.AST) -> bool:
    parent = facts.parent.get(id(node))
    if isinstance(parent, ast.Return):
        return True
    if isinstance(parent, ast.Assign) and parent.value is node and len(parent.targets) == 1 \
            and isinstance(parent.targets[0], ast.Name):
        loads = name_loads(scope, parent.targets[0].id)
        return bool(loads) and all(isinstance(facts.parent.get(id(load)), ast.Return)
                                   for load in loads)
    return False


def rows_escape(facts: ModuleFacts, node: ast.AST, scope: ast.AST, depth: int = 0) -> bool:
    """True when the value of ``node`` (the read rows) is returned, yielded or stored on an
    object: itself, through a name bound to it, inside a tuple or keyword, or as ``list()``/
    ``tuple()`` of it; or walked by a loop that keeps every row (:func:`loop_keeps_rows`)."""
    if depth > 4:
        return False
    current = node
    for _ in range(12):
        parent = facts.parent.get(id(current))
        if parent is None:
            return False
        if isinstance(parent, (ast.Return, ast.Yield)):
            return True
        if isinstance(parent, (ast.Await, ast.keyword, *_CONTAINERS)):
            current = parent
            continue
        if isinstance(parent, ast.Call) and current in parent.args \
                and isinstance(parent.func, ast.Name) and parent.func.id in _COPIES:
            current = parent
            continue
        if isinstance(parent, ast.Call) and len(parent.args) == 2 and current is parent.args[1] \
                and call_name(parent) == "cast":
            current = parent  # `typing.cast(list[Row], rows)` is the rows themselves
            continue
        if isinstance(parent, ast.Call) and isinstance(current, ast.keyword):
            current = parent  # `Result(rows=rows)` returned
            continue
        if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is current:
            return loop_keeps_rows(parent)
        if isinstance(parent, (ast.Assign, ast.AnnAssign)) and parent.value is current:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if any(isinstance(t, (ast.Attribute, ast.Subscript)) for t in targets):
                return True
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                return any(rows_escape(facts, load, scope, depth + 1)
                           for load in name_loads(scope, targets[0].id))
            return False
        return False
    return False



_KEEPING_METHODS = frozenset({"append", "add", "appendleft"})


def loop_keeps_rows(loop: ast.For | ast.AsyncFor) -> bool:
    """``for row in rows: kept[row.key].append(row)`` / ``kept[row.key] = row``: a statement of
    the loop's own body (not under an ``if``) stores the row itself, unchanged, in a container
    the loop does not make. Every row outlives the loop whatever the read returns."""
    if not isinstance(loop.target, ast.Name):
        return False
    row = loop.target.id
    made_inside = {t.id for statement in loop.body for node in ast.walk(statement)
                   if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}

    def container(node: ast.AST) -> str | None:
        while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
            node = node.value if not isinstance(node, ast.Call) else node.func
        return node.id if isinstance(node, ast.Name) else None

    for statement in loop.body:
        kept: ast.AST | None = None
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) \
                and isinstance(statement.value.func, ast.Attribute) \
                and statement.value.func.attr in _KEEPING_METHODS \
                and len(statement.value.args) == 1 and not statement.value.keywords \
                and isinstance(statement.value.args[0], ast.Name) \
                and statement.value.args[0].id == row:
            kept = statement.value.func.value
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Subscript) \
                and isinstance(statement.value, ast.Name) and statement.value.id == row:
            kept = statement.targets[0].value
        name = container(kept) if kept is not None else None
        if name is not None and name != row and name not in made_inside:
            return True
    return False


def loop_only_shows_rows(loop: ast.For | ast.AsyncFor) -> bool:
    """Every statement of the loop's body writes a line for a person to read (``print(...)``,
    ``self.stdout.write(...)``, ``click.echo(...)``, ``logger.info(...)``): a listing. A person
    reads a listing whole, so it is made of a table that stays small (the accounts, the
    configured queues, the API tokens), not of one that grows with use."""
    return bool(loop.body) and all(_shows(statement) for statement in loop.body)


def _shows(statement: ast.stmt) -> bool:
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    func = statement.value.func
    if isinstance(func, ast.Name):
        return func.id == "print"
    if not isinstance(func, ast.Attribute):
        return False
    owner = func.value
    owner_name = owner.attr if isinstance(owner, ast.Attribute) else \
        owner.id if isinstance(owner, ast.Name) else ""
    if func.attr == "write":
        return owner_name in ("stdout", "stderr")
    if func.attr in ("echo", "secho"):
        return owner_name == "click"
    return func.attr in LOG_METHODS and "log" in owner_name.lower()


def loop_searches(loop: ast.For | ast.AsyncFor) -> bool:
    """The loop stops at the first row that matches (``for t in types: if t.accepts(x): return
    t``): a search in Python over a table is written only for a table that stays small (a
    large one is searched with a filter in the query)."""
    return _stops(loop.body, False)


def _stops(body: list[ast.stmt], guarded: bool) -> bool:
    """Whether ``body`` returns or breaks under an ``if`` (module-level, not nested: a nested
    function that calls itself is a reference cycle, garbage the paused collector keeps)."""
    for statement in body:
        if isinstance(statement, (ast.Return, ast.Break)) and guarded:
            return True
        if isinstance(statement, ast.If) and (_stops(statement.body, True)
                                              or _stops(statement.orelse, True)):
            return True
    return False
