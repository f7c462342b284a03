"""A file checked alone reads its package's models from disk (not those of vendored code)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dbleak.api import RunOptions, check_paths
from dbleak.settings import settings_from_table

MODELS = textwrap.dedent("""\
    from django.db import models


    class Language(models.Model):
        code = models.CharField(max_length=8, unique=True)


    class Order(models.Model):
        language = models.ForeignKey(Language, on_delete=models.CASCADE)
    """)

# Vendored Django (kolibri ships one in `kolibri/dist/`): its `Model` references no other
# model, and read as the project's it would make `Model` a lookup table.
VENDORED = textwrap.dedent("""\
    class Model(metaclass=type):
        pk = None
        unique_field = Field(unique=True)
    """)

COMMAND = textwrap.dedent("""\
    def languages(apps, model_name):
        Model = apps.get_model("shop", model_name)
        for row in Model.objects.all():
            row.save()
        for language in Language.objects.all():
            language.save()
        for order in Order.objects.all():
            order.save()
    """)


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "with-the-package"])
def test_the_package_models_are_read_and_vendored_ones_are_not(tmp_path: Path, alone: bool) -> None:
    package = tmp_path / "shop"
    (package / "migrations").mkdir(parents=True)
    (package / "dist" / "django").mkdir(parents=True)
    for folder in (package, package / "migrations", package / "dist", package / "dist" / "django"):
        (folder / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS)
    (package / "dist" / "django" / "models.py").write_text(VENDORED)
    (package / "migrations" / "0002_fill.py").write_text(
        "from shop.models import Language, Order\n\n\n" + COMMAND)
    settings = settings_from_table({"select": ["DBL203"]}, tmp_path / "dbleak.toml")
    paths = [package / "migrations" / "0002_fill.py"] if alone else [package]
    results = check_paths(paths, lambda _p: settings, RunOptions())
    found = sorted(f.start.line for r in results if r.result.path.endswith("0002_fill.py")
                   for f in r.result.findings)
    # `Language` references no other model and has a natural key (a lookup table by default,
    # in a migration too); `Model` is a model class chosen at run time, `Order` a table that
    # grows.
    assert found == [6, 10]


ORDERS = textwrap.dedent("""\
    from django.db import models


    class Order(models.Model):
        user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="orders")
        total = models.IntegerField()
    """)

VIEWS = textwrap.dedent("""\
    from django.http import HttpResponse


    def summary(request, user):
        return HttpResponse(str(len(user.orders.all())))
    """)


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "with-the-project"])
def test_a_django_project_apps_models_are_read_beside_the_checked_app(tmp_path: Path,
                                                                        alone: bool) -> None:
    # A Django project's apps are top-level packages side by side under its root (`manage.py`):
    # `blog` reads a relation `shop` declares, whether pre-commit passes one file or the run
    # is given the whole project.
    (tmp_path / "manage.py").write_text("")
    for app, name, text in (("shop", "models.py", ORDERS), ("blog", "views.py", VIEWS)):
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
        (tmp_path / app / name).write_text(text)
    settings = settings_from_table({"select": ["DBL306"]}, tmp_path / "dbleak.toml")
    paths = [tmp_path / "blog" / "views.py"] if alone else [tmp_path]
    found = [(f.code, f.start.line) for r in check_paths(paths, lambda _p: settings, RunOptions())
             if r.result.path.endswith("views.py") for f in r.result.findings]
    assert found == [("DBL306", 5)]


TAGS = textwrap.dedent("""\
    from django.db import models


    class Page(models.Model):
        title = models.CharField(max_length=50)


    class Alias(models.Model):
        page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="aliases")
    """)

HANDLERS = textwrap.dedent("""\
    from django.conf import settings


    def describe(obj):
        if obj.aliases.all():
            return settings.DEBUG
        return None
    """)


def test_a_run_given_two_projects_keeps_each_projects_models_to_itself(tmp_path: Path) -> None:
    # `aliases` is a relation in the CMS project and a handler (whose `all()` gives a list) in
    # the game: checking both in one run must not make the game's handler a related manager,
    # as checking the game alone does not.
    for project, package, name, text in (("cms", "cms", "models.py", TAGS),
                                         ("game", "game", "commands.py", HANDLERS)):
        folder = tmp_path / project / package
        folder.mkdir(parents=True)
        (tmp_path / project / "pyproject.toml").write_text("")
        (folder / "__init__.py").write_text("")
        (folder / name).write_text(text)
    settings = settings_from_table({"select": ["DBL306"]}, tmp_path / "dbleak.toml")
    for paths in ([tmp_path], [tmp_path / "game"]):
        found = [(r.result.path, f.start.line) for r in check_paths(paths, lambda _p: settings, RunOptions())
                 for f in r.result.findings]
        assert found == []


def test_which_modules_declare_models_is_kept_in_the_cache_by_file_stamp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file passed alone (pre-commit) learns which modules of its package declare models by
    reading them all; a warm cache keeps the answer by each file's stamp, so the next run
    reads only the files changed since."""
    import os
    import time

    import dbleak.index
    from dbleak.cache import Cache

    read: list[bytes] = []
    markers = dbleak.index._MODEL_MARKERS

    class Counting:
        def search(self, text: bytes) -> object:
            read.append(text)
            return markers.search(text)

    monkeypatch.setattr(dbleak.index, "_MODEL_MARKERS", Counting())
    package = tmp_path / "shop"
    package.mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS)
    for index in range(5):
        (package / f"helpers{index}.py").write_text(f"def helper{index}():\n    return {index}\n")
    (package / "fill.py").write_text("from shop.models import Language, Order\n\n\n" + COMMAND)
    then = time.time() - 60
    for path in package.iterdir():
        os.utime(path, (then, then))
    settings = settings_from_table({"select": ["DBL203"]}, tmp_path / "dbleak.toml")

    def lines(cache: Cache | None) -> list[int]:
        results = check_paths([package / "fill.py"], lambda _p: settings, RunOptions(cache=cache))
        return sorted(f.start.line for r in results for f in r.result.findings)

    cold = lines(None)
    assert len(read) == 7  # every other module of the package: models, helpers, __init__
    cache = Cache(tmp_path / "cache")
    read.clear()
    assert lines(cache) == cold and len(read) == 7
    read.clear()
    (package / "fill.py").write_text((package / "fill.py").read_text() + "\n")  # checked again
    assert lines(cache) == cold and read == []
    # `Language` refers to another model now: no lookup table; its loop is reported
    (package / "models.py").write_text(MODELS.replace(
        "code = models.CharField(max_length=8, unique=True)",
        "code = models.CharField(max_length=8, unique=True)\n"
        "    parent = models.ForeignKey('self', on_delete=models.CASCADE)"))
    os.utime(package / "models.py", (then + 1, then + 1))
    (package / "fill.py").write_text((package / "fill.py").read_text() + "\n")
    read.clear()
    warm = lines(cache)
    assert len(read) == 1 and b"parent" in read[0]  # models.py alone is read again
    assert warm == lines(None) != cold


