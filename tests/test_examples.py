"""The bundled example: dbleak finds its problems, fixes them, and the program still works."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dbleak.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _dbleak(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dbleak", *args], capture_output=True, text=True,
                          timeout=300)


def _outputs(folder: Path, workdir: Path) -> dict[str, str]:
    results = {}
    for script in sorted(folder.glob("*.py")):
        data = workdir / script.stem
        data.mkdir(exist_ok=True)
        run = subprocess.run([sys.executable, str(script), str(data)], capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        results[script.name] = run.stdout
    return results


def test_check_reports_dbl104_with_source_context() -> None:
    result = _dbleak("check", str(EXAMPLES))
    assert result.returncode == 1
    for code in ("DBL104", "DBL101", "DBL103", "DBL201", "DBL301"):
        assert code in result.stdout, code
    assert "    with sqlite3.connect(path) as conn:" in result.stdout


def test_json_and_diff_on_the_example() -> None:
    data = json.loads(_dbleak("check", "--output-format", "json", str(EXAMPLES)).stdout)
    assert any(item["code"] == "DBL104" and item["fix"]["applicability"] == "safe" for item in data)
    diff = _dbleak("check", "--diff", str(EXAMPLES))
    assert diff.returncode == 1
    assert "+    with closing(sqlite3.connect(path)) as conn, conn:" in diff.stdout
    # The lifecycle rewrite: from the creation through the last use, the old close() dropped.
    assert "+    with closing(sqlite3.connect(path)) as conn:\n" in diff.stdout
    assert "-    conn.close()\n" in diff.stdout


def test_fix_on_a_copy_keeps_behaviour_and_a_second_check_is_clean(tmp_path: Path) -> None:
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy)
    (tmp_path / "before").mkdir()
    before = _outputs(copy, tmp_path / "before")
    fixed = _dbleak("check", "--fix", "--unsafe-fixes", str(copy))
    assert fixed.returncode in (0, 1), fixed.stderr
    for script in copy.glob("*.py"):
        compile(script.read_text(), str(script), "exec")
    (tmp_path / "after").mkdir()
    assert _outputs(copy, tmp_path / "after") == before
    again = CliRunner().invoke(cli, ["check", "--diff", "--unsafe-fixes", str(copy)])
    assert again.exit_code == 0, again.output  # nothing left to fix
    dbl104 = CliRunner().invoke(cli, ["check", "--select", "DBL104", str(copy)])
    assert dbl104.exit_code == 0, dbl104.output
