"""The cache's record of a whole run: a run of the same files, nothing changed, is answered from
it; any change to a file of the run, to what the project index read from disk beyond them, to
their settings or to their module names makes the run check again, with the findings of a run
without a cache."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import dbleak.api
from dbleak.api import RunObserver, RunOptions, check_paths
from dbleak.cache import Cache
from dbleak.run_record import RECORD_MIN_FILES
from dbleak.settings import Settings

DB = """import sqlite3


def get_conn():
    return sqlite3.connect("app.db")
"""
DB_CHANGED = DB.replace('return sqlite3.connect("app.db")', "return None")
USES_HELPER = """from app.db import get_conn


def count{n}():
    conn = get_conn()
    return conn.execute("select count(*) from t").fetchone()
"""
CLEAN = "def f{n}():\n    return {n}\n"

Found = list[tuple[str, int, str]]


class _Heard(RunObserver):
    def __init__(self) -> None:
        self.details: dict[str, str] = {}

    def phase_done(self, phase: str, seconds: float, detail: str = "") -> None:
        self.details[phase] = detail


def _age(root: Path) -> None:
    """Every file and folder under ``root`` written in the last half minute dated a minute
    back: not "racily" recent (the others keep their dates)."""
    now = time.time()
    for folder, subfolders, files in os.walk(root):
        for path in [*(os.path.join(folder, name) for name in [*files, *subfolders]), folder]:
            if os.stat(path).st_mtime > now - 30:
                os.utime(path, (now - 60, now - 60))


def _project(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A project of RECORD_MIN_FILES views and a helper, dated back: its root, its package and
    a cache folder beside it."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    package = root / "app"
    views = package / "views"
    views.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (views / "__init__.py").write_text("")
    (package / "db.py").write_text(DB)
    for n in range(RECORD_MIN_FILES):
        (views / f"v{n}.py").write_text(USES_HELPER.format(n=n) if n % 3 == 0 else CLEAN.format(n=n))
    _age(root)
    return root, package, tmp_path / "cache"


def _check(root: Path, cache_dir: Path | None, *paths: str, settings: Settings | None = None,
           options: RunOptions | None = None) -> tuple[Found, _Heard]:
    options = options or RunOptions()
    options.cache = Cache(cache_dir) if cache_dir is not None else None
    heard = _Heard()
    old = os.getcwd()
    os.chdir(root)
    try:
        results = list(check_paths([Path(p) for p in paths or ["."]],
                                   lambda _p: settings or Settings(root=str(root)), options,
                                   observer=heard))
    finally:
        os.chdir(old)
    return sorted((f.path, f.start.line, f.code) for r in results for f in r.result.findings), heard


def _replayed(heard: _Heard) -> bool:
    """Whether the run was answered by its record alone."""
    return heard.details.get("index", "").startswith("answered by the cache's record")


def test_an_unchanged_run_is_answered_by_its_record(tmp_path: Path, analysed: list[str]) -> None:
    root, _, cache = _project(tmp_path)
    cold, _ = _check(root, None)
    first, heard = _check(root, cache)
    assert first == cold and not _replayed(heard)
    assert any(code == "DBL101" for _, _, code in cold)
    analysed.clear()
    warm, heard = _check(root, cache)
    assert warm == cold and _replayed(heard) and analysed == []
    # Another set of files (or the same files rendering fixes) has a record of its own.
    _, heard = _check(root, cache, "app/views")
    assert not _replayed(heard)
    assert _check(root, cache, "app/views")[1].details["index"].endswith("same run")


@pytest.mark.parametrize("change", ["content", "added", "removed", "settings", "package"])
def test_a_change_to_the_run_checks_again(tmp_path: Path, analysed: list[str], change: str) -> None:
    root, package, cache = _project(tmp_path)
    settings = Settings(root=str(root))
    _check(root, cache, settings=settings)
    assert _replayed(_check(root, cache, settings=settings)[1])
    if change == "content":  # the same size and modification time: the change time differs
        old = (package / "db.py").stat()
        (package / "db.py").write_text(DB.replace("app.db", "bpp.db"))
        os.utime(package / "db.py", ns=(old.st_atime_ns, old.st_mtime_ns))
    elif change == "added":
        (package / "views" / "late.py").write_text(USES_HELPER.format(n="late"))
    elif change == "removed":
        (package / "views" / "v0.py").unlink()
    elif change == "settings":
        settings = Settings(root=str(root), ignore=("DBL2",))
    else:  # `app` is no package any more: every module name changes
        (package / "__init__.py").unlink()
    _age(root)
    analysed.clear()
    found, heard = _check(root, cache, settings=settings)
    assert not _replayed(heard)
    assert found == _check(root, None, settings=settings)[0]
    assert _replayed(_check(root, cache, settings=settings)[1])


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("change", ["helper", "new-module"])
def test_a_change_to_what_the_index_read_from_disk_checks_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str, change: str) -> None:
    """The run is given `app/views` only; the helper in `app/db.py` is read from disk (by the
    worker processes, with two)."""
    monkeypatch.setenv("DBLEAK_JOBS", jobs)
    root, package, cache = _project(tmp_path)
    if change == "new-module":
        (package / "db.py").unlink()
        _age(root)
    before, _ = _check(root, cache, "app/views")
    assert _replayed(_check(root, cache, "app/views")[1])
    if change == "helper":
        assert any(code == "DBL101" for _, _, code in before)
        (package / "db.py").write_text(DB_CHANGED)
    else:
        assert not any(code == "DBL101" for _, _, code in before)
        (package / "db.py").write_text(DB)
    _age(root)
    found, heard = _check(root, cache, "app/views")
    assert not _replayed(heard)
    assert found == _check(root, None, "app/views")[0] != before


def test_a_changed_file_whose_summaries_are_the_same_is_the_only_one_checked(
        tmp_path: Path, analysed: list[str]) -> None:
    root, package, cache = _project(tmp_path)
    _check(root, cache)
    views = package / "views"
    with open(views / "v3.py", "a", encoding="utf-8") as handle:  # a caller of the helper
        handle.write("# a comment\n")
    # a body edited: its leak (DBL101, at the connection the helper gives) moves a line down
    (views / "v0.py").write_text(USES_HELPER.format(n=0).replace(
        "    conn = get_conn()", "    # the helper's connection\n    conn = get_conn()"))
    (views / "v4.py").write_text(CLEAN.format(n=4).replace("return 4", "return 4 + 1"))
    _age(root)
    analysed.clear()
    found, heard = _check(root, cache)
    assert sorted(analysed) == ["v0.py", "v3.py", "v4.py"]
    assert heard.details["index"] == "3 files changed since the cache's record of the same run"
    assert found == _check(root, None)[0]
    assert ("app/views/v0.py", 6, "DBL101") in found
    assert _replayed(_check(root, cache)[1])


def test_a_changed_summary_checks_the_files_that_read_it(
        tmp_path: Path, analysed: list[str]) -> None:
    root, package, cache = _project(tmp_path)
    before, _ = _check(root, cache)
    (package / "db.py").write_text(DB_CHANGED)  # `get_conn` no longer makes a connection
    _age(root)
    analysed.clear()
    found, heard = _check(root, cache)
    assert "changed" not in heard.details["index"]
    callers = sorted(f"v{n}.py" for n in range(RECORD_MIN_FILES) if n % 3 == 0)
    assert sorted(analysed) == sorted(["db.py", *callers])
    assert found == _check(root, None)[0] != before
    assert _replayed(_check(root, cache)[1])


def test_a_run_of_files_written_just_now_leaves_no_record(tmp_path: Path) -> None:
    root, package, cache = _project(tmp_path)
    (package / "views" / "v1.py").write_text(CLEAN.format(n=100))  # written now
    _check(root, cache)
    assert not _replayed(_check(root, cache)[1])
    assert not list(cache.rglob("run-*"))
    _age(root)
    _check(root, cache)
    assert len(list(cache.rglob("run-*"))) == 1
    assert _replayed(_check(root, cache)[1])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "older-class"])
def test_a_corrupt_record_is_ignored_and_rewritten(tmp_path: Path, damage: str) -> None:
    root, _, cache = _project(tmp_path)
    cold, _ = _check(root, cache)
    [record] = cache.rglob("run-*")
    if damage == "older-class":  # written by a working copy whose record had a field less
        kept = Cache(cache).load_record(record.name)
        assert kept is not None
        object.__delattr__(kept, "summaries")
        Cache(cache).store_record(record.name, kept)
    else:
        data = record.read_bytes()
        record.write_bytes({"garbage": b"dbleak-cache-1\n" + os.urandom(200),
                            "truncated": data[: len(data) // 2], "empty": b""}[damage])
    found, heard = _check(root, cache)
    assert found == cold and not _replayed(heard)
    assert _replayed(_check(root, cache)[1])


def test_fixing_runs_neither_read_nor_leave_a_record(tmp_path: Path) -> None:
    root, _, cache = _project(tmp_path)
    _check(root, cache, options=RunOptions(diff=True))
    assert not list(cache.rglob("run-*"))
    _check(root, cache)
    assert not _replayed(_check(root, cache, options=RunOptions(diff=True))[1])


def test_the_analysis_reads_the_disk_only_through_the_project_index() -> None:
    """A run's record stays valid while the stamps of what the analysis read are the same:
    every read must be noted (``dbleak.index.disk_read``), and all of them are in ``index.py``.
    The rules, the analyses, the driver knowledge and the fixes read nothing from disk."""
    import re

    source = Path(dbleak.api.__file__).parent
    reading = re.compile(r"(?<![.\w])open\(|os\.(scandir|walk|listdir|stat)\(|os\.path\.(isfile|isdir|exists)\("
                         r"|\.(read_bytes|read_text|iterdir|glob|rglob)\(")
    found = [f"{path.relative_to(source)}:{number}"
             for folder in ("analysis", "rules", "knowledge", "fixes")
             for path in sorted((source / folder).rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if reading.search(line)]
    found += [f"engine.py:{number}" for number, line in
              enumerate((source / "engine.py").read_text(encoding="utf-8").splitlines(), 1)
              if reading.search(line)]
    assert found == []
