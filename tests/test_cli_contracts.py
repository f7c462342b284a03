"""Issue 18: the contracts of ruff's CLI that a ruff user expects of `dbleak check`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_session import CLEAN, LEAKY, run


# Unknown selectors -----------------------------------------------------------------------------

@pytest.mark.parametrize("option", ["--select", "--extend-select", "--ignore"])
@pytest.mark.parametrize("selector", ["DBL4", "DBL9", "DBL109", "DBL005", "dbl7"])
def test_unknown_selector_on_the_command_line_is_a_usage_error(tree: Path, option: str,
                                                               selector: str) -> None:
    result = run(["check", option, selector, "."], tree)
    assert result.exit_code == 2
    assert "unknown rule code or prefix" in result.output
    assert option in result.output
    assert "All checks passed!" not in result.output


def test_unknown_selector_is_an_error_even_with_exit_zero(tree: Path) -> None:
    result = run(["check", "--exit-zero", "--select", "DBL4", "."], tree)
    assert result.exit_code == 2


@pytest.mark.parametrize("key, value", [
    ("select", '["DBL9"]'), ("extend-select", '["DBL4"]'), ("ignore", '["DBL109"]'),
    ("per-file-ignores", '{"*.py" = ["DBL7"]}'),
])
def test_unknown_selector_in_the_config_is_an_error(tree: Path, key: str, value: str) -> None:
    (tree / "pyproject.toml").write_text(f"[tool.dbleak]\n{key} = {value}\n")
    result = run(["check", "--exit-zero", "."], tree)
    assert result.exit_code == 2
    assert f"`{key}`: unknown rule code or prefix" in result.output
    assert "pyproject.toml" in result.output


@pytest.mark.parametrize("selector", ["ALL", "DBL", "DBL1", "DBL10", "DBL104", "DBL0", "DBL001"])
def test_selectors_that_name_rules_are_accepted(tree: Path, selector: str) -> None:
    assert run(["check", "--select", selector, "clean.py"], tree).exit_code == 0


# --force-exclude with standard input -----------------------------------------------------------

@pytest.fixture()
def excluded_tree(tree: Path) -> Path:
    (tree / "pyproject.toml").write_text('[tool.dbleak]\nextend-exclude = ["generated"]\n')
    (tree / "generated").mkdir()
    (tree / ".gitignore").write_text("ignored_*.py\n")
    return tree


@pytest.mark.parametrize("name", ["generated/leaky.py", "ignored_leaky.py"])
def test_force_exclude_passes_an_excluded_stdin_file_through(excluded_tree: Path, name: str) -> None:
    checked = run(["check", "--force-exclude", "--stdin-filename", name, "-"], excluded_tree,
                  input=LEAKY)
    assert checked.exit_code == 0
    assert "DBL104" not in checked.output
    fixed = run(["check", "--force-exclude", "--fix", "--stdin-filename", name, "-"],
                excluded_tree, input=LEAKY)
    assert fixed.exit_code == 0
    assert fixed.stdout == LEAKY
    diff = run(["check", "--force-exclude", "--diff", "--stdin-filename", name, "-"],
               excluded_tree, input=LEAKY)
    assert diff.exit_code == 0
    assert diff.stdout == ""


def test_stdin_file_is_checked_without_force_exclude_or_when_not_excluded(excluded_tree: Path) -> None:
    assert run(["check", "--stdin-filename", "generated/leaky.py", "-"], excluded_tree,
               input=LEAKY).exit_code == 1
    assert run(["check", "--force-exclude", "--stdin-filename", "src/leaky.py", "-"],
               excluded_tree, input=LEAKY).exit_code == 1


# JUnit: one test case per finding, valid for the schema CI systems read ---------------------------

JUNIT_SCHEMA = Path(__file__).parent / "schemas" / "jenkins-junit.xsd"


def test_junit_has_one_case_per_finding_and_validates(tree: Path) -> None:
    import xml.etree.ElementTree as ET

    import xmlschema

    (tree / "twice.py").write_text(LEAKY + "\n\n" + LEAKY.split("\n\n\n", 1)[1].replace("def f", "def g"))
    (tree / "markup.py").write_text(LEAKY.replace('"select 1"', '"select \'<&>\'"'))
    result = run(["check", "--isolated", "--output-format", "junit", "."], tree)
    assert result.exit_code == 1
    xmlschema.XMLSchema(JUNIT_SCHEMA).validate(result.stdout)
    root = ET.fromstring(result.stdout)
    by_file = {s.get("name"): s.findall("testcase") for s in root.findall("testsuite")}
    assert sorted(by_file) == ["clean.py", "leaky.py", "markup.py", "twice.py"]
    assert [len(cases) for cases in by_file.values()] == [1, 1, 1, 2]
    assert [c.find("failure") is not None for c in by_file["twice.py"]] == [True, True]
    assert by_file["clean.py"][0].find("failure") is None
    names = [c.get("name") for c in by_file["twice.py"]]
    assert len(set(names)) == 2 and all(n.startswith("DBL104 at line ") for n in names)
    assert root.get("tests") == "5" and root.get("failures") == "4"


def test_junit_without_findings_validates(tree: Path) -> None:
    import xmlschema

    result = run(["check", "--output-format", "junit", "clean.py"], tree)
    assert result.exit_code == 0
    xmlschema.XMLSchema(JUNIT_SCHEMA).validate(result.stdout)


# A folder without Python files ---------------------------------------------------------------------

@pytest.mark.parametrize("extra", [[], ["--fix"], ["--diff"], ["--output-format", "concise"]])
def test_no_python_files_is_a_warning_not_a_pass(tmp_path: Path, extra: list[str]) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("nothing to see\n")
    result = run(["check", *extra, "docs"], tmp_path)
    assert result.exit_code == 0
    assert "warning: No Python files found under the given path(s)" in result.stderr
    assert "All checks passed!" not in result.output


def test_no_python_files_still_writes_an_empty_machine_report(tmp_path: Path) -> None:
    import json

    result = run(["check", "--output-format", "json", "."], tmp_path)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert "No Python files found" in result.stderr


def test_excluded_files_only_is_no_files_too(tree: Path) -> None:
    (tree / "pyproject.toml").write_text('[tool.dbleak]\nextend-exclude = ["*.py"]\n')
    result = run(["check", "."], tree)
    assert result.exit_code == 0
    assert "No Python files found" in result.stderr


# --statistics with the other formats -----------------------------------------------------------

@pytest.mark.parametrize("fmt", ["sarif", "github", "gitlab", "junit"])
def test_statistics_in_a_format_without_statistics_is_an_error(tree: Path, fmt: str) -> None:
    result = run(["check", "--statistics", "--exit-zero", "--output-format", fmt, "."], tree)
    assert result.exit_code == 2
    assert f"--statistics cannot be written as '{fmt}'" in result.output
    assert "DBL104" not in result.stdout


@pytest.mark.parametrize("fmt", ["full", "concise", "json"])
def test_statistics_in_text_and_json(tree: Path, fmt: str) -> None:
    import json

    result = run(["check", "--statistics", "--output-format", fmt, "."], tree)
    assert result.exit_code == 1
    if fmt == "json":
        assert json.loads(result.stdout)[0]["code"] == "DBL104"
    else:
        assert "DBL104" in result.stdout


# FORCE_COLOR -------------------------------------------------------------------------------------

def _piped(args: list[str], cwd: Path, env: dict[str, str]) -> bytes:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "dbleak", *args], cwd=cwd, capture_output=True,
                          check=False,
                          env=env, timeout=120).stdout


def _env(**extra: str) -> dict[str, str]:
    import dbleak

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    # The subprocess must import this checkout's dbleak, whatever the working folder.
    env["PYTHONPATH"] = str(Path(dbleak.__file__).resolve().parent.parent)
    return {**env, **extra}


def test_force_color_colours_a_pipe(tree: Path) -> None:
    assert b"\x1b[" not in _piped(["check", "leaky.py"], tree, _env())
    forced = _piped(["check", "leaky.py"], tree, _env(FORCE_COLOR="1"))
    assert b"\x1b[" in forced and b"DBL104" in forced
    assert b"\x1b[" in _piped(["check", "--output-format", "concise", "leaky.py"], tree,
                              _env(FORCE_COLOR="1"))


def test_force_color_wins_over_no_color_and_empty_is_unset(tree: Path) -> None:
    assert b"\x1b[" in _piped(["check", "leaky.py"], tree, _env(FORCE_COLOR="1", NO_COLOR="1"))
    assert b"\x1b[" not in _piped(["check", "leaky.py"], tree, _env(FORCE_COLOR=""))


def test_force_color_leaves_machine_formats_and_files_plain(tree: Path) -> None:
    out = _piped(["check", "--output-format", "json", "leaky.py"], tree, _env(FORCE_COLOR="1"))
    assert b"\x1b[" not in out
    _piped(["check", "-o", "report.txt", "leaky.py"], tree, _env(FORCE_COLOR="1"))
    assert "\x1b[" not in (tree / "report.txt").read_text()


# DBL003 unused-noqa and --ignore-noqa -------------------------------------------------------------

SUPPRESSED = ('import sqlite3\n\n\ndef f(p):\n'
              '    with sqlite3.connect(p) as conn:  # noqa: DBL104\n'
              '        conn.execute("select 1")\n')
STALE = ('import sqlite3\n\n# noqa: DBL101\nVERSION = sqlite3.sqlite_version  # noqa: DBL101\n'
         'NAME = "x"  # noqa: DBL104, E501\n')


def test_unused_noqa_is_off_by_default(tree: Path) -> None:
    (tree / "stale.py").write_text(STALE)
    assert run(["check", "stale.py"], tree).exit_code == 0
    assert "DBL003" in run(["rule", "--all"], tree).output


def test_unused_noqa_reports_and_fixes_stale_codes(tree: Path) -> None:
    (tree / "stale.py").write_text(STALE)
    (tree / "used.py").write_text(SUPPRESSED)
    result = run(["check", "--extend-select", "DBL003", "--output-format", "concise", "."], tree)
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if "DBL003" in line]
    assert lines == [
        "stale.py:3:1: DBL003 [*] Unused `noqa` directive (unused: `DBL101`)",
        "stale.py:4:35: DBL003 [*] Unused `noqa` directive (unused: `DBL101`)",
        "stale.py:5:13: DBL003 [*] Unused `noqa` directive (unused: `DBL104`)",
    ]
    fixed = run(["check", "--extend-select", "DBL003", "--fix", "."], tree)
    assert fixed.exit_code == 0, fixed.output
    assert (tree / "stale.py").read_text() == (
        'import sqlite3\n\nVERSION = sqlite3.sqlite_version\nNAME = "x"  # noqa: E501\n')
    assert (tree / "used.py").read_text() == SUPPRESSED


def test_unused_noqa_from_the_config_and_in_a_diff(tree: Path) -> None:
    (tree / "pyproject.toml").write_text('[tool.dbleak]\nextend-select = ["DBL003"]\n')
    (tree / "stale.py").write_text(STALE)
    diff = run(["check", "--diff", "stale.py"], tree)
    assert diff.exit_code == 1
    assert "-# noqa: DBL101\n" in diff.stdout
    assert "+VERSION = sqlite3.sqlite_version\n" in diff.stdout


def test_ignore_noqa_reports_suppressed_findings(tree: Path) -> None:
    (tree / "used.py").write_text(SUPPRESSED)
    assert run(["check", "used.py"], tree).exit_code == 0
    result = run(["check", "--ignore-noqa", "used.py"], tree)
    assert result.exit_code == 1
    assert "used.py:5:10: DBL104" in result.stdout
    (tree / "whole.py").write_text("# dbleak: noqa\n" + LEAKY)
    assert run(["check", "--ignore-noqa", "whole.py"], tree).exit_code == 1
    # Nothing is suppressed, so nothing is an unused suppression either.
    both = run(["check", "--ignore-noqa", "--extend-select", "DBL003", "used.py"], tree)
    assert "DBL003" not in both.stdout


def test_ignore_noqa_on_standard_input(tree: Path) -> None:
    result = run(["check", "--ignore-noqa", "--stdin-filename", "used.py", "-"], tree,
                 input=SUPPRESSED)
    assert result.exit_code == 1 and "DBL104" in result.stdout


# --show-settings and --show-files ---------------------------------------------------------------

def _settings_table(output: str) -> dict[str, object]:
    import tomllib

    block = output.split("[tool.dbleak]\n", 1)[1].split("\n\n", 1)[0]
    return tomllib.loads(block)


def test_show_settings_names_the_config_and_every_value(tree: Path) -> None:
    (tree / "pyproject.toml").write_text(
        '[tool.dbleak]\nignore = ["DBL305"]\nper-file-ignores = { "leaky.py" = ["DBL104"] }\n'
        '[tool.dbleak.sql]\nchunk-size = 500\n')
    sub = tree / "sub"
    sub.mkdir()
    (sub / "dbleak.toml").write_text('select = ["DBL1"]\n')
    (sub / "m.py").write_text(CLEAN)
    result = run(["check", "--show-settings", "leaky.py"], tree)
    assert result.exit_code == 0
    assert result.output.startswith("Resolved settings for: leaky.py\n")
    assert f"Settings path: {tree / 'pyproject.toml'}" in result.output
    table = _settings_table(result.output)
    assert table["ignore"] == ["DBL305"]
    assert table["select"] == ["DBL"]
    assert table["sql"] == {"chunk-size": 500}
    assert table["respect-gitignore"] is True and table["target-version"] == "py310"
    assert {"exclude", "extend-exclude", "extend-select", "per-file-ignores", "lifecycle",
            "materialization", "drivers"} <= set(table)
    assert "# per-file-ignores matching this file: DBL104" in result.output
    assert "#   DBL104" not in result.output and "#   DBL101 unclosed-connection" in result.output
    nested = run(["check", "--show-settings", "sub/m.py"], tree)
    assert f"Settings path: {sub / 'dbleak.toml'}" in nested.output
    assert _settings_table(nested.output)["select"] == ["DBL1"]
    assert "#   DBL201" not in nested.output


def test_show_settings_reflects_the_command_line(tree: Path) -> None:
    result = run(["check", "--isolated", "--extend-select", "DBL003", "--show-settings",
                  "clean.py"], tree)
    assert result.exit_code == 0
    assert "Settings path: none (the defaults)" in result.output
    assert _settings_table(result.output)["extend-select"] == ["DBL003"]
    assert "#   DBL003 unused-noqa" in result.output


def test_show_files_lists_what_would_be_checked(tree: Path) -> None:
    (tree / "pyproject.toml").write_text('[tool.dbleak]\nextend-exclude = ["skipped"]\n')
    for folder in ("pkg", "skipped", ".venv"):
        (tree / folder).mkdir()
        (tree / folder / "m.py").write_text(CLEAN)
    (tree / "pkg" / "stub.pyi").write_text("x: int\n")
    (tree / "pkg" / "notes.txt").write_text("no\n")
    result = run(["check", "--show-files", "."], tree)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["clean.py", "leaky.py", "pkg/m.py", "pkg/stub.pyi"]
    named = run(["check", "--show-files", "--force-exclude", "skipped/m.py", "leaky.py"], tree)
    assert named.stdout.splitlines() == ["leaky.py"]
    assert run(["check", "--show-files", "skipped"], tree).stdout == "skipped/m.py\n"
    (tree / "empty").mkdir()
    empty = run(["check", "--show-files", "empty"], tree)
    assert empty.exit_code == 0 and "No Python files found" in empty.stderr


# Progress bar (under a pseudo-terminal) and -v -------------------------------------------------------

def _run_with_terminal_stderr(args: list[str], cwd: Path) -> tuple[int, bytes, bytes]:
    """Run the CLI with standard error on a pseudo-terminal and standard output on a pipe."""
    import pty
    import subprocess
    import sys

    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "dbleak", *args], cwd=cwd,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child,
                               env=_env())
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert process.stdout is not None
    out = process.stdout.read()
    code = process.wait(timeout=300)
    os.close(main)
    return code, out, b"".join(chunks)


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dbleak.progress import PROGRESS_MIN_FILES

    root = tmp_path_factory.mktemp("many")
    for index in range(PROGRESS_MIN_FILES + 20):
        (root / f"m{index:04d}.py").write_text(f"VALUE = {index}\n")
    return root


def test_progress_bar_on_a_terminal_for_a_long_run(many_files: Path) -> None:
    code, out, err = _run_with_terminal_stderr(["check", "."], many_files)
    assert code == 0
    assert out == b"All checks passed!\n"  # the bar never reaches standard output
    assert b"\r[" in err
    assert b"/320 files" in err and b"files/s" in err
    assert b" left" in err or b"estimating" in err
    assert err.rstrip(b"\n").endswith(b"\r\x1b[K")  # cleared when done


def test_no_progress_bar_when_quiet_short_or_not_a_terminal(many_files: Path,
                                                             tree: Path) -> None:
    import subprocess
    import sys

    assert b"\r[" not in _run_with_terminal_stderr(["check", "-q", "."], many_files)[2]
    assert b"\r[" not in _run_with_terminal_stderr(["check", "."], tree)[2]
    piped = subprocess.run([sys.executable, "-m", "dbleak", "check", "."], cwd=many_files,
                           capture_output=True, env=_env(), timeout=300, check=False)
    assert piped.returncode == 0 and piped.stderr == b""


def test_verbose_prints_each_phase_time(tree: Path) -> None:
    import re

    checked = run(["check", "-v", "."], tree)
    assert checked.exit_code == 1
    phases = re.findall(r"^dbleak: (\w+): [0-9.]+ (?:ms|s)", checked.stderr, re.MULTILINE)
    assert phases == ["discovery", "index", "checks"]
    assert "(2 files)" in checked.stderr
    fixed = run(["check", "-v", "--fix", "."], tree)
    assert re.findall(r"^dbleak: (\w+):", fixed.stderr, re.MULTILINE) == [
        "discovery", "index", "checks", "fixes"]
    assert "dbleak: " not in run(["check", "."], tree).stderr


# Configuration: `extend`, `--config KEY=VALUE`, target-version from requires-python -----------------

def test_extend_inherits_and_overrides_a_base_config(tree: Path) -> None:
    (tree / "base.toml").write_text(
        'ignore = ["DBL305"]\nextend-exclude = ["generated"]\ntarget-version = "py311"\n'
        '[sql]\nchunk-size = 500\nunresolved = "report"\n')
    app = tree / "app"
    app.mkdir()
    (app / "pyproject.toml").write_text(
        '[tool.dbleak]\nextend = "../base.toml"\nignore = ["DBL104"]\n'
        '[tool.dbleak.sql]\nchunk-size = 2000\n')
    (app / "leaky.py").write_text(LEAKY)
    shown = run(["check", "--show-settings", "app/leaky.py"], tree)
    assert shown.exit_code == 0, shown.output
    table = _settings_table(shown.output)
    assert table["ignore"] == ["DBL305", "DBL104"]
    assert table["extend-exclude"] == ["generated"]
    assert table["target-version"] == "py311"
    assert table["sql"] == {"chunk-size": 2000, "unresolved": "report"}
    assert f"Settings path: {app / 'pyproject.toml'}" in shown.output
    assert run(["check", "app"], tree).exit_code == 0  # DBL104 ignored through the child


def test_extend_a_select_in_the_child_starts_afresh(tree: Path) -> None:
    (tree / "base.toml").write_text('extend-select = ["DBL108"]\nignore = ["DBL104"]\n')
    (tree / "dbleak.toml").write_text('extend = "base.toml"\nselect = ["DBL1"]\n')
    table = _settings_table(run(["check", "--show-settings", "leaky.py"], tree).output)
    assert (table["select"], table["extend-select"], table["ignore"]) == (["DBL1"], [], [])


@pytest.mark.parametrize("content, message", [
    ('extend = "missing.toml"\n', "`extend`: no such configuration file"),
    ('extend = "dbleak.toml"\n', "`extend` makes a cycle"),
    ('extend = 3\n', "`extend` must be the path of a configuration file"),
])
def test_extend_errors(tree: Path, content: str, message: str) -> None:
    (tree / "dbleak.toml").write_text(content)
    result = run(["check", "--exit-zero", "."], tree)
    assert result.exit_code == 2
    assert message in result.output


def test_extend_cycle_through_two_files(tree: Path) -> None:
    (tree / "a.toml").write_text('extend = "dbleak.toml"\n')
    (tree / "dbleak.toml").write_text('extend = "a.toml"\n')
    result = run(["check", "."], tree)
    assert result.exit_code == 2 and "`extend` makes a cycle" in result.output


def test_inline_config_overrides_the_files(tree: Path) -> None:
    (tree / "pyproject.toml").write_text('[tool.dbleak]\nignore = ["DBL305"]\n')
    result = run(["check", "--config", "ignore = ['DBL104']", "--config", "sql.chunk-size = 7",
                  "--show-settings", "leaky.py"], tree)
    assert result.exit_code == 0, result.output
    table = _settings_table(result.output)
    assert table["ignore"] == ["DBL305", "DBL104"] and table["sql"] == {"chunk-size": 7}
    assert run(["check", "--config", "ignore = ['DBL104']", "."], tree).exit_code == 0
    assert run(["check", "."], tree).exit_code == 1


def test_inline_config_with_a_config_file(tree: Path) -> None:
    (tree / "other.toml").write_text('ignore = ["DBL104"]\n')
    assert run(["check", "--config", "other.toml", "."], tree).exit_code == 0
    result = run(["check", "--config", "other.toml", "--config", "select = ['DBL104']",
                  "--show-settings", "leaky.py"], tree)
    assert f"Settings path: {tree / 'other.toml'}" in result.output
    assert _settings_table(result.output)["select"] == ["DBL104"]


@pytest.mark.parametrize("value, message", [
    ("select=DBL1", "is neither a configuration file nor a TOML `KEY = VALUE`"),
    ("nope = 1", "--config: unknown key `nope`"),
    ("select = ['DBL9']", "--config: `select`: unknown rule code or prefix 'DBL9'"),
    ("sql.chunk-size = -1", "--config: `sql.chunk-size` must be a positive integer"),
    ("missing.toml", "missing.toml: no such configuration file"),
])
def test_inline_config_errors_exit_2(tree: Path, value: str, message: str) -> None:
    result = run(["check", "--exit-zero", "--config", value, "."], tree)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("requires, expected", [
    (">=3.9", "py39"), (">=3.11,<4", "py311"), ("~=3.12", "py312"), ("==3.13.*", "py313"),
    (">=3.6", "py38"), (">=3.8, >=3.10", "py310"),
])
def test_target_version_from_requires_python(tree: Path, requires: str, expected: str) -> None:
    (tree / "pyproject.toml").write_text(
        f'[project]\nname = "x"\nrequires-python = "{requires}"\n\n[tool.dbleak]\n')
    table = _settings_table(run(["check", "--show-settings", "leaky.py"], tree).output)
    assert table["target-version"] == expected


def test_explicit_target_version_wins_over_requires_python(tree: Path) -> None:
    (tree / "base.toml").write_text('target-version = "py312"\n')
    (tree / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.9"\n[tool.dbleak]\nextend = "base.toml"\n')
    table = _settings_table(run(["check", "--show-settings", "leaky.py"], tree).output)
    assert table["target-version"] == "py312"


def test_write_baseline_on_a_folder_without_python_files(tmp_path: Path) -> None:
    result = run(["check", "--write-baseline", "baseline.json", "."], tmp_path)
    assert result.exit_code == 0
    assert (tmp_path / "baseline.json").is_file()
    assert "No Python files found" in result.stderr
