"""The persistent cache: a warm run gives exactly the findings of a cold one, and an entry is
used only while everything its findings were made from is unchanged."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_session import run

import dbleak.api
import dbleak.cache
import dbleak.runner
from dbleak.api import RunOptions, check_paths
from dbleak.cache import Cache
from dbleak.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"

DB = """import sqlite3


def get_conn():
    return sqlite3.connect("app.db")


def version():
    return sqlite3.sqlite_version
"""
# The same module, but the helper no longer creates a connection.
DB_CHANGED = DB.replace('return sqlite3.connect("app.db")', "return None")
USES_HELPER = """from app.db import get_conn


def count():
    conn = get_conn()
    return conn.execute("select count(*) from t").fetchone()
"""
OWN_LEAK = """import sqlite3


def rows(path):
    conn = sqlite3.connect(path)
    return conn.execute("select 1").fetchone()
"""
FIXABLE = """import sqlite3


def f(p):
    with sqlite3.connect(p) as conn:
        conn.execute("select 1")
"""


def _project(root: Path) -> Path:
    (root / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    package = root / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "db.py").write_text(DB)
    (package / "service.py").write_text(USES_HELPER)
    (package / "tasks.py").write_text(OWN_LEAK)
    (package / "fixable.py").write_text(FIXABLE)
    return package


Found = list[tuple[str, int, int, str, str]]


def _found(results: list[dbleak.api.PathResult]) -> Found:
    return sorted((f.path, f.start.line, f.start.column, f.code, f.message)
                  for r in results for f in r.result.findings)


def _runner(folder: Path, cache_dir: Path | None,
            settings: Settings | None = None) -> Callable[..., Found]:
    def check(*paths: Path, options: RunOptions | None = None) -> Found:
        options = options or RunOptions()
        options.cache = Cache(cache_dir) if cache_dir is not None else None
        old = os.getcwd()
        os.chdir(folder)
        try:
            given = [p.relative_to(folder) for p in paths] or [Path(".")]
            return _found(list(check_paths(given, lambda _p: settings or Settings(root=str(folder)),
                                           options)))
        finally:
            os.chdir(old)
    return check


def test_a_warm_run_gives_the_findings_of_a_cold_run_and_analyses_nothing(
        tmp_path: Path, analysed: list[str]) -> None:
    _project(tmp_path)
    cold = _runner(tmp_path, None)()
    with_cache = _runner(tmp_path, tmp_path / "cache")
    first = with_cache()
    analysed.clear()
    warm = with_cache()
    assert first == cold and warm == cold
    assert analysed == []
    assert any(p.endswith("service.py") and code == "DBL101" for p, _, _, code, _ in cold)


def test_a_changed_helper_invalidates_its_callers_and_only_them(
        tmp_path: Path, analysed: list[str]) -> None:
    package = _project(tmp_path)
    with_cache = _runner(tmp_path, tmp_path / "cache")
    with_cache()
    (package / "db.py").write_text(DB_CHANGED)
    analysed.clear()
    warm = with_cache()
    assert sorted(analysed) == ["db.py", "service.py"]
    assert warm == _runner(tmp_path, None)()
    assert not any(p.endswith("service.py") for p, *_ in warm)


def test_a_changed_file_is_analysed_again(tmp_path: Path, analysed: list[str]) -> None:
    package = _project(tmp_path)
    with_cache = _runner(tmp_path, tmp_path / "cache")
    with_cache()
    (package / "tasks.py").write_text(OWN_LEAK + "\n\ndef more():\n    pass\n")
    analysed.clear()
    warm = with_cache()
    assert analysed == ["tasks.py"]
    assert warm == _runner(tmp_path, None)()


def test_changed_settings_invalidate_every_entry(tmp_path: Path, analysed: list[str]) -> None:
    _project(tmp_path)
    _runner(tmp_path, tmp_path / "cache")()
    narrower = Settings(root=str(tmp_path), select=("DBL2",))
    analysed.clear()
    warm = _runner(tmp_path, tmp_path / "cache", narrower)()
    assert len(analysed) == 5
    assert warm == _runner(tmp_path, None, narrower)() == []


def test_another_dbleak_version_does_not_read_the_entries(
        tmp_path: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path)
    _runner(tmp_path, tmp_path / "cache")()
    monkeypatch.setattr(dbleak.cache, "__version__", "999.0")
    analysed.clear()
    warm = _runner(tmp_path, tmp_path / "cache")()
    assert len(analysed) == 5
    assert warm == _runner(tmp_path, None)()
    assert {p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()} == {
        "999.0", _real_version()}


def _real_version() -> str:
    from dbleak import __version__
    return __version__


def _entries(cache_dir: Path) -> list[Path]:
    return [p for folder in cache_dir.iterdir() if folder.is_dir()
            for p in folder.iterdir() if not p.name.startswith((".tmp-", "run-"))]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "foreign"])
def test_a_corrupt_or_foreign_entry_is_ignored_and_rewritten(
        tmp_path: Path, analysed: list[str], damage: str) -> None:
    _project(tmp_path)
    cache_dir = tmp_path / "cache"
    with_cache = _runner(tmp_path, cache_dir)
    cold = with_cache()
    entries = sorted(_entries(cache_dir))
    assert len(entries) == 5
    contents = [p.read_bytes() for p in entries]
    for index, entry in enumerate(entries):
        if damage == "garbage":
            entry.write_bytes(b"\x80\x05not a pickle at all" * 3)
        elif damage == "truncated":
            entry.write_bytes(contents[index][: len(contents[index]) // 2])
        elif damage == "empty":
            entry.write_bytes(b"")
        else:  # another file's entry in its place: a whole, valid entry, but not this file's
            entry.write_bytes(contents[(index + 1) % len(contents)])
    analysed.clear()
    assert with_cache() == cold
    assert len(analysed) == 5
    analysed.clear()
    assert with_cache() == cold
    assert analysed == []


@pytest.mark.parametrize("payload", [
    pytest.param(b"", id="a class of another module"),
    # `Path` is a name in dbleak.cache, but not a class it defines.
    pytest.param(b"cdbleak.cache\nPath\n(S'x'\ntR.", id="a class dbleak.cache imports"),
])
def test_an_entry_naming_a_foreign_class_is_not_unpickled(tmp_path: Path, payload: bytes) -> None:
    import hashlib
    import pickle

    cache = Cache(tmp_path / "cache")
    target = tmp_path / "x.py"
    cache.store(target, dbleak.cache.Entry("key"))
    path = next(iter(_entries(tmp_path / "cache")))
    payload = payload or pickle.dumps(subprocess.CompletedProcess(["x"], 0))
    with pytest.raises(pickle.UnpicklingError):  # refused before any object is made
        dbleak.cache._Unpickler(io.BytesIO(payload)).load()
    path.write_bytes(dbleak.cache._MAGIC + hashlib.blake2b(payload, digest_size=32).digest()
                     + payload)
    assert cache.load(target) is None


def test_entries_keep_the_digest_of_each_summary_and_a_warm_run_uses_them(
        tmp_path: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each entry keeps the digest of each of its file's summaries; a warm run checks the
    other entries' lookups with them (digesting no summary again) and finds a change still."""
    import dbleak.index
    from dbleak.index import value_digest

    package = _project(tmp_path)
    cache = Cache(tmp_path / "cache")
    with_cache = _runner(tmp_path, tmp_path / "cache")
    cold = with_cache()
    entry = cache.load(package / "db.py")
    assert entry is not None and entry.summaries and entry.digests
    assert entry.digests == {q: value_digest(v) for q, v in entry.summaries.items()}
    digested: list[object] = []
    real = dbleak.index.value_digest

    def spy(value: object) -> bytes:
        if value is not None and not isinstance(value, (bool, list, frozenset)):
            digested.append(value)
        return real(value)

    monkeypatch.setattr(dbleak.index, "value_digest", spy)
    analysed.clear()
    assert with_cache() == cold and analysed == [] and digested == []
    (package / "db.py").write_text(DB_CHANGED)
    warm = with_cache()
    assert sorted(analysed) == ["db.py", "service.py"]
    assert warm == _runner(tmp_path, None)()


