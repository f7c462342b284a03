"""The incremental check (dbleak.incremental) gives exactly the findings of a full check.

Every fixture under tests/fixtures (every rule selected, the fixture's own options, the project
index for project fixtures) and the latency benchmark's generated module go through a series of
edits: a statement deleted from each function or class, a line inserted (moving everything
below it), a function added (a connection factory), a function removed, a function renamed, an
import removed, a module constant changed. After each edit the same IncrementalChecker checks
the new text, and its result must equal `check_text` of that text: every finding with its
message, positions, noqa lines and fix plan, in the same order.
"""

from __future__ import annotations

import ast
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbleak.api import build_project_index
from dbleak.engine import check_text
from dbleak.incremental import IncrementalChecker, reparsed
from dbleak.settings import Settings, settings_from_table
from fixture_harness import Fixture, all_fixtures, fixture_config

FIXTURES = all_fixtures()
INCREMENTAL: list[int] = []  # incremental checks per fixture
SPLICED: list[int] = []  # one per edit whose tree was made by parsing the edited part only
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
UNITS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
ADDED = '''

def added_factory(path):
    import sqlite3
    return sqlite3.connect(path)


def added_user(path):
    conn = added_factory(path)
    return conn.execute("SELECT 1").fetchall()
'''


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _units(text: str) -> list[ast.stmt]:
    return [s for s in ast.parse(text).body if isinstance(s, UNITS)]


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])


def _without_lines(text: str, first: int, last: int) -> str:
    lines = _lines(text)
    return "\n".join(lines[:first - 1] + lines[last:])


def _statement_deleted(text: str, unit: int) -> str | None:
    """``text`` without one statement of its ``unit``-th function or class (the middle one)."""
    node = _units(text)[unit]
    body = [s for s in ast.walk(node) if isinstance(s, ast.stmt) and s is not node
            and not isinstance(s, UNITS)]
    if len(body) < 2:
        return None
    stmt = body[len(body) // 2]
    new = _without_lines(text, stmt.lineno, stmt.end_lineno or stmt.lineno)
    return new if _parses(new) else None


def _line_inserted(text: str, unit: int) -> str | None:
    """A ``pass`` line (and a comment line) before the first statement of a unit's body."""
    node = _units(text)[unit]
    first = node.body[0]
    lines = _lines(text)
    indent = " " * first.col_offset
    lines[first.lineno - 1:first.lineno - 1] = [f"{indent}# an edit", f"{indent}pass"]
    new = "\n".join(lines)
    return new if _parses(new) else None


def _unit_removed(text: str, unit: int) -> str:
    node = _units(text)[unit]
    return _without_lines(text, _first_line(node), node.end_lineno or node.lineno)


def _unit_renamed(text: str, unit: int) -> str | None:
    node = _units(text)[unit]
    lines = _lines(text)
    line = lines[node.lineno - 1]
    new_line = line.replace(f" {node.name}", f" {node.name}_renamed", 1)
    if new_line == line:
        return None
    lines[node.lineno - 1] = new_line
    new = "\n".join(lines)
    return new if _parses(new) else None


def _import_removed(text: str) -> str | None:
    for stmt in ast.parse(text).body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            new = _without_lines(text, stmt.lineno, stmt.end_lineno or stmt.lineno)
            if _parses(new):
                return new
    return None


def _constant_changed(text: str) -> str:
    """A module constant changed (one added after the imports when there is none)."""
    tree = ast.parse(text)
    for stmt in tree.body:
        if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
                and stmt.lineno == stmt.end_lineno):
            lines = _lines(text)
            lines[stmt.lineno - 1] = lines[stmt.lineno - 1][:stmt.value.col_offset] + "None"
            new = "\n".join(lines)
            if _parses(new):
                return new
    last_import = max([s.end_lineno or s.lineno for s in tree.body
                       if isinstance(s, (ast.Import, ast.ImportFrom))], default=0)
    lines = _lines(text)
    lines[last_import:last_import] = ["LIMIT_ADDED = 10"]
    return "\n".join(lines)


