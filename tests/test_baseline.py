"""Baselines (`--write-baseline`, `--baseline`) and `--add-noqa`: adopting dbleak on existing code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbleak.api import check_source
from dbleak.baseline import (
    FindingKey,
    SourceOutline,
    add_noqa,
    apply_baseline,
    finding_keys,
    normalise,
    read_baseline,
    relative_to,
    write_baseline,
)
from dbleak.cli import cli
from dbleak.settings import Settings

TREE = Path(__file__).parent / "report_tree"
DBL104 = Settings(select=("DBL104",))


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(TREE, root)
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    return root


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", "--isolated", "--select", "DBL104", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def concise(*args: str) -> tuple[int, list[str]]:
    code, out, _ = run("--output-format", "concise", "--quiet", *args)
    return code, out.splitlines()


def record(repo: Path) -> None:
    code, out, err = run("--write-baseline", "baseline.json", ".")
    assert code == 0, err
    assert "Wrote 6 findings to the baseline baseline.json." in out


# --- keys ----------------------------------------------------------------------------------------

def test_outline_names_the_enclosing_function_and_statement() -> None:
    text = (
        "import sqlite3\n"
        "class Repo:\n"
        "    def load(self):\n"
        "        def inner():\n"
        "            with sqlite3.connect(  # a comment\n"
        "                    'x') as c:\n"
        "                pass\n"
        "        return inner\n"
        "x = 1; y = sqlite3.connect('y')\n"
    )
    outline = SourceOutline(text)
    assert outline.describe(5, 17) == ("Repo.load.inner", "with sqlite3 . connect ( 'x' ) as c :")
    assert outline.describe(9, 11) == ("", "y = sqlite3 . connect ( 'y' )")
    assert outline.describe(3, 4) == ("Repo", "def load ( self ) :")


def test_normalise_ignores_layout_and_comments() -> None:
    assert normalise("with  a(\n   b,  # why\n) as c:") == normalise("with a(b,) as c:  # other")
    assert normalise("x = f('a  b')") != normalise("x = f('a b')")  # strings are kept exactly


def test_keys_use_paths_relative_to_the_baseline_folder(repo: Path) -> None:
    text = (repo / "app" / "db.py").read_text()
    result = check_source(text, "app/db.py", DBL104)
    keys = finding_keys(result.findings, {"app/db.py": text}, relative_to(str(repo / "app")))
    assert keys == [
        FindingKey("db.py", "DBL104", "Repository.count",
                   "with sqlite3 . connect ( self . path ) as conn :"),
        FindingKey("db.py", "DBL104", "load", "with psycopg2 . connect ( dsn ) as conn :"),
    ]


def test_duplicate_keys_are_a_multiset(tmp_path: Path) -> None:
    block = "    with sqlite3.connect(p) as c:\n        c.execute('x')\n"
    two = "import sqlite3\n\ndef f(p):\n" + block * 2
    recorded = finding_keys(check_source(two, "a.py", DBL104).findings, {"a.py": two}, lambda p: p)
    assert recorded[0] == recorded[1] == FindingKey("a.py", "DBL104", "f", "with sqlite3 . connect ( p ) as c :")
    path = tmp_path / "b.json"
    assert write_baseline(path, recorded) == 2
    assert read_baseline(path)[recorded[0]] == 2
    assert len(json.loads(path.read_text())["entries"]) == 1
    text = two + block
    findings = check_source(text, "a.py", DBL104).findings
    keys = finding_keys(findings, {"a.py": text}, lambda p: p)
    outcome = apply_baseline(findings, keys, read_baseline(path), ["a.py"], lambda p: True)
    assert len(findings) == 3 and outcome.matched == 2 and len(outcome.new) == 1
    assert outcome.new[0].start.line == 8  # the third one is the new one


# --- the baseline survives unrelated edits -------------------------------------------------------

def test_write_then_check_is_clean(repo: Path) -> None:
    record(repo)
    document = json.loads((repo / "baseline.json").read_text())
    assert document["dbleak-baseline"] == 1
    assert {e["path"] for e in document["entries"]} == {"app/db.py", "app/jobs.py", "scripts/odd name.py"}
    assert all(set(entry) == {"path", "code", "function", "statement", "count"}
               for entry in document["entries"])  # no line numbers
    assert run("--baseline", "baseline.json", ".")[:2] == (0, "All checks passed!\n")


def test_lines_inserted_above_a_finding(repo: Path) -> None:
    record(repo)
    db = repo / "app" / "db.py"
    db.write_text(db.read_text().replace("import sqlite3\n", "import os\nimport sqlite3\n\nLIMIT = 10\n"))
    assert concise("--baseline", "baseline.json", ".") == (0, [])


def test_function_moved_within_the_file(repo: Path) -> None:
    record(repo)
    db = repo / "app" / "db.py"
    text = db.read_text()
    start = text.index("def load(dsn):")
    end = text.index("def register(conn):")
    load = text[start:end]
    text = text[:start] + text[end:]
    text = text.replace("class Repository:", load + "class Repository:")
    db.write_text(text)
    assert check_source(text, "app/db.py", DBL104).findings[0].start.line < 10  # it really moved
    assert concise("--baseline", "baseline.json", ".") == (0, [])


def test_unrelated_new_finding_is_reported(repo: Path) -> None:
    record(repo)
    jobs = repo / "app" / "jobs.py"
    jobs.write_text(jobs.read_text() + "\n\ndef weekly(path):\n"
                    "    with sqlite3.connect(path + '.bak') as conn:\n        conn.execute('x')\n")
    code, lines = concise("--baseline", "baseline.json", ".")
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("app/jobs.py:19:10: DBL104")


def test_fixed_finding_is_counted(repo: Path) -> None:
    record(repo)
    code, _, _ = run("--fix", "app/db.py")  # fixes the safe one, the unsafe one stays
    assert code == 1
    code, out, _ = run("--baseline", "baseline.json", ".")
    assert code == 0
    assert out == ("All checks passed!\n"
                   "1 baseline entry is fixed; rewrite the baseline to drop it.\n")


def test_fixed_count_in_machine_formats_goes_to_stderr(repo: Path) -> None:
    record(repo)
    (repo / "scripts" / "odd name.py").write_text("x = 1\n")
    code, out, err = run("--baseline", "baseline.json", "--output-format", "github", ".")
    assert (code, out) == (0, "")
    assert "1 baseline entry is fixed; rewrite the baseline to drop it." in err


def test_renamed_file_is_reported_as_new(repo: Path) -> None:
    record(repo)
    (repo / "app" / "jobs.py").rename(repo / "app" / "tasks.py")
    code, out, _ = run("--baseline", "baseline.json", "--output-format", "concise", ".")
    assert code == 1
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines if ": DBL104" in line] == ["app/tasks.py"] * 3
    assert lines[-1] == "3 baseline entries are fixed; rewrite the baseline to drop them."


def test_checking_part_of_the_tree_does_not_count_other_files_as_fixed(repo: Path) -> None:
    record(repo)
    assert run("--baseline", "baseline.json", "app/db.py")[:2] == (0, "All checks passed!\n")


def test_baseline_from_another_working_folder(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record(repo)
    monkeypatch.chdir(repo / "app")
    assert concise("--baseline", "../baseline.json", ".") == (0, [])


def test_write_baseline_over_an_existing_one(repo: Path) -> None:
    record(repo)
    (repo / "scripts" / "odd name.py").write_text("x = 1\n")
    code, out, _ = run("--write-baseline", "baseline.json", "--baseline", "baseline.json", ".")
    assert code == 0 and "Wrote 5 findings" in out
    assert len(json.loads((repo / "baseline.json").read_text())["entries"]) == 5


@pytest.mark.parametrize("content", ["not json", '{"entries": []}', '{"dbleak-baseline": 1, "entries": [{}]}'])
def test_unusable_baseline_is_an_error(repo: Path, content: str) -> None:
    (repo / "baseline.json").write_text(content)
    code, _, err = run("--baseline", "baseline.json", ".")
    assert code == 2
    assert "baseline" in err


def test_missing_baseline_is_an_error(repo: Path) -> None:
    code, _, err = run("--baseline", "nope.json", ".")
    assert code == 2 and "--write-baseline" in err


# --- --add-noqa ----------------------------------------------------------------------------------

def test_add_noqa_then_clean(repo: Path) -> None:
    code, out, err = run("--add-noqa", ".")
    assert code == 0, err
    assert out == ""  # no report: only the count, on stderr
    assert "Added 6 noqa directives." in err
    assert run(".")[:2] == (0, "All checks passed!\n")
    jobs = (repo / "app" / "jobs.py").read_text()
    assert "    with sqlite3.connect(  # noqa: DBL104\n" in jobs
    odd = (repo / "scripts" / "odd name.py").read_text(encoding="utf-8")
    assert 'with sqlite3.connect("ünïcode.db") as conn:  # a comment  # noqa: DBL104\n' in odd
    # A second run has nothing to add.
    assert "Added 0 noqa directives." in run("--add-noqa", ".")[2]


def test_add_noqa_merges_with_an_existing_noqa() -> None:
    text = "import sqlite3\n\nwith sqlite3.connect('a') as c:  # noqa: E501 (long)\n    c.execute('x')\n"
    findings = check_source(text, "a.py", DBL104).findings
    new, added = add_noqa(text, findings)
    assert added == 1
    assert "with sqlite3.connect('a') as c:  # noqa: E501, DBL104 (long)\n" in new
    assert check_source(new, "a.py", DBL104).findings == ()


def test_add_noqa_skips_a_line_inside_a_multi_line_string() -> None:
    text = ('import psycopg2\n\n\ndef f():\n    with psycopg2.connect("""\n        dbname=x\n'
            '    """) as conn:\n        conn.cursor()\n')
    findings = check_source(text, "a.py", DBL104).findings
    assert [f.start.line for f in findings] == [5]
    new, added = add_noqa(text, findings)
    assert added == 1
    assert '    """) as conn:  # noqa: DBL104\n' in new
    assert 'dbname=x' in new and new.count("noqa") == 1
    assert check_source(new, "a.py", DBL104).findings == ()


