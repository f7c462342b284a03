"""Django querysets evaluated only to be counted or tested: ``len(qs)``, ``len(list(qs))``,
``bool(qs)``, ``if qs:``, ``if not qs:``.

Evaluating a queryset fetches every row and builds a model instance for each, to keep them in
the queryset's result cache. When nothing reads that cache afterwards (the rows are never
iterated, indexed or handed on), ``qs.count()`` / ``qs.exists()`` ask the database for the one
number instead.

A queryset is ``Model.objects.<queryset methods>``, a related manager's ``obj.items.all()`` /
``.filter()`` / ``.exclude()`` (``items`` a many-to-many field or a ``related_name`` of a model
of the project, or a default ``<model>_set``), a queryset method called on either, or a local
name bound to one of them and otherwise only refined (``qs = qs.filter(...)``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from dbleak.analysis.fetch import is_test_module, is_test_scope
from dbleak.analysis.fetch_orm import (
    DJANGO_BOUNDING,
    DJANGO_MANAGERS,
    DJANGO_QUERYSET,
    Step,
    manager_steps,
    method_chain,
    model_factory_name,
    queryset_owner,
)
from dbleak.analysis.model_relations import is_django_model
from dbleak.analysis.module import ModuleFacts, Scope, argument_position, walk
from dbleak.analysis.names import base_name, refines
from dbleak.analysis.origins import has_decorator, instance_method_of, is_none, parameter_defaults
from dbleak.knowledge.frameworks import (
    FRAMEWORK_RELATED_MANAGERS,
    PAGE_QUERYSET_METHODS,
    TREE_NODE_QUERYSETS,
    TREE_PACKAGES,
)

# Queryset methods that make another queryset and support `count()`/`exists()`.
_CHAINABLE = DJANGO_QUERYSET - {"raw", "union", "dates", "datetimes", "extra"}
# Calls on a queryset name that read nothing from its result cache, or only what `count()` /
# `exists()` would give (they run their own query when the cache is empty): every queryset
# method, the clones that cannot be counted the same way (`extra()`, `union()`, `dates()`) too.
_QUERY_CALLS = (DJANGO_QUERYSET | DJANGO_BOUNDING) - {"raw", "iterator", "in_bulk"}
# Methods that make a queryset from a related manager (`book.authors.all()`).
_RELATED_ENTRY = frozenset({"all", "filter", "exclude"})
# How a queryset is known (see `CountSite.inferred`).
_KNOWN, _INFERRED = "known", "inferred"
# A class-based view's ``queryset`` attribute: a queryset or None (no `.exists()` rewrite).
_MAYBE_NONE = "maybe-none"
# Statements and expressions whose `test` is evaluated only for its truth.
_TESTS = frozenset({ast.If, ast.While, ast.IfExp, ast.Assert})
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class CountSite:
    """One evaluation of a queryset only for its size."""

    node: ast.expr  # what is reported, and replaced by the fix
    queryset: ast.expr  # the queryset expression (or name) the fix keeps
    # "len" (→ `.count()`), "distinct" (`len(set(qs))` → `.order_by().distinct().count()`),
    # "truth" (→ `.exists()`), or "any" / "all" of a condition on its rows (no rewrite)
    form: str
    stmt: ast.stmt
    # Other uses of the name read the queryset's cache (`qs.first()` after `len(qs)`): the fix
    # then makes each of them a query of its own.
    shares_cache: bool
    # Read as a queryset only from a relation name the project's models declare, in a module
    # that imports nothing of Django, or from a project helper's summary: the fix is unsafe.
    inferred: bool = False
    # The list or set comprehension that keeps some of the queryset's rows, when it is what is
    # counted (`len([a for a in qs if ...])`): no rewrite, the condition belongs in the query.
    kept_by: ast.expr | None = None
    # A class-based view's `self.queryset`, which may be None: a truth test of it often means
    # `is not None`, and `.exists()` would fail on None; no rewrite.
    maybe_none: bool = False
    # What it holds when it is no queryset: `None` (`sites = None`), `False` (`conflict = False`).
    placeholder: str = "None"


def count_sites(facts: ModuleFacts, path: str, root: str | None, managers: frozenset[str],
                helper_queryset: Callable[[ast.expr, Scope], bool] | None = None,
                custom: Mapping[str, str] | None = None,
                refined_by: Callable[[ast.Call, int | str, Scope], bool] | None = None,
                models: frozenset[str] = frozenset()) -> list[CountSite]:
    """Every place of the module that evaluates a queryset only to count or test it;
    ``managers`` are the related manager names the project's models declare;
    ``helper_queryset`` says whether a call (or ``self.<property>``) is of a project helper
    that returns a queryset; ``custom`` the project's own queryset methods (see
    ``model_relations.queryset_methods``: those that do not slice make querysets);
    ``refined_by`` whether a call only refines or queries what it is passed at a position
    (a project function's summary says: its rows are not read there); ``models`` the names of
    the project's model classes."""
    if is_test_module(path, root):
        return []
    finder = _Finder(facts, managers, helper_queryset, custom, refined_by, models)
    return list(finder.sites())


class _Finder:
    def __init__(self, facts: ModuleFacts, managers: frozenset[str],
                 helper_queryset: Callable[[ast.expr, Scope], bool] | None = None,
                 custom: Mapping[str, str] | None = None,
                 refined_by: Callable[[ast.Call, int | str, Scope], bool] | None = None,
                 models: frozenset[str] = frozenset()) -> None:
        self.facts = facts
        self.models = models
        self.helper_queryset = helper_queryset
        self.refined_by = refined_by
        # The project's queryset methods that make a queryset without slicing it.
        self.chainable = _CHAINABLE | frozenset(
            name for name, verdict in (custom or {}).items() if verdict in ("filter", "argument"))
        # The related managers the project's models declare (see `related_entry`).
        self.own_managers = managers
        self.django = imports_django(facts)
        self._prefetches: dict[int, frozenset[str]] = {}
        self._defs: frozenset[str] | None = None
        self._tree: bool | None = None

    def sites(self) -> Iterator[CountSite]:
        for scope in self.facts.scopes:
            if not scope.is_function or is_test_scope(scope):
                continue
            for node in self.facts.scope_nodes.get(id(scope.node), ()):
                kind = type(node)
                if kind is ast.Call:
                    func = node.func  # type: ignore[attr-defined]
                    if type(func) is not ast.Name or func.id not in ("len", "bool", "any", "all"):
                        continue  # the cheap test first: most nodes are neither
                elif kind is ast.UnaryOp:
                    if type(node.op) is not ast.Not or self._under_test(node):  # type: ignore[attr-defined]
                        continue  # a `not` in a test is read with that test
                elif kind not in _TESTS:
                    continue
                yield from self._sites(node, scope)

    def _under_test(self, node: ast.AST) -> bool:
        """Whether ``node`` (through ``not``, ``and``/``or`` and other ``not``s) is the test of an
        ``if``, ``while``, ``assert`` or ``x if ... else y``, or sits under another ``not``."""
        tested, negated = _truth_context(self.facts, node)
        return tested or negated

    # -- the shapes

    def _sites(self, node: ast.AST, scope: Scope) -> Iterator[CountSite]:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("any", "all"):
            site = self._tested_rows(node, scope)
            if site is not None:
                yield site
            return
        if isinstance(node, ast.Call):
            sized = _sized(self.facts, node)
            if sized is not None:
                site = self._counted(node, sized[0], sized[1], scope)
                if site is not None:
                    yield site
        elif isinstance(node, ast.UnaryOp):
            # `return not conflict`: a truth test outside `if`/`while`
            for tested in _tested(node.operand):
                site = self._counted(tested, tested, "truth", scope)
                if site is not None:
                    yield site
        elif isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            for tested in _tested(node.test):
                site = self._counted(tested, tested, "truth", scope)
                if site is not None:
                    yield site

    def _counted(self, node: ast.expr, queryset: ast.expr, form: str, scope: Scope) -> CountSite | None:
        kind = self._queryset(queryset, scope, 0)
        if kind is None:
            return self._kept_by_comprehension(node, queryset, form, scope)
        stmt = self.facts.statement_of(node)
        if stmt is None:
            return None
        shares = False
        if kind == _INFERRED and isinstance(queryset, ast.Attribute) and self._rows_read(queryset, scope):
            return None  # `self.queryset` (a cached property) is read whole here too
        if isinstance(queryset, ast.Name):
            uses = self._other_uses(queryset, scope)
            if uses is None:
                return None  # its rows are read elsewhere: evaluating it once serves them
            shares = uses
        placeholder = "None"
        if kind == _MAYBE_NONE and isinstance(queryset, ast.Name) and any(
                isinstance(value, ast.Constant) and value.value is False
                for value in self._refined_bindings(queryset.id, scope)):
            placeholder = "False"
        return CountSite(node, queryset, form, stmt, shares, inferred=kind == _INFERRED,
                         maybe_none=kind == _MAYBE_NONE, placeholder=placeholder)

    def _kept_by_comprehension(self, node: ast.expr, counted: ast.expr, form: str,
                               scope: Scope) -> CountSite | None:
        """``len([a for a in qs if a.provider == p])``, or a name bound once to such a list
        and only counted or tested: every row of ``qs`` is fetched and built to count those a
        Python condition keeps. No rewrite: the condition must move into the query."""
        comprehension = counted
        if isinstance(counted, ast.Name):
            values = self._refined_bindings(counted.id, scope)
            if len(values) != 1 or not self._only_counted(counted, scope):
                return None
            comprehension = values[0]
        filtered = self._filtered(comprehension)
        if filtered is not None:
            source = filtered  # `len(list(filter(None, qs.values_list("f", flat=True))))`
        elif not isinstance(comprehension, (ast.ListComp, ast.SetComp)) \
                or len(comprehension.generators) != 1 or comprehension.generators[0].is_async:
            return None
        else:
            source = comprehension.generators[0].iter
        kind = self._queryset(source, scope, 0)
        stmt = self.facts.statement_of(node)
        if kind is None or stmt is None:
            return None
        if isinstance(source, ast.Name) and self._other_uses(source, scope) is None:
            return None  # the queryset's rows are read elsewhere too
        return CountSite(node, source, form, stmt, False, inferred=kind == _INFERRED,
                         kept_by=comprehension)

    def _filtered(self, node: ast.expr) -> ast.expr | None:
        """``x`` of ``filter(condition, x)`` (builtin ``filter``, or ``list(filter(...))``):
        the rows of ``x`` a Python condition keeps."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "list" \
                and len(node.args) == 1 and not node.keywords and self.facts.qualname(node.func) is None:
            node = node.args[0]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "filter" \
                and len(node.args) == 2 and not node.keywords and self.facts.qualname(node.func) is None:
            return node.args[1]
        return None

    def _tested_rows(self, call: ast.Call, scope: Scope) -> CountSite | None:
        """``all(r.status == DONE for r in qs)`` / ``any(...)``: every row of ``qs`` is fetched
        and built to test a condition the query could test (``qs.exclude(...).exists()``).
        No rewrite: the condition must move into the query."""
        if len(call.args) != 1 or call.keywords or self.facts.qualname(call.func) is not None:
            return None
        generator = call.args[0]
        if not isinstance(generator, (ast.GeneratorExp, ast.ListComp)) \
                or len(generator.generators) != 1 or generator.generators[0].is_async:
            return None
        clause = generator.generators[0]
        if not isinstance(clause.target, ast.Name) \
                or not self._field_condition(generator.elt, clause.target.id) \
                or not all(self._field_condition(test, clause.target.id) for test in clause.ifs):
            return None  # a method or a property of each row: not a filter of the query
        source = clause.iter
        kind = self._queryset(source, scope, 0)
        stmt = self.facts.statement_of(call)
        if kind is None or stmt is None:
            return None
        if isinstance(source, ast.Name) and self._other_uses(source, scope) is None:
            return None  # the queryset's rows are read elsewhere too
        return CountSite(call, source, call.func.id, stmt, False,  # type: ignore[attr-defined]
                         inferred=kind == _INFERRED, kept_by=generator)

    def _field_condition(self, test: ast.expr, row: str) -> bool:
        """Whether ``test`` reads the row only through plain attributes that a query can filter
        on (``r.status == DONE``, ``not r.hidden``, ``r.group in groups``): no call on the row
        or its attributes (``r.has_permission(u)``, ``str(r.name)``), and no attribute the
        module defines as a method or property (``r.is_locked``)."""
        for node in walk(test):
            if isinstance(node, ast.Call) and any(
                    isinstance(n, ast.Name) and n.id == row for n in walk(node)):
                return False
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == row and node.attr in self._defined_names():
                return False
        return True

    def _defined_names(self) -> frozenset[str]:
        if self._defs is None:
            self._defs = frozenset(scope.node.name for scope in self.facts.scopes
                                   if isinstance(scope.node, (ast.FunctionDef, ast.AsyncFunctionDef)))
        return self._defs

    def _only_counted(self, name: ast.Name, scope: Scope) -> bool:
        """Every read of ``name`` in the scope only counts or tests it."""
        for other in self.facts.names.get(name.id, ()):
            if not isinstance(other.ctx, ast.Load):
                continue
            owner = self._scope_of(other)
            if owner is not scope.node:
                if self.facts.within(owner, scope.node):
                    return False  # a closure or comprehension of the scope reads it
                continue  # another function's name
            if count_use(self.facts, other) is None:
                return False
        return True

    # -- querysets

    def _queryset(self, expr: ast.expr, scope: Scope, depth: int) -> str | None:
        """``"known"`` when ``expr`` is a queryset, ``"inferred"`` when only a project
        helper's summary or a relation name outside Django's modules says so, else None."""
        if depth > 4:
            return None
        if isinstance(expr, ast.Name):
            values = self._refined_bindings(expr.id, scope)
            if not values:
                if self._queryset_parameter(expr, scope):
                    return _MAYBE_NONE
                # a parameter every call site in the project passes a queryset
                return _INFERRED if self.helper_queryset is not None \
                    and self.helper_queryset(expr, scope) else None
            kinds = [self._queryset(value, scope, depth + 1) for value in values]
            if any(kind is None for kind in kinds):
                if self.django and any(kind is not None for kind in kinds) and all(
                        kind is not None or _placeholder(value) for kind, value in zip(kinds, values)):
                    # `sites = None`, later `sites = Site.objects.filter(...)`: a test of it
                    # means "was it set?" and evaluates the queryset when it was
                    return _MAYBE_NONE
                return None
            return _MAYBE_NONE if _MAYBE_NONE in kinds else _INFERRED if _INFERRED in kinds else _KNOWN
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.BitOr, ast.BitAnd)):
            # `qs1 | qs2`, `qs1 & qs2`: a queryset combining two of the same model
            sides = [self._queryset(expr.left, scope, depth + 1),
                     self._queryset(expr.right, scope, depth + 1)]
            if None in sides:
                return None
            return _INFERRED if _INFERRED in sides else _KNOWN
        if isinstance(expr, (ast.Call, ast.Attribute)) and self.helper_queryset is not None \
                and self.helper_queryset(expr, scope):
            # `len(facilities_managed_by(user))`, `len(self.related_reports)` (a property):
            # the helper's summary says
            return _INFERRED
        if isinstance(expr, ast.Attribute):
            view = self._view_queryset(expr, scope)
            if view is not None:
                return view
        if isinstance(expr, ast.Call) and (self._view_method_queryset(expr, scope)
                                           or self._get_queryset_call(expr, scope)):
            return _INFERRED
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) \
                and expr.func.attr in _CHAINABLE and isinstance(expr.func.value, ast.Call):
            inner = self._queryset(expr.func.value, scope, depth + 1)
            if inner is not None:  # `self.commands().filter(...)`: a refined queryset
                return inner
        root, steps = method_chain(expr)
        if not steps or steps[-1].call is None or any(s.name == "[]" for s in steps):
            return None  # a slice is bounded; a bare attribute is no evaluated queryset
        if isinstance(root, ast.BinOp) and all(s.name in _CHAINABLE for s in steps):
            return self._queryset(root, scope, depth + 1)  # `(qs1 | qs2).order_by(...)`
        owner_node, from_manager = manager_steps(expr)
        if owner_node is not None:
            # `Tag.objects…`, `get_user_model().objects…`; a lowercase owner in Django's modules
            owner = model_factory_name(owner_node) or (
                owner_node.attr if isinstance(owner_node, ast.Attribute)
                else owner_node.id if isinstance(owner_node, ast.Name) else "")
            if not (owner[:1].isupper() or self.django):
                return None
            chainable = self.chainable | (TREE_NODE_QUERYSETS | PAGE_QUERYSET_METHODS
                                          if self._tree_module() else frozenset())
            chained = len(from_manager) > 1 and all(s.name in chainable for s in from_manager[1:])
            return _KNOWN if chained else None
        if any(s.name in DJANGO_MANAGERS for s in steps):
            return None  # `self.get_queryset().objects…`: a manager of no known model
        calls = [i for i, s in enumerate(steps) if s.call is not None]
        first = calls[0]
        if isinstance(root, ast.Name) and first == 0 and self._manager_self(root, scope) \
                and all(s.name in _CHAINABLE for s in steps):
            return _KNOWN  # `self.filter(...)` in a method of a `Manager` or `QuerySet` class
        if isinstance(root, ast.Name) and first == 1 and self._method_self(root, scope) is not None:
            # `self.queryset.filter(...)`: the class's own queryset attribute (a DRF view's
            # `queryset = Sample.objects.filter(...)`), refined
            class_scope = scope.parent
            assert class_scope is not None
            values = self._refined_bindings(steps[0].name, class_scope)
            kinds = [self._queryset(value, class_scope, depth + 1) for value in values]
            if kinds and None not in kinds and all(s.name in _CHAINABLE for s in steps[1:]):
                return _INFERRED if _INFERRED in kinds else _KNOWN
        if isinstance(root, ast.Name) and first == 1 and steps[0].name == "queryset" \
                and self._view_parameter(root, scope) \
                and all(s.name in _CHAINABLE for s in steps[1:]):
            return _INFERRED  # `view.queryset.all()`: the queryset of the view handed in
        if isinstance(root, ast.Name) and first == 0:
            inner = self._queryset(root, scope, depth + 1)
            if inner is not None:  # `qs.filter(...)` of a queryset name
                return inner if all(s.name in _CHAINABLE for s in steps) else None
            if self._spoken_to_queryset(steps):
                # `notes.filter(Q(added__range=...))` of a name nothing else types
                return _INFERRED
        if first < len(steps) and steps[first].name in TREE_NODE_QUERYSETS and self._tree_module() \
                and steps[first].name not in self._defined_names() \
                and all(s.name in self.chainable or s.name in PAGE_QUERYSET_METHODS
                        for s in steps[first + 1:]):
            return _INFERRED  # `page.get_children().live()`: a tree node's relatives
        entry = related_entry(steps, self.own_managers, self.django,
                              self._model_instance(root, scope, depth))
        if entry is None:
            # `get_title_queryset(request).filter(page__in=ids)`: what a call of no known
            # type gives, refined in Django's lookup language
            return _INFERRED if self._spoken_to_queryset(steps) else None
        first, kind = entry
        if steps[first - 1].name in self._prefetched(expr) \
                and [s.name for s in steps[first:]] == ["all"] \
                and not (first == 1 and self._fetched_alone(root, scope)):
            return None  # answered from the prefetch cache, no query at all
        # `book.authors.all()`: a related manager of a model instance
        return kind if all(s.name in _CHAINABLE for s in steps[first:]) else None

    def _tree_module(self) -> bool:
        """Whether the module imports django-treebeard or Wagtail (whose pages are tree nodes)."""
        if self._tree is None:
            self._tree = any(q.split(".", 1)[0] in TREE_PACKAGES
                             for q in self.facts.resolver.bindings.values())
        return self._tree

    def _spoken_to_queryset(self, steps: list[Step]) -> bool:
        """In a Django module, whether the chain ends in queryset refinements one of which
        speaks Django's lookup language (see :meth:`_field_lookups`): only a queryset is
        spoken to so."""
        if not self.django:
            return False
        for step in reversed(steps):  # the refinements the chain ends in
            if step.name not in _CHAINABLE or step.call is None:
                return False
            if self._field_lookups(step.call):
                return True
        return False

    def _field_lookups(self, call: ast.Call) -> bool:
        """Whether a ``filter``/``exclude`` call speaks Django's lookup language: a keyword
        naming a lookup or a relation (``added__range=``, ``owner__name=``), or a ``Q(...)``
        condition (``Q(a=1) | Q(b=2)``)."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in ("filter", "exclude")):
            return False
        if any(k.arg is not None and "__" in k.arg.strip("_") for k in call.keywords):
            return True
        for arg in call.args:
            for node in ast.walk(arg):
                if isinstance(node, ast.Call) and self.facts.qualname(node.func) in _Q_NAMES:
                    return True
        return False

    def _queryset_parameter(self, name: ast.Name, scope: Scope) -> bool:
        """``def get_object(self, queryset=None)`` in a Django module: by Django's convention
        (its generic views' ``get_object(queryset=None)``) a queryset or None."""
        node = scope.node
        if not (self.django and name.id == "queryset" and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))):
            return False
        return any(arg.arg == "queryset" and is_none(default)
                   for arg, default in parameter_defaults(node))

    def _view_parameter(self, name: ast.Name, scope: Scope) -> bool:
        """``view``, a parameter of the function never rebound, in a Django module: by Django
        REST framework's convention the view a permission, a filter backend or a paginator is
        handed (``has_permission(self, request, view)``, ``filter_queryset(self, request,
        queryset, view)``), whose ``queryset`` attribute is its queryset (or None)."""
        node = scope.node
        if not (self.django and name.id == "view"
                and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))):
            return False
        args = node.args
        if not any(a.arg == "view" for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)):
            return False
        return not any(isinstance(n, ast.Name) and n.id == "view" and not isinstance(n.ctx, ast.Load)
                       for n in self.facts.scope_nodes.get(id(node), ()))

    def _view_method_queryset(self, call: ast.Call, scope: Scope) -> bool:
        """``self.get_queryset()``, ``super().get_queryset()``, ``self.filter_queryset(qs)`` in a
        method of a class-based view of a Django module (a base named ``...View``/``...ViewSet``,
        in any case: kolibri's ``ContentNodeSlimViewset``):
        by the framework's contract (Django's generic views, Django REST framework's) a
        queryset; the class may override it, so the fix is offered as unsafe."""
        func = call.func
        if not (self.django and isinstance(func, ast.Attribute)
                and func.attr in ("get_queryset", "filter_queryset")):
            return False
        receiver = func.value
        if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name) \
                and receiver.func.id == "super":
            method = instance_method_of(scope)
            cls = method[1] if method is not None else None
        elif isinstance(receiver, ast.Name):
            cls = self._method_self(receiver, scope)
        else:
            return False
        return cls is not None and any(base_name(base).lower().endswith(("view", "viewset"))
                                       for base in cls.bases)

    def _get_queryset_call(self, call: ast.Call, scope: Scope) -> bool:
        """``doc().get_queryset()``, ``admin.get_queryset(request)``, ``manager.get_queryset()``
        in a Django module, whatever the receiver: Django's name for the method that gives a
        queryset (managers, generic views, the admin, Django REST framework, and the packages
        that follow them). Not ``self.get_queryset()``: the class's own method says what it
        gives (a view's is judged as one, above)."""
        func = call.func
        if not (self.django and isinstance(func, ast.Attribute) and func.attr == "get_queryset"):
            return False
        receiver = func.value
        return not (isinstance(receiver, ast.Name) and self._method_self(receiver, scope) is not None)

    def _view_queryset(self, expr: ast.Attribute, scope: Scope) -> str | None:
        """``self.queryset`` in a method of a class-based view of a Django module: by the
        framework's contract (Django's generic views, Django REST framework's, and the views
        built on them) a queryset or None (``"maybe-none"``), when the class's own body binds
        ``queryset`` to None or to a queryset, or the class is a view (a base named
        ``...View``/``...ViewSet``). Defined in the class as a (cached) property instead: a
        queryset, as far as the name says (``"inferred"``)."""
        if not (self.django and expr.attr == "queryset" and isinstance(expr.value, ast.Name)):
            return None
        if self._view_parameter(expr.value, scope):
            return _MAYBE_NONE  # `view.queryset` of the view a permission is handed
        cls = self._method_self(expr.value, scope)
        if cls is None or scope.parent is None:
            return None
        if any(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "queryset"
               and has_decorator(item, {"property", "cached_property"}) for item in cls.body):
            return _INFERRED
        values = [v for v in self._refined_bindings("queryset", scope.parent) if not is_none(v)]
        if values:
            known = all(self._queryset(v, scope.parent, 1) is not None for v in values)
            return _MAYBE_NONE if known else None
        view = any(base_name(base).endswith(("View", "ViewSet")) for base in cls.bases)
        return _MAYBE_NONE if view else None

    def _rows_read(self, attribute: ast.Attribute, scope: Scope) -> bool:
        """Whether another read of ``self.<attr>`` in the scope may read its rows (anything but
        a query method called on it, or a count)."""
        holder = attribute.value
        assert isinstance(holder, ast.Name)
        for node in self.facts.scope_nodes.get(id(scope.node), ()):
            if node is attribute or not (isinstance(node, ast.Attribute) and node.attr == attribute.attr
                                         and isinstance(node.value, ast.Name)
                                         and node.value.id == holder.id and isinstance(node.ctx, ast.Load)):
                continue
            parent = self.facts.parent.get(id(node))
            if isinstance(parent, ast.Attribute) and parent.value is node and parent.attr in _QUERY_CALLS:
                continue
            if count_use(self.facts, node) is None:
                return True
        return False

    def _manager_self(self, name: ast.Name, scope: Scope) -> bool:
        """``name`` is the ``self`` of a method of a class deriving from Django's ``Manager``
        or ``QuerySet``: its queryset methods make querysets."""
        cls = self._method_self(name, scope)
        return cls is not None and any(_django_manager_base(self.facts, base) for base in cls.bases)

    @staticmethod
    def _method_self(name: ast.Name, scope: Scope) -> ast.ClassDef | None:
        """The class whose instance ``name`` is, when it is the ``self`` of a plain method."""
        method = instance_method_of(scope)
        return method[1] if method is not None and method[0] == name.id else None

    def _refined_bindings(self, name: str, scope: Scope) -> list[ast.expr]:
        """The values ``name`` is bound to in the scope, when each binding is a plain
        ``name = value`` and those that are no refinement of the name itself (``qs =
        qs.filter(...)``) are none; empty when one binding is of another kind."""
        node = scope.node
        if _is_parameter(name, node):
            return []  # a parameter: whatever the caller passes
        found: list[ast.expr] = []
        for other in self.facts.names.get(name, ()):
            if isinstance(other.ctx, ast.Load) or self._scope_of(other) is not node:
                continue
            parent = self.facts.parent.get(id(other))
            if not isinstance(parent, (ast.Assign, ast.AnnAssign)) or parent.value is None \
                    or (parent.targets != [other] if isinstance(parent, ast.Assign)
                        else parent.target is not other):
                return []  # bound by a loop, a `with`, an unpacking
            if not refines(parent.value, name, _CHAINABLE):
                found.append(parent.value)
        return found

    def _other_uses(self, name: ast.Name, scope: Scope) -> bool | None:
        """None when another use of the name reads the queryset's rows (or may: handed on,
        used by a nested function); else whether some use is a query of its own."""
        queries = False
        for other in self.facts.names.get(name.id, ()):
            if other is name or not isinstance(other.ctx, ast.Load):
                continue
            owner = self._scope_of(other)
            if owner is not scope.node:
                if self.facts.within(owner, scope.node):
                    return None  # a closure or comprehension of the scope reads it
                continue
            if self._exclusive(name, other):
                continue  # `elif n < 0: qs[len(qs) + n:]` / `else: list(qs)`: never both
            parent = self.facts.parent.get(id(other))
            if isinstance(parent, ast.Attribute) and parent.value is other:
                call = self.facts.parent.get(id(parent))
                if isinstance(call, ast.Call) and call.func is parent and parent.attr in _QUERY_CALLS:
                    if not self._refinement_of(other):
                        queries = True  # `qs = qs.filter(...)` only makes the queryset counted
                    continue
                if isinstance(call, ast.Call) and call.func is parent and parent.attr == "iterator":
                    # `qs.iterator()` runs its query again whatever the cache holds (Django's
                    # documentation): the count's rows serve nothing there
                    continue
                return None
            if isinstance(parent, ast.keyword) and _subquery_lookup(self.facts, parent):
                continue  # `filter(site__in=qs)`: a subquery, its cache never read
            if isinstance(parent, ast.Subscript) and parent.value is other \
                    and self._positioned_once(parent, name, scope):
                # `qs[target]` at a position known at run time, outside any loop the count is
                # not in: one row far into the queryset, an OFFSET query of its own
                queries = True
                continue
            if count_use(self.facts, other) is not None:
                continue
            if self._refined_by_callee(other, scope):
                queries = True  # `items(statement, qs)` of a helper that only refines it
                continue
            if isinstance(parent, ast.FormattedValue) and parent.value is other:
                # `f"... {qs}"`: its repr, at most 21 rows of a query of its own when not
                # evaluated, from the cache when it is
                queries = True
                continue
            if isinstance(parent, ast.Subscript) and parent.value is other \
                    and isinstance(parent.slice, ast.Slice) and self.facts.within(name, parent.slice):
                # `qs[len(qs) + n:]`: counted to slice itself, an OFFSET query of its own.
                # (`if qs: qs[0]` is left alone: mostly a look-up of one row, where the
                # evaluation is the one query; measured on the corpus.)
                queries = True
                continue
            return None
        return queries

    def _positioned_once(self, subscript: ast.Subscript, counted: ast.AST, scope: Scope) -> bool:
        """``qs[target]``: an index computed at run time (not a constant: ``if qs: qs[0]`` is
        mostly a look-up of one row, left alone as measured on the corpus), read once per count
        (no loop around it that does not also repeat the count: ``for i in range(len(qs)):
        qs[i]`` reads every row by position)."""
        index = subscript.slice
        if isinstance(index, ast.Slice) or not any(
                isinstance(node, (ast.Name, ast.Call, ast.Attribute)) for node in walk(index)):
            return False
        return _loops(self.facts, subscript, scope.node) <= _loops(self.facts, counted, scope.node)

    def _refined_by_callee(self, name: ast.Name, scope: Scope) -> bool:
        """``name`` is an argument of a call that only refines or queries it (see
        ``rows_summary.only_refines``): the callee reads none of its rows."""
        handed = argument_position(self.facts.parent, name) if self.refined_by is not None else None
        return handed is not None and self.refined_by is not None \
            and self.refined_by(handed[0], handed[1], scope)

    def _exclusive(self, one: ast.AST, other: ast.AST) -> bool:
        """``one`` and ``other`` sit in the two branches of one ``if`` (its body and its
        ``else``/``elif``): no run reaches both."""
        sides: dict[int, str] = {}
        child: ast.AST = one
        current = self.facts.parent.get(id(one))
        while current is not None:
            if isinstance(current, ast.If):
                if any(child is s for s in current.body):
                    sides[id(current)] = "body"
                elif any(child is s for s in current.orelse):
                    sides[id(current)] = "orelse"
            child = current
            current = self.facts.parent.get(id(current))
        child = other
        current = self.facts.parent.get(id(other))
        while current is not None:
            side = sides.get(id(current))
            if side is not None and isinstance(current, ast.If) and any(
                    child is s for s in (current.orelse if side == "body" else current.body)):
                return True
            child = current
            current = self.facts.parent.get(id(current))
        return False

    def _refinement_of(self, name: ast.Name) -> bool:
        """``name`` is read to refine itself: ``qs = qs.filter(...)``."""
        statement = self.facts.statement_of(name)
        return isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
            and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == name.id \
            and refines(statement.value, name.id, _CHAINABLE)

    def _scope_of(self, node: ast.AST) -> ast.AST | None:
        """The scope that evaluates ``node``: the outermost iterable of a comprehension
        (``[r.id for r in qs.filter(x)]``) is evaluated by the scope around it."""
        child: ast.AST = node
        current = self.facts.parent.get(id(node))
        while current is not None:
            if isinstance(current, _COMPREHENSIONS):
                first = current.generators[0]
                if child is not first:
                    return current
            elif isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                      ast.ClassDef, ast.Module)):
                return current
            elif isinstance(current, ast.comprehension) and child is not current.iter:
                # the target and the conditions of a comprehension's first clause are its own
                owner = self.facts.parent.get(id(current))
                if owner is not None:
                    return owner
            child = current
            current = self.facts.parent.get(id(current))
        return current

    def _fetched_alone(self, root: ast.AST, scope: Scope) -> bool:
        """``root`` is a name the scope binds only to an instance fetched on its own, with no
        prefetch in the call (``get_object_or_404(Milestone, pk=pk)``,
        ``Milestone.objects.get(pk=pk)``, ``….filter(...).first()``): a prefetch elsewhere in
        the class (a view's ``get_queryset()``) does not fill its caches."""
        if not isinstance(root, ast.Name):
            return False
        values = self._refined_bindings(root.id, scope)
        return bool(values) and all(_fetches_one(value) and not any(
            isinstance(sub, ast.Attribute) and sub.attr == "prefetch_related"
            or isinstance(sub, ast.Name) and sub.id == "Prefetch" for sub in walk(value))
            for value in values)

    def _model_instance(self, root: ast.AST, scope: Scope, depth: int = 0) -> bool:
        """``root`` is a name known to hold a model instance: the ``self`` of a method of one
        of the project's models, a name the scope binds only to one instance fetched
        (``Book.objects.get(...)``, ``get_object_or_404(Book, ...)``, ``….first()``), or only
        as the target of loops over querysets (``for book in Book.objects.filter(...):``)."""
        if not isinstance(root, ast.Name):
            return False
        cls = self._method_self(root, scope)
        if cls is not None:
            return cls.name in self.models or is_django_model(cls)
        values = self._refined_bindings(root.id, scope)
        if values:
            return all(map(_fetches_one, values))
        return self._walked_querysets(root.id, scope, depth)

    def _walked_querysets(self, name: str, scope: Scope, depth: int) -> bool:
        """Every binding of ``name`` in the scope is the target of a loop or a comprehension
        over a queryset (and there is one at least)."""
        node = scope.node
        if _is_parameter(name, node):
            return False
        found = False
        for other in self.facts.names.get(name, ()):
            if isinstance(other.ctx, ast.Load):
                continue
            holder = self.facts.parent.get(id(other))
            if not (isinstance(holder, (ast.For, ast.AsyncFor, ast.comprehension))
                    and holder.target is other):
                if self._scope_of(other) is node:
                    return False  # bound otherwise in this scope
                continue
            if not self.facts.within(holder, node):
                continue
            if self._queryset(holder.iter, scope, depth + 1) != _KNOWN:
                return False
            found = True
        return found

    def _prefetched(self, node: ast.AST) -> frozenset[str]:
        """The relations prefetched in the top-level function or class that holds ``node``
        (a class-based view prefetches in one method and reads in another)."""
        top: ast.AST = node
        while True:
            parent = self.facts.parent.get(id(top))
            if parent is None or isinstance(parent, ast.Module):
                break
            top = parent
        found = self._prefetches.get(id(top))
        if found is None:
            found = prefetched_relations(top)
            self._prefetches[id(top)] = found
        return found