def test_an_entry_with_digests_of_the_wrong_kind_is_ignored(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    target = tmp_path / "x.py"
    cache.store(target, dbleak.cache.Entry("key", {"m.f": {}}, digests={"m.f": "not bytes"}))  # type: ignore[dict-item]
    assert cache.load(target) is None
    cache.store(target, dbleak.cache.Entry("key", {"m.f": {}}, digests={"m.f": b"1234"}))
    assert cache.load(target) is not None


def test_one_file_passed_alone_with_a_warm_cache_has_the_findings_of_the_whole_run(
        tmp_path: Path, analysed: list[str]) -> None:
    package = _project(tmp_path)
    with_cache = _runner(tmp_path, tmp_path / "cache")
    whole = with_cache()
    (package / "service.py").write_text(USES_HELPER + "\n\ndef unused():\n    return 1\n")
    alone = with_cache(package / "service.py")
    expected = [f for f in _runner(tmp_path, None)() if f[0].endswith("service.py")]
    assert alone == expected
    assert [f for f in whole if f[0].endswith("service.py")] == expected


def test_fix_and_json_with_a_warm_cache(tmp_path: Path) -> None:
    """A cached file with fixes still has them rendered (JSON), shown (--diff) and applied."""
    (tmp_path / "cached").mkdir()
    (tmp_path / "uncached").mkdir()
    package = _project(tmp_path / "cached")
    uncached = _project(tmp_path / "uncached")
    cache_dir = tmp_path / "cache"
    cached_run = ["check", "--cache-dir", str(cache_dir)]
    root = package.parent
    cold = run(["check", "--no-cache", "--output-format", "json", "."], cwd=root)
    first = run([*cached_run, "--output-format", "json", "."], cwd=root)
    warm = run([*cached_run, "--output-format", "json", "."], cwd=root)
    assert json.loads(cold.output) == json.loads(first.output) == json.loads(warm.output)
    assert any(item.get("fix") for item in json.loads(warm.output))
    diff = run([*cached_run, "--diff", "."], cwd=root)
    assert diff.output == run(["check", "--no-cache", "--diff", "."], cwd=root).output
    assert "fixable.py" in diff.output
    fixed = run([*cached_run, "--fix", "."], cwd=root)
    plain = run(["check", "--no-cache", "--fix", "."], cwd=uncached.parent)
    assert (fixed.exit_code, fixed.output) == (plain.exit_code, plain.output)
    for module in sorted(uncached.glob("*.py")):
        assert (package / module.name).read_text() == module.read_text(), module.name
    assert (package / "fixable.py").read_text() != FIXABLE
    after = run(["check", "--no-cache", "--output-format", "json", "."], cwd=root)
    again = run([*cached_run, "--output-format", "json", "."], cwd=root)
    assert json.loads(after.output) == json.loads(again.output)


def test_the_cache_folder_is_made_at_the_project_root_and_ignores_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path)
    monkeypatch.delenv("DBLEAK_CACHE_DIR", raising=False)
    run(["check", "--no-cache", "."], cwd=tmp_path / "app")
    assert not (tmp_path / ".dbleak_cache").exists()
    run(["check", "."], cwd=tmp_path / "app")  # from a sub-folder: the root has pyproject.toml
    folder = tmp_path / ".dbleak_cache"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (folder / "CACHEDIR.TAG").is_file()
    assert len(_entries(folder)) == 5
    monkeypatch.setenv("DBLEAK_CACHE_DIR", str(tmp_path / "elsewhere"))
    run(["check", "."], cwd=tmp_path)
    assert len(_entries(tmp_path / "elsewhere")) == 5
    run(["check", "--cache-dir", str(tmp_path / "given"), "."], cwd=tmp_path)
    assert len(_entries(tmp_path / "given")) == 5