def test_add_noqa_keeps_crlf_and_encoding(repo: Path) -> None:
    path = repo / "latin.py"
    text = "# -*- coding: latin-1 -*-\r\nimport sqlite3\r\n\r\nwith sqlite3.connect('é') as c:\r\n    pass\r\n"
    path.write_bytes(text.encode("latin-1"))
    code, _, err = run("--add-noqa", "latin.py")
    assert code == 0 and "Added 1 noqa directive." in err
    data = path.read_bytes()
    assert data == text.replace("as c:\r\n", "as c:  # noqa: DBL104\r\n").encode("latin-1")
    assert run("latin.py")[0] == 0


def test_add_noqa_with_a_baseline_marks_only_new_findings(repo: Path) -> None:
    record(repo)
    jobs = repo / "app" / "jobs.py"
    jobs.write_text(jobs.read_text() + "\n\ndef weekly(path):\n"
                    "    with sqlite3.connect(path + '.bak') as conn:\n        conn.execute('x')\n")
    code, _, err = run("--baseline", "baseline.json", "--add-noqa", ".")
    assert code == 0 and "Added 1 noqa directive." in err
    assert jobs.read_text().count("noqa") == 1


def test_add_noqa_refuses_fix_and_stdin() -> None:
    assert run("--add-noqa", "--fix", ".")[0] == 2
    assert run("--add-noqa", "-")[0] == 2