_Q_NAMES = frozenset({"django.db.models.Q", "django.db.models.query_utils.Q"})


def _placeholder(value: ast.AST) -> bool:
    """``None`` or ``False``: what a name holds until a queryset is bound to it."""
    return is_none(value) or isinstance(value, ast.Constant) and value.value is False


def _is_parameter(name: str, node: ast.AST) -> bool:
    """Whether ``name`` is a parameter of the function or lambda ``node``."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return False
    args = node.args
    return any(a.arg == name for a in (*args.posonlyargs, *args.args, *args.kwonlyargs,
                                       *(x for x in (args.vararg, args.kwarg) if x is not None)))


def instance_model(facts: ModuleFacts, name: ast.Name, scope: Scope) -> str | None:
    """The qualified name of the model class whose instance ``name`` holds in ``scope``: a
    parameter annotated with the class (``job: Job``), or a name the scope binds only to one
    instance of one model fetched (``Job.objects.get(pk=...)``, ``get_object_or_404(Job,
    ...)``, ``….first()``)."""
    node = scope.node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
            if arg.arg == name.id:
                annotation = arg.annotation
                return facts.qualname(annotation) if isinstance(annotation, (ast.Name, ast.Attribute)) else None
    models: set[str | None] = set()
    for other in facts.names.get(name.id, ()):
        statement = facts.statement_of(other)
        owning = facts.scope_of_stmt.get(id(statement)) if statement is not None else None
        if isinstance(other.ctx, ast.Load) or owning is None or owning.node is not node:
            continue
        parent = facts.parent.get(id(other))
        if not (isinstance(parent, ast.Assign) and parent.targets == [other] and _fetches_one(parent.value)):
            return None
        value = parent.value
        assert isinstance(value, ast.Call)
        owner = value.args[0] if isinstance(value.func, ast.Name) and value.args else queryset_owner(value)
        models.add(facts.qualname(owner) if isinstance(owner, (ast.Name, ast.Attribute)) else None)
    if len(models) != 1:
        return None
    return models.pop()


def _fetches_one(value: ast.AST) -> bool:
    """``get_object_or_404(...)``, or a manager's chain ending in ``get``/``first``/``last``:
    one model instance."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Name) and func.id == "get_object_or_404":
        return True
    _root, chain = method_chain(value)
    return bool(chain) and chain[-1].name in ("get", "first", "last") \
        and any(step.name in DJANGO_MANAGERS for step in chain)


