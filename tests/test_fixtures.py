"""Every rule fixture: the findings marked inline, the fixed text, and that fixing settles."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from dbleak.api import RunOptions, check_paths, disk_index, fix_source
from dbleak.engine import check_text
from dbleak.settings import Settings, settings_from_table
from fixture_harness import Fixture, all_fixtures, expected_findings, fixture_config

FIXTURES = all_fixtures()


def _settings(fixture: Fixture, text: str) -> Settings:
    table = {"select": [fixture.code], **fixture_config(text)}
    settings = settings_from_table(table, fixture.path.parent / "dbleak.toml")
    return replace(settings, extend_exclude=("*.fixed.py", "*.unsafe-fixed.py"),
                   respect_gitignore=False)


def _project_results(fixture: Fixture, settings: Settings, fix: bool = False, unsafe: bool = False):
    assert fixture.project is not None
    results = check_paths([fixture.project], lambda _p: settings,
                          RunOptions(fix=fix, diff=fix, unsafe_fixes=unsafe))
    for result in results:
        if Path(result.result.path).resolve() == fixture.path.resolve():
            return result
    raise AssertionError(f"{fixture.path} was not checked")


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.id for f in FIXTURES])
def test_findings_match_markers(fixture: Fixture) -> None:
    text = fixture.path.read_text(encoding="utf-8")
    settings = _settings(fixture, text)
    if fixture.project is not None:
        result = _project_results(fixture, settings).result
    else:
        result = check_text(text, str(fixture.path), settings)
    assert not result.internal_errors
    actual = {(f.start.line, f.code) for f in result.findings}
    assert actual == expected_findings(text), "\n".join(
        f"{f.start.line}:{f.start.column + 1} {f.code} {f.message}" for f in result.findings
    )


def _fixed(fixture: Fixture, text: str, unsafe: bool) -> str:
    settings = _settings(fixture, text)
    if fixture.project is not None:
        result = _project_results(fixture, settings, fix=True, unsafe=unsafe)
        return result.fixed if result.fixed is not None else text
    return fix_source(text, str(fixture.path), settings, unsafe=unsafe).text


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.id for f in FIXTURES])
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_fix_result(fixture: Fixture, unsafe: bool) -> None:
    text = fixture.path.read_text(encoding="utf-8")
    fixed = _fixed(fixture, text, unsafe)
    expected_path = fixture.fixed_path
    if unsafe and fixture.unsafe_fixed_path.exists():
        expected_path = fixture.unsafe_fixed_path
    if expected_path.exists():
        assert fixed == expected_path.read_text(encoding="utf-8")
        ast.parse(fixed)
        # A second run finds nothing left to fix.
        assert _fixed(fixture, fixed, unsafe) == fixed
    else:
        assert fixed == text, "this fixture has no .fixed.py, so --fix must leave it unchanged"


PROJECT_MODULES = [f for f in FIXTURES if f.project is not None]


@pytest.mark.parametrize("fixture", PROJECT_MODULES, ids=[f.id for f in PROJECT_MODULES])
def test_a_module_checked_alone_has_the_findings_of_its_project_run(fixture: Fixture) -> None:
    """A pre-commit hook passes only the changed files: the modules a file imports are read
    from disk, so its findings are those of a run over the whole project."""
    text = fixture.path.read_text(encoding="utf-8")
    settings = _settings(fixture, text)
    alone = [r.result for r in check_paths([fixture.path], lambda _p: settings)]
    assert len(alone) == 1 and not alone[0].internal_errors
    in_project = _project_results(fixture, settings).result
    def found(findings):
        return sorted((f.start.line, f.start.column, f.code, f.message) for f in findings)
    assert found(alone[0].findings) == found(in_project.findings)


@pytest.mark.parametrize("fixture", PROJECT_MODULES, ids=[f.id for f in PROJECT_MODULES])
def test_a_text_checked_alone_has_the_findings_of_its_project_run(fixture: Fixture) -> None:
    """The editor, `--stdin-filename` and every round of `--fix` check a text on its own
    (`check_text`, with the cheap trigger-word pre-filter and an index that reads the project
    from disk): a rule whose triggers miss a shape its findings take, or that depends on the
    run's own index, would lose findings there that the project run has."""
    text = fixture.path.read_text(encoding="utf-8")
    settings = _settings(fixture, text)
    alone = check_text(text, str(fixture.path), settings,
                       project=disk_index(str(fixture.path), settings))
    assert not alone.internal_errors
    in_project = _project_results(fixture, settings).result
    def found(findings):
        return sorted((f.start.line, f.start.column, f.code, f.message) for f in findings)
    assert found(alone.findings) == found(in_project.findings)