def test_a_file_passed_again_leaves_the_package_notes_as_they_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notes of a package are written again only when what they say changed: a module the
    run summarizes itself keeps its note (it is checked against its stamp when it is read
    again), instead of being dropped and the whole package's notes rewritten every run."""
    import os
    import time

    from dbleak.cache import Cache

    package = tmp_path / "shop"
    package.mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS)
    (package / "helpers.py").write_text("def helper():\n    return 1\n")
    (package / "fill.py").write_text("from shop.models import Language, Order\n\n\n" + COMMAND)
    then = time.time() - 60
    for path in package.iterdir():
        os.utime(path, (then, then))
    settings = settings_from_table({"select": ["DBL203"]}, tmp_path / "dbleak.toml")
    cache = Cache(tmp_path / "cache")
    kept: list[str] = []
    keep_notes = Cache.keep_notes

    def counting(self: Cache, kind: str, folder: str, notes: dict) -> None:  # type: ignore[type-arg]
        kept.append(kind)
        keep_notes(self, kind, folder, notes)

    monkeypatch.setattr(Cache, "keep_notes", counting)

    def check(name: str) -> list[int]:
        results = check_paths([package / name], lambda _p: settings, RunOptions(cache=cache))
        return sorted(f.start.line for r in results for f in r.result.findings)

    check("fill.py")  # every other module is read, and noted
    check("helpers.py")  # fill.py is read and noted; helpers.py's note stays
    assert kept
    kept.clear()
    (package / "fill.py").write_text((package / "fill.py").read_text() + "\n")
    os.utime(package / "fill.py", (then + 1, then + 1))
    check("fill.py")  # summarized by the run: its note stays, nothing else changed
    assert kept == []


def test_a_package_answers_who_mentions_a_name_the_same_before_and_after_indexing() -> None:
    from dbleak.index import _Mentions

    words = [("p.a", frozenset({"x", "y"})), ("p.b", frozenset({"y"})), ("p.c", frozenset({"x"}))]
    mentions = _Mentions(words)
    before = [mentions.modules_with(name) for name in ("x", "y", "z")]
    for _ in range(_Mentions.INDEX_AFTER):
        mentions.modules_with("x")
    after = [mentions.modules_with(name) for name in ("x", "y", "z")]
    assert before == after == [["p.a", "p.c"], ["p.a", "p.b"], []]