def _loops(facts: ModuleFacts, node: ast.AST, top: ast.AST) -> frozenset[int]:
    """The loops (``for``/``while`` bodies, comprehensions) that repeat ``node``, up to
    ``top``; a ``for``'s iterable runs once and is in none of its own."""
    found: set[int] = set()
    child: ast.AST = node
    current = facts.parent.get(id(node))
    while current is not None and current is not top:
        if isinstance(current, (ast.For, ast.AsyncFor, ast.While)):
            if any(child is statement for statement in current.body):
                found.add(id(current))
        elif isinstance(current, _COMPREHENSIONS) and child is not current.generators[0].iter:
            found.add(id(current))
        child, current = current, facts.parent.get(id(current))
    return frozenset(found)


_SUBQUERY_CALLS = frozenset({"filter", "exclude", "Q", "get"})


def _subquery_lookup(facts: ModuleFacts, keyword: ast.keyword) -> bool:
    """``filter(site__in=qs)`` / ``Q(pk__in=qs)``: a queryset given to an ``__in`` lookup is
    a subquery of the outer query; its result cache is never read."""
    call = facts.parent.get(id(keyword))
    if keyword.arg is None or not keyword.arg.endswith("__in") or not isinstance(call, ast.Call):
        return False
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in _SUBQUERY_CALLS