def test_add_noqa_counts_lines_as_python_does() -> None:
    # A form feed is a line break for str.splitlines, not for Python: the comment must still
    # land on the flagged line.
    text = "import sqlite3\n\x0c\n\nwith sqlite3.connect('a') as c:\n    c.execute('x')\n"
    findings = check_source(text, "a.py", DBL104).findings
    assert [f.start.line for f in findings] == [4]
    new, added = add_noqa(text, findings)
    assert added == 1
    assert new == text.replace("as c:\n", "as c:  # noqa: DBL104\n")
    outline = SourceOutline(text)
    assert outline.describe(4, 5) == ("", "with sqlite3 . connect ( 'a' ) as c :")


def test_add_noqa_after_a_backslash_continuation() -> None:
    text = ("import sqlite3\n\n\ndef f():\n    with \\\n            sqlite3.connect('a') as c:\n"
            "        c.execute('x')\n")
    findings = check_source(text, "a.py", DBL104).findings
    assert [f.start.line for f in findings] == [6]
    new, added = add_noqa(text, findings)
    assert added == 1 and "sqlite3.connect('a') as c:  # noqa: DBL104\n" in new
    assert check_source(new, "a.py", DBL104).findings == ()


def test_add_noqa_moves_past_a_line_ending_in_a_backslash() -> None:
    text = "import sqlite3\n\nwith sqlite3.connect('a') \\\n        as c:\n    c.execute('x')\n"
    findings = check_source(text, "a.py", DBL104).findings
    assert [f.start.line for f in findings] == [3]
    new, added = add_noqa(text, findings)
    assert added == 1
    assert "connect('a') \\\n        as c:  # noqa: DBL104\n" in new
    assert check_source(new, "a.py", DBL104).findings == ()