def edit_series(text: str, limit: int = 12) -> Iterator[tuple[str, str]]:
    """(what, new text) for a series of edits, each applied to the text before it."""
    for index in range(min(len(_units(text)), limit)):
        for what, edit in (("delete a statement", _statement_deleted),
                           ("insert lines", _line_inserted)):
            if index < len(_units(text)):
                new = edit(text, index)
                if new is not None:
                    text = new
                    yield f"{what} in unit {index}", text
    text = text + ADDED
    yield "add two functions", text
    if _units(text):
        text = _unit_removed(text, 0)
        yield "remove the first unit", text
    if len(_units(text)) > 1:
        new = _unit_renamed(text, len(_units(text)) // 2)
        if new is not None:
            text = new
            yield "rename a unit", text
    text = _unit_removed(text, len(_units(text)) - 1)
    yield "remove the last unit", text
    new = _import_removed(text)
    if new is not None:
        text = new
        yield "remove an import", text
    text = _constant_changed(text)
    yield "change a module constant", text
    text = text + "\n\ndef trailing(:\n"
    yield "a syntax error", text
    text = text[:text.rindex("\n\ndef trailing(:\n")]
    yield "the syntax error repaired", text


def assert_exact(text: str, path: str, settings: Settings,
                 project: object = None) -> IncrementalChecker:
    checker = IncrementalChecker(most=1.0)  # never a full check to save time
    first = checker.check(text, path, settings, project)  # type: ignore[arg-type]
    assert first == check_text(text, path, settings, project=project)  # type: ignore[arg-type]
    old = text
    for what, new in edit_series(text):
        assert_same_tree(old, new)
        old = new
        expected = check_text(new, path, settings, project=project)  # type: ignore[arg-type]
        got = checker.check(new, path, settings, project)  # type: ignore[arg-type]
        assert got.findings == expected.findings, what
        assert got == expected, what
    return checker


def assert_same_tree(old: str, new: str) -> None:
    """Parsing only the edited statements gives the tree of a full parse, or None."""
    try:
        old_tree = ast.parse(old)
    except (SyntaxError, ValueError):
        return
    spliced = reparsed(old, old_tree, new)
    try:
        expected = ast.dump(ast.parse(new), include_attributes=True)
    except (SyntaxError, ValueError):
        assert spliced is None
        return
    if spliced is not None:
        assert ast.dump(spliced, include_attributes=True) == expected
        SPLICED.append(1)


SNIPPETS = ("(", ")", "[", "]", '"""', "'''", '"', "\\\n", "\n", "\n\n", "    ", "#", ":",
            "\ndef g():\n    pass\n", "\nclass K:\n    x = 1\n", "@dec\n", "; x = 1",
            "\nif x:\n", "else:", "async ", "lambda: ", "x = (\n", ")\n", "\t", "f'{", "}'")


def random_edits(text: str, seed: int, count: int) -> Iterator[str]:
    """Character-level edits at random places: tricky tokens inserted, spans deleted."""
    chance = random.Random(seed)
    for _ in range(count):
        at = chance.randrange(len(text) + 1)
        if chance.random() < 0.6:
            text = text[:at] + chance.choice(SNIPPETS) + text[at:]
        else:
            text = text[:at] + text[at + chance.randrange(1, 40):]
        yield text


def _all_rules(fixture: Fixture, text: str) -> Settings:
    return settings_from_table({**fixture_config(text), "select": ["DBL"]},
                               fixture.path.parent / "dbleak.toml")


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.id for f in FIXTURES])
def test_incremental_equals_full_check(fixture: Fixture) -> None:
    text = fixture.path.read_text(encoding="utf-8")
    settings = _all_rules(fixture, text)
    project = None
    if fixture.project is not None:
        project = build_project_index([fixture.project], lambda _p: settings)
    checker = assert_exact(text, str(fixture.path), settings, project)
    INCREMENTAL.append(checker.statistics.incremental)


def test_the_edits_went_through_the_incremental_path() -> None:
    """Most edits above kept the module-level context, so the incremental path was taken."""
    assert len(INCREMENTAL) == len(FIXTURES)
    assert sum(INCREMENTAL) > 5 * len(FIXTURES)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.id for f in FIXTURES])
def test_parsing_the_edited_statements_gives_the_full_parse(fixture: Fixture) -> None:
    """Random edits (brackets, quotes, continuations, indentation, deleted spans): the tree
    made by re-parsing only the edited statements equals a full parse whenever it is made,
    and the incremental check equals a full check."""
    text = fixture.path.read_text(encoding="utf-8")
    settings = _all_rules(fixture, text)
    checker = IncrementalChecker(most=1.0)
    checker.check(text, str(fixture.path), settings)
    old = text
    for index, new in enumerate(random_edits(text, seed=len(text), count=40)):
        assert_same_tree(old, new)
        old = new
        if index % 4 == 0:
            assert checker.check(new, str(fixture.path), settings) == check_text(
                new, str(fixture.path), settings)


def test_many_edits_were_parsed_in_part() -> None:
    """The comparisons above did compare: most edits' trees were made from a part."""
    assert len(SPLICED) > 4 * len(FIXTURES)


def test_incremental_equals_full_check_on_the_benchmark_module() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from lsp_latency import edited, generate
    finally:
        sys.path.remove(str(BENCHMARKS))
    text = generate(600)
    settings = Settings()
    checker = assert_exact(text, "orders.py", settings)
    # The benchmark's own edit (a changed literal in one function) re-checks that function only
    # (what it calls types no parameter by its call sites).
    checker = IncrementalChecker()
    checker.check(text, "orders.py", settings)
    for round_ in range(3):
        text = edited(text, round_ * 7, round_)
        assert checker.check(text, "orders.py", settings) == check_text(text, "orders.py", settings)
    assert checker.statistics.full == 1
    assert checker.statistics.incremental == 3
    assert checker.statistics.rechecked_units == 3
    assert checker.statistics.reparsed == 3


