"""Call sites: what the project passes to its own functions, to type their untyped parameters.

``def get_version(backend): backend.execute(q).fetchone()`` says nothing of ``backend``; its
call sites do. When every call of ``get_version`` in its package passes one known kind of value
(an instance of ``Backend``, a ``sqlite3`` connection), ``backend`` holds that kind, as if it
were annotated.

The summarizer records, per module, the calls of functions of the module's own top-level
package with the origin of each argument (:data:`SUMMARY_CALL_SITES`), the methods called
on receivers it cannot resolve, with their arguments (:data:`SUMMARY_OPAQUE_SITES`:
``x.upgrade(b)`` may call any ``upgrade``), and the package's functions it uses as values rather than calls
(:data:`SUMMARY_REFERENCED`: a callback's callers are unknown). At check time
:func:`parameter_sites` gathers them from every module of the callee's top-level package found
on disk (the run's own copy of a module wins), so a file checked alone and the same file
checked with its whole project see the same call sites.

An inference needs evidence: at least one call site, every call site of the package passing the
parameter, no use of the function as a value. A call through a receiver nobody resolved
(``versions[n].upgrade(backend)``) may reach any function of that name, so it counts as one more
call site (its receiver the instance, when the callee is a method), and a recursive call that
passes the parameter on adds nothing. Otherwise the parameter stays unknown.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dbleak.analysis.module import ModuleFacts, walk_scope
from dbleak.analysis.origins import UNKNOWN, Origin, scope_readers
from dbleak.index import (
    SUMMARY_CALL_SITES,
    SUMMARY_OPAQUE_SITES,
    SUMMARY_REFERENCED,
    SUMMARY_RESULT_USES,
    SiteGroups,
    group_sites,
)

# The SUMMARY_* keys (and `called_words`, which reads them) live in
# dbleak.index, which answers the index's lookups without importing the analyses.

# An argument that cannot bind a parameter by name or position (`*args`, `**kwargs`).
_SPREAD = ("spread",)


def argument_parameter(params: tuple[Any, ...] | list[Any], index: int | None, keyword: str | None,
                       bound: bool) -> str | None:
    """The parameter an argument binds: by keyword, or by position (after ``self``/``cls`` for
    a bound method or a constructor)."""
    if keyword is not None:
        return keyword if keyword in params else None
    if index is None:
        return None
    offset = 1 if bound and params and params[0] in ("self", "cls") else 0
    return str(params[index + offset]) if index + offset < len(params) else None


def top_package(qualname: str) -> str:
    return qualname.split(".", 1)[0]


def module_call_sites(facts: ModuleFacts) -> dict[str, Any]:
    """The module's entries for the call-site keys (empty when it calls none of its package)."""
    if not facts.module_name:
        return {}
    package = top_package(facts.module_name)
    sites: list[tuple[str, bool, tuple[Origin, ...], tuple[tuple[str, Origin], ...]]] = []
    uses: list[tuple[str, str, int]] = []
    opaque_sites: list[tuple[str, tuple[Origin, ...], tuple[tuple[str, Origin], ...]]] = []
    referenced: set[str] = set()
    readers = scope_readers(facts)
    bound_names = facts.resolver.bindings  # names imports and module-level defs bind
    for scope in facts.scopes:
        node = scope.node
        reader = readers.get(id(node))
        if reader is None or isinstance(node, ast.ClassDef):
            continue
        callees: set[int] = set()
        values: list[ast.Name | ast.Attribute] = []
        for sub in walk_scope(node):
            kind = type(sub)
            if kind is ast.Call:
                call: ast.Call = sub  # type: ignore[assignment]
                callees.add(id(call.func))
                callee, bound = _callee(facts, reader, call)
                if callee is None and not isinstance(call.func, ast.Attribute):
                    continue
                if callee is not None and top_package(callee) != package:
                    continue
                if callee is None:
                    # `x.upgrade(b)` on a receiver nobody resolved: it may call any `upgrade`.
                    # Most are library calls: only names give an origin cheaply enough here.
                    method = call.func.attr  # type: ignore[attr-defined]
                    opaque_sites.append((method, _origins(reader, call, _named_origin),
                                         _keyword_origins(reader, call, _named_origin)))
                    continue
                sites.append((callee, bound, _origins(reader, call, _any_origin),
                              _keyword_origins(reader, call, _any_origin)))
                uses.append((callee, _result_use(facts, call, node), _runs(facts, call, scope)))
            elif kind is ast.Name or kind is ast.Attribute:
                values.append(sub)  # type: ignore[arg-type]
        for value in values:
            # a function of the package used as a value (not called): only names an import or
            # a definition binds can name one
            root: ast.expr = value
            while isinstance(root, ast.Attribute):
                root = root.value
            if id(value) in callees or not isinstance(value.ctx, ast.Load) \
                    or not isinstance(root, ast.Name) or root.id not in bound_names \
                    or _names_a_type(facts.parent, value):
                continue
            qualname = facts.qualname(value)
            if qualname is not None and top_package(qualname) == package:
                referenced.add(qualname)
    found: dict[str, Any] = {}
    if sites:
        found[SUMMARY_CALL_SITES] = tuple(sites)
    if opaque_sites:
        found[SUMMARY_OPAQUE_SITES] = tuple(opaque_sites)
    if referenced:
        found[SUMMARY_REFERENCED] = tuple(sorted(referenced))
    if uses:
        found[SUMMARY_RESULT_USES] = tuple(uses)
    return found


