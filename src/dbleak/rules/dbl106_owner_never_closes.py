"""DBL106 owner-never-closes."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.flow import REPORTED_KINDS, StoredResource, module_flow
from dbleak.analysis.module import iter_children, walk
from dbleak.knowledge.drivers import DriverTable, Kind
from dbleak.models import Finding
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.rules.dbl101_unclosed_connection import lifecycle_triggers

_RELEASE = frozenset({"close", "aclose", "dispose", "disconnect", "terminate", "release"})
_WORD = {Kind.CONNECTION: "connection", Kind.SESSION: "session", Kind.CURSOR: "cursor"}


def _bases_known(cls: ast.ClassDef, module_classes: set[str]) -> bool:
    """Bases we can see: none, `object`, or classes of this module (a base elsewhere may close it)."""
    for base in cls.bases:
        if isinstance(base, ast.Name) and (base.id == "object" or base.id in module_classes):
            continue
        return False
    return not cls.keywords


def _attribute_may_be_released(tree: ast.Module, attr: str, parents: dict[int, ast.AST]) -> bool:
    """Whether any code of the module might release ``<x>.attr``: a release call on it, or a
    use that hands it to other code (passed, returned, aliased, used in `with`, deleted)."""
    for node in walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr == attr):
            continue
        parent = parents.get(id(node))
        if isinstance(node.ctx, ast.Store):
            continue
        if isinstance(node.ctx, ast.Del):
            return True
        if isinstance(parent, ast.Attribute) and parent.value is node:
            if parent.attr in _RELEASE:
                return True
            continue  # self.conn.execute(...), self.conn.row_factory
        if isinstance(parent, (ast.Compare, ast.If, ast.While, ast.UnaryOp, ast.BoolOp, ast.Expr)):
            if isinstance(parent, ast.BoolOp) and not isinstance(parents.get(id(parent)), (ast.If, ast.While)):
                return True
            continue
        if isinstance(parent, ast.Subscript) and parent.value is node:
            continue
        return True  # passed, returned, aliased, `with self.conn`: someone else may close it
    return False


class OwnerNeverCloses(Rule):
    """
    ## What it does
    Flags a class that stores a connection, session or cursor on `self` when no method of the
    class (`close`, `__exit__`, `__aexit__`, `__del__`, `aclose`, …) — and no other code of the
    module — ever releases it.

    ## Why is this bad?
    The object owns the connection: nobody else knows to close it. Every instance leaks one
    connection, for as long as the instance lives, and there is no way for a caller to release
    it short of reaching into the attribute.

    ## Example
    ```python
    import sqlite3

    class Repository:
        def __init__(self, path):
            self.conn = sqlite3.connect(path)

        def names(self):
            return self.conn.execute("SELECT name FROM t").fetchall()
    ```

    ## Use instead
    ```python
    import sqlite3

    class Repository:
        def __init__(self, path):
            self.conn = sqlite3.connect(path)

        def names(self):
            return self.conn.execute("SELECT name FROM t").fetchall()

        def close(self):
            self.conn.close()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()
    ```

    ## Known problems
    Classes with a base class defined in another module are skipped (the base may close the
    attribute). Any use of the attribute other than calling its methods — passing it on,
    returning it, aliasing it — counts as a possible release.

    ## Fix safety
    No fix: where to close depends on how the class is used.

    ## Options
    None.

    ## References
    - [contextlib: supporting a context manager](https://docs.python.org/3/reference/datamodel.html#context-managers)
    """

    code = "DBL106"
    name = "owner-never-closes"
    message = "the class stores a connection on `self` and never closes it"
    needs_project = True

    VALID = (
        ("import sqlite3\n\nclass R:\n    def __init__(self, p):\n        self.conn = sqlite3.connect(p)\n"
        "    def close(self):\n        self.conn.close()\n"),
        ("import sqlite3\n\nclass R:\n    def __init__(self, p):\n        self.conn = sqlite3.connect(p)\n"
        "    @property\n    def connection(self):\n        return self.conn\n"),
    )
    INVALID = (
        Example(
            "import sqlite3\n\nclass R:\n    def __init__(self, p):\n        self.conn = sqlite3.connect(p)\n"
            "    def names(self):\n        return self.conn.execute('select 1').fetchall()\n",
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return lifecycle_triggers(drivers)

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        flow = module_flow(ctx)
        stored = list(flow.stored_on_self)
        stored.extend(_stored_locals(ctx, flow.flows))
        if not stored:
            return
        parents = {id(child): node for node in walk(ctx.tree) for child in iter_children(node)}
        module_classes = {n.name for n in walk(ctx.tree) if isinstance(n, ast.ClassDef)}
        seen: set[tuple[int, str]] = set()
        for item in sorted(stored, key=lambda s: (s.node.lineno, s.node.col_offset)):  # type: ignore[attr-defined]
            key = (id(item.class_node), item.attr)
            if key in seen or item.spec.kind not in REPORTED_KINDS:
                continue
            seen.add(key)
            if not _bases_known(item.class_node, module_classes):
                continue
            if _attribute_may_be_released(ctx.tree, item.attr, parents):
                continue
            word = _WORD.get(item.spec.kind, "connection")
            message = (f"`{item.class_node.name}` stores a {word} on `self.{item.attr}` and no "
                       "method closes it")
            yield ctx.finding(cls, item.node, message)


def _stored_locals(ctx: CheckContext, flows: list) -> Iterator[StoredResource]:  # type: ignore[type-arg]
    """``conn = connect(); self.conn = conn`` inside a method."""
    classes = {id(item): scope.node for scope in ctx.facts.scopes
               if isinstance(scope.node, ast.ClassDef) for item in scope.node.body}
    for flow in flows:
        cls = classes.get(id(flow.resource.scope))
        if cls is None:
            continue
        for escape in flow.escapes:
            if isinstance(escape, ast.Assign) and len(escape.targets) == 1:
                target = escape.targets[0]
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id == "self" and isinstance(escape.value, ast.Name)):
                    yield StoredResource(cls, target.attr, flow.resource.node, flow.resource.spec)
