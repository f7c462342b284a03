"""DBL203 unbounded-queryset-list."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from dbleak.analysis.admin_actions import admin_selection
from dbleak.analysis.fetch import fetch_analysis, is_test_module, is_test_scope
from dbleak.analysis.fetch_loops import name_loads
from dbleak.analysis.fetch_orm import (
    DJANGO_BOUNDING,
    DJANGO_QUERYSET,
    Step,
    django_chain_bound,
    django_queryset_steps,
    manager_steps,
    method_chain,
    model_class_name,
    model_qualname,
    model_value_names,
    names_a_relation,
    queryset_owner,
    queryset_steps_known,
    replace_root,
    single_binding,
)
from dbleak.analysis.fetch_summary import callee_qualname
from dbleak.analysis.lifecycle_summary import EFFECT_RETURN
from dbleak.analysis.model_relations import (
    in_migrations,
    key_fields,
    lookup_roots,
    manager_model,
    model_managers,
    model_relation_names,
    queryset_methods,
    related_manager_names,
    relation_names,
    small_models,
)
from dbleak.analysis.module import Scope
from dbleak.analysis.origins import decorator_name, instance_method_of, parameter_defaults
from dbleak.analysis.queryset_count import imports_django, prefetched_relations, related_entry
from dbleak.analysis.reaching import reaching_values
from dbleak.analysis.row_escape import (
    loop_keeps_rows,
    loop_only_shows_rows,
    loop_searches,
    report_returned,
)
from dbleak.analysis.rows_summary import returned_querysets
from dbleak.analysis.sources import depends_on_callers, object_sources
from dbleak.fixes.plan import ReplaceRange
from dbleak.knowledge.drivers import DriverTable
from dbleak.knowledge.frameworks import FRAMEWORK_LOOKUP_MODELS, FRAMEWORK_RELATIONS
from dbleak.knowledge.sql import report_grouped, report_per_parent
from dbleak.models import Applicability, Finding, FixPlan
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.source import source_segment


class UnboundedQuerysetList(Rule):
    """
    ## What it does
    Flags Django querysets with no slice and no filter on a key that are materialized whole
    only to be walked once: `for obj in Model.objects.filter(...):`, `for obj in list(qs):`,
    a name bound to `list(qs)` that is then only counted and walked by one loop (`runs =
    list(qs)`, `len(runs)`, `for run in runs:`; reported at `list()`, without a fix), and
    `len(qs)` where `qs.count()` would do.

    ## Why is this bad?
    Iterating a queryset fills its result cache with every model instance of the query before
    the loop body sees the first one. On a table that grows, a management command or a view
    that worked in development runs out of memory.

    ## Example
    ```python
    for order in Order.objects.filter(status="paid"):
        export(order)
    ```

    ## Use instead
    ```python
    for order in Order.objects.filter(status="paid").iterator(chunk_size=1000):
        export(order)
    ```

    ## Known problems
    A queryset is read from `.objects` of any value that names a model class: a capitalised
    name, `models.Tag`, the frozen `orm.Tag` / `orm["app.Tag"]` of South migrations, a name
    bound to `apps.get_model(...)`, the target of a loop over `apps.get_models()`, a call
    that returns a model class (`get_user_model()`, `apps.get_model("app", "Tag")`, and the
    `get_<name>_model()` functions of swappable models: Wagtail's `get_image_model()`), a
    parameter annotated `type[...]` or one that every call site in the project passes a
    model class (a migration's `apps.get_model(...)`, a class imported from its models;
    migrations' own calls count), the `cls` of a model's class method (`cls.objects.filter(...)`),
    and `self` in a method of a `Manager` subclass that a model of the project makes
    (`objects = FileDiffManager()`: `self.all()`, `self.unmigrated()` read `FileDiff`'s
    rows; a `QuerySet` subclass's `self` is its caller's refined queryset, left alone). A
    loop over it is reported; a comprehension that makes something
    else of each row only when it does whole-table work: it feeds `bulk_create`/`bulk_update`
    (`[Book(title=a.name) for a in Author.objects.all()]`), or it runs in a migration, a
    management command or a task (elsewhere such maps and choices are mostly built from lookup
    tables). A comprehension that keeps the rows themselves is DBL3xx's. Querysets written in
    the same function are seen, through every value a name may hold at the loop
    (`qs = Order.objects.all()`, `if limit: qs = qs[:limit]`, `for o in qs:` reads the whole
    table when no limit is given), through the querysets a function of the project returns
    (`queryset = _default_filters(kind, start, end)`: each queryset its returns may give, from
    its model's manager through a local name's refinements, continued by the caller's chain;
    the message names the function) and through pass-through calls (`enumerate(qs)`,
    `tqdm(qs)`, or a hook parameter whose default is a project function that returns its
    argument: `def check(iter_wrapper=identity): for doc in iter_wrapper(qs)`), and in a
    function nested in the one that binds the name, when its loop is the name's only read
    (`qs = ...`, `def content(): for row in qs: yield ...`, a streaming response's body); each queryset of `chain(qs1, qs2)` is judged as a loop of its own. So are the
    querysets the calls of a function pass to a parameter it walks (`def chunks(items): for
    item in items:` called `chunks(Order.objects.filter(...))`), when every call is known and
    passes a queryset: a function nested in another and called there only, or a module-level
    one that no other module of its package mentions, neither decorated nor used as a value;
    the finding names the parameter and the function. The queryset a Django admin action is
    given is the rows the user selected, every row with "Select all": the third parameter of a
    method of a `...Admin` class that its `actions` lists or `@admin.action` decorates, of its
    `delete_queryset(self, request, queryset)` hook, or of a module-level `(modeladmin,
    request, queryset)` function so decorated or listed, judged like `Model.objects.all()` of
    the model the module registers the admin for. A queryset name that is also counted (`len(qs)`, `qs.count()`) or refined
    (`qs.filter(...)`) is still reported (the fix counts in the database too); one that is
    walked again, handed on, returned, or tested (`if qs:`: in the corpus reviews, a loop
    guarded so was over a short list every time) is not. Managers are `objects`,
    `_default_manager`, `_base_manager`, those the checked tree's models declare
    (`global_objects = models.Manager()`, `objects = LinkQuerySet.as_manager()`), and the
    names ending in `_objects` that manager libraries add through a model's base
    (`global_objects`, `all_objects`, `available_objects`); a method of
    the tree's own `QuerySet`/`Manager` classes that takes no argument and returns a
    refinement of its queryset (`def published(self): return self.filter(...)`, or through a
    local name bound only to such refinements) is read as
    that filter, one that slices as bounded, one with arguments (`for_user(user)`, mostly one
    parent's rows) is not judged, nor are filters whose fields are chosen at run time
    (`filter(**{name: value})`; an `exclude(**{name: value})` still reads every other
    row). A loop that only writes each row out for a person to read (`print`,
    `self.stdout.write`, `click.echo`, a logger) or that stops at the first row that
    matches (`if q.matches(x): return q`) walks a table that stays small: not reported. Keys are `pk`/`id`, the fields that identify a row by convention (`email`,
    `username`, `slug`, `token`, `session_key`), the `bounded-columns` you list, and the schema
    of the checked tree's models: fields declared `primary_key=True` or `unique=True`,
    `Meta.unique_together` and `Meta.constraints` (a `UniqueConstraint` without `condition`),
    with the keys of its bases (a proxy model's concrete model, a multi-table parent, an
    abstract base). A migration's local name for a model (`Tags = apps.get_model("app", "Tag")`)
    is that model. Equality on every field of a key reads one row; on all but one of them, the
    rows of one parent. A count filter after `annotate`
    (`annotate(n=Count("x")).filter(n__gt=1)`, `n__gte=2` or a threshold chosen at run time,
    or Django's default alias `x__count`) reads only the groups that repeat; `n__gt=0` /
    `n__gte=1` keeps every group. Other filters count as unbounded: lookup and configuration models
    look like any other; list them in `small-tables`. A loop that keeps every object as it is
    (`by_zone[o.zone].append(o)`) is not reported unless `returned = "report"`: streaming would
    save nothing.
    [[tests-not-checked]]

    Querysets of the children of one row are not reported by default: their size is one
    parent's (a filter on a relation of a model of the checked tree such as `filter(order=o)`
    or `filter(item__order=o)`, its first field a relation of the queried model itself when
    that model and its bases are the project's (a plain column named like another model's
    relation is no parent; two models of the same class name are read as one), on a foreign
    key column such as `order_id=…`, or `__in` over a
    batch of parents held in memory, or a related manager's queryset: `order.items.all()`,
    `.filter(...)`, `.exclude(...)` of a many-to-many field or a `related_name` of the
    checked tree's models, or in a module that imports Django a default `<model>_set` or
    Django's own `user.groups`; `per-parent = "report"` reports them, a related manager
    then judged like any queryset: bounded by a slice or a key, not when its relation is
    prefetched in the same function). Nor are
    aggregates grouped by plain fields (`values("status").annotate(n=Count("id"))`, and the
    distinct values of plain fields, `values_list("status", flat=True).distinct()`: one row
    per distinct value; a key, a relation or a lookup path is no plain field; `grouped = "report"`
    reports them).

    ## Fix safety
    `.iterator(chunk_size=…)` is unsafe: the queryset no longer caches its rows (iterating it
    again runs the query again) and `prefetch_related` needs Django 4.1+ with a `chunk_size`.
    `len(qs)` → `qs.count()` is safe when the queryset is not used otherwise: the number is
    the same and no row is loaded. When a loop over a name is also counted with `len(qs)`,
    the loop's fix rewrites the count to `qs.count()` with it (one more query).

    ## Options
    `[tool.dbleak.sql]`: `small-tables` (model names, or table names: `Meta.db_table` or
    Django's default `<app label>_<model>`; `dbleak tables DATABASE` lists the small tables of
    a database), `bounded-columns`, `chunk-size`
    (default 1000), `per-parent = "report"`, `returned = "report"`, `root-tables = "report"`,
    `grouped = "report"`.

    ## Root tables
    A model that references no other model (no `ForeignKey`, `OneToOneField` or
    `ManyToManyField` in its body or its bases) is a root of the schema; in a normalised schema
    that is most often a lookup or configuration table (languages, queues, document types), and
    by default it is read as one. Accounts (`AbstractUser` subclasses, `...User`,
    `...Account`, `...Member`) are not, nor is a model whose query follows a relation
    (`select_related(...)`, `prefetch_related(...)`, a lookup path through another table such
    as `filter(page__published=True)` or `order_by("-page__title")`): its base from another
    package may declare it (django CMS's `PageExtension`), or another table points at it, so
    it is no table that stands alone. Over five reviewed sets of applications this silenced
    78 false findings and 21 real ones (growing roots: tenants, root entities, blob caches);
    `root-tables = "report"` judges them like any other model.
    [[root-tables-migrations]]
    [[root-tables-recall]]

    ## References
    - [Django: QuerySet.iterator()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#iterator)
    - [Django: when QuerySets are evaluated](https://docs.djangoproject.com/en/stable/ref/models/querysets/#when-querysets-are-evaluated)
    """

    code = "DBL203"
    needs_project = True  # relation fields of the project's models
    name = "unbounded-queryset-list"
    message = "{what} loads every row of an unbounded queryset ({reason})"
    fix_title = "Stream the queryset with `.iterator(chunk_size=…)`"
    fix_availability = "sometimes"

    VALID = (
        "from app.models import Order\n\nfor o in Order.objects.all()[:10]:\n    export(o)\n",
        ("from app.models import Order\n\n"
        "for o in Order.objects.filter(status='paid').iterator(chunk_size=500):\n    export(o)\n"),
        "from app.models import Order\n\nn = Order.objects.filter(status='paid').count()\n",
    )
    INVALID = (
        Example(
            "from app.models import Order\n\nn = len(Order.objects.filter(status='paid'))\n",
            fixed="from app.models import Order\n\nn = Order.objects.filter(status='paid').count()\n",
        ),
        Example(
            "from app.models import Order\n\nfor o in Order.objects.all():\n    export(o)\n",
            unsafe_fixed=("from app.models import Order\n\n"
                          "for o in Order.objects.all().iterator(chunk_size=1000):\n"
                          "    export(o)\n"),
        ),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return ("objects", "_manager", "queryset")

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterator[Finding]:
        if is_test_module(ctx.path, ctx.settings.root):
            return  # tests read fixture tables of a few rows by design
        analysis = fetch_analysis(ctx)
        for scope in ctx.facts.scopes:
            if is_test_scope(scope):
                continue
            assignments: dict[str, list[ast.AST]] | None = None  # made at the first loop
            for node in _scope_nodes(scope):
                kind = type(node)
                if kind is ast.Call:
                    if not (isinstance(node.func, ast.Name) and node.func.id == "len"  # type: ignore[attr-defined]
                            and len(node.args) == 1 and not node.keywords):  # type: ignore[attr-defined]
                        continue
                elif not (kind is ast.For or kind is ast.AsyncFor or kind in _COMPREHENSIONS):
                    continue
                if assignments is None:
                    assignments = analysis.resolver.assignments(scope)
                if isinstance(node, (ast.For, ast.AsyncFor)):
                    chained = _chained(node.iter)
                    if chained:  # `chain(qs1, qs2)`: each walked in turn, as by a loop of its own
                        for part in chained:
                            finding = _loop(cls, ctx, scope, node, assignments, part)
                            if finding is not None:
                                yield finding
                        continue
                    finding = _loop(cls, ctx, scope, node, assignments)
                elif isinstance(node, _COMPREHENSIONS):
                    finding = _comprehension(cls, ctx, scope, node, assignments)
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id == "len" and len(node.args) == 1 and not node.keywords:
                    finding = _length(cls, ctx, scope, node, assignments)
                else:
                    continue
                if finding is not None:
                    yield finding


def _scope_nodes(scope: Scope) -> Iterator[ast.AST]:
    from dbleak.analysis.module import walk_scope

    yield from walk_scope(scope.node)


def _queryset(expr: ast.AST, assignments: dict[str, list[ast.AST]],
              ctx: CheckContext, scope: Scope) -> tuple[ast.AST, str, str] | None:
    """(the queryset expression, model, why unbounded) when ``expr`` is an unbounded queryset
    on some path: itself, or through the values the name it starts from may hold there
    (``qs = Model.objects.all()``, ``if limit: qs = qs[:limit]``, ``for o in qs:``)."""
    managers = model_managers(ctx.facts, ctx.project)
    own = _own_queryset_class(scope)
    for source in _candidates(expr, assignments, ctx, scope, managers, own):
        found = _unbounded(source, assignments, ctx, scope.node, managers, own)
        if found is not None:
            root = method_chain(found[0])[0]
            helper = _helper_names(ctx).get(id(root))
            if helper is not None and helper[0] is root:
                # spelled `Offer.objects…` returned by `_default_filters()`
                return found[0], f"{found[1]}{_FROM}{helper[1]}", found[2]
            return found
    return None


def _candidates(expr: ast.AST, assignments: dict[str, list[ast.AST]], ctx: CheckContext,
                scope: Scope, managers: frozenset[str],
                own: tuple[str, ast.ClassDef] | None) -> list[ast.AST]:
    if queryset_owner(expr, managers) is not None or _own_chain(expr, own) is not None \
            or _related_steps(ctx, expr) is not None:
        return [expr]
    helped = _helper_querysets(expr, ctx, scope)
    if helped:
        return helped
    root, _steps = method_chain(expr)
    if not isinstance(root, ast.Name) or root.id not in assignments:
        return []
    if not any(isinstance(v, ast.expr) and (queryset_owner(v, managers) is not None
                                            or _own_chain(v, own) is not None
                                            or _related_steps(ctx, v) is not None
                                            or _helper_querysets(v, ctx, scope))
               for v in assignments[root.id]):
        return []  # no binding makes a queryset: no value it may hold is one
    values = reaching_values(root, scope.node, ctx.facts)
    if values is None:
        value = single_binding(assignments, root.id)
        values = [value] if value is not None else []
    found: list[ast.AST] = []
    for value in values:
        whole = value if expr is root else replace_root(expr, root, value)
        found.extend(_helper_querysets(whole, ctx, scope) or [whole])
    return found


def _helper_querysets(expr: ast.AST, ctx: CheckContext, scope: Scope) -> list[ast.AST]:
    """``_default_filters(kind, start, end).values(...)``: the chain continued from each
    queryset the project helper it starts from returns (its summary spells them), else []."""
    root, _steps = method_chain(expr)
    if not isinstance(root, ast.Call):
        return []
    # Parsed once per call (a name's bindings are asked for more than once); the call is kept
    # with them, so its id is not reused while the entry lives.
    returns: dict[int, tuple[ast.Call, list[ast.expr]]] = ctx.__dict__.setdefault("_dbl203_returns", {})
    cached = returns.get(id(root))
    if cached is not None and cached[0] is root:
        returned = cached[1]
    else:
        returned = returned_querysets(ctx.project, callee_qualname(ctx.facts, root, scope), root)
        returns[id(root)] = (root, returned)
        helper = source_segment(ctx.text, root.func) or ast.unparse(root.func)
        for value in returned:
            model = method_chain(value)[0]
            _helper_names(ctx)[id(model)] = (model, helper)
    return [replace_root(expr, root, value) for value in returned]


def _helper_names(ctx: CheckContext) -> dict[int, tuple[ast.AST, str]]:
    """The helper each parsed return value's model name came from, for the message, in this
    check's context: the node is kept with its name, so its id is not reused meanwhile."""
    names: dict[int, tuple[ast.AST, str]] = ctx.__dict__.setdefault("_dbl203_helpers", {})
    return names
# Between a model and the project helper that returned its queryset.
_FROM = " from "


def _own_queryset_class(scope: Scope) -> tuple[str, ast.ClassDef] | None:
    """``(self, the class)`` in a plain method of a class deriving from a ``Manager`` (its
    queryset methods make querysets of every row of its model), else None."""
    method = instance_method_of(scope)
    if method is None or not any(
            (b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute)
             else "").endswith("Manager") for b in method[1].bases):
        return None  # a queryset class's `self` is whatever queryset its caller refined
    return method


def _own_chain(expr: ast.AST, own: tuple[str, ast.ClassDef] | None) -> list[Step] | None:
    """The steps of ``self.unmigrated().filter(...)`` in a manager's method, else None."""
    if own is None:
        return None
    root, steps = method_chain(expr)
    if not (isinstance(root, ast.Name) and root.id == own[0]) or not steps \
            or steps[-1].call is None and steps[-1].name != "[]":
        return None
    return steps


def _unbounded(source: ast.AST, assignments: dict[str, list[ast.AST]], ctx: CheckContext,
               scope_node: ast.AST, managers: frozenset[str],
               own: tuple[str, ast.ClassDef] | None = None) -> tuple[ast.AST, str, str] | None:
    owner = queryset_owner(source, managers)
    if owner is None:
        return _own_unbounded(source, ctx, own) or _related_unbounded(source, ctx, scope_node)
    names: frozenset[str] = frozenset()
    passed: tuple[str, ...] = ()  # the model classes a parameter's call sites pass
    if isinstance(owner, ast.Name) and not owner.id[:1].isupper():
        # a lowercase name: a model class only when its bindings say so (computed when needed),
        # or, for a parameter, every call site of the function in the project
        names = model_value_names(scope_node, assignments)
        if owner.id not in names:
            passed = _model_parameter(ctx, scope_node, owner.id) or ()
            if passed:
                names = names | {owner.id}
    found = django_queryset_steps(source, names, managers,
                                  queryset_methods(ctx.facts, ctx.project))
    if found is None:
        return None
    model, steps = found
    root = owner
    klass = model_class_name(root, assignments, model)  # `Tag` for a local `Tags`
    if model_qualname(root, ctx.facts, assignments) in FRAMEWORK_LOOKUP_MODELS:
        return None  # sized by the application's code (permissions, groups, locales)
    if passed and all(name and _unbounded_reason(ctx, steps, name) is None for name in passed):
        return None  # every class the callers pass is a lookup or small table, or bounded
    reason = _unbounded_reason(ctx, steps, klass)
    if reason is None:
        return None
    _owner, from_manager = manager_steps(source, managers)
    if from_manager and from_manager[0].name != "objects":
        model = f"{model}{_VIA}{from_manager[0].name}"  # spelled `Document.global_objects…`
    return source, model, reason


def _unbounded_reason(ctx: CheckContext, steps: list[Step], klass: str) -> str | None:
    """Why the queryset steps read an unbounded number of ``klass`` rows, or None when its
    table is small (listed, or a lookup table) or the steps bound it (as configured)."""
    small = ctx.settings.option("sql", "small-tables", ()) or ()
    if klass in small_models(ctx.facts, ctx.project, small):
        return None  # its table is listed in small-tables
    if klass in lookup_roots(ctx.facts, ctx.project, ctx.settings, ctx.path) \
            and not names_a_relation(steps):
        return None  # a table referencing no other: a lookup or configuration table
    bound = django_chain_bound(steps, ctx.settings.option("sql", "bounded-columns", ()) or (),
                               small, klass,
                               relation_names(ctx.facts, ctx.project) | FRAMEWORK_RELATIONS,
                               key_fields(ctx.facts, ctx.project),
                               model_relation_names(ctx.facts, ctx.project, klass))
    if bound.bounded or (bound.parent and not report_per_parent(ctx.settings)) \
            or (bound.grouped and not report_grouped(ctx.settings)):
        return None
    return bound.reason


def _model_parameter(ctx: CheckContext, function: ast.AST, name: str) -> tuple[str, ...] | None:
    """The model classes every call site in the project passes ``name``, a parameter of
    ``function`` (``""`` for one whose name the call does not say: a name bound to
    ``apps.get_model(...)`` in a migration, ``fill_urls(apps, Zaak, "url")``), or None when
    one call site passes something else."""
    origins = object_sources(ctx).parameter_origins_of(function, name)
    if not origins:
        return None
    classes = [_model_origin(o) for o in origins]
    return None if any(c is None for c in classes) else tuple(c or "" for c in classes)


def _model_origin(origin: object) -> str | None:
    """The model class an origin (see :mod:`dbleak.analysis.origins`) gives: its name, ``""``
    when it is not said, None when the origin gives no model class."""
    if not isinstance(origin, tuple) or not origin:
        return None
    if origin[0] == "method" and len(origin) > 2 and origin[2] == "get_model":
        return ""  # `apps.get_model("app", "Name")`
    if origin[0] == "global" and len(origin) > 1:
        name = str(origin[1]).rsplit(".", 1)[-1]  # `from app.models import Tag`
        return name if name[:1].isupper() else None
    return None


def _own_unbounded(source: ast.AST, ctx: CheckContext,
                   own: tuple[str, ast.ClassDef] | None) -> tuple[ast.AST, str, str] | None:
    """``self.unmigrated()`` in a manager's method: a queryset of the model whose body makes
    the manager (``objects = FileDiffManager()``), judged like ``FileDiff.objects…``."""
    steps = _own_chain(source, own)
    if steps is None or own is None \
            or not queryset_steps_known(steps, queryset_methods(ctx.facts, ctx.project)):
        return None
    model = manager_model(ctx.facts, ctx.project, own[1].name)
    if model is None:
        return None  # no model of the project makes this manager: whose rows is unknown
    reason = _unbounded_reason(ctx, steps, model)
    return (source, f"{own[0]}… of {own[1].name}", reason) if reason is not None else None


def _related_steps(ctx: CheckContext, expr: ast.AST) -> tuple[str, list[Step]] | None:
    """``(relation, the steps from its first call on)`` for a related manager's queryset
    (``order.items.filter(...)``) when one parent's rows are reported (``per-parent =
    "report"``), else None."""
    if not report_per_parent(ctx.settings):
        return None  # a related manager reads the rows of one parent
    _root, steps = method_chain(expr)
    entry = related_entry(steps, related_manager_names(ctx.facts, ctx.project),
                          imports_django(ctx.facts))
    if entry is None:
        return None
    rest = steps[entry[0]:]
    if not queryset_steps_known(rest, queryset_methods(ctx.facts, ctx.project)) \
            or rest[-1].call is None and rest[-1].name != "[]":
        return None
    return steps[entry[0] - 1].name, rest


def _related_unbounded(source: ast.AST, ctx: CheckContext,
                       scope_node: ast.AST) -> tuple[ast.AST, str, str] | None:
    """``order.items.all()``: the rows of one parent, judged like a queryset of its own."""
    found = _related_steps(ctx, source)
    if found is None:
        return None
    relation, steps = found
    if relation in prefetched_relations(scope_node) and [s.name for s in steps] == ["all"]:
        return None  # answered from the prefetch cache
    small = ctx.settings.option("sql", "small-tables", ()) or ()
    bound = django_chain_bound(steps, ctx.settings.option("sql", "bounded-columns", ()) or (),
                               small, relation,
                               relation_names(ctx.facts, ctx.project) | FRAMEWORK_RELATIONS,
                               key_fields(ctx.facts, ctx.project))
    if bound.bounded or (bound.grouped and not report_grouped(ctx.settings)):
        return None
    return source, f"related:{relation}", bound.reason


# Between a model and the manager read from it, when that is not `objects`.
_VIA = " via "


# Before an admin action's name and its model, for the selection it is given.
_ADMIN = "admin:"


def _spelled(model: str) -> str:
    """``Tag.objects…`` (``Document.global_objects…`` for another manager), or ``self… of
    FileDiffManager`` for a manager's own queryset, or ``….items…`` for a related manager, or
    the selection of an admin action."""
    if model.startswith(_ADMIN):
        _, action, klass = model.split(_ADMIN, 2)
        of = f" of `{klass}`" if klass else ""
        return f"the rows selected for the admin action `{action}`{of}"
    if _FROM in model:
        head, _, helper = model.partition(_FROM)
        return f"{_spelled(head)} returned by `{helper}()`"
    if _VIA in model:
        head, _, manager = model.partition(_VIA)
        return f"`{head}.{manager}…`"
    if model.startswith("related:"):
        return f"`….{model[len('related:'):]}…` (one parent's rows)"
    if " of " in model:
        head, _, klass = model.partition(" of ")
        return f"`{head}` (a `{klass}` queryset)"
    return f"`{model}.objects…`"


def _chained(iterable: ast.expr) -> list[ast.expr]:
    """The iterables ``chain(a, b)`` / ``itertools.chain(a, b)`` walks one after the other
    (each through a pass-through call), else ``[]``."""
    if isinstance(iterable, ast.Call) and not iterable.keywords and iterable.args \
            and not any(isinstance(a, ast.Starred) for a in iterable.args) and (
                isinstance(iterable.func, ast.Name) and iterable.func.id == "chain"
                or isinstance(iterable.func, ast.Attribute) and iterable.func.attr == "chain"
                and isinstance(iterable.func.value, ast.Name)
                and iterable.func.value.id == "itertools"):
        return list(iterable.args)
    return []


def _loop(rule: type[Rule], ctx: CheckContext, scope: Scope, loop: ast.For | ast.AsyncFor,
          assignments: dict[str, list[ast.AST]],
          walked: ast.expr | None = None) -> Finding | None:
    """A loop over an unbounded queryset; ``walked``: the part of ``loop.iter`` judged (one
    argument of ``chain(...)``), reported and rewritten on its own."""
    iterable = loop.iter if walked is None else walked
    listed = False
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) \
            and iterable.func.id in ("list", "tuple") and len(iterable.args) == 1 \
            and not iterable.keywords:
        listed = True
        inner = iterable.args[0]
    else:
        inner = _passed_through(iterable, ctx, scope)
    replaced = iterable if listed else inner  # what the fix rewrites
    found, passed = _walked_queryset(inner, assignments, ctx, scope)
    if found is None:
        return _listed_name(rule, ctx, scope, loop, inner, assignments)
    _source, model, reason = found
    counts: list[ast.Call] = []
    if isinstance(inner, ast.Name):
        lengths = _counted_only(ctx, scope, inner,
                                frozenset(queryset_methods(ctx.facts, ctx.project)))
        if lengths is None:
            return None  # the rows are read again: its cache may be what the code wants
        counts = lengths
    if loop_keeps_rows(loop) and not report_returned(ctx.settings):
        return None  # every object is kept: streaming saves nothing (`returned = "report"`)
    if loop_only_shows_rows(loop) or loop_searches(loop):
        return None  # a listing for a person, a search in Python: a table that stays small
    spelled = _spelled_passed(ctx, inner, model, passed)
    what = f"iterating {spelled}" if not listed else f"`list()` of {spelled}"
    message = rule.message.format(what=what, reason=reason)
    size = ctx.settings.option("sql", "chunk-size", 1000)
    inner_text = source_segment(ctx.text, inner)
    plan = None
    if inner_text is not None:
        start = ctx.position(replaced.lineno, replaced.col_offset)
        end = ctx.position(replaced.end_lineno or replaced.lineno, replaced.end_col_offset or 0)
        edits = [ReplaceRange(start, end, f"{inner_text}.iterator(chunk_size={size})")]
        for length in counts:  # `len(qs)` → `qs.count()`
            edits.append(ReplaceRange(
                ctx.position(length.lineno, length.col_offset),
                ctx.position(length.end_lineno or length.lineno, length.end_col_offset or 0),
                f"{inner_text}.count()"))
        title = f"Stream with `.iterator(chunk_size={size})` (no result cache)"
        if counts:
            title += "; count in the database"
        plan = FixPlan(title, Applicability.UNSAFE, tuple(edits))
    return ctx.finding(rule, iterable, message, plan=plan, stmt=loop)


def _walked_queryset(expr: ast.expr, assignments: dict[str, list[ast.AST]], ctx: CheckContext,
                     scope: Scope) -> tuple[tuple[ast.AST, str, str] | None, ast.Call | None]:
    """What :func:`_queryset` finds ``expr`` to be, or, for a parameter never rebound, what
    :func:`_passed_queryset` finds its calls pass (with the call)."""
    found = _queryset(expr, assignments, ctx, scope)
    if found is None and isinstance(expr, ast.Name) and expr.id not in assignments:
        found = _enclosing_queryset(expr, ctx, scope)
    if found is None and isinstance(expr, ast.Name) \
            and all(isinstance(b, ast.arg) for b in assignments.get(expr.id, ())):
        via = _passed_queryset(ctx, scope, expr.id)
        if via is not None:
            return via
        found = _admin_selected(ctx, scope, expr)
    return found, None


def _admin_selected(ctx: CheckContext, scope: Scope, name: ast.Name) -> tuple[ast.AST, str, str] | None:
    """``queryset``, the selection parameter of a Django admin action never rebound: the rows
    a user selected, every row of the table with "Select all", judged like ``Model.objects
    .all()`` when the module says which model the admin is registered for."""
    selection = admin_selection(ctx.facts, scope, name.id)
    if selection is None:
        return None
    reason = "an admin action's selection: every row of the table when the user selects all"
    if selection.model is not None and _unbounded_reason(ctx, [], selection.model) is None:
        return None  # a small or lookup table
    return name, f"{_ADMIN}{selection.action}{_ADMIN}{selection.model or ''}", reason


def _enclosing_queryset(name: ast.Name, ctx: CheckContext, scope: Scope) -> tuple[ast.AST, str, str] | None:
    """``qs = Model.objects.active()`` in a function, walked only by a generator nested in it
    (``def content(): for row in qs: yield ...``, a streaming response's body): the queryset
    the enclosing function binds, when that walk is the name's only read."""
    outer = scope.parent
    while outer is not None and outer.is_function:
        assignments = fetch_analysis(ctx).resolver.assignments(outer)
        if name.id in assignments:
            if name_loads(outer.node, name.id) != [name]:
                return None  # read elsewhere too: its cache may be what the code wants
            return _queryset(name, assignments, ctx, outer)
        outer = outer.parent
    return None


def _spelled_passed(ctx: CheckContext, walked: ast.expr, model: str, call: ast.Call | None) -> str:
    """How a finding names what is walked: the queryset, or the parameter and the function
    whose call passes it one (`` `items` (`Order.objects…` passed to `chunks()`)``). No line
    number: the editor's incremental check moves a finding, not its message."""
    if call is None:
        return _spelled(model)
    return f"`{source_segment(ctx.text, walked)}` ({_spelled(model)} passed to `{source_segment(ctx.text, call.func)}()`)"


def _passed_queryset(ctx: CheckContext, scope: Scope, param: str
                     ) -> tuple[tuple[ast.AST, str, str], ast.Call] | None:
    """``param``, a parameter of a function of the checked module that every call passes a
    queryset (``def chunks(items): for item in items: ...`` called ``chunks(Model.objects
    .filter(...))``): what the first call passing an unbounded one passes, judged in the
    caller's scope, and that call. Only where every call of the function is known: a function
    nested in another and called there only, or a module-level one that no other module of its
    package mentions; not decorated, nor used as a value."""
    function = scope.node
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or scope.parent is None \
            or function.decorator_list:
        return None
    args = function.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    if param not in positional and param not in {a.arg for a in args.kwonlyargs}:
        return None
    outer = scope.parent
    if isinstance(outer.node, ast.ClassDef):
        return None  # a method: called through instances the module cannot list
    nested = outer.is_function
    if not nested:
        # Its findings depend on other functions, its callers: the editor's incremental
        # check re-checks it when one of them changes.
        depends_on_callers((f"{ctx.module_name}." if ctx.module_name else "") + function.name)
        if ctx.module_name and any(
                module != ctx.module_name for module, _summary in ctx.project.package_mentions(
                    ctx.module_name.split(".", 1)[0], function.name)):
            return None  # another module may call it
    parents = ctx.facts.parent
    sites = _call_scopes(ctx)
    calls: list[ast.Call] = []
    for node in ctx.facts.names.get(function.name, ()):
        if nested and not ctx.facts.within(node, outer.node):
            continue  # another function's own name
        call = parents.get(id(node))
        if not isinstance(node.ctx, ast.Load) or not isinstance(call, ast.Call) \
                or call.func is not node:
            return None  # rebound, or handed on as a value
        calls.append(call)
    analysis = fetch_analysis(ctx)
    found: tuple[tuple[ast.AST, str, str], ast.Call] | None = None
    managers = model_managers(ctx.facts, ctx.project)
    for call in calls:
        caller = sites.get(id(call))
        if caller is None or (nested and caller is not outer):
            return None  # called from a closure of its own: not followed
        position = positional.index(param) if param in positional else None
        passed = next((k.value for k in call.keywords if k.arg == param), None)
        if passed is None and position is not None and position < len(call.args) \
                and not any(isinstance(a, ast.Starred) for a in call.args[:position + 1]):
            passed = call.args[position]
        if passed is None:
            return None  # the default, or a spread: not a queryset the call shows
        caller_assignments = analysis.resolver.assignments(caller)
        own = _own_queryset_class(caller)
        if not _candidates(passed, caller_assignments, ctx, caller, managers, own):
            return None  # this call passes something else: the loop is not over rows only
        if found is None:
            unbounded = _queryset(passed, caller_assignments, ctx, caller)
            found = (unbounded, call) if unbounded is not None else None
    return found


def _call_scopes(ctx: CheckContext) -> dict[int, Scope]:
    """The scope of each call of the module (made once per module: every loop over a
    parameter asks)."""
    cached: dict[int, Scope] | None = getattr(ctx.facts, "_dbleak_call_scopes", None)
    if cached is None:
        cached = {id(site.node): site.scope for site in ctx.facts.calls}
        ctx.facts._dbleak_call_scopes = cached  # type: ignore[attr-defined]
    return cached


def _listed_name(rule: type[Rule], ctx: CheckContext, scope: Scope, loop: ast.For | ast.AsyncFor,
                 name: ast.expr, assignments: dict[str, list[ast.AST]]) -> Finding | None:
    """``runs = list(qs)`` then only ``len(runs)`` and this one loop over ``runs``: every row
    is listed to be counted and walked once, where ``qs.count()`` and a streamed loop would
    do. Reported at the ``list()`` call, without a fix (the count and the loop both change)."""
    if not isinstance(name, ast.Name):
        return None
    listed = single_binding(assignments, name.id)
    if not (isinstance(listed, ast.Call) and isinstance(listed.func, ast.Name)
            and listed.func.id in ("list", "tuple") and len(listed.args) == 1
            and not listed.keywords and ctx.facts.qualname(listed.func) is None):
        return None
    found = _queryset(listed.args[0], assignments, ctx, scope)
    if found is None:
        return None
    parents = ctx.facts.parent
    counted = False
    for load in name_loads(scope.node, name.id):
        if load is name:
            continue
        parent = parents.get(id(load))
        if not (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)
                and parent.func.id == "len" and parent.args == [load]):
            return None  # the list is used otherwise: walked again, indexed, handed on
        counted = True
    statement = ctx.facts.statement_of(listed)
    if not isinstance(statement, ast.Assign) or statement.value is not listed:
        return None
    if loop_keeps_rows(loop) and not report_returned(ctx.settings):
        return None
    if loop_only_shows_rows(loop) or loop_searches(loop):
        return None
    _source, model, reason = found
    message = rule.message.format(what=f"`{listed.func.id}()` of {_spelled(model)}", reason=reason)
    advice = "; count with `.count()` and stream the loop" if counted else "; stream the loop"
    return ctx.finding(rule, listed, message + advice, plan=None, stmt=statement)


# Calls that hand a loop the items of their argument one by one, in order, holding none:
# `enumerate(qs)`, `iter(qs)`, a `tqdm(qs)` progress bar.
_PASS_THROUGH = frozenset({"enumerate", "iter", "tqdm", "trange"})


def _passed_through(iterable: ast.expr, ctx: CheckContext, scope: Scope) -> ast.expr:
    """The iterable a pass-through call walks (``qs`` in ``enumerate(qs, 1)``, or in
    ``iter_wrapper(qs)`` for a hook parameter that hands its argument back by default), else
    itself."""
    if isinstance(iterable, ast.Call) and iterable.args \
            and not isinstance(iterable.args[0], ast.Starred) \
            and ((iterable.func.id if isinstance(iterable.func, ast.Name)
                  else iterable.func.attr if isinstance(iterable.func, ast.Attribute)
                  else "") in _PASS_THROUGH or _identity_hook(ctx, scope, iterable.func)):
        return iterable.args[0]
    return iterable


def _identity_hook(ctx: CheckContext, scope: Scope, func: ast.expr) -> bool:
    """``iter_wrapper`` in ``def check(iter_wrapper=identity): for doc in iter_wrapper(qs)``:
    a parameter whose default is a function of the project that returns its argument (a hook
    for a progress bar): the loop walks what it is given, one item at a time."""
    if not isinstance(func, ast.Name):
        return False
    default = next((d for a, d in parameter_defaults(scope.node) if a.arg == func.id), None)
    if not isinstance(default, (ast.Name, ast.Attribute)):
        return False
    qualname = ctx.facts.qualname(default)
    if qualname is None and isinstance(default, ast.Name) and ctx.facts.module_name:
        qualname = f"{ctx.facts.module_name}.{default.id}"
    return qualname is not None \
        and object_sources(ctx).param_effect(qualname, 0, None, False) == EFFECT_RETURN


def _counted_only(ctx: CheckContext, scope: Scope, use: ast.Name,
                  custom: frozenset[str] = frozenset()) -> list[ast.Call] | None:
    """The ``len(qs)`` calls among the other reads of a queryset name, when none of those
    reads needs its rows cached (the fix turns each into ``qs.count()``); None when one of them
    reads the rows (another loop, ``list(qs)``, a call, a return) or tests it (``if qs:``: in
    the corpus reviews, a loop guarded so was over a short list every time).

    Derived querysets (``qs.filter(...)``, ``qs[:10]``, ``qs.count()``, the project's own
    queryset methods in ``custom``, ``qs.active()``, and the name's own refinements ``qs =
    qs.filter(...)``) run queries of their own."""
    parents = ctx.facts.parent
    lengths: list[ast.Call] = []
    for load in name_loads(scope.node, use.id):
        if load is use:
            continue
        parent = parents.get(id(load))
        if isinstance(parent, ast.Attribute) and parent.value is load \
                and (parent.attr in _QUERYSET_METHODS or parent.attr in custom) \
                and isinstance(parents.get(id(parent)), ast.Call):
            continue
        if isinstance(parent, ast.Subscript) and parent.value is load:
            continue
        if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) \
                and parent.func.id == "len" and parent.args == [load] and not parent.keywords:
            lengths.append(parent)
            continue
        return None  # also a truth test (`if qs:`): code that expects few rows, or none
    return lengths


_QUERYSET_METHODS = DJANGO_QUERYSET | DJANGO_BOUNDING


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _comprehension(rule: type[Rule], ctx: CheckContext, scope: Scope,
                   comp: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp,
                   assignments: dict[str, list[ast.AST]]) -> Finding | None:
    """``[Build(o) for o in Model.objects.all()]`` (fed to ``bulk_create``, summed, …): every
    row is fetched and cached by the queryset while the comprehension makes something else of
    each. A comprehension that keeps the rows themselves (``[o for o in qs]``) is a
    materialization (DBL3xx), not this rule's."""
    first = comp.generators[0]
    iterable = first.iter
    found, passed = _walked_queryset(iterable, assignments, ctx, scope)
    if found is None:
        return None
    _source, model, reason = found
    if isinstance(iterable, ast.Name) and len(name_loads(scope.node, iterable.id)) != 1:
        return None  # the queryset is used again: its cache may be what the code wants
    target = first.target
    elements = [comp.key, comp.value] if isinstance(comp, ast.DictComp) else [comp.elt]
    if isinstance(target, ast.Name) and any(
            isinstance(e, ast.Name) and e.id == target.id for e in elements) \
            and not report_returned(ctx.settings):
        return None  # the rows are what it keeps
    if not _bulk_work(ctx, scope, comp):
        return None  # a map or a list of choices built from a lookup table, most often
    what = f"a comprehension over {_spelled_passed(ctx, iterable, model, passed)}"
    message = rule.message.format(what=what, reason=reason)
    size = ctx.settings.option("sql", "chunk-size", 1000)
    text = source_segment(ctx.text, iterable)
    plan = None
    if text is not None:
        start = ctx.position(iterable.lineno, iterable.col_offset)
        end = ctx.position(iterable.end_lineno or iterable.lineno, iterable.end_col_offset or 0)
        plan = FixPlan(f"Stream with `.iterator(chunk_size={size})` (no result cache)",
                       Applicability.UNSAFE,
                       (ReplaceRange(start, end, f"{text}.iterator(chunk_size={size})"),))
    return ctx.finding(rule, iterable, message, plan=plan, stmt=_statement_of(ctx, comp) or ctx.facts.statement_of(comp))


_TASK_DECORATORS = frozenset({"task", "shared_task", "periodic_task", "db_task", "actor"})


def _whole_table_job(path: str, function: ast.AST | None) -> bool:
    """Whether code at ``path`` in ``function`` runs as a job over the database rather than to
    answer a request: a module of a ``migrations`` folder, a management command, a ``tasks.py``
    module, or a function decorated as a task (Celery's ``@shared_task``/``@app.task``, Huey's
    ``@db_task``, Dramatiq's ``@actor``)."""
    path = "/" + path.replace("\\", "/")
    if in_migrations(path) or "/management/commands/" in path \
            or path.rsplit("/", 1)[-1] == "tasks.py":
        return True
    return isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
        decorator_name(d) in _TASK_DECORATORS for d in function.decorator_list)


_BULK_WRITES = frozenset({"bulk_create", "bulk_update"})


def _bulk_work(ctx: CheckContext, scope: Scope, comp: ast.AST) -> bool:
    """Whether a comprehension does whole-table work: it feeds `bulk_create`/`bulk_update`
    (directly or through a name), or it runs in a migration, a management command or a task,
    where walking a whole table is the point and the table is a real one."""
    if _whole_table_job(ctx.path, scope.node):
        return True
    parents = ctx.facts.parent
    current: ast.AST | None = parents.get(id(comp))
    while isinstance(current, (ast.Call, ast.keyword, ast.Starred, ast.List, ast.Tuple)):
        if isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute) \
                and current.func.attr in _BULK_WRITES:
            return True
        current = parents.get(id(current))
    if isinstance(current, ast.Assign) and len(current.targets) == 1 \
            and isinstance(current.targets[0], ast.Name):
        name = current.targets[0].id
        for sub in _scope_nodes(scope):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) \
                    and sub.func.attr in _BULK_WRITES and any(
                        isinstance(a, ast.Name) and a.id == name
                        for a in [*sub.args, *(k.value for k in sub.keywords)]):
                return True
    return False


def _length(rule: type[Rule], ctx: CheckContext, scope: Scope, call: ast.Call,
            assignments: dict[str, list[ast.AST]]) -> Finding | None:
    argument = call.args[0]
    found = _queryset(argument, assignments, ctx, scope)
    if found is None:
        return None
    _source, model, _reason = found
    if isinstance(argument, ast.Name) and len(name_loads(scope.node, argument.id)) != 1:
        return None  # the rows are used too: len() on the cached result is fine
    stmt = _statement_of(ctx, call)
    text = source_segment(ctx.text, argument)
    plan = None
    if text is not None:
        start = ctx.position(call.lineno, call.col_offset)
        end = ctx.position(call.end_lineno or call.lineno, call.end_col_offset or 0)
        plan = FixPlan("Count in the database with `.count()`", Applicability.SAFE,
                       (ReplaceRange(start, end, f"{text}.count()"),))
    message = (f"`len()` of `{model}.objects…` loads every row only to count them; "
               "`.count()` asks the database")
    return ctx.finding(rule, call, message, plan=plan, stmt=stmt)


def _statement_of(ctx: CheckContext, node: ast.AST) -> ast.stmt | None:
    for site in ctx.facts.calls:
        if site.node is node:
            return site.stmt
    return None
