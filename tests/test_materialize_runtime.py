"""Every DBL30x fixture is a small sqlite3 program: it runs, and its fixed versions print the same.

A fix that changes what the program prints is wrong, whatever the fixture text says.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fixture_harness import FIXTURES, Fixture, all_fixtures

MATERIALIZATION = [f for f in all_fixtures() if f.code.startswith("DBL30")]


def _run(path: Path) -> str:
    completed = subprocess.run(
        [sys.executable, path.name], cwd=path.parent, capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, f"{path} failed:\n{completed.stderr}"
    return completed.stdout


def _fixed_versions(fixture: Fixture) -> list[Path]:
    return [p for p in (fixture.fixed_path, fixture.unsafe_fixed_path) if p.exists()]


@pytest.mark.parametrize("fixture", MATERIALIZATION, ids=[f.id for f in MATERIALIZATION])
def test_fixture_runs_and_fixes_keep_its_output(fixture: Fixture) -> None:
    if fixture.project is not None and fixture.path.name != "main.py" and not _fixed_versions(fixture):
        pytest.skip("a helper module of a fixture project (run through its main module)")
    original = _run(fixture.path)
    assert original, "a fixture program should print what it computes"
    for fixed in _fixed_versions(fixture):
        assert _run(fixed) == original, f"{fixed.relative_to(FIXTURES)} prints something else"


def test_every_materialization_rule_has_fixtures() -> None:
    codes = {f.code for f in MATERIALIZATION}
    assert {"DBL301", "DBL302", "DBL303", "DBL304", "DBL305"} <= codes


def test_export_example_is_fixed_to_the_same_output(tmp_path: Path) -> None:
    from dbleak.api import check_source, fix_source
    from dbleak.settings import Settings

    example = Path(__file__).parent.parent / "examples" / "export.py"
    text = example.read_text(encoding="utf-8")
    settings = Settings(select=("DBL3",))
    codes = {f.code for f in check_source(text, str(example), settings).findings}
    assert {"DBL301", "DBL303", "DBL304"} <= codes
    fixed = fix_source(text, str(example), settings, unsafe=True)
    assert not fixed.result.findings
    assert fix_source(fixed.text, str(example), settings, unsafe=True).text == fixed.text
    copy = tmp_path / "export_fixed.py"
    copy.write_text(fixed.text, encoding="utf-8")
    assert _run(copy) == _run(example)
