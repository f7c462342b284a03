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


def test_the_index_still_to_come_is_reserved_in_the_memory_bound(tmp_path: Path) -> None:
    """A process keeps a tree for the checking pass only while its memory and the index the
    other files (and workers) will add still fit under the bound: the index arrives after the
    trees, and would push the process past it."""
    from dbleak.discovery import discover
    from dbleak.runner import INDEX_PER_SOURCE_BYTE, prepare, resident_memory
    from dbleak.settings import Settings

    for index in range(5):
        (tmp_path / f"m{index}.py").write_text("import sqlite3\n\n\ndef f():\n"
                                               "    return sqlite3.connect('x')\n")
    settings = Settings(root=str(tmp_path))
    items = list(discover([tmp_path], lambda _p: settings))
    now = resident_memory()
    assert now is not None
    bound = now + 200 * 2**20
    assert len(prepare(items, lambda _p: settings, memory=bound).parsed) == 5
    # 60 MB of other workers' source to come: 240 MB of index, more than the room left
    others = 60 * 2**20
    assert INDEX_PER_SOURCE_BYTE * others > 200 * 2**20
    kept = prepare(items, lambda _p: settings, memory=bound, pending=others)
    assert kept.parsed == {} and len(kept.portable) == 5


@pytest.mark.parametrize("keep", [False, True])
def test_only_a_process_that_ends_with_os_exit_keeps_the_index_to_the_end(
        tmp_path: Path, keep: bool) -> None:
    """The command line (``cli.run``) keeps a run's index until its os._exit rather than
    freeing it object by object; the language server and the API, which live on, must not."""
    import dbleak.api

    for index in range(3):
        (tmp_path / f"m{index}.py").write_text("import sqlite3\n\n\ndef f():\n"
                                               "    return sqlite3.connect('x')\n")
    before = len(dbleak.api.KEPT_UNTIL_EXIT)
    try:
        results = list(check_paths([tmp_path], ConfigResolver(isolated=True).for_path,
                                   RunOptions(keep_until_exit=keep)))
        assert len(results) == 3
        assert len(dbleak.api.KEPT_UNTIL_EXIT) == before + keep
    finally:
        del dbleak.api.KEPT_UNTIL_EXIT[before:]
