"""A run pauses the cyclic garbage collector (``runner.cyclic_gc_paused``): a module's tree and
facts must then be freed by reference counting alone. A reference cycle that reaches them (a
nested function that calls itself, an exception kept with its traceback) keeps every module
it touches alive until the run ends: one process peaked at 640 MB on a 415 k-line tree while
keeping no tree on purpose."""

from __future__ import annotations

import ast
import gc
import shutil
from pathlib import Path

import pytest

from dbleak.analysis.module import ModuleFacts
from dbleak.api import RunOptions, check_paths
from dbleak.settings import ConfigResolver

FIXTURES = Path(__file__).parent / "fixtures"

# SQL that sqlglot fails to parse in some dialects (Django's MySQL introspection): its parser
# keeps the error it raises, with a traceback through the frames that asked.
_UNPARSABLE_SQL = '''
import MySQLdb


def constraints(conn, table_name):
    cur = conn.cursor()
    cur.execute("""
        SELECT kc.`constraint_name`, kc.`column_name`
        FROM information_schema.key_column_usage AS kc
        WHERE kc.table_schema = DATABASE() AND kc.table_name = %s
    """, [table_name])
    return [row for row in cur.fetchall()]


def connection(conn=None):
    return conn or MySQLdb.connect(db="shop")
'''


def test_no_reference_cycle_keeps_a_module_alive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = tmp_path / "tree"
    for code in ("DBL101", "DBL201", "DBL203", "DBL305"):
        shutil.copytree(FIXTURES / code, tree / code)
    (tree / "introspection.py").write_text(_UNPARSABLE_SQL)
    monkeypatch.setenv("DBLEAK_JOBS", "1")
    resolver = ConfigResolver(isolated=True)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        results = list(check_paths([tree], resolver.for_path, RunOptions()))
        gc.collect()
        kept = [o for o in gc.garbage if isinstance(o, (ast.Module, ModuleFacts))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    assert len(results) > 100
    assert sum(len(r.result.findings) for r in results) > 50
    assert kept == []