_CONCURRENT = """
import sys
from dbleak.cli import cli
sys.argv = ["dbleak", "check", "--cache-dir", sys.argv[1], "--output-format", "json", sys.argv[2]]
cli()
"""


def test_two_concurrent_runs_leave_a_valid_cache(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    _project(project)
    for index in range(40):  # enough files that the two runs overlap
        (project / "app" / f"extra_{index}.py").write_text(OWN_LEAK.replace("rows", f"rows{index}"))
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "DBLEAK_JOBS": "1"}
    runs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, str(cache_dir), "."],
                             cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in runs]
    assert [process.returncode for process in runs] == [1, 1], outputs
    assert json.loads(outputs[0][0]) == json.loads(outputs[1][0])
    cache = Cache(cache_dir)
    files = sorted((project / "app").glob("*.py"))
    assert len(_entries(cache_dir)) == len(files)
    for path in files:
        assert cache.load(Path(os.path.relpath(path, project))) is not None or \
            cache.load(path) is not None
    assert not [p for p in (cache_dir / _real_version()).iterdir() if p.name.startswith(".tmp-")]
    warm = run(["check", "--cache-dir", str(cache_dir), "--output-format", "json", "."],
               cwd=project)
    assert json.loads(warm.output) == json.loads(outputs[0][0])


