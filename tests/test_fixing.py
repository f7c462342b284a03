"""Applying fixes: atomic writes that keep mode, encoding and line endings; never a broken file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dbleak.api import RunOptions, check_file, fix_source
from dbleak.fixing import fix_text, write_atomically
from dbleak.models import Applicability, Edit, FileResult, Finding, FixPlan, Position
from dbleak.fixes.plan import ReplaceRange
from dbleak.settings import Settings

SETTINGS = Settings(select=("DBL104",))
LEAK = "import sqlite3\n\nwith sqlite3.connect('x') as conn:\n    conn.execute('select 1')\n"


def _fix(path: Path) -> None:
    result = check_file(path, path.name, SETTINGS, RunOptions(fix=True))
    assert result.write_error is None
    assert result.result.fixes_applied == 1


def test_keeps_mode_bits(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(LEAK)
    os.chmod(path, 0o751)
    _fix(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o751
    assert "closing(sqlite3.connect('x')) as conn, conn:" in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary file left


def test_keeps_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(LEAK.replace("\n", "\r\n").encode())
    _fix(path)
    data = path.read_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert b"from contextlib import closing\r\n" in data


def test_keeps_a_declared_encoding(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    source = "# -*- coding: latin-1 -*-\n" + LEAK.replace("'x'", "'café.db'")
    path.write_bytes(source.encode("latin-1"))
    _fix(path)
    data = path.read_bytes()
    assert "closing(sqlite3.connect('café.db'))".encode("latin-1") in data
    assert "café".encode("utf-8") not in data


def test_keeps_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(b"\xef\xbb\xbf" + LEAK.encode())
    _fix(path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfimport sqlite3\n")


def test_write_atomically_replaces_in_one_step(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("old\n")
    write_atomically(path, b"new\n")
    assert path.read_text() == "new\n"


def test_unwritable_folder_leaves_the_file_intact(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "m.py"
    path.write_text(LEAK)
    os.chmod(folder, 0o555)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions: use a missing folder instead
            os.chmod(folder, 0o755)
            result = check_file(path, "m.py", SETTINGS, RunOptions(fix=True))
            assert result.write_error is None
            return
        result = check_file(path, "m.py", SETTINGS, RunOptions(fix=True))
        assert result.write_error is not None and "cannot write" in result.write_error
        assert path.read_text() == LEAK
    finally:
        os.chmod(folder, 0o755)


def _fake_check(plan_for: dict[str, FixPlan]):
    """A checker that reports one finding with a given plan while the text holds a marker."""

    def check(text: str) -> FileResult:
        findings = []
        for marker, plan in plan_for.items():
            if marker in text:
                line = text[: text.index(marker)].count("\n") + 1
                findings.append(Finding("DBL104", "with-does-not-close", "m", "m.py",
                                        Position(line, 0), Position(line, 1), plan=plan))
        return FileResult("m.py", tuple(findings))

    return check


def test_a_fix_that_does_not_parse_is_refused() -> None:
    text = "x = 1  # MARK\n"
    broken = FixPlan("break it", Applicability.SAFE,
                     (ReplaceRange(Position(1, 0), Position(1, 5), "x = ("),))
    outcome = fix_text(text, _fake_check({"MARK": broken}))
    assert outcome.text == text
    assert outcome.applied == 0
    assert any("did not parse" in reason for reason in outcome.refused)
    # Located like a finding, so the CLI can name the file in front of it.
    assert outcome.refused[0].startswith("1:1: DBL104: ")


def test_a_fix_loop_that_does_not_settle_is_reported() -> None:
    # Two fixes that undo each other forever.
    there = FixPlan("a→b", Applicability.SAFE, (ReplaceRange(Position(1, 0), Position(1, 1), "b"),))
    back = FixPlan("b→a", Applicability.SAFE, (ReplaceRange(Position(1, 0), Position(1, 1), "a"),))
    outcome = fix_text("a = 1\n", _fake_check({"a =": there, "b =": back}))
    assert outcome.unsettled


def test_unsafe_fixes_only_when_asked() -> None:
    source = "import sqlite3, app\nwith sqlite3.connect('x') as c:\n    app.keep(c)\n"
    assert fix_source(source, "m.py", SETTINGS).text == source
    assert "closing(" in fix_source(source, "m.py", SETTINGS, unsafe=True).text


def test_display_only_is_never_applied() -> None:
    plan = FixPlan("look", Applicability.DISPLAY_ONLY,
                   (ReplaceRange(Position(1, 0), Position(1, 1), "y"),))
    outcome = fix_text("x = 1  # MARK\n", _fake_check({"MARK": plan}), unsafe=True)
    assert outcome.applied == 0


def test_many_fixes_in_one_file_settle(tmp_path: Path) -> None:
    body = "".join(f"def f{i}(p):\n    with sqlite3.connect(p) as c:\n        c.execute('x')\n\n"
                   for i in range(15))
    outcome = fix_source("import sqlite3\n\n" + body, "m.py", SETTINGS)
    assert outcome.applied == 15 and not outcome.unsettled
    assert outcome.text.count("from contextlib import closing") == 1
    assert outcome.result.findings == ()


def test_edit_dataclass_positions_are_ordered() -> None:
    assert Edit("", Position(1, 0), Position(1, 0)).start < Position(2, 0)


_HANDLERS = '''from django.db import models


class Tag(models.Model):
    items = models.ManyToManyField("Item", related_name="aliases")

    def has_items(self):
        return bool(self.items.all())


class AliasHandler:
    def all(self):
        return ["a", "b"]


def describe(obj):
    if obj.aliases.all():
        return "aliased"
    return ""
'''


def test_a_related_manager_known_by_its_name_only_gets_an_unsafe_fix() -> None:
    # `aliases` is declared by a model, but `obj` may be anything with an `aliases` handler
    # whose `all()` gives a list (evennia's): `.exists()` would raise there. Only the `self`
    # of a model's method (or an instance fetched by a manager) is known to be a model.
    from dbleak.api import check_source

    settings = Settings(select=("DBL306",))
    found = {f.start.line: f.plan.applicability for f in check_source(_HANDLERS, "app/models.py", settings).findings
             if f.plan is not None}
    assert found == {8: Applicability.SAFE, 17: Applicability.UNSAFE}
    assert fix_source(_HANDLERS, "app/models.py", settings).text.count(".exists()") == 1


def test_a_fix_title_names_what_the_message_names() -> None:
    from dbleak.api import check_source

    text = ("from sqlalchemy.orm import Session\n\n\ndef count(engine):\n"
            "    session = Session(engine)\n    return session.execute('select 1').scalar()\n")
    (finding,) = check_source(text, "m.py", Settings(select=("DBL101",))).findings
    assert "session `session`" in finding.message
    assert finding.plan is not None and finding.plan.title == "Wrap the session in `with closing(...)`"