def imports_django(facts: ModuleFacts) -> bool:
    """Whether the module imports anything of Django."""
    return any(q == "django" or q.startswith("django.") for q in facts.resolver.bindings.values())


def related_entry(steps: list[Step], declared: frozenset[str], django: bool,
                  self_model: bool = True) -> tuple[int, str] | None:
    """``(i, how known)`` when ``steps`` (of :func:`method_chain`) read a related manager of a
    model instance: ``book.authors.all()`` / ``.filter(...)`` / ``.exclude(...)``, ``i`` the
    index of that first call. In a module that imports Django the relation is a default
    ``<model>_set``, one of Django's own (``user.groups``) or one of ``declared`` (the names
    the project's models declare: many-to-many fields, ``related_name`` values); elsewhere (an
    exporter handed model instances) only one of ``declared``, and the answer is "inferred".
    A declared name read on anything but the ``self`` of a model's method (``self_model``:
    the chain's root is one) is "inferred" too: only the name says the object is a model
    instance, and another class of the project may hold a handler of that name
    (``obj.aliases.all()`` where another model declares ``aliases``)."""
    first = next((i for i, s in enumerate(steps) if s.call is not None), None)
    if not first or steps[first].name not in _RELATED_ENTRY:
        return None
    related = steps[first - 1].name
    if django:
        if related.endswith("_set") or related in FRAMEWORK_RELATED_MANAGERS:
            return first, _KNOWN
        if related not in declared:
            return None  # `obj.aliases.all()` of some other handler class
        return first, _KNOWN if self_model and first == 1 else _INFERRED
    return (first, _INFERRED) if related in declared else None


