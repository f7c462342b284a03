"""`dbleak check --runtime-report PATH`: static findings confirmed by a `pytest --dbleak` run, and
the runtime leaks no static finding covers (the static analysis's misses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_session import run
from test_runtime_plugin import PLUGIN

pytest_plugins = ["pytester"]

APP = '''
import sqlite3

POOL = {}


def leaky(path):
    conn = sqlite3.connect(path)
    return conn.execute("select 1").fetchall()


def hidden(path):
    make = getattr(sqlite3, "con" + "nect")
    POOL[path] = make(path)
    return POOL[path]


def never_run(path):
    conn = sqlite3.connect(path)
    conn.execute("select 1")
'''

TESTS = '''
import app


def test_leaky():
    assert app.leaky(":memory:") == [(1,)]


def test_hidden():
    app.hidden(":memory:")
'''


@pytest.fixture()
def runtime_report(pytester: pytest.Pytester) -> Path:
    pytester.makepyfile(app=APP, test_app=TESTS)
    pytester.syspathinsert()
    # In a subprocess: an in-process run drops the modules it imported from sys.modules when it
    # ends, and the `dbleak check` below would then import a second copy of dbleak's lazily
    # imported modules (this test failed when run on its own, not in the full suite).
    result = pytester.runpytest_subprocess(*PLUGIN, "--dbleak-report=runtime.json")
    result.assert_outcomes(passed=2)
    return pytester.path / "runtime.json"


def test_runtime_report_confirms_and_lists_misses(runtime_report: Path) -> None:
    folder = runtime_report.parent
    runtime = json.loads(runtime_report.read_text())
    assert sorted((f["code"], f["location"]["row"]) for f in runtime) == [("DBL901", 7), ("DBL901", 13)]
    result = run(["check", "--output-format", "concise", "--runtime-report", "runtime.json",
                  "app.py"], cwd=folder)
    lines = result.output.splitlines()
    never_closed = "DBL101 [*] the connection `conn` from `sqlite3.connect()` is never closed"
    assert [line for line in lines if line.startswith("app.py:")] == [
        f"app.py:7:12: {never_closed} (confirmed at run time)",
        f"app.py:18:12: {never_closed}",
    ]
    assert ("Runtime report runtime.json: 1 finding confirmed, 1 runtime finding not found "
            "statically:") in lines
    assert any(line.startswith("  app.py:13: DBL901 sqlite3 connection made here") for line in lines)
    assert result.exit_code == 1


def test_runtime_codes_are_documented_but_never_checked(tmp_path: Path) -> None:
    assert run(["rule", "DBL901"]).output.startswith("# runtime-leak (DBL901)")
    assert "DBL902     large-read  (pytest --dbleak only)" in run(["rule", "--all"]).output
    result = run(["check", "--select", "DBL9", str(tmp_path)])
    assert result.exit_code == 2 and "unknown rule code or prefix 'DBL9'" in result.output


def test_missing_runtime_report_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    result = run(["check", "--runtime-report", "nope.json", "a.py"], cwd=tmp_path)
    assert result.exit_code == 2 and "no such runtime report" in result.output