def test_new_settings_or_a_new_project_index_mean_a_full_check() -> None:
    text = ("import sqlite3\n\n\ndef f(p):\n    conn = sqlite3.connect(p)\n    return 0\n\n\n"
            "def g(p):\n    return 0\n\n\ndef h(p):\n    return 0\n")
    checker = IncrementalChecker()
    checker.check(text, "m.py", Settings())
    checker.check(text.replace("return 0\n\n\ndef h", "return 1\n\n\ndef h"), "m.py",
                  Settings(select=("DBL1",)))
    assert (checker.statistics.full, checker.statistics.incremental) == (2, 0)
    checker.check(text.replace("return 0\n\n\ndef h", "return 2\n\n\ndef h"), "m.py",
                  Settings(select=("DBL1",)))
    assert (checker.statistics.full, checker.statistics.incremental) == (2, 1)
    project = build_project_index([], lambda _p: Settings())
    checker.check(text.replace("return 0\n\n\ndef h", "return 3\n\n\ndef h"), "m.py",
                  Settings(select=("DBL1",)), project)
    assert (checker.statistics.full, checker.statistics.incremental) == (3, 1)


MODELS = '''from django.db import models


class Ticket(models.Model):
    event = models.ForeignKey("Event", on_delete=models.CASCADE)


class Item(models.Model):
    tags = models.ManyToManyField("app.Label")


def copy_items(other):
    for item in Item.objects.filter(tags__event=other):
        print(item)
    return 0


def unrelated():
    return 0
'''


def test_model_relations_are_a_module_wide_fact() -> None:
    """Relation names are a module-wide set (a name, not a model's field): `tags__event` is one
    parent's rows because `Ticket` declares `event` a relation, and the function never reads
    `Ticket`. Editing the function, or that class, must give what a full check gives."""
    settings = Settings()
    checker = IncrementalChecker(most=1.0)
    checker.check(MODELS, "shop.py", settings)
    for new in (
        MODELS.replace("return 0\n\n\ndef unrelated", "return 1\n\n\ndef unrelated"),
        MODELS.replace("print(item)", "print(item, 1)"),
        MODELS.replace('event = models.ForeignKey("Event", on_delete=models.CASCADE)',
                       "event = models.CharField(max_length=5)"),
        MODELS,
    ):
        assert checker.check(new, "shop.py", settings) == check_text(new, "shop.py", settings)


CALL_SITES = '''from django.db import models


class Order(models.Model):
    status = models.CharField(max_length=5)


def count_of(query):
    return len(query)


def unrelated():
    return 0


def paid():
    return count_of(Order.objects.filter(status="paid"))
'''


def test_a_caller_changed_re_checks_what_it_calls() -> None:
    """`count_of(query)` is judged by what its calls pass (every call passes a queryset:
    `len(query)` counts rows in Python). Editing a caller so that it passes a list changes the
    callee's findings, though the callee reads nothing the caller defines."""
    settings = Settings(select=("DBL306",))
    checker = IncrementalChecker(most=1.0)
    first = checker.check(CALL_SITES, "shop.py", settings)
    assert [f.start.line for f in first.findings] == [9]
    for new in (
        CALL_SITES.replace('count_of(Order.objects.filter(status="paid"))', "count_of([1, 2])"),
        CALL_SITES.replace("return 0", "return 1"),
        CALL_SITES,
    ):
        assert checker.check(new, "shop.py", settings) == check_text(new, "shop.py", settings)
    assert checker.statistics.incremental == 3


RETURNED_ROWS = '''import sqlite3


def user_rows(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT id, name FROM users").fetchall()


def unrelated():
    return 0


def export(path, out):
    for row in user_rows(path):
        out.write(str(row))
'''


def test_a_caller_changed_re_checks_the_rows_it_is_returned() -> None:
    """`user_rows()` returns every row; it is reported while every call walks them once.
    Editing the caller to count them instead changes the callee's findings."""
    settings = Settings(select=("DBL201",))
    checker = IncrementalChecker(most=1.0)
    assert [f.start.line for f in checker.check(RETURNED_ROWS, "m.py", settings).findings] == [6]
    for new in (
        RETURNED_ROWS.replace("for row in user_rows(path):\n        out.write(str(row))",
                              "out.write(str(len(user_rows(path))))"),
        RETURNED_ROWS.replace("return 0", "return 1"),
        RETURNED_ROWS,
    ):
        assert checker.check(new, "m.py", settings) == check_text(new, "m.py", settings)
    assert checker.statistics.incremental == 3
