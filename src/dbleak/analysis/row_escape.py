"""Whether the rows a read returns leave the function whole.

``return session.query(User).all()``, ``return [u.to_entity() for u in users]`` and
``self.rows = cur.fetchall()`` hand every row to someone else: reading all rows is the
function's contract, and no local rewrite (``yield_per``, ``fetchmany``, ``chunksize``) saves the
memory, because the caller receives all of it anyway. The fix is an API change (pagination, a
generator), which is the caller's call. As with ownership in the lifecycle rules, the DBL2xx
rules do not report such reads unless ``[tool.dbleak.sql] returned = "report"``.
"""

from __future__ import annotations

import ast

from dbleak.analysis.fetch_loops import name_loads
from dbleak.analysis.module import ModuleFacts
from dbleak.settings import Settings

# Calls that copy an iterable into a container of the same size.
_COPIES = frozenset({"list", "tuple", "set", "sorted", "dict", "frozenset"})
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp)
_CONTAINERS = (ast.Tuple, ast.List, ast.Dict, ast.Starred)


def report_returned(settings: Settings | None) -> bool:
    return settings is not None and settings.option("sql", "returned", "ignore") == "report"


def rows_escape(facts: ModuleFacts, node: ast.AST, scope: ast.AST, depth: int = 0) -> bool:
    """True when the value of ``node`` (the read rows) is returned, yielded or stored on an
    object, directly or as a same-size copy, a comprehension over it, or a name bound to it."""
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
        if isinstance(parent, ast.Call) and isinstance(current, ast.keyword):
            current = parent  # `Result(rows=rows)` returned
            continue
        if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is current:
            return loop_copies_out(facts, parent, scope)
        if isinstance(parent, ast.comprehension) and parent.iter is current:
            comprehension = facts.parent.get(id(parent))
            if not isinstance(comprehension, _COMPREHENSIONS):
                return False
            current = comprehension
            continue
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


_ADDERS = frozenset({"append", "extend", "add", "insert", "update", "appendleft"})


def loop_copies_out(facts: ModuleFacts, loop: ast.For | ast.AsyncFor, scope: ast.AST) -> bool:
    """``for row in rows: result.append(f(row))`` with ``result`` returned (or stored on an
    object): the loop copies every row into the function's result."""
    targets: set[str] = set()
    for node in ast.walk(loop):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _ADDERS:
            owner = node.func.value
            while isinstance(owner, ast.Subscript):  # `by_key[k].append(row)`
                owner = owner.value
            if isinstance(owner, ast.Name):
                targets.add(owner.id)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    targets.add(target.value.id)  # `by_key[k] = row`
    for name in targets:
        for load in name_loads(scope, name):
            parent = facts.parent.get(id(load))
            if isinstance(parent, (ast.Return, ast.Yield)) or (
                    isinstance(parent, ast.Assign) and parent.value is load
                    and any(isinstance(t, ast.Attribute) for t in parent.targets)):
                return True
    return False