def prefetched_relations(unit: ast.AST) -> frozenset[str]:
    """The relation names a unit prefetches (`prefetch_related("items__tags")`,
    `Prefetch("items")`)."""
    found: set[str] = set()
    for call in walk(unit):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("prefetch_related", "Prefetch", "prefetch_related_objects"):
            for arg in call.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.update(arg.value.split("__"))
    return frozenset(found)



def _django_manager_base(facts: ModuleFacts, base: ast.expr) -> bool:
    """``base`` names Django's ``Manager`` or ``QuerySet`` (``models.Manager``)."""
    qualname = facts.qualname(base)
    if qualname is None or not qualname.startswith("django."):
        return False
    return qualname.rsplit(".", 1)[-1] in ("Manager", "BaseManager", "QuerySet")


def _sized(facts: ModuleFacts, call: ast.Call) -> tuple[ast.expr, str] | None:
    """``(x, "len")`` for ``len(x)`` and ``len(list(x))``, ``(x, "distinct")`` for
    ``len(set(x))``, ``(x, "truth")`` for ``bool(x)``."""
    func = call.func
    if not (isinstance(func, ast.Name) and func.id in ("len", "bool") and len(call.args) == 1
            and not call.keywords and facts.qualname(func) is None):
        return None
    inner = call.args[0]
    if func.id == "bool":
        return inner, "truth"
    if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in ("list", "set") \
            and len(inner.args) == 1 and not inner.keywords and facts.qualname(inner.func) is None:
        return inner.args[0], "len" if inner.func.id == "list" else "distinct"
    return inner, "len"


