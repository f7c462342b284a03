"""The CI report formats (sarif, github, gitlab, junit) and `--statistics`.

Snapshots: ``tests/snapshots/report_tree.*`` hold the exact output over ``tests/report_tree``
(checked with ``--select DBL104`` so rules added later do not change them). Regenerate them with
``DBLEAK_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_report_formats.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from dbleak import __version__
from dbleak.cli import cli
from dbleak.models import Applicability, Finding, FixPlan, Position
from dbleak.registry import rule_by_code
from dbleak.report import FORMATS, NEEDS_FIX_EDITS, ReportContext
from dbleak.report.github import annotation, escape_data, escape_property
from dbleak.report.statistics import render_json, render_text

TESTS = Path(__file__).parent
TREE = TESTS / "report_tree"
SNAPSHOTS = TESTS / "snapshots"
FIXTURES = TESTS / "fixtures"
SCHEMA = json.loads((TESTS / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
UPDATE = os.environ.get("DBLEAK_UPDATE_SNAPSHOTS") == "1"

SNAPSHOT_FILES = {
    "sarif": "report_tree.sarif.json",
    "github": "report_tree.github.txt",
    "gitlab": "report_tree.gitlab.json",
    "junit": "report_tree.junit.xml",
    "statistics": "report_tree.statistics.txt",
}


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the report tree as a git work tree (a `.git` folder marks its root); cwd there."""
    root = tmp_path / "repo"
    shutil.copytree(TREE, root)
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv("CI_PROJECT_DIR", raising=False)
    return root


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", "--isolated", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def validate_sarif(document: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(document)]


def _stable_sarif(text: str) -> str:
    """The SARIF text with the parts that other work may change (rule docs, version) replaced."""
    document = json.loads(text)
    driver = document["runs"][0]["tool"]["driver"]
    assert driver["version"] == __version__
    driver["version"] = "<version>"
    for descriptor in driver["rules"]:
        rule = rule_by_code(descriptor["id"])
        assert rule is not None
        assert descriptor["help"]["markdown"] == rule.documentation()
        for key in ("shortDescription", "fullDescription"):
            descriptor[key]["text"] = "<from the rule docs>"
        descriptor["help"] = {"text": "<the rule docs>", "markdown": "<the rule docs>"}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _compare(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
    assert path.exists(), f"missing snapshot {name}: run with DBLEAK_UPDATE_SNAPSHOTS=1"
    assert actual == path.read_text(encoding="utf-8")


# --- snapshots ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SNAPSHOT_FILES))
def test_snapshot(repo: Path, kind: str) -> None:
    args = ["--statistics"] if kind == "statistics" else ["--output-format", kind]
    code, out, _ = run("--select", "DBL104", *args, ".")
    assert code == 1
    if kind == "sarif":
        out = _stable_sarif(out)
    _compare(SNAPSHOT_FILES[kind], out)


@pytest.mark.parametrize("kind", ["sarif", "github", "gitlab", "junit"])
def test_output_is_deterministic(repo: Path, kind: str) -> None:
    first = run("--select", "DBL104", "--output-format", kind, ".")[1]
    second = run("--select", "DBL104", "--output-format", kind, "app", "scripts")[1]
    assert first == second


@pytest.mark.parametrize("kind", ["full", "concise", *sorted(FORMATS)])
def test_output_file_for_every_format(repo: Path, kind: str) -> None:
    code, to_stdout, _ = run("--select", "DBL104", "--output-format", kind, ".")
    target = repo / "reports" / f"report.{kind}"
    target.parent.mkdir()
    target.write_text("stale content from an earlier run\n")
    code_file, out, _ = run("--select", "DBL104", "--output-format", kind, "-o", str(target), ".")
    assert (code, code_file) == (1, 1)
    assert out == ""
    assert target.read_text(encoding="utf-8") == to_stdout


def test_formats_are_registered() -> None:
    assert {"sarif", "github", "gitlab", "junit"} <= set(FORMATS)
    assert "sarif" in NEEDS_FIX_EDITS


# --- SARIF ----------------------------------------------------------------------------------------

def _fixture_folders() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.iterdir() if p.is_dir() and any(p.rglob("*.py")))


