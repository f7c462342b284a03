"""The lifecycle fixes keep behaviour and close what was leaked: run sqlite3 fixture programs
before and after `--fix` against the real driver, in a fresh interpreter each.

The runner records every connection and cursor the program makes (a ``sqlite3.Connection``
subclass passed as ``factory=``: the real driver does the work) and reports how many are still
open when the call returns or raises, plus the ResourceWarnings of drivers that clean up a
leaked connection themselves when it is collected (aiosqlite).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dbleak.api import fix_source
from dbleak.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"

RUNNER = textwrap.dedent('''
    import gc, json, sqlite3, sys, types, warnings

    made = []
    warned = []  # ResourceWarnings: drivers that clean up after a leak say so (aiosqlite)
    warnings.simplefilter("always", ResourceWarning)
    warnings.showwarning = lambda message, category, *rest: warned.append(category)

    class Tracked(sqlite3.Connection):
        def cursor(self, *args, **kwargs):
            cur = super().cursor(*args, **kwargs)
            made.append(cur)
            return cur

    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        kwargs.setdefault("factory", Tracked)
        conn = real_connect(*args, **kwargs)
        made.append(conn)
        return conn

    sqlite3.connect = connect

    def is_open(obj):
        try:
            if isinstance(obj, sqlite3.Cursor):
                obj.fetchone()
            else:
                obj.total_changes
            return True
        except sqlite3.ProgrammingError as error:
            return "closed" not in str(error)  # made in another thread (aiosqlite): still open

    source, call = sys.argv[1], sys.argv[2]
    module = types.ModuleType("program")
    with open(source, encoding="utf-8") as handle:
        code = handle.read()
    exec(compile(code, source, "exec"), module.__dict__)
    try:
        outcome = repr(eval(call, module.__dict__))
    except Exception as error:
        outcome = "raised " + type(error).__name__
    gc.collect()
    cursors = [m for m in made if isinstance(m, sqlite3.Cursor)]
    leaked = sum(1 for c in warned if issubclass(c, ResourceWarning))
    print(json.dumps({"outcome": outcome, "open": sum(map(is_open, made)) + leaked,
                      "open_cursors": sum(map(is_open, cursors))}))
''')

# (fixture, codes to fix, call expressions; `DB` is a database with table t(name, k, v), `BAD`
# one without it). For DBL102 only cursors count: the long-lived connection stays open by design.
CASES = [
    ("DBL101/never_closed.py", "DBL101", ["count(DB)", "names(DB)", "count(BAD)"]),
    ("DBL101/closed_in_one_branch.py", "DBL101", ["early_return(DB, 'a')", "early_return(DB, 'zz')"]),
    ("DBL101/rebound.py", "DBL101", ["in_while([DB, DB])"]),
    ("DBL101/aliases.py", "DBL101", ["a(DB)", "b(DB)", "c(DB)"]),
    ("DBL103/no_finally.py", "DBL103", ["save(DB, ('x', 'k', 'v'))", "read(DB)", "read(BAD)",
                                        "raises_early(DB, False)", "raises_early(DB, True)"]),
    ("DBL103/existing_try.py", "DBL103", ["specific_handler(DB)", "specific_handler(BAD)"]),
    ("DBL102/long_lived_connection.py", "DBL102", ["Store(DB).names()"]),
    ("DBL102/annotated_parameter.py", "DBL102", ["rows(sqlite3.connect(DB))"]),
    ("DBL103/cursors_and_async.py", "DBL103", ["Store(DB).names()", "Store(BAD).names()"]),
    ("DBL101/async_drivers.py", "DBL101", ["asyncio.run(lite(DB))"]),
    ("DBL101/temporaries.py", "DBL101", ["one_shot(DB)", "frame(DB).shape", "vacuum([DB, DB])",
                                         "conn_taken(DB, None)", "one_shot(BAD)"]),
]
CURSORS_ONLY = {"DBL102/long_lived_connection.py", "DBL102/annotated_parameter.py",
                "DBL103/cursors_and_async.py"}


def _database(folder: Path) -> tuple[str, str]:
    import sqlite3

    good = folder / "good.db"
    with sqlite3.connect(good) as conn:
        conn.execute("CREATE TABLE t (name TEXT, k TEXT, v TEXT)")
        conn.execute("INSERT INTO t VALUES ('n1', 'a', 'v1'), ('n2', 'b', 'v2')")
    conn.close()
    bad = folder / "bad.db"  # no table: every query raises
    return str(good), str(bad)


def _run(program: Path, call: str) -> dict[str, object]:
    runner = program.parent / "runner.py"
    runner.write_text(RUNNER)
    done = subprocess.run([sys.executable, str(runner), str(program), call],
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("fixture, codes, calls", CASES, ids=[c[0] for c in CASES])
def test_fixed_program_behaves_the_same_and_closes(tmp_path: Path, fixture: str, codes: str,
                                                   calls: list[str]) -> None:
    original = (FIXTURES / fixture).read_text(encoding="utf-8")
    fixed = fix_source(original, fixture, Settings(select=(codes,))).text
    assert fixed != original, "the fixture should have a fix"
    leaked_before = 0
    for call in calls:
        results = {}
        for label, text in (("before", original), ("after", fixed)):
            folder = tmp_path / f"{label}-{abs(hash(call))}"
            folder.mkdir()
            good, bad = _database(folder)
            program = folder / "program.py"
            program.write_text(f"import asyncio, sqlite3\nDB = {good!r}\nBAD = {bad!r}\n" + text)
            results[label] = _run(program, call)
        assert results["after"]["outcome"] == results["before"]["outcome"], call
        key = "open_cursors" if fixture in CURSORS_ONLY else "open"
        assert results["after"][key] == 0, f"{call}: the fixed program leaves objects open"
        leaked_before += int(results["before"][key])  # type: ignore[call-overload]
    assert leaked_before > 0, "the original program should leak on at least one call"
