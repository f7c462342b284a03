"""Django admin actions: the queryset an action is given is the rows a user selected in the
change list, and one click ("Select all N") selects every row of the table.

An action is a method of a class deriving from a ``...Admin`` class, ``(self, request,
queryset)``, that the class lists in ``actions`` (by name) or that is decorated with
``@admin.action``, plus the ``delete_queryset(self, request, queryset)`` hook the built-in
"delete selected" action calls; or a module-level function ``(modeladmin, request, queryset)``
decorated with ``@admin.action`` or listed in an admin class's ``actions``. The model is the
one the admin class is registered for in the same module (``@admin.register(Model)``,
``admin.site.register(Model, TheAdmin)``), None when the module does not say.
"""

from __future__ import annotations

import ast

from dbleak.analysis.module import ModuleFacts, Scope
from dbleak.analysis.names import base_name

# The admin's own hook that the "delete selected" action hands the selection to.
_SELECTION_HOOKS = frozenset({"delete_queryset"})
_ADMIN_ACTION = frozenset({"django.contrib.admin.action", "django.contrib.admin.decorators.action"})


# Plain classes, not dataclasses: every `dbleak check` imports this module, and making a
# dataclass costs about a millisecond (its methods are compiled from source when the class is).


class AdminSelection:
    """The selection parameter of an admin action: the action's name and, where the module
    registers its admin class, the model whose rows it is given."""

    __slots__ = ("action", "model")

    def __init__(self, action: str, model: str | None) -> None:
        self.action = action
        self.model = model


class _ModuleAdmins:
    __slots__ = ("listed", "models")

    def __init__(self, listed: dict[str, set[str]], models: dict[str, str | None]) -> None:
        self.listed = listed  # admin class name -> names its `actions` lists
        self.models = models  # admin class name -> the one model it is registered for


def admin_selection(facts: ModuleFacts, scope: Scope, name: str) -> AdminSelection | None:
    """What ``name`` is when it is the selection parameter (the third) of an admin action
    defined by ``scope``, else None."""
    function = scope.node
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or scope.parent is None:
        return None
    args = function.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    if len(positional) != 3 or positional[2] != name or args.vararg or args.kwarg:
        return None
    admins = _module_admins(facts)
    decorated = any(_is_action_decorator(facts, d) for d in function.decorator_list)
    owner = scope.parent.node
    if isinstance(owner, ast.ClassDef):
        if not _is_admin_class(owner):
            return None
        if not (decorated or function.name in _SELECTION_HOOKS
                or function.name in admins.listed.get(owner.name, ())):
            return None
        return AdminSelection(f"{owner.name}.{function.name}", admins.models.get(owner.name))
    if not isinstance(owner, ast.Module):
        return None
    listing = [klass for klass, names in admins.listed.items() if function.name in names]
    if not (decorated or listing):
        return None
    models = {admins.models.get(klass) for klass in listing}
    return AdminSelection(function.name, models.pop() if len(models) == 1 else None)


def _is_admin_class(klass: ast.ClassDef) -> bool:
    return any(base_name(base).endswith("Admin") for base in klass.bases)


def _is_action_decorator(facts: ModuleFacts, decorator: ast.expr) -> bool:
    """``@admin.action(...)`` / ``@action(...)`` imported from ``django.contrib.admin`` (not
    Django REST framework's ``@action``, which marks a view set's routes)."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    qualname = facts.qualname(target)
    if qualname is not None:
        return qualname in _ADMIN_ACTION
    return isinstance(target, ast.Attribute) and target.attr == "action" \
        and isinstance(target.value, ast.Name) and target.value.id == "admin"


def _module_admins(facts: ModuleFacts) -> _ModuleAdmins:
    """The module's admin classes: what each lists in ``actions`` and the model each is
    registered for (made once per module)."""
    cached: _ModuleAdmins | None = getattr(facts, "_dbleak_admins", None)
    if cached is not None:
        return cached
    listed: dict[str, set[str]] = {}
    registered: dict[str, set[str]] = {}
    for scope in facts.scopes:  # the module's classes, as its one traversal found them
        node = scope.node
        if not (isinstance(node, ast.ClassDef) and _is_admin_class(node)):
            continue
        names = listed.setdefault(node.name, set())
        for stmt in node.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and any(
                    isinstance(t, ast.Name) and t.id == "actions"
                    for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])):
                for item in ast.walk(stmt.value) if stmt.value is not None else ():
                    if isinstance(item, ast.Constant) and isinstance(item.value, str):
                        names.add(item.value)
                    elif isinstance(item, ast.Name):
                        names.add(item.id)
        for decorator in node.decorator_list:
            # `@admin.register(Order)`, `@admin.register(Order, site=custom)`
            if isinstance(decorator, ast.Call) and _names_register(decorator.func):
                for model in _model_names(decorator.args):
                    registered.setdefault(node.name, set()).add(model)
    for site in facts.calls:
        call = site.node
        if _names_register(call.func) and len(call.args) >= 2 and isinstance(call.args[1], ast.Name):
            # `admin.site.register(Order, OrderAdmin)`, `site.register([A, B], SharedAdmin)`
            for model in _model_names([call.args[0]]):
                registered.setdefault(call.args[1].id, set()).add(model)
    models = {klass: (next(iter(found)) if len(found) == 1 else None)
              for klass, found in registered.items()}
    admins = _ModuleAdmins(listed, models)
    facts._dbleak_admins = admins  # type: ignore[attr-defined]
    return admins


def _names_register(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "register") \
        or (isinstance(func, ast.Name) and func.id == "register")


def _model_names(args: list[ast.expr]) -> list[str]:
    names: list[str] = []
    for arg in args:
        items = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
        for item in items:
            if isinstance(item, ast.Name):
                names.append(item.id)
            elif isinstance(item, ast.Attribute):
                names.append(item.attr)
    return names
