"""The command line: exit codes, formats, stdin, --diff, --fix, config errors, bad files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_session import LEAKY, run
from click.testing import CliRunner

from dbleak.cli import cli

FIXED = ('import sqlite3\nfrom contextlib import closing\n\n\ndef f(p):\n'
         '    with closing(sqlite3.connect(p)) as conn, conn:\n        conn.execute("select 1")\n')


def test_findings_exit_1_with_source_context(tree: Path) -> None:
    result = run(["check", "leaky.py"], cwd=tree)
    assert result.exit_code == 1
    assert "leaky.py:5:10: DBL104 [*]" in result.output
    assert "    with sqlite3.connect(p) as conn:" in result.output
    assert "^^^^^^^^^^^^^^^^^^ DBL104" in result.output
    assert "Found 1 error." in result.output
    assert "[*] 1 fixable with the --fix option." in result.output


def test_clean_exit_0(tree: Path) -> None:
    result = run(["check", "clean.py"], cwd=tree)
    assert result.exit_code == 0
    assert "All checks passed!" in result.output


def test_concise_format(tree: Path) -> None:
    result = run(["check", "--output-format", "concise", "."], cwd=tree)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "leaky.py:5:10: DBL104 [*] `with sqlite3.connect(...)` ends the transaction but does not "
        "close the connection"
    )


def test_exit_zero(tree: Path) -> None:
    assert run(["check", "--exit-zero", "."], cwd=tree).exit_code == 0


def test_select_and_ignore(tree: Path) -> None:
    assert run(["check", "--ignore", "DBL1", "."], cwd=tree).exit_code == 0
    assert run(["check", "--select", "DBL104", "."], cwd=tree).exit_code == 1
    assert run(["check", "--ignore", "DBL", "--extend-select", "DBL104", "."], cwd=tree).exit_code == 1
    bad = run(["check", "--select", "XYZ1", "."], cwd=tree)
    assert bad.exit_code == 2


def test_json_shape(tree: Path) -> None:
    result = run(["check", "--output-format", "json", "."], cwd=tree)
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert len(data) == 1
    item = data[0]
    assert set(item) == {"code", "name", "message", "filename", "location", "end_location", "fix",
                         "noqa_row", "url"}
    assert item["code"] == "DBL104" and item["name"] == "with-does-not-close"
    assert item["filename"] == "leaky.py"
    assert item["location"] == {"row": 5, "column": 10}
    assert item["end_location"] == {"row": 5, "column": 28}
    assert item["noqa_row"] == 5
    fix = item["fix"]
    assert fix["applicability"] == "safe"
    assert fix["message"].startswith("Wrap in `closing()`")
    # Applying the edits gives the fixed file.
    lines = LEAKY.splitlines(keepends=True)
    for edit in sorted(fix["edits"], key=lambda e: (e["location"]["row"], e["location"]["column"]),
                       reverse=True):
        start, end = edit["location"], edit["end_location"]
        assert start["column"] == 1 and end["column"] == 1
        lines[start["row"] - 1:end["row"] - 1] = [edit["content"]]
    assert "".join(lines) == FIXED


def test_diff_writes_nothing_and_exits_1(tree: Path) -> None:
    result = run(["check", "--diff", "."], cwd=tree)
    assert result.exit_code == 1
    assert "+    with closing(sqlite3.connect(p)) as conn, conn:" in result.output
    assert "-    with sqlite3.connect(p) as conn:" in result.output
    assert (tree / "leaky.py").read_text() == LEAKY
    clean = run(["check", "--diff", "clean.py"], cwd=tree)
    assert clean.exit_code == 0


def test_fix_rewrites_and_second_run_is_clean(tree: Path) -> None:
    result = run(["check", "--fix", "--show-fixes", "."], cwd=tree)
    assert result.exit_code == 0, result.output
    assert (tree / "leaky.py").read_text() == FIXED
    assert "1 × DBL104 (with-does-not-close)" in result.output
    assert run(["check", "."], cwd=tree).exit_code == 0


def test_unsafe_fix_needs_the_flag(tmp_path: Path) -> None:
    source = "import sqlite3\nimport app\n\nwith sqlite3.connect('x') as c:\n    app.keep(c)\n"
    (tmp_path / "m.py").write_text(source)
    result = run(["check", "--fix", "."], cwd=tmp_path)
    assert result.exit_code == 1
    assert (tmp_path / "m.py").read_text() == source
    assert "hidden fixes can be enabled with the `--unsafe-fixes` option" in run(
        ["check", "."], cwd=tmp_path).output
    result = run(["check", "--fix", "--unsafe-fixes", "."], cwd=tmp_path)
    assert result.exit_code == 0
    assert "closing(sqlite3.connect('x')) as c, c:" in (tmp_path / "m.py").read_text()


def test_fix_mark_only_where_fix_would_apply(tmp_path: Path) -> None:
    # ruff's [*]: a fix --fix applies; an unsafe one only with --unsafe-fixes.
    source = "import sqlite3\nimport app\n\nwith sqlite3.connect('x') as c:\n    app.keep(c)\n"
    (tmp_path / "m.py").write_text(source)
    plain = run(["check", "--output-format", "concise", "."], cwd=tmp_path).output.splitlines()
    assert plain[0].startswith("m.py:4:6: DBL104 `with")
    assert plain[-1] == ("No fixes available (1 hidden fixes can be enabled with the "
                         "`--unsafe-fixes` option).")
    unsafe = run(["check", "--output-format", "concise", "--unsafe-fixes", "."],
                 cwd=tmp_path).output.splitlines()
    assert unsafe[0].startswith("m.py:4:6: DBL104 [*] `with")
    assert unsafe[-1] == "[*] 1 fixable with the --fix option."


def test_stdin_check_and_fix(tree: Path) -> None:
    result = run(["check", "-", "--stdin-filename", "pkg/mod.py", "--output-format", "concise"], input=LEAKY)
    assert result.exit_code == 1
    assert result.output.startswith("pkg/mod.py:5:10: DBL104")
    runner = CliRunner()
    fixed = runner.invoke(cli, ["check", "-", "--fix"], input=LEAKY)
    assert fixed.exit_code == 0
    assert fixed.stdout == FIXED
    assert "Found 1 error (1 fixed, 0 remaining)." in fixed.stderr


def test_bad_config_exits_2(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dbleak]\nselekt = ['DBL']\n")
    (tmp_path / "a.py").write_text(LEAKY)
    result = run(["check", "."], cwd=tmp_path)
    assert result.exit_code == 2
    assert "pyproject.toml: unknown key `selekt`" in result.output
    (tmp_path / "pyproject.toml").write_text("[tool.dbleak]\nselect = 'DBL'\n")
    result = run(["check", "--exit-zero", "."], cwd=tmp_path)
    assert result.exit_code == 2
    assert "`select` must be a list of strings" in result.output


def test_config_is_read_from_the_nearest_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dbleak]\nignore = ['DBL104']\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[tool.dbleak]\nselect = ['DBL']\n")
    (tmp_path / "a.py").write_text(LEAKY)
    (sub / "b.py").write_text(LEAKY)
    result = run(["check", "--output-format", "concise", "-q", "."], cwd=tmp_path)
    assert result.output.strip() == "sub/b.py:5:10: DBL104 [*] `with sqlite3.connect(...)` ends the " \
        "transaction but does not close the connection"
    assert run(["check", "--isolated", "-q", "a.py"], cwd=tmp_path).exit_code == 1
    assert run(["check", "--config", "pyproject.toml", "sub/b.py"], cwd=tmp_path).exit_code == 0


def test_per_file_ignores(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dbleak.per-file-ignores]\n\"scripts/*.py\" = ['DBL104']\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "one.py").write_text(LEAKY)
    (tmp_path / "app.py").write_text(LEAKY)
    result = run(["check", "--output-format", "concise", "-q", "."], cwd=tmp_path)
    assert result.output.startswith("app.py:5:10")
    assert "scripts" not in result.output


def test_bad_files_do_not_stop_the_run(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(LEAKY)
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9t\xe9'\n")
    result = run(["check", "--output-format", "concise", "-q", "."], cwd=tmp_path)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("broken.py:1:7: DBL001 SyntaxError:")
    assert lines[1].startswith("good.py:5:10: DBL104")
    assert lines[2].startswith("latin.py:1:6: DBL001 cannot decode the file: cannot decode byte 0xe9 as utf-8")


def test_missing_path_is_reported_and_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(LEAKY)
    result = run(["check", "--output-format", "concise", "-q", "missing.py", "good.py"], cwd=tmp_path)
    assert result.exit_code == 1
    assert "missing.py:1:1: DBL002 cannot read the file: No such file or directory" in result.output
    assert "good.py:5:10: DBL104" in result.output


def test_rule_docs() -> None:
    result = run(["rule", "DBL104"])
    assert result.exit_code == 0
    assert "# with-does-not-close (DBL104)" in result.output
    for section in ("## What it does", "## Why is this bad?", "## Fix safety"):
        assert section in result.output
    listing = run(["rule", "--all"])
    assert "DBL104 [*] with-does-not-close" in listing.output
    assert run(["rule", "DBL999"]).exit_code == 2


def test_version() -> None:
    from dbleak import __version__

    assert run(["--version"]).output.strip() == f"dbleak {__version__}"


# --- through a real subprocess of the installed console script ------------------------------

DBLEAK = shutil.which("dbleak")


def sub(args: list[str], cwd: Path, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    command = [DBLEAK, *args] if DBLEAK else [sys.executable, "-m", "dbleak", *args]
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(command, cwd=cwd, input=input, capture_output=True, env=env, timeout=120)


def test_subprocess_exit_codes_and_stdin(tree: Path) -> None:
    assert sub(["check", "clean.py"], tree).returncode == 0
    found = sub(["check", "leaky.py"], tree)
    assert found.returncode == 1 and b"DBL104" in found.stdout
    assert sub(["check", "--output-format", "nope"], tree).returncode == 2
    piped = sub(["check", "-", "--fix"], tree, input=LEAKY.encode())
    assert piped.returncode == 0
    assert piped.stdout.decode() == FIXED


def test_subprocess_fix_on_a_copy_and_diff(tree: Path, tmp_path: Path) -> None:
    diff = sub(["check", "--diff", "leaky.py"], tree)
    assert diff.returncode == 1 and b"+    with closing(" in diff.stdout
    assert (tree / "leaky.py").read_text() == LEAKY
    assert sub(["check", "--fix", "leaky.py"], tree).returncode == 0
    assert (tree / "leaky.py").read_text() == FIXED
    assert sub(["check", "leaky.py"], tree).returncode == 0


def test_subprocess_bad_config_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(LEAKY)
    (tmp_path / "broken.py").write_text("x = (\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9'\n")
    result = sub(["check", "--output-format", "concise", "."], tmp_path)
    assert result.returncode == 1
    out = result.stdout.decode()
    assert "broken.py:1:5: DBL001" in out and "latin.py:1:6: DBL001" in out and "good.py:5:10: DBL104" in out
    (tmp_path / "pyproject.toml").write_text("[tool.dbleak]\nignore = 3\n")
    bad = sub(["check", "."], tmp_path)
    assert bad.returncode == 2
    assert b"pyproject.toml: `ignore` must be a list of strings" in bad.stderr


def test_python_dash_m(tree: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dbleak", "check", "leaky.py"], cwd=tree,
                            capture_output=True, timeout=120)
    assert result.returncode == 1


UNBOUNDED = ('def walk(conn):\n    for row in conn.execute("SELECT * FROM events").fetchall():\n'
             '        print(row)\n')


@pytest.mark.parametrize("above", ["", "test/"])
def test_dbl2xx_skip_modules_in_test_folders_of_the_project(tmp_path: Path, above: str) -> None:
    # A `tests` folder of the project holds helpers that read fixture tables; a `test` folder
    # above the project (where it is checked out) says nothing of its modules.
    root = tmp_path / above / "proj"
    for folder in ("app", "app/tests", "app/testing"):
        (root / folder).mkdir(parents=True)
        (root / folder / "reads.py").write_text(UNBOUNDED)
    (root / "pyproject.toml").write_text('[tool.dbleak]\nselect = ["DBL201"]\n')
    result = run(["check", "--output-format", "json", "."], cwd=root)
    paths = sorted(Path(f["filename"]).as_posix() for f in json.loads(result.output))
    assert paths == ["app/reads.py"]
    result = run(["check", "--output-format", "json", str(root / "app" / "tests")], cwd=tmp_path)
    assert json.loads(result.output) == []