def count_use(facts: ModuleFacts, node: ast.expr) -> str | None:
    """"len" for ``len(node)`` and ``len(list(node))``, "distinct" for ``len(set(node))``,
    "truth" for ``bool(node)`` or a truth
    test of it (``if``, ``while``, ``assert``, ``x if node else y``, through ``not``,
    ``and``/``or``); None for any other use."""
    parent = facts.parent.get(id(node))
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id in ("list", "set"):
        parent = facts.parent.get(id(parent))  # `len(list(node))`, `len(set(node))`
    sized = _sized(facts, parent) if isinstance(parent, ast.Call) else None
    if sized is not None and sized[0] is node:
        return sized[1]
    tested, negated = _truth_context(facts, node)
    return "truth" if tested or negated else None


def _truth_context(facts: ModuleFacts, node: ast.AST) -> tuple[bool, bool]:
    """Going up from ``node`` through ``and``/``or`` and ``not``: whether that chain is the test
    of an ``if``, ``while``, ``assert`` or ``x if ... else y``, and whether a ``not`` above
    ``node`` reads its truth (wherever the result goes)."""
    current: ast.AST = node
    negated = False
    while True:
        parent = facts.parent.get(id(current))
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
            negated = True
        elif not isinstance(parent, ast.BoolOp):
            return type(parent) in _TESTS and parent.test is current, negated  # type: ignore[union-attr]
        current = parent


def _tested(test: ast.expr) -> Iterator[ast.expr]:
    """The operands a truth test evaluates only for their truth: through `not` and `and`/`or`."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        yield from _tested(test.operand)
    elif isinstance(test, ast.BoolOp):
        for value in test.values:
            yield from _tested(value)
    else:
        yield test


def queryset_origin(origin: object, depth: int = 0) -> bool:
    """Whether an origin (see :mod:`dbleak.analysis.origins`) is a Django queryset:
    ``Model.objects.filter(...)`` (``("call", "app.models.Model.objects.filter", ...)``) and
    its refinements (``("method", <that>, "order_by", ...)``), the model capitalised."""
    if depth > 8 or not isinstance(origin, tuple) or len(origin) < 2:
        return False
    if origin[0] == "method" and len(origin) > 2 and origin[2] in _CHAINABLE:
        return queryset_origin(origin[1], depth + 1)
    if origin[0] == "call" and isinstance(origin[1], str):
        parts = origin[1].split(".")
        return len(parts) >= 3 and parts[-1] in _CHAINABLE and parts[-2] in DJANGO_MANAGERS \
            and parts[-3][:1].isupper()
    return False