def calls_repeatedly(qualname: str, modules: Iterable[tuple[str, Any]],
                     canonical: Callable[[str], str]) -> int:
    """How often the calls of ``qualname`` in ``modules`` run, summed (see
    :data:`SUMMARY_RESULT_USES`: 0 at import, 1 per call of the enclosing function, 2 in a loop
    or a nested function); a module that uses the function as a value counts 2."""
    total = 0
    for _module, summary in modules:
        if any(canonical(str(name)) == qualname for name in summary.get(SUMMARY_REFERENCED) or ()):
            total += 2
        for callee, _use, runs in summary.get(SUMMARY_RESULT_USES) or ():
            if canonical(str(callee)) == qualname:
                total += int(runs)
    return total


def _runs(facts: ModuleFacts, call: ast.Call, scope: Any) -> int:
    """0 for a call at import time, 2 for one in a loop or in a function nested in another
    (a decorator's wrapper runs on every call of what it wraps), else 1."""
    if not scope.is_function:
        return 0
    if scope.parent is not None and scope.parent.is_function:
        return 2
    current = facts.parent.get(id(call))
    while current is not None and current is not scope.node:
        if isinstance(current, (ast.For, ast.AsyncFor, ast.While)):
            return 2
        current = facts.parent.get(id(current))
    return 1


def _result_use(facts: ModuleFacts, call: ast.Call, scope: ast.AST) -> str:
    """``"walked"`` when the call's result is only walked once by a loop or a comprehension
    (``for row in rows_of(...)``, or a name bound to it and read by one loop only, in the same
    scope), else ``"used"``."""
    parent = facts.parent.get(id(call))
    if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is call \
            or isinstance(parent, ast.comprehension) and parent.iter is call:
        return "walked"
    if isinstance(parent, ast.Assign) and parent.value is call and len(parent.targets) == 1 \
            and isinstance(parent.targets[0], ast.Name):
        name = parent.targets[0].id
        loads = [n for n in facts.names.get(name, ()) if facts.within(n, scope)]
        if len(loads) == 2:  # the binding and one read
            read = next(n for n in loads if n is not parent.targets[0])
            holder = facts.parent.get(id(read))
            if isinstance(holder, (ast.For, ast.AsyncFor, ast.comprehension)) \
                    and holder.iter is read:
                return "walked"
    return "used"


def result_walked_by_callers(qualname: str, modules: Iterable[tuple[str, Any]]) -> bool:
    """Whether every call of the function ``qualname`` in ``modules`` (``(module name, module
    summary)``) only walks its result once, and there is one at least; a module that uses the
    function as a value (a callback) may call it anywhere."""
    found = False
    name = qualname.rsplit(".", 1)[-1]
    for _module, summary in modules:
        if qualname in (summary.get(SUMMARY_REFERENCED) or ()):
            return False
        for callee, use, _runs_ in summary.get(SUMMARY_RESULT_USES) or ():
            if callee == qualname:
                if use != "walked":
                    return False
                found = True
        for site in summary.get(SUMMARY_OPAQUE_SITES) or ():
            if str(site[0]) == name:
                return False  # `x.name(...)` may call it too, its result unknown
    return found


def _any_origin(reader: Any, value: ast.expr) -> Origin:
    return reader.origin(value) or UNKNOWN


def _named_origin(reader: Any, value: ast.expr) -> Origin:
    """A name's origin (`backend`, `self`); anything else is not followed through such a call."""
    return (reader.origin(value) or UNKNOWN) if isinstance(value, ast.Name) else UNKNOWN


def _origins(reader: Any, call: ast.Call, origin_of: Callable[[Any, ast.expr], Origin]) -> tuple[Origin, ...]:
    return tuple(_SPREAD if isinstance(a, ast.Starred) else origin_of(reader, a) for a in call.args)


def _keyword_origins(reader: Any, call: ast.Call, origin_of: Callable[[Any, ast.expr], Origin]
                     ) -> tuple[tuple[str, Origin], ...]:
    return tuple((k.arg or "**", origin_of(reader, k.value) if k.arg else _SPREAD) for k in call.keywords)


