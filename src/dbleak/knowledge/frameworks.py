"""What web frameworks' own models are: knowledge the DBL2xx rules read, like the driver table.

Framework models whose tables the application's code sizes, not its data (Django's permissions
are models x actions, content types one per model; groups, sites and Wagtail's locales are
defined by administrators), and the relations of those models, which are not in the checked
tree and so not in its model summaries.
"""

from __future__ import annotations

# Reading these whole is how they are used.
FRAMEWORK_LOOKUP_MODELS = frozenset({
    "django.contrib.auth.models.Group", "django.contrib.auth.models.Permission",
    "django.contrib.contenttypes.models.ContentType", "django.contrib.sites.models.Site",
    "wagtail.models.Locale", "wagtail.models.Site", "wagtail.models.i18n.Locale",
    "wagtail.models.sites.Site", "wagtail.core.models.Locale", "wagtail.core.models.Site",
})
# `apps.get_model("auth", "Group")` in migrations: app label -> the models' module.
APP_MODULES = {"auth": "django.contrib.auth.models",
               "contenttypes": "django.contrib.contenttypes.models",
               "sites": "django.contrib.sites.models", "wagtailcore": "wagtail.models"}
# Relations of those framework models (not in the checked tree, so not in its summaries).
FRAMEWORK_RELATIONS = frozenset({"permissions", "user_permissions", "groups", "content_type"})
# Their many-to-many managers (`user.groups.filter(...)`): querysets, like a project model's.
# Not `group.permissions`: too common a name for other handlers (evennia's
# `obj.permissions.all()` is a list of strings).
FRAMEWORK_RELATED_MANAGERS = frozenset({"user_permissions", "groups"})
# django-treebeard's tree nodes (Wagtail's pages are ones) give their relatives as querysets
# (`page.get_children()`): in a module that imports either package, these methods make one.
TREE_NODE_QUERYSETS = frozenset({"get_children", "get_descendants", "get_ancestors", "get_siblings"})
TREE_PACKAGES = ("treebeard", "wagtail")
# Wagtail's `PageQuerySet` refinements (`page.get_children().live().in_menu()`).
PAGE_QUERYSET_METHODS = frozenset({
    "live", "not_live", "in_menu", "not_in_menu", "public", "not_public", "specific",
    "defer_streamfields", "type", "not_type", "exact_type", "not_exact_type", "child_of",
    "not_child_of", "descendant_of", "not_descendant_of", "ancestor_of", "not_ancestor_of",
    "sibling_of", "not_sibling_of", "in_site", "translation_of", "not_translation_of",
})
# Flask's request globals: what is stored there lives for one request (or app context), and
# only a teardown function releases it (Flask's documentation: "Using SQLite 3 with Flask").
REQUEST_GLOBALS = frozenset({"flask.g", "flask.globals.g"})
TEARDOWN_HOOKS = frozenset({"teardown_request", "teardown_appcontext", "teardown_app_request"})
