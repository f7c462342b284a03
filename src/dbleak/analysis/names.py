"""Resolving names to qualified names through the module's imports and simple assignments.

``sqlite3.connect``, ``from sqlite3 import connect as c``, ``import sqlite3 as s`` and
``sqlite3.dbapi2.connect`` all resolve to ``sqlite3.connect``.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Callable, Collection

from dbleak.knowledge.drivers import PYTHON2_ONLY_MODULES


def base_name(node: ast.expr) -> str:
    """The last name a class base spells: ``Model`` for ``models.Model``, ``Base`` for
    ``Base[T]``; "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):  # `Generic[T]`, `Base[Model]`
        return base_name(node.value)
    return ""


def chain_text(node: ast.AST) -> str | None:
    """``cur`` or ``self.cur`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def method_call_parts(node: ast.AST) -> tuple[str | None, str] | None:
    """``("Notification.query", "filter_by")`` for ``Notification.query.filter_by(...)``: the
    chain a method is called on (None when it is no Name/Attribute chain) and the method;
    None when ``node`` is no method call. For messages that name a long receiver by its shape."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return chain_text(node.func.value), node.func.attr
    return None


def root_name(node: ast.AST) -> str | None:
    """``conn`` for ``conn``, ``conn.engine`` or ``conn.engine.connect``; None when the chain
    starts with something other than a name."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def receiver_root(node: ast.AST) -> str | None:
    """``res`` for ``res.scalars().unique()`` or ``cur.execute(q)[0]``: the name a chain of
    attributes, calls, subscripts and awaits starts from; None when it starts elsewhere."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Await, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


# Names used in a scope and bound at a module's top level, computed once per node: a module
# with hundreds of findings plans hundreds of fixes, and each asks which names are free.
_NAMES_USED: weakref.WeakKeyDictionary[ast.AST, frozenset[str]] = weakref.WeakKeyDictionary()
_TOP_LEVEL: weakref.WeakKeyDictionary[ast.Module, frozenset[str]] = weakref.WeakKeyDictionary()


def names_used(node: ast.AST) -> frozenset[str]:
    """Every name used, bound or imported anywhere under ``node`` (cached per node)."""
    cached = _NAMES_USED.get(node)
    if cached is not None:
        return cached
    taken: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            taken.add(sub.id)
        elif isinstance(sub, ast.arg):
            taken.add(sub.arg)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            taken.add(sub.name)
        elif isinstance(sub, ast.alias):
            taken.add((sub.asname or sub.name).split(".")[0])
    names = frozenset(taken)
    _NAMES_USED[node] = names
    return names


def top_level_names(tree: ast.Module) -> frozenset[str]:
    """The names the top-level statements of a module bind (cached per module)."""
    cached = _TOP_LEVEL.get(tree)
    if cached is not None:
        return cached
    taken: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            taken.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            taken.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            taken.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    names = frozenset(taken)
    _TOP_LEVEL[tree] = names
    return names


def fresh_name(tree: ast.Module, scope: ast.AST, base: str) -> str:
    """``base`` (or ``base1``, ``base2``, …): a name used nowhere in ``scope`` and bound by no
    top-level statement of the module, so binding it there shadows and breaks nothing."""
    used = names_used(scope)
    top = top_level_names(tree)
    candidate, counter = base, 1
    while candidate in used or candidate in top:
        candidate = f"{base}{counter}"
        counter += 1
    return candidate


def import_bindings(node: ast.Import | ast.ImportFrom, module_name: str = "",
                    is_package: bool = False) -> list[tuple[str, str]]:
    """(local name, qualified name) for each name an import statement binds.

    ``module_name`` is the importing module's dotted name; ``is_package``: it is a package's
    ``__init__``, so a relative import's first level is the package itself.
    """
    found: list[tuple[str, str]] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                found.append((alias.asname, alias.name))
            else:
                top = alias.name.split(".", 1)[0]
                found.append((top, top))
        return found
    base = import_from_base(node, module_name, is_package)
    for alias in node.names:
        if alias.name == "*":
            continue
        found.append((alias.asname or alias.name, f"{base}.{alias.name}" if base else alias.name))
    return found


