"""DBL306 queryset-evaluated-for-count."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.fetch_summary import callee_qualname
from dbleak.analysis.materialize_fix import Rewriter, rewriter_for
from dbleak.analysis.model_relations import (
    model_class_names,
    queryset_methods,
    related_manager_names,
)
from dbleak.analysis.module import Scope
from dbleak.analysis.origins import instance_method_of
from dbleak.analysis.queryset_count import CountSite, count_sites, instance_model, queryset_origin
from dbleak.analysis.rows_summary import only_refines, returns_queryset
from dbleak.analysis.sources import object_sources
from dbleak.knowledge.drivers import DriverTable
from dbleak.models import Applicability, Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule


class QuerysetEvaluatedForCount(Rule):
    """
    ## What it does
    Flags a Django queryset evaluated only to be counted or tested: `len(qs)`,
    `len(list(qs))`, `len(set(qs))`, `bool(qs)`, `if qs:`, `if not qs:` (also in `while`,
    `assert` and `x if qs else y`), when nothing reads its rows afterwards (handing it to a
    project function that only refines or queries it, directly or through the functions it
    hands it to, reads none: `items(statement, qs)` whose helpers run `qs.filter(...)`,
    `qs.aggregate(...)`, or begin with `qs = qs.filter(...)`). A queryset is
    `Model.objects.<queryset methods>` (also of a model a call returns: `get_user_model()`,
    `apps.get_model("app", "Tag")`, `get_image_model()`), a related manager's `obj.items.all()` / `.filter()` /
    `.exclude()` (`items` a many-to-many field or the `related_name` of a foreign key of a
    model of the project; in a module that imports Django, also a default `<model>_set` or one of
    Django's own: `user.groups`, `user.user_permissions`), `self.<queryset methods>` in a
    method of a class deriving from Django's `Manager` or `QuerySet`, a
    queryset method called on any of them (or on a project helper's queryset:
    `self.hosts().filter(...)`), or a local name bound to one of them and otherwise only
    refined (`qs = qs.filter(...)`, in any branch). Also a list or set comprehension over a
    queryset that keeps the rows passing a Python condition, when that list is only counted or
    tested (`found = [t for t in user.accesstoken_set.all() if t.provider == p]`, `return
    bool(found)`), and `any()` / `all()` of a condition over a queryset's rows (`all(r.status
    == DONE for r in reports)`, where `not reports.exclude(status=DONE).exists()` asks the
    database; only for conditions on plain attributes of the row, not on a method or a
    property the module defines, nor on text made in Python): reported at the
    comprehension, without a fix.

    ## Why is this bad?
    Evaluating a queryset fetches every row and builds a model instance for each, to keep them
    in its result cache. To know how many there are, or whether there is one, the database can
    answer with one number: `qs.count()` runs `SELECT COUNT(*)`, `qs.exists()` a query that
    stops at the first row.

    ## Example
    ```python
    if len(book.reviews.filter(approved=False)) > 0:
        notify_moderators(book)
    if not Author.objects.filter(name=name):
        Author.objects.create(name=name)
    ```

    ## Use instead
    ```python
    if book.reviews.filter(approved=False).count() > 0:
        notify_moderators(book)
    if not Author.objects.filter(name=name).exists():
        Author.objects.create(name=name)
    ```

    ## Known problems
    Not flagged when the queryset's rows are read anyway (iterated, indexed, listed, returned
    or passed on after the test): evaluating it once then serves every use, as Django's
    documentation says. Uses that run a query of their own do not count as reads: the
    queryset's methods that clone it (`qs.filter(...)`, `qs.values_list(...)`, also
    `qs.extra(...)`, `qs.union(...)`, `qs.dates(...)`), `qs.iterator()` (it queries again
    whatever the cache holds, so `len(qs)` before it is a count for nothing), an `__in`
    lookup given the queryset (`filter(site__in=qs)`: a subquery), and one row read at a
    position computed at run time (`qs[target]`, outside any loop the count is not in: an
    OFFSET query; the fix is then unsafe). `if qs: qs[0]` is a look-up of one row, evaluated
    once, and stays silent. A name bound to None or False on one path and to a queryset on
    another (`sites = None`, later `sites = Site.objects.filter(...)`) is reported when
    tested, without a fix: the test may mean "was it set?", and `.exists()` would fail on the
    placeholder. A queryset method called on it in the first `for` of a comprehension
    (`[r.id for r in qs.filter(x)]`) is a query of its own, run once, and reads nothing of the
    count's rows. A project function whose every `return` gives `Model.objects...` (also
    `models.Model.objects...` through a module, and `model_cls._default_manager...`), or a
    name bound only to such chains and their refinements, or one annotated `-> QuerySet`
    that slices nothing, is read as returning a queryset at its calls
    (`len(facilities_managed_by(user))`), and a property of the class or a base of the
    project read through `self` as one (`len(list(self.related_reports))`); so is a model's
    method returning its reverse relation refined (`return self.record_set.filter(...)`)
    called on an instance the function fetched (`job = Job.objects.get(pk=pk)`,
    `get_object_or_404(Job, ...)`) or on a parameter annotated with the model (`job: Job`):
    `len(job.get_records())`. The fix is then unsafe. A class's own
    queryset attribute read through `self` in one of its methods (a Django REST framework
    view's `queryset = Sample.objects.filter(...)`, then `len(self.queryset.filter(...))`) is a
    queryset, whatever the method's decorators (`@action`) but `@staticmethod`,
    `@classmethod` and `@property`. The bare attribute tested or counted (`if self.queryset:`
    in a view's `get_queryset()`, most often meant as `is not None`) is reported without a
    fix, in a Django module, when the class binds `queryset` to None or a queryset in its body
    or is a view (a base named `...View` or `...ViewSet`): it may be None, where `.exists()`
    would fail. So is a parameter `queryset=None` of a function of a Django module (Django's
    `get_object(self, queryset=None)` convention) tested for truth (`if not queryset:`). A
    view's `queryset` defined as a (cached) property and counted is reported with an unsafe
    fix, unless the same method reads its rows. In a method of a view (a base named `...View`,
    `...ViewSet` or `...Viewset`), `self.get_queryset()`, `super().get_queryset()` and
    `self.filter_queryset(...)` are querysets by the framework's contract (unsafe fix: the
    class may override them); in a Django module, so is `view.queryset` refined or read whole
    (`len(view.queryset.all())`, unsafe fix) where `view` is a parameter of that name never
    rebound (Django REST framework hands permissions, filter backends and paginators the view
    as `view`), and so is a parameter that every call site in the project
    passes `Model.objects...` or a refinement of it (`count_of(query)`: `len(query)`). In a
    Django module, a name nothing else types that is refined with Django's lookup language (a
    `filter`/`exclude` given `Q(...)` or a `field__lookup=` keyword: `items =
    notes.filter(Q(added__range=...))`, `len(items)`) is a queryset too, and so is what a call
    of no known type gives, refined so (`source().filter(added__gte=3)`): only a queryset is
    spoken to so. So is a `get_queryset()` call on any receiver there (Django's name for the
    method that gives one: managers, views, the admin, filters; pressfreedomtracker's
    `len(IncidentFilter({}).get_queryset())`). In a module that imports django-treebeard or
    Wagtail, a tree node's relatives (`page.get_children()`, `get_descendants()`,
    `get_ancestors()`, `get_siblings()`, also `Model.objects.get_children(node)`), refined by
    queryset methods or Wagtail's `PageQuerySet` ones (`.live().in_menu()`), are querysets too,
    unless the module defines a method of that name itself (unsafe fix: only the name says so).
    A `not qs` outside a test (`return not conflict`) is a truth test like `if not qs:`, and
    `len(list(filter(condition, qs)))` counts the rows a Python condition keeps (reported
    without a fix, like a comprehension's condition). A method
    of the project's own `Manager`/`QuerySet` classes that returns a refinement of its queryset
    (with arguments or not, directly or through a local name: `query = self.all()`, `query =
    query.exclude(...)`, `return query.order_by(...)`) makes a queryset
    (`len(Queue.objects.get_queue(mode))`). Methods called on an object of no known type are
    not, nor are manager methods that slice or build a list, nor sliced
    querysets (`qs[:10]`, bounded already) and raw querysets. A related manager whose rows were prefetched (`prefetch_related("items")`)
    answers `len()` and truth tests from memory: `obj.items.all()` is not flagged when the same
    top-level function or class prefetches `items` (unless `obj` is bound in the function only
    to an instance fetched on its own, with no prefetch in the call: `get_object_or_404(Book,
    pk=pk)`, `Book.objects.get(...)`, `….first()`; a view's `get_queryset()` prefetch does not
    reach it), but a prefetch made elsewhere is not seen.
    Related managers are known from the models of the checked file's project: its top-level
    package and the other top-level packages of its project's root (a Django project's apps),
    read from the run or from disk, so a file checked alone sees what the whole project's run
    sees, and a run given several projects keeps each one's models to itself.

    [[tests-not-checked]]

    ## Fix safety
    Safe when the queryset is used only there: `len(qs)` → `qs.count()` and a truth test →
    `qs.exists()` give the same answer. Unsafe when the name is used again by a queryset method
    (`qs.first()` after `len(qs)`) or shown in an f-string (`f"{qs}"`, its repr of at most 21
    rows): those read the result cache the evaluation filled, and after
    the fix each runs a query of its own (a concurrent write can then make them disagree).
    Unsafe too for a related manager in a module that imports nothing of Django (an exporter
    handed model instances), and for one whose name a model declares (`related_name`, a
    many-to-many field) read on anything but the `self` of a model's method, an instance a
    manager fetched (`Book.objects.get(...)`, `get_object_or_404(...)`) or the target of a
    loop over a queryset (`for book in Book.objects.filter(...)`): only the relation's
    name says it is one, and another class may hold a handler of that name whose `all()`
    gives a list (evennia's `obj.aliases`). Default reverse names (`chapter_set`) and Django's
    own (`user.groups`) stay safe. `len(set(qs))` →
    `qs.order_by().distinct().count()` is always unsafe: the database decides which values are
    the same (collations), not Python. A comprehension's condition has no fix: it must be
    rewritten as a filter of the query (`.filter(provider=p).exists()`) by hand.

    ## Options
    None.

    ## References
    - [Django: don't use len(queryset) if you only want the count](https://docs.djangoproject.com/en/stable/topics/db/optimization/#don-t-retrieve-things-you-don-t-need)
    - [QuerySet.exists()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#exists)
    - [QuerySet.count()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#count)
    """

    code = "DBL306"
    name = "queryset-evaluated-for-count"
    message = "the queryset is evaluated (every row fetched and built) only to {purpose}"
    fix_title = "Ask the database"
    fix_availability = "sometimes"
    needs_project = True

    VALID = (
        ("from django.db import models\n\ndef f(book):\n    reviews = book.reviews.all()\n"
         "    if reviews:\n        for r in reviews:\n            print(r)\n"),
        "from app.models import Book\n\ndef f():\n    return len(Book.objects.all()[:10])\n",
    )
    INVALID = (
        Example(
            "from app.models import Book\n\ndef f():\n    return len(Book.objects.filter(draft=True))\n",
            fixed="from app.models import Book\n\ndef f():\n    return Book.objects.filter(draft=True).count()\n",
        ),
        Example(
            "from app.models import Book\n\ndef f(t):\n    if not Book.objects.filter(title=t):\n        pass\n",
            fixed="from app.models import Book\n\ndef f(t):\n    if not Book.objects.filter(title=t).exists():\n        pass\n",
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        # The shapes that count or test (the queryset itself may come from anywhere: a related
        # manager of the project's models, a project helper).
        return ("len(", "bool(", "if ", "if(", "while ", "while(", "assert ")

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        rewriter: Rewriter | None = None
        managers = related_manager_names(ctx.facts, ctx.project)

        def helper_queryset(node: ast.expr, scope: Scope) -> bool:
            if isinstance(node, ast.Name):
                return _parameter_queryset(ctx, node, scope)
            if isinstance(node, ast.Call):
                return returns_queryset(ctx.project, callee_qualname(ctx.facts, node, scope)) \
                    or _instance_method_queryset(ctx, node, scope)
            return isinstance(node, ast.Attribute) and _property_queryset(ctx, node, scope)

        def refined_by(call: ast.Call, position: int | str, scope: Scope) -> bool:
            return only_refines(ctx.project, callee_qualname(ctx.facts, call, scope), position)

        kept: set[int] = set()
        custom = queryset_methods(ctx.facts, ctx.project)
        for site in count_sites(ctx.facts, ctx.path, ctx.settings.root, managers, helper_queryset,
                                custom, refined_by, model_class_names(ctx.facts, ctx.project)):
            rewriter = rewriter or rewriter_for(ctx)
            if site.kept_by is not None:
                if id(site.kept_by) in kept:
                    continue  # the list's name counted or tested twice: one finding
                kept.add(id(site.kept_by))
                stmt = ctx.facts.statement_of(site.kept_by) or site.stmt
                yield ctx.finding(cls, site.kept_by, _KEPT[site.form], plan=None, stmt=stmt)
                continue
            message = cls.message.format(purpose=_PURPOSES[site.form])
            if site.maybe_none:
                suffix = _MAYBE_NONE[site.form].format(name=ast.unparse(site.queryset),
                                                       placeholder=site.placeholder)
                yield ctx.finding(cls, site.node, message + suffix, plan=None, stmt=site.stmt)
                continue
            yield ctx.finding(cls, site.node, message, plan=_plan(rewriter, site), stmt=site.stmt)


def _instance_method_queryset(ctx: CheckContext, call: ast.Call, scope: Scope) -> bool:
    """``job.get_records()`` where ``job`` holds an instance of a model of the project (see
    ``queryset_count.instance_model``) whose class (or a base) defines ``get_records`` to
    return a queryset (``return self.record_set.filter(success=1)``)."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return False
    model = instance_model(ctx.facts, func.value, scope)
    if model is None or ctx.project.get(model) is None:
        return False
    return any(returns_queryset(ctx.project, f"{owner}.{func.attr}")
               for owner, _summary, _level in object_sources(ctx).class_chain(model))


def _property_queryset(ctx: CheckContext, node: ast.Attribute, scope: Scope) -> bool:
    """``self.related_reports`` in a method, where the class (or a base of the project)
    defines ``related_reports`` as a property whose every return is a queryset."""
    method = instance_method_of(scope)
    if method is None or not (isinstance(node.value, ast.Name) and node.value.id == method[0]) \
            or method[1] not in ctx.facts.tree.body:
        return False
    klass = (f"{ctx.facts.module_name}." if ctx.facts.module_name else "") + method[1].name
    return any(returns_queryset(ctx.project, f"{owner}.{node.attr}")
               for owner, _summary, _level in object_sources(ctx).class_chain(klass))


_KEPT = {
    form: "the queryset is evaluated (every row fetched and built) only to " + what
    + ": put the condition in the query and ask the database"
    for form, what in (("len", "count the rows a Python condition keeps"),
                       ("distinct", "count the rows a Python condition keeps"),
                       ("truth", "test whether a row passes a Python condition"),
                       ("any", "test whether a row passes a condition (`any()`)"),
                       ("all", "test whether every row passes a condition (`all()`)"))}
_PURPOSES = {"len": "count its rows", "distinct": "count its distinct rows",
             "truth": "test whether it has a row"}
# A view's `self.queryset` may be None: no `.exists()` / `.count()` rewrite.
_MAYBE_NONE = {
    "truth": " (no fix: `{name}` may be {placeholder}; test `is not {placeholder}` for that, "
             "`.exists()` for rows)",
    "len": " (no fix: `{name}` may be {placeholder}; count with `.count()` where it is set)",
    "distinct": " (no fix: `{name}` may be {placeholder})"}
# What the fix calls on the queryset, by the form of the count.
_COUNTING = {"len": "count()", "distinct": "order_by().distinct().count()", "truth": "exists()"}


def _plan(rw: Rewriter, site: CountSite) -> FixPlan:
    method = _COUNTING[site.form]
    content = f"{rw.source_text(site.queryset)}.{method}"
    applicability = Applicability.UNSAFE if site.shares_cache or site.inferred else Applicability.SAFE
    if site.form == "distinct":
        # `set()` compares what Python compares; `DISTINCT` what the database compares
        # (collations, trailing spaces on some backends): the same answer, not the same rule
        applicability = Applicability.UNSAFE
    return FixPlan(f"Use `.{method}`", applicability, (rw.replace(site.node, content),))


def _parameter_queryset(ctx: CheckContext, name: ast.Name, scope: Scope) -> bool:
    """``name``, a parameter of the function of ``scope``, is passed a queryset by every call
    site of the function in the project (``len(query)`` in a pagination helper)."""
    origins = object_sources(ctx).parameter_origins_of(scope.node, name.id)
    return bool(origins) and all(map(queryset_origin, origins or ()))