def test_the_fixture_projects_give_the_same_findings_warm(tmp_path: Path) -> None:
    """Every fixture folder, cold then warm: the same findings (and fixes, in JSON)."""
    cache_dir = tmp_path / "cache"
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        args = ["check", "--output-format", "json", "--cache-dir", str(cache_dir), str(folder)]
        cold = run(["check", "--output-format", "json", "--no-cache", str(folder)])
        assert json.loads(run(args).output) == json.loads(cold.output), folder.name
        assert json.loads(run(args).output) == json.loads(cold.output), folder.name



def test_worker_processes_read_and_write_the_same_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _project(tmp_path)
    for index in range(30):  # past the size at which a run forks workers
        (package / f"extra_{index}.py").write_text(USES_HELPER.replace("count", f"count{index}"))
    monkeypatch.setenv("DBLEAK_JOBS", "2")
    cold = _runner(tmp_path, None)()
    with_cache = _runner(tmp_path, tmp_path / "cache")
    assert with_cache() == cold
    assert len(_entries(tmp_path / "cache")) == 35
    assert with_cache() == cold
    (package / "db.py").write_text(DB_CHANGED)
    assert with_cache() == _runner(tmp_path, None)() != cold


@pytest.fixture()
def summarized(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The modules summarized from disk (read for a lookup, not given to the run)."""
    from dbleak.analysis import project

    seen: list[str] = []
    real = project.collect_facts

    def spy(tree: object, drivers: object, module: str, *args: object) -> object:
        seen.append(module)
        return real(tree, drivers, module, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(project, "collect_facts", spy)
    return seen


def test_a_file_passed_alone_reads_the_modules_it_imports_from_the_cache(
        tmp_path: Path, summarized: list[str]) -> None:
    """A pre-commit run of one file: the modules it imports are summarized once, then kept."""
    package = _project(tmp_path)
    with_cache = _runner(tmp_path, tmp_path / "cache")
    first = with_cache(package / "service.py")
    assert "app.db" in summarized
    summarized.clear()
    assert with_cache(package / "service.py") == first
    assert "app.db" not in summarized
    assert first == [f for f in _runner(tmp_path, None)() if f[0].endswith("service.py")]
    (package / "db.py").write_text(DB_CHANGED)
    summarized.clear()
    changed = with_cache(package / "service.py")
    assert "app.db" in summarized
    assert changed == [f for f in _runner(tmp_path, None)() if f[0].endswith("service.py")] == []


def test_a_file_passed_alone_after_a_whole_run_summarizes_nothing_it_imports(
        tmp_path: Path, summarized: list[str]) -> None:
    """A pre-commit run of one changed file after a whole-project run (CI's, or the first
    hook's): the modules it imports are read from the summaries the whole run kept with each
    file's findings, not parsed again; a module changed since is summarized again."""
    package = _project(tmp_path)
    with_cache = _runner(tmp_path, tmp_path / "cache")
    with_cache()
    summarized.clear()
    (package / "service.py").write_text(USES_HELPER + "\n# edited\n")
    alone = with_cache(package / "service.py")
    assert "app.db" not in summarized and alone
    assert alone == [f for f in _runner(tmp_path, None)() if f[0].endswith("service.py")]
    (package / "db.py").write_text(DB_CHANGED)
    summarized.clear()
    assert with_cache(package / "service.py") == []
    assert "app.db" in summarized


def test_a_warm_run_checks_its_few_changed_files_without_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _project(tmp_path)
    for index in range(30):  # past the size at which a run forks workers
        (package / f"extra_{index}.py").write_text(USES_HELPER.replace("count", f"count{index}"))
    monkeypatch.delenv("DBLEAK_JOBS", raising=False)
    monkeypatch.setattr(dbleak.runner, "MOSTLY_CACHED", 10)
    forked: list[int] = []
    real = dbleak.api.check_in_processes

    def spy(*args: object, **kwargs: object) -> object:
        forked.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dbleak.api, "check_in_processes", spy)
    monkeypatch.setattr(dbleak.api, "worker_count", lambda files: 2)
    with_cache = _runner(tmp_path, tmp_path / "cache")
    cold = with_cache()
    assert forked == [1]  # nothing cached (35 files): the workers share the work
    assert with_cache() == cold
    assert forked == [1]  # nothing changed: no workers
    (package / "db.py").write_text(DB_CHANGED)  # one file changed, its 31 callers re-checked
    assert with_cache() == _runner(tmp_path, None)()
    assert forked == [1, 1]  # the cold run without a cache


def test_a_cache_dir_that_exists_is_not_given_a_gitignore(tmp_path: Path) -> None:
    """`--cache-dir .` must not hide the user's folder from git."""
    _project(tmp_path)
    run(["check", "--cache-dir", ".", "."], cwd=tmp_path)
    assert not (tmp_path / ".gitignore").exists()
    assert len(list((tmp_path / _real_version()).iterdir())) == 5


BACKEND = """import sqlite3


class Backend:
    def __init__(self, path):
        self.connection = sqlite3.connect(path)

    def execute(self, sql):
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
        except BaseException:
            cursor.close()
            raise
        return cursor

    def close(self):
        self.connection.close()
"""
VERSIONS = """def current(backend):
    cursor = backend.execute("select max(v) from versions")
    return cursor.fetchone()[0]
"""
CALLER = """from app.backend import Backend
from app.versions import current


def main(path):
    backend = Backend(path)
    try:
        return current(backend)
    finally:
        backend.close()
"""
UNKNOWN_CALLER = """from app.versions import current


def other(thing):
    return current(thing)
"""


def _versions_project(root: Path) -> Path:
    """`app/`: a backend, `versions.current(backend)` and the one module that calls it."""
    (root / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    package = root / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "backend.py").write_text(BACKEND)
    (package / "versions.py").write_text(VERSIONS)
    (package / "main.py").write_text(CALLER)
    return package


def test_a_new_call_site_invalidates_a_parameter_typed_by_its_call_sites(
        tmp_path: Path, analysed: list[str]) -> None:
    # `current(backend)` is typed by its one call site: its cursor is reported. A new module
    # that calls it with something unknown takes that evidence away, though `versions.py` and
    # every module it read are unchanged: its cached findings must not be reused.
    package = _versions_project(tmp_path)
    with_cache = _runner(tmp_path, tmp_path / "cache")
    first = with_cache()
    assert any(p.endswith("versions.py") and code == "DBL102" for p, _, _, code, _ in first)
    (package / "other.py").write_text(UNKNOWN_CALLER)
    analysed.clear()
    warm = with_cache()
    assert "versions.py" in analysed
    assert warm == _runner(tmp_path, None)()
    assert not any(p.endswith("versions.py") for p, *_ in warm)


def test_a_file_alone_sees_a_caller_on_disk_change(tmp_path: Path) -> None:
    """`versions.py` passed alone: its parameter is typed by the call sites of the package's
    modules on disk, found by the words of their text, which the cache keeps by file stamp. A
    caller rewritten (to pass something unknown) must be read again."""
    import time

    package = _versions_project(tmp_path)
    (package / "other.py").write_text("def unrelated():\n    return 1\n")
    then = time.time() - 60
    for path in [*package.iterdir(), package]:
        os.utime(path, (then, then))
    alone = package / "versions.py"
    with_cache = _runner(tmp_path, tmp_path / "cache")
    first = with_cache(alone)
    assert first == with_cache(alone) == _runner(tmp_path, None)(alone)
    assert any(code == "DBL102" for *_, code, _ in first)
    (package / "other.py").write_text(UNKNOWN_CALLER)  # `current(thing)`: no longer typed
    os.utime(package / "other.py", (then + 1, then + 1))
    warm = with_cache(alone)
    assert warm == _runner(tmp_path, None)(alone)
    assert not any(code == "DBL102" for *_, code, _ in warm)


def test_entries_made_by_other_code_of_the_same_version_are_not_reused(
        tmp_path: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # A working copy changes dbleak's code without changing its version (an editable install,
    # the benchmarks run between commits): its entries must not outlive the code that made them.
    _project(tmp_path)
    _runner(tmp_path, tmp_path / "cache")()
    analysed.clear()
    _runner(tmp_path, tmp_path / "cache")()
    assert analysed == []
    monkeypatch.setattr(dbleak.cache, "code_stamp", lambda: "another working copy")
    warm = _runner(tmp_path, tmp_path / "cache")()
    assert len(analysed) == 5
    assert warm == _runner(tmp_path, None)()


# A warm run (every file answered from a valid entry) learns which rules apply from
# dbleak.registry.RULE_TABLE and checks each entry's lookups with dbleak.index: it imports no
# rule, no analysis and not the engine (issue #19).
_MODULES_OF_A_CHECK = """
import os, sys
os.chdir({folder!r})
sys.argv = ['dbleak', 'check', '--exit-zero', '--output-format', 'concise', '--cache-dir', {cache!r},
            {path!r}]
from dbleak.cli import main
try:
    main()
except SystemExit:
    pass
print(sorted(m for m in sys.modules
             if m.startswith(('dbleak.rules', 'dbleak.analysis', 'dbleak.engine'))))
"""


def _check_in_new_process(folder: Path, cache: Path, path: Path) -> tuple[list[str], list[str]]:
    """The concise report lines of a check of ``path`` in a new interpreter, and the modules of
    the rules, the analyses and the engine it imported."""
    program = _MODULES_OF_A_CHECK.format(folder=str(folder), cache=str(cache), path=str(path))
    # (the folder is entered by the program: a relative PYTHONPATH still finds this tree)
    lines = subprocess.run([sys.executable, "-c", program], capture_output=True,
                           text=True, check=True, timeout=120).stdout.strip().splitlines()
    return lines[:-1], json.loads(lines[-1].replace("'", '"'))


def test_a_warm_run_imports_no_rule_and_no_analysis(tmp_path: Path) -> None:
    package = _project(tmp_path)
    cold, imported = _check_in_new_process(tmp_path, tmp_path / "cache", package / "service.py")
    assert any("DBL101" in line for line in cold)
    assert "dbleak.rules.dbl101_unclosed_connection" in imported and "dbleak.engine" in imported
    warm, imported = _check_in_new_process(tmp_path, tmp_path / "cache", package / "service.py")
    assert warm == cold
    assert imported == []
    # The whole project, warm: the same.
    cold, _ = _check_in_new_process(tmp_path, tmp_path / "cache", Path("."))
    warm, imported = _check_in_new_process(tmp_path, tmp_path / "cache", Path("."))
    assert warm == cold and len(cold) >= 3
    assert imported == []


def test_a_warm_run_summarizes_an_imported_module_the_cache_lost(tmp_path: Path) -> None:
    """The entry of a module read from disk is gone: the warm run summarizes it again (the
    analyses and their summarizers imported for it, not the rules), its summaries unchanged, so
    the checked file's entry is still valid."""
    package = _project(tmp_path)
    cold, _ = _check_in_new_process(tmp_path, tmp_path / "cache", package / "service.py")
    kept = Cache(tmp_path / "cache")._entry_path(str(package / "db.py"), "module:")
    assert kept.is_file()
    kept.unlink()
    warm, imported = _check_in_new_process(tmp_path, tmp_path / "cache", package / "service.py")
    assert warm == cold and any("DBL101" in line for line in warm)
    assert "dbleak.analysis.lifecycle_summary" in imported
    assert not [m for m in imported if m.startswith("dbleak.rules.dbl")]
    assert "dbleak.engine" not in imported
    assert kept.is_file()


@pytest.mark.parametrize("value", [
    None, "x", 3, ("global", "sqlite3"), ("call", "m.f", ("#0", "timeout")),
    (("global", "a"), frozenset({"b", "c"})), {"k": ("a", 1), "j": frozenset({"x", "y"})},
    ["a", ("b", None)],
])
def test_answer_digests_are_those_of_the_canonical_text(value: object) -> None:
    """The warm run's shortcuts (None's digest made once, the repr of a tuple of scalars) give
    the digest of a text that is the same in every process, and tell values apart."""
    import hashlib

    from dbleak.index import _canonical, value_digest

    assert value_digest(value) == hashlib.blake2b(
        _canonical(value).encode("utf-8", "surrogatepass"), digest_size=16).digest()
    assert value_digest(None) == hashlib.blake2b(b"None", digest_size=16).digest()
    if isinstance(value, tuple) and len(value) > 1:
        assert value_digest(value) != value_digest(value[:-1])
        assert value_digest(value) != value_digest(list(value))