@pytest.mark.parametrize("folder", _fixture_folders(), ids=lambda p: p.name)
def test_sarif_validates_for_every_fixture(folder: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("--select", folder.name, "--output-format", "sarif", str(folder))
    assert code in (0, 1), err
    document = json.loads(out)
    assert validate_sarif(document) == []
    results = document["runs"][0]["results"]
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_validates_for_the_tree_and_edge_cases(repo: Path) -> None:
    (repo / "broken.py").write_text("def f(:\n    pass\n")
    for args in (["--select", "DBL104", "."], ["--select", "DBL104", "app/clean.py"]):
        code, out, _ = run("--output-format", "sarif", *args)
        assert code in (0, 1)
        assert validate_sarif(json.loads(out)) == []
    document = json.loads(run("--select", "DBL104", "--output-format", "sarif", "broken.py")[1])
    (result,) = document["runs"][0]["results"]
    assert result["ruleId"] == "DBL001" and result["level"] == "error"
    # The schema really checks: a broken document is refused.
    document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert validate_sarif(document)


def test_sarif_content(repo: Path) -> None:
    document = json.loads(run("--select", "DBL104", "--output-format", "sarif", ".")[1])
    assert document["version"] == "2.1.0"
    run_ = document["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "dbleak" and driver["informationUri"].startswith("https://")
    (descriptor,) = driver["rules"]  # only the rules that have results
    rule = rule_by_code("DBL104")
    assert rule is not None
    assert descriptor["id"] == "DBL104" and descriptor["name"] == rule.name
    assert descriptor["helpUri"] == rule.url()
    assert descriptor["fullDescription"]["text"].startswith(rule.doc_sections()["What it does"])
    assert descriptor["defaultConfiguration"] == {"level": "warning"}
    results = run_["results"]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results] == [
        "app/db.py", "app/db.py", "app/jobs.py", "app/jobs.py", "app/jobs.py",
        "scripts/odd%20name.py",
    ]
    first = results[0]
    assert first["ruleId"] == "DBL104" and first["ruleIndex"] == 0 and first["level"] == "warning"
    assert first["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 13, "startColumn": 14, "endLine": 13, "endColumn": 40}
    # Fixable findings carry their edits; the one without a fix carries none.
    assert [("fixes" in r) for r in results] == [True, True, False, True, True, True]
    replacement = first["fixes"][0]["artifactChanges"][0]["replacements"][-1]
    assert replacement["insertedContent"]["text"] == (
        "        with closing(sqlite3.connect(self.path)) as conn, conn:\n")
    prints = [r["partialFingerprints"]["dbleak/v1"] for r in results]
    assert len(set(prints)) == len(prints)


def test_sarif_uri_is_relative_to_the_repository_root(repo: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "app")
    document = json.loads(run("--select", "DBL104", "--output-format", "sarif", ".")[1])
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in document["runs"][0]["results"]}
    assert uris == {"app/db.py", "app/jobs.py"}


def test_sarif_without_a_repository_uses_the_working_folder(repo: Path) -> None:
    (repo / ".git").rmdir()
    document = json.loads(run("--select", "DBL104", "--output-format", "sarif", "app/db.py")[1])
    uri = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "app/db.py"


def test_sarif_fingerprints_survive_unrelated_edits(repo: Path) -> None:
    def prints() -> list[str]:
        document = json.loads(run("--select", "DBL104", "--output-format", "sarif", "app")[1])
        return [r["partialFingerprints"]["dbleak/v1"] for r in document["runs"][0]["results"]]

    before = prints()
    jobs = repo / "app" / "jobs.py"
    jobs.write_text("import os\n\n\n" + jobs.read_text().replace("    ) as conn:", "    ) as conn:  # why"))
    assert prints() == before


# --- GitHub ---------------------------------------------------------------------------------------

def test_github_escape_functions() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext%3A a%2C b"
    assert escape_data("%0A") == "%250A"  # `%` first, so existing escapes are not decoded later


def _finding(message: str, start: Position, end: Position, path: str = "pkg/m.py",
             plan: FixPlan | None = None) -> Finding:
    return Finding(code="DBL104", name="with-does-not-close", message=message, path=path,
                   start=start, end=end, plan=plan)


def test_github_annotation_escapes_message_and_properties() -> None:
    finding = _finding("50% of rows\nread: a, b\r", Position(3, 4), Position(3, 9),
                       path="dir,one/a:b.py")
    assert annotation(finding, "dir,one/a:b.py") == (
        "::warning title=dbleak (DBL104),file=dir%2Cone/a%3Ab.py,line=3,col=5,endLine=3,"
        "endColumn=10::dir,one/a:b.py:3:5: DBL104 50%25 of rows%0Aread: a, b%0D"
    )


def test_github_multi_line_finding_has_no_columns() -> None:
    plan = FixPlan("title", Applicability.SAFE, ())
    finding = _finding("spans lines", Position(5, 9), Position(8, 5), plan=plan)
    line = annotation(finding, "pkg/m.py")
    assert line == ("::warning title=dbleak (DBL104),file=pkg/m.py,line=5,endLine=8::"
                    "pkg/m.py:5:10: DBL104 [*] spans lines")
    assert "col=" not in line and "endColumn=" not in line


def test_github_render_is_one_line_per_finding(repo: Path) -> None:
    findings = [_finding("a%b\nc", Position(1, 0), Position(1, 1), path="x.py"),
                _finding("d", Position(2, 0), Position(3, 1), path="y.py")]
    text = FORMATS["github"](findings, ReportContext(root=str(repo)))
    assert text.count("\n") == 2
    assert text.splitlines()[0].endswith("::x.py:1:1: DBL104 a%25b%0Ac")


# --- GitLab ---------------------------------------------------------------------------------------

def test_gitlab_report(repo: Path) -> None:
    issues = json.loads(run("--select", "DBL104", "--output-format", "gitlab", ".")[1])
    assert len(issues) == 6
    for issue in issues:
        assert issue["description"].startswith("DBL104: ")
        assert issue["check_name"] == "DBL104" and issue["severity"] == "major"
        assert set(issue["location"]["positions"]) == {"begin", "end"}
    assert len({issue["fingerprint"] for issue in issues}) == 6
    assert issues[2]["location"] == {"path": "app/jobs.py", "positions": {
        "begin": {"line": 5, "column": 10}, "end": {"line": 8, "column": 6}}}


def test_gitlab_fingerprints_unique_for_identical_statements(repo: Path) -> None:
    (repo / "twice.py").write_text(
        "import sqlite3\n\n\ndef f(p):\n"
        "    with sqlite3.connect(p) as conn:\n        conn.execute('x')\n"
        "    with sqlite3.connect(p) as conn:\n        conn.execute('x')\n")
    first = json.loads(run("--select", "DBL104", "--output-format", "gitlab", "twice.py")[1])
    assert len(first) == 2 and first[0]["fingerprint"] != first[1]["fingerprint"]
    (repo / "twice.py").write_text("# moved down\n" + (repo / "twice.py").read_text())
    again = json.loads(run("--select", "DBL104", "--output-format", "gitlab", "twice.py")[1])
    assert [i["fingerprint"] for i in again] == [i["fingerprint"] for i in first]


def test_gitlab_paths_relative_to_ci_project_dir(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_PROJECT_DIR", str(repo / "app"))
    issues = json.loads(run("--select", "DBL104", "--output-format", "gitlab", "app")[1])
    assert [i["location"]["path"] for i in issues] == ["db.py", "db.py", "jobs.py", "jobs.py", "jobs.py"]


# --- JUnit ----------------------------------------------------------------------------------------

def test_junit_a_suite_per_file_and_a_case_per_finding(repo: Path) -> None:
    text = run("--select", "DBL104", "--output-format", "junit", ".")[1]
    root = ET.fromstring(text)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "app/clean.py", "app/db.py", "app/jobs.py", "scripts/odd name.py"]
    assert [len(s.findall("testcase")) for s in suites] == [1, 2, 3, 1]
    assert [len(s.findall("testcase/failure")) for s in suites] == [0, 2, 3, 1]
    assert (root.get("tests"), root.get("failures")) == ("7", "6")
    case = suites[1].findall("testcase")[0]
    assert case.get("classname") == "app/db.py"
    assert case.get("name") == "DBL104 at line 13, column 14"
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "DBL104"
    assert failure.text is not None and failure.text.startswith("app/db.py:13:14: DBL104 [*] ")


def test_junit_escapes_markup() -> None:
    findings = [_finding("a <b> & \"c\"\nd", Position(1, 0), Position(1, 1), path="x.py")]
    root = ET.fromstring(FORMATS["junit"](findings, ReportContext(root=".")))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "DBL104: a <b> & \"c\"\nd"


# --- statistics -----------------------------------------------------------------------------------

def test_statistics_sorted_by_count_then_code() -> None:
    plan = FixPlan("t", Applicability.SAFE, ())
    display = FixPlan("t", Applicability.DISPLAY_ONLY, ())

    def make(code: str, name: str, plan: FixPlan | None = None) -> Finding:
        return Finding(code=code, name=name, message="m", path="a.py", start=Position(1, 0),
                       end=Position(1, 1), plan=plan)

    findings = [make("DBL201", "unbounded-fetchall")] * 2 + [make("DBL104", "with-does-not-close", plan)] * 2
    findings += [make("DBL301", "materialized-generator", display)] * 11 + [make("DBL101", "x")]
    assert render_text(findings) == (
        "11\tDBL301\t    materialized-generator\n"
        " 2\tDBL104\t[*] with-does-not-close\n"
        " 2\tDBL201\t    unbounded-fetchall\n"
        " 1\tDBL101\t    x\n"
    )
    rows = json.loads(render_json(findings))
    assert rows[0] == {"code": "DBL301", "name": "materialized-generator", "count": 11, "fixable": False}
    assert render_text([]) == ""


def test_statistics_from_the_cli(repo: Path) -> None:
    code, out, _ = run("--select", "DBL104", "--statistics", ".")
    assert (code, out) == (1, "6\tDBL104\t[*] with-does-not-close\n")
    code, out, _ = run("--select", "DBL104", "--statistics", "--output-format", "json", ".")
    assert json.loads(out) == [{"code": "DBL104", "name": "with-does-not-close", "count": 6,
                                "fixable": True}]
    assert run("--select", "DBL104", "--statistics", "app/clean.py")[:2] == (0, "")


# --- docs/ci.md ----------------------------------------------------------------------------------

def test_ci_docs_examples_are_valid_yaml_and_commands(repo: Path) -> None:
    """Every YAML block of docs/ci.md parses, and every `dbleak check` line in it runs."""
    import re
    import shlex

    import yaml

    text = (TESTS.parent / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 4
    commands: list[str] = []
    for block in blocks:
        assert yaml.safe_load(block) is not None
        commands += re.findall(r"(dbleak check[^\n]*)", block)
    assert any("--output-format github" in c for c in commands)
    assert any("--output-format sarif" in c for c in commands)
    assert any("--output-format gitlab" in c for c in commands)
    assert "github/codeql-action/upload-sarif" in text and "codequality:" in text
    for command in commands:
        args = shlex.split(command)[2:]
        code, _, err = run("--select", "DBL104", *args)
        assert code in (0, 1), (command, err)


# --- the installed command ------------------------------------------------------------------------

def test_installed_command_writes_sarif_and_github(repo: Path) -> None:
    exe = shutil.which("dbleak")
    assert exe is not None, "the dbleak console script is not installed"
    env = {k: v for k, v in os.environ.items() if k != "CI_PROJECT_DIR"}
    done = subprocess.run([exe, "check", "--isolated", "--select", "DBL104", "--output-format",
                           "sarif", "-o", "out/dbleak.sarif", "."], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    document = json.loads((repo / "out" / "dbleak.sarif").read_text(encoding="utf-8"))
    assert validate_sarif(document) == []
    assert _stable_sarif(json.dumps(document, indent=2, ensure_ascii=False) + "\n") == (
        SNAPSHOTS / SNAPSHOT_FILES["sarif"]).read_text(encoding="utf-8")
    done = subprocess.run([exe, "check", "--isolated", "--select", "DBL104", "--output-format",
                           "github", "--exit-zero", "."], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0
    assert done.stdout == (SNAPSHOTS / SNAPSHOT_FILES["github"]).read_text(encoding="utf-8")