def import_from_base(node: ast.ImportFrom, module_name: str = "", is_package: bool = False) -> str:
    """The module a ``from ... import`` statement imports from, relative levels resolved."""
    base = node.module or ""
    if node.level:
        package = module_name.split(".") if module_name else []
        drop = node.level - 1 if is_package else node.level
        package = package[: max(len(package) - drop, 0)]
        base = ".".join([*package, base] if base else package)
    return base


class ImportResolver:
    """Maps local names to qualified names. Built from every import in the module.

    Names that are imported in one place and bound to something else elsewhere at module level
    are dropped: precision first, a name we cannot be sure of resolves to nothing. A name bound
    by several imports only (``try: import pysqlite3 as sqlite3`` / ``except ImportError: import
    sqlite3``, or one alias per branch) keeps its candidates: :meth:`resolve_alternatives`.
    """

    def __init__(self, canonical: Callable[[str], str] = lambda q: q) -> None:
        self._canonical = canonical
        self.bindings: dict[str, str] = {}
        self._conflicts: set[str] = set()
        # Every qualified name an import or alias bound to a name, in order; names also bound
        # to something else are in ``_opaque``.
        self._candidates: dict[str, list[str]] = {}
        self._opaque: set[str] = set()
        # Qualified names imported in `except` handlers, and those imported anywhere else.
        self._fallbacks: set[str] = set()
        self._primaries: set[str] = set()
        # Names bound by unconditional imports in the module body: the only ones a fix may use
        # anywhere in the module (an import inside a function or an `if` is not visible everywhere).
        self.top_level: dict[str, str] = {}
        # The module's own functions and classes by name, and the names imports bind only inside
        # functions: `def connect(p): from sqlite3 import connect; ...` leaves `connect` the
        # module's function everywhere but in that function (whose reader sees its import).
        self._defined: dict[str, str] = {}
        self._in_functions: dict[str, set[str]] = {}
        self._module_bound: set[str] = set()

    def add_import(self, node: ast.Import | ast.ImportFrom, module_name: str = "",
                   top_level: bool = False, is_package: bool = False, fallback: bool = False,
                   in_function: bool = False) -> None:
        """``fallback``: the import sits in an ``except`` handler, so it runs only when the
        ``try`` body's import failed; ``in_function``: in a function's body."""
        for name, qualname in import_bindings(node, module_name, is_package):
            self._bind(name, qualname, top_level)
            if in_function:
                self._in_functions.setdefault(name, set()).add(self._canonical(qualname))
            else:
                self._module_bound.add(name)
            if fallback:
                self._fallbacks.add(self._canonical(qualname))
            else:
                self._primaries.add(self._canonical(qualname))

    def fallback_only(self, qualname: str) -> bool:
        """Whether ``qualname`` (or the module it is in) is imported only in ``except`` handlers
        (``except ImportError: import pysqlite2.dbapi2 as sqlite3``)."""
        while qualname:
            if qualname in self._primaries:
                return False
            if qualname in self._fallbacks:
                return True
            qualname = qualname.rpartition(".")[0]
        return False

    def never_imported(self, qualname: str) -> bool:
        """Whether ``qualname`` lives in a module that Python 3 cannot import (``pysqlite2``):
        a binding to it is the branch of an import fallback that never runs."""
        return qualname.split(".", 1)[0] in PYTHON2_ONLY_MODULES

    def add_alias(self, name: str, value: ast.expr) -> None:
        """``connect = sqlite3.connect`` at module level makes ``connect`` an alias."""
        target = self.resolve(value)
        if target is not None:
            self._bind(name, target)
        else:
            self.rebind(name)

    def add_local(self, name: str, qualname: str, defined: bool = False) -> None:
        """A function or class defined at module level (``defined``), or a module imported by a
        call (``pymysql = importlib.import_module("pymysql")``): ``name`` is ``qualname``."""
        self._bind(name, qualname)
        if defined:
            self._defined[name] = self._canonical(qualname)
        else:
            self._module_bound.add(name)

    def rebind(self, name: str) -> None:
        self._opaque.add(name)
        if name in self.bindings:
            self._conflicts.add(name)

    def _bind(self, name: str, qualname: str, top_level: bool = False) -> None:
        qualname = self._canonical(qualname)
        previous = self.bindings.get(name)
        if previous is not None and previous != qualname or previous is None and name in self._opaque:
            self._conflicts.add(name)
        candidates = self._candidates.setdefault(name, [])
        if qualname not in candidates:
            candidates.append(qualname)
        self.bindings[name] = qualname
        if top_level:
            self.top_level[name] = qualname

    def names_something(self, name: str) -> bool:
        """Whether an import, a function or a class of the module binds ``name`` (maybe among
        other bindings)."""
        return name in self._candidates

    def resolve(self, node: ast.AST) -> str | None:
        """The qualified name of a Name/Attribute chain, or None."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        if node.id in self._conflicts:
            base = self._primary(node.id)
        else:
            base = self.bindings.get(node.id)
        if base is None:
            return None
        parts.append(base)
        return self._canonical(".".join(reversed(parts)))

    def _primary(self, name: str) -> str | None:
        """The one import of a name that is not a fallback, when every other binding of it is
        an import in an ``except`` handler (``try: import sqlite3`` / ``except ImportError:
        import pysqlite2.dbapi2 as sqlite3``): the handler runs only where the first failed."""
        if name in self._opaque:
            return None
        defined = self._defined.get(name)
        if defined is not None and name not in self._module_bound and set(
                self._candidates.get(name, ())) == {defined, *self._in_functions.get(name, ())}:
            return defined  # the module's own function; its name imported inside functions only
        primaries = [q for q in self._candidates.get(name, ())
                     if not self.fallback_only(q) and not self.never_imported(q)]
        return primaries[0] if len(primaries) == 1 else None

    def resolve_alternatives(self, node: ast.AST) -> tuple[str, ...]:
        """The qualified names a chain may mean when its root is bound by several imports (and
        by nothing else); one name when :meth:`resolve` knows it; () otherwise."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return ()
        if node.id not in self._conflicts:
            single = self.resolve(node)
            if single is None:
                return ()
            return (self._canonical(".".join([single, *reversed(parts)])),)
        if node.id in self._opaque:
            return ()
        tail = list(reversed(parts))
        bases = [base for base in self._candidates.get(node.id, ()) if not self.never_imported(base)]
        return tuple(dict.fromkeys(self._canonical(".".join([base, *tail])) for base in bases))

    def local_name_for(self, qualname: str) -> str | None:
        """Expression text that refers to ``qualname`` anywhere in the module (``closing`` or
        ``contextlib.closing``), through an unconditional top-level import; None if there is none."""
        for name, bound in self.top_level.items():
            if name not in self._conflicts and bound == qualname:
                return name
        module, _, attr = qualname.rpartition(".")
        for name, bound in self.top_level.items():
            if name not in self._conflicts and bound == module:
                return f"{name}.{attr}"
        return None


def refines(value: ast.expr, name: str, methods: Collection[str]) -> bool:
    """``value`` is ``name.<m1>(...).<m2>(...)`` with every method one of ``methods``: what
    ``name`` holds, refined (a queryset's ``filter()``, ``exclude()``, …)."""
    current = value
    if not isinstance(current, ast.Call):
        return False
    while isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
        if current.func.attr not in methods:
            return False
        current = current.func.value
    return isinstance(current, ast.Name) and current.id == name
