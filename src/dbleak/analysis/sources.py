"""Where database objects come from: the calls, names and attributes of a module that make or
hold a connection, cursor, session or engine, resolved through imports, re-exports, the
configured factories and the project's own factory functions.

What happens to such an object afterwards is :mod:`dbleak.analysis.flow`'s business; what a
callee does with one passed to it is :mod:`dbleak.analysis.handover`'s.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from dbleak.analysis.lifecycle_summary import (
    SUMMARY_BORROWS,
    SUMMARY_MODULE_ALIAS,
    SUMMARY_PARAMS,
    SUMMARY_RELEASES,
    SUMMARY_RETURNS,
    summarize_lifecycle,
)
from dbleak.analysis.module import walk
from dbleak.analysis.project import module_functions
from dbleak.knowledge.drivers import Kind, ObjectSpec, WithSpec

if TYPE_CHECKING:
    from dbleak.analysis.context import CheckContext

# A connection from a factory named in `[tool.dbleak.lifecycle] factories`: closes with `with`.
USER_CONNECTION = ObjectSpec("user.connection", "user", Kind.CONNECTION,
                             with_=WithSpec(closes=True))

# Connection classes that open nothing when called without arguments (missing from the table).
CONNECT_ON_ARGUMENTS = frozenset({
    "mysql.connector.MySQLConnection", "mysql.connector.connection.MySQLConnection",
    "mysql.connector.CMySQLConnection", "mysql.connector.connection_cext.CMySQLConnection",
})
CLOSING_WRAPPERS = frozenset({"contextlib.closing", "contextlib.aclosing"})


class ObjectSources:
    """What the calls and names of one module make or hold (the driver table's objects)."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.facts = ctx.facts
        self.drivers = ctx.drivers
        self.user_factories = frozenset(ctx.settings.option("lifecycle", "factories", ()) or ())
        prefix = f"{ctx.module_name}." if ctx.module_name else ""
        self.prefix = prefix
        # Summaries of this module's own functions, made on first need when the project index
        # does not hold them (a lone source text).
        self._local_summaries: dict[str, Any] | None = None
        self._local_functions = frozenset(module_functions(self.facts))
        self.global_specs: dict[str, ObjectSpec] = {}
        self.class_attr_specs: dict[int, dict[str, ObjectSpec]] = {}
        self.class_of: dict[int, ast.ClassDef] = {}

    def collect(self) -> None:
        """The specs of module globals and of attributes the classes set on `self`."""
        self._collect_global_specs()
        self._collect_class_specs()

    def _collect_global_specs(self) -> None:
        for stmt in self.ctx.tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                spec = self.factory_spec_of(stmt.value)
                if spec is not None:
                    self.global_specs[stmt.targets[0].id] = spec

    def _collect_class_specs(self) -> None:
        for scope in self.facts.scopes:
            cls = scope.node
            if not isinstance(cls, ast.ClassDef):
                continue
            attrs: dict[str, ObjectSpec] = {}
            for item in cls.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.class_of[id(item)] = cls
                    annotated = {a.arg: a.annotation for a in [*item.args.args, *item.args.kwonlyargs]
                                 if a.annotation is not None}
                    for node in walk(item):
                        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                                and self_attr(node.targets[0]) is not None
                                and isinstance(node.value, ast.Name) and node.value.id in annotated):
                            spec = self.annotation_spec(annotated[node.value.id])
                            if spec is not None:
                                attrs.setdefault(self_attr(node.targets[0]) or "", spec)
                            continue
                        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                                and self_attr(node.targets[0]) is not None):
                            spec = self.factory_spec_of(node.value, cls)
                            if spec is not None:
                                attrs[self_attr(node.targets[0]) or ""] = spec
                        elif isinstance(node, ast.AnnAssign) and self_attr(node.target) is not None:
                            spec = self.annotation_spec(node.annotation)
                            if spec is not None:
                                attrs[self_attr(node.target) or ""] = spec
            self.class_attr_specs[id(cls)] = attrs

    # -- what creates a resource

    def factory_spec_of(self, expr: ast.expr, cls: ast.ClassDef | None = None) -> ObjectSpec | None:
        """The spec of a factory call (driver, configured or project), through ``await``."""
        awaited = False
        if isinstance(expr, ast.Await):
            expr = expr.value
            awaited = True
        if not isinstance(expr, ast.Call):
            return None
        return self.call_factory_spec(expr, awaited, cls)

    def call_factory_spec(self, call: ast.Call, awaited: bool, cls: ast.ClassDef | None,
                          in_async_with: bool = False) -> ObjectSpec | None:
        """The object a factory call makes (driver, configured or project), tracked or not."""
        qualname = self.call_target(call, cls)
        if qualname is None:
            return None
        keywords = frozenset(k.arg for k in call.keywords if k.arg is not None)
        factory = self.drivers.factory_for(qualname, keywords)
        if factory is not None:
            if factory.awaited and not (awaited or in_async_with):
                return None
            if qualname in CONNECT_ON_ARGUMENTS and not call.args and not call.keywords:
                return None  # an unconnected object: `MySQLConnection()` connects only when given options
            if getattr(factory, "context_only", False):
                return None
            return self.drivers.objects.get(factory.returns)
        if qualname in self.user_factories:
            return USER_CONNECTION
        return self.project_factory_spec(qualname, 0)

    def factory_call_with(self, call: ast.Call, cls: ast.ClassDef | None, is_async: bool) -> WithSpec | None:
        """What `with f(...)` does when the factory says so (``async with aiosqlite.connect()``)."""
        qualname = self.call_target(call, cls)
        factory = self.drivers.factory(qualname)
        if factory is None:
            return None
        return getattr(factory, "call_async_with" if is_async else "call_with", None)

    def call_target(self, call: ast.Call, cls: ast.ClassDef | None) -> str | None:
        func = call.func
        if (cls is not None and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in ("self", "cls")):
            return f"{self.prefix}{cls.name}.{func.attr}"
        qualname = self.facts.call_qualname(call)
        if qualname is not None and qualname not in self.drivers.factories:
            qualname = self.through_reexports(qualname)
        return qualname

    def through_reexports(self, qualname: str) -> str:
        """``peewee.sqlite3.connect`` → ``sqlite3.connect`` when peewee re-exports sqlite3."""
        for _ in range(4):
            parts = qualname.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                summary = self.ctx.project.get(".".join(parts[:cut]))
                target = summary.get(SUMMARY_MODULE_ALIAS) if summary is not None else None
                if target:
                    qualname = self.drivers.canonical(".".join([str(target), *parts[cut:]]))
                    break
            else:
                return qualname
        return qualname

    def may_create(self) -> bool:
        """Cheap first look: a factory call or an annotation naming a table object, or no work."""
        factories = self.drivers.factories
        for site in self.facts.calls:
            call = site.node
            qualname = self.facts.call_qualname(call)
            if qualname is None:
                # `self.make()` can only make a resource if some call in this module (or a
                # project factory it calls) does: that call is found by this same loop.
                continue
            if qualname in factories or qualname in self.user_factories:
                return True
            if self.through_reexports(qualname) in factories:
                return True
            summary = self.summary(qualname)
            if summary is not None and summary.get(SUMMARY_RETURNS):
                return True
        for node in walk(self.ctx.tree):
            if (isinstance(node, ast.arg) and node.annotation is not None
                    and self.annotation_spec(node.annotation) is not None):
                return True
        return False

    def summary(self, qualname: str) -> dict[str, object] | None:
        found = self.ctx.project.get(qualname)
        if found is not None:
            return dict(found.facts)
        if self.ctx.project.functions:
            return None  # a project run: the index already holds this module's functions
        if qualname not in self._local_functions:
            return None
        if self._local_summaries is None:
            self._local_summaries = dict(summarize_lifecycle(self.facts))
        local = self._local_summaries.get(qualname)
        return dict(local) if local is not None else None

    def project_factory_spec(self, qualname: str, depth: int) -> ObjectSpec | None:
        if depth > 6:
            return None
        summary = self.summary(qualname)
        if summary is None:
            return None
        returns = summary.get(SUMMARY_RETURNS)
        if not isinstance(returns, (tuple, list)) or not returns:
            return None
        specs: list[ObjectSpec] = []
        for target in returns:
            factory = self.drivers.factory(str(target))
            if factory is not None:
                spec = self.drivers.objects.get(factory.returns)
            elif target in self.user_factories:
                spec = USER_CONNECTION
            else:
                spec = self.project_factory_spec(str(target), depth + 1)
            if spec is None:
                return None  # one return path gives something we do not know: not a factory
            specs.append(spec)
        first = specs[0]
        return first if all(s.name == first.name for s in specs) else None

    def annotation_spec(self, annotation: ast.expr | None) -> ObjectSpec | None:
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
        objects = self.drivers.objects
        if qualname in objects:
            return objects[qualname]
        for spec in objects.values():
            if qualname in getattr(spec, "classes", ()):
                return spec
        factory = self.drivers.factory(qualname)  # a class that is its own factory
        if factory is not None and factory.returns in objects:
            return objects[factory.returns]
        parts = qualname.split(".")
        short = f"{parts[0]}.{parts[-1]}"
        return objects.get(short)

    def param_effect(self, qualname: str, index: int | None, keyword: str | None,
                     method_call: bool) -> str | None:
        """"release", "borrow" or None for a project function's parameter."""
        summary = self.summary(qualname)
        if summary is None:
            return None
        params = summary.get(SUMMARY_PARAMS)
        if not isinstance(params, (tuple, list)):
            return None
        name = keyword
        if name is None and index is not None:
            offset = 1 if method_call and params and params[0] in ("self", "cls") else 0
            if index + offset < len(params):
                name = str(params[index + offset])
        if name is None:
            return None
        releases = summary.get(SUMMARY_RELEASES) or ()
        borrows = summary.get(SUMMARY_BORROWS) or ()
        if name in releases:  # type: ignore[operator]
            return "release"
        if name in borrows:  # type: ignore[operator]
            return "borrow"
        return None


def self_attr(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    return None