def _callee(facts: ModuleFacts, reader: Any, call: ast.Call) -> tuple[str | None, bool]:
    func = call.func
    base = _super_init_base(facts, reader, call)
    if base is not None:
        return base, True  # `super().__init__(a)`: a call of the base class, `self` bound
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and reader.cls is not None
            and func.value.id == reader.self_name):
        return f"{reader.cls}.{func.attr}", True
    if isinstance(func, ast.Name) and reader.holds_value(func.id):
        return None, False
    if isinstance(func, ast.Attribute):
        root = func.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and reader.holds_value(root.id):
            return None, False
    return facts.call_qualname(call), False


def _names_a_type(parents: Mapping[int, ast.AST], value: ast.expr) -> bool:
    """A class named as a type, not handed on as a value: in an annotation, or tested by
    ``isinstance``/``issubclass`` (its callers are still only its calls)."""
    node: ast.AST = value
    while True:
        parent = parents.get(id(node))
        if parent is None:
            return False
        if isinstance(parent, (ast.Subscript, ast.Tuple, ast.BinOp, ast.Attribute)):
            node = parent  # `Optional[Artifact]`, `(A, B)`, `A | None`
            continue
        if isinstance(parent, ast.arg) and parent.annotation is node:
            return True
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and parent.returns is node:
            return True
        if isinstance(parent, ast.AnnAssign) and parent.annotation is node:
            return True
        if isinstance(parent, ast.Call) and node in parent.args[1:2] and isinstance(parent.func, ast.Name) \
                and parent.func.id in ("isinstance", "issubclass"):
            return True
        if isinstance(parent, ast.ClassDef) and node in parent.bases:
            # a subclass with its own `__init__` reaches the base's through `super().__init__`
            # (a call site of its own); one without is made by calls the base never sees
            return any(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "__init__"
                       for item in parent.body)
        return False


def _super_init_base(facts: ModuleFacts, reader: Any, call: ast.Call) -> str | None:
    """The class ``super().__init__(...)`` calls the constructor of, in a method of a class with
    one base the module resolves; None otherwise."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "__init__" and reader.cls is not None
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super"):
        return None
    node: ast.AST | None = call
    while node is not None and not isinstance(node, ast.ClassDef):
        node = facts.parent.get(id(node))
    if not isinstance(node, ast.ClassDef) or len(node.bases) != 1:
        return None
    return facts.qualname(node.bases[0])


def parameter_sites(qualname: str, param: str, params: tuple[str, ...] | list[str],
                    modules: Iterable[tuple[str, Any]], canonical: Callable[[str], str],
                    groups: Callable[[str, Mapping[str, Any]], SiteGroups] = lambda _m, s: group_sites(s),
                    ) -> list[Origin] | None:
    """The origins every call site of ``qualname`` in ``modules`` (``(module name, module
    summary)``) passes for ``param``; None when one of them does not tell, or there are none.
    A class's ``__init__`` is called by calls of the class (``Artifact(self, key)``).
    ``groups`` gives a module's call sites by name (the index keeps them: ``site_groups``)."""
    constructor = qualname.endswith(".__init__")
    target = qualname[: -len(".__init__")] if constructor else qualname
    name = target.rsplit(".", 1)[-1]
    try:
        position = list(params).index(param)
    except ValueError:
        return None
    own = ("param", qualname, param)
    found: list[Origin] = []

    def told(origin: Origin | None) -> bool:
        """Keep what one call site passes; False when it does not tell."""
        if origin is None or origin == UNKNOWN:
            return False
        if origin != own:  # a recursive call passing the parameter on tells nothing new
            found.append(origin)
        return True

    for module, summary in modules:
        opaque, calls = groups(module, summary)
        # `x.name(...)` on a receiver nobody resolved may call it: one more call site, whose
        # receiver, if the callee is a method, is its instance
        if constructor and "__init__" in opaque:
            return None
        for _method, args, keywords in opaque.get(name, ()):
            if not told(_argument(position, param, params, True, args, keywords)):
                return None
        for referenced in summary.get(SUMMARY_REFERENCED) or ():
            if referenced.rsplit(".", 1)[-1] == name and canonical(referenced) == target:
                return None  # used as a value: its callers are not all in sight
        for callee, bound, args, keywords in calls.get(name, ()):
            if canonical(callee) != target:
                continue
            if not told(_argument(position, param, params, bound or constructor, args, keywords)):
                return None
    return found or None


def _argument(position: int, param: str, params: tuple[str, ...] | list[str], bound: bool,
              args: tuple[Origin, ...], keywords: tuple[tuple[str, Origin], ...]) -> Origin | None:
    for keyword, origin in keywords:
        if keyword == param:
            return origin
    offset = 1 if bound and params and params[0] in ("self", "cls") else 0
    index = position - offset
    if 0 <= index < len(args) and _SPREAD not in args[:index + 1]:
        return args[index]  # `Cm(self.pool, *a, **kw)`: what follows binds other parameters
    return None  # the default, or a spread that may fill it: not something known
