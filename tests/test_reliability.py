"""Reliability (issue 17): no traceback, no hang, no forked file, no orphan process, linear work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import dbleak
from dbleak.api import check_source, fix_source

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

from scaling import generate  # benchmarks/ is no package


def _calls(text: str, fix: bool = False) -> int:
    """Python-level function calls made by one check or fix (deterministic, unlike a time)."""
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        if fix:
            fix_source(text, "bench.py")
        else:
            check_source(text, "bench.py")
    finally:
        sys.setprofile(None)
    return count


def test_checking_work_grows_linearly_with_leaks_and_lines() -> None:
    check_source(generate(300, True)[0], "bench.py")  # first-use caches out of the count
    small, small_leaks = generate(600, True)
    large, large_leaks = generate(2400, True)
    assert large_leaks >= 4 * small_leaks - 2
    # Four times the lines and the leaks: about four times the work, not sixteen (it was ~14
    # when each leak's fix plan walked the whole module to see whether `closing` was free).
    assert _calls(large) < 5 * _calls(small)


def test_fixing_work_grows_linearly_with_leaks_and_lines() -> None:
    fix_source(generate(300, True)[0], "bench.py")  # first-use caches out of the count
    small, _ = generate(600, True)
    large, _ = generate(2400, True)
    # Each fix is rendered and verified on the statements it touches, not on the whole module
    # (libcst's whole-module render and a parse of the whole text per fix made it quadratic).
    assert _calls(large, fix=True) < 5 * _calls(small, fix=True)


# --- running the CLI for real: a subprocess, as another user where permissions matter ----------

SRC = str(Path(dbleak.__file__).resolve().parents[1])
MESSAGE = "the connection `conn` from `sqlite3.connect()` is never closed"
LEAKY = 'import sqlite3\n\n\ndef f(p):\n    conn = sqlite3.connect(p)\n    conn.execute("select 1")\n'

# Root ignores permission bits, so the permission cases run as `nobody`. The interpreter may live
# where `nobody` cannot read (/root/.pyenv): the child loads dbleak and everything a check and a
# fix import (by running one), then drops its privileges, then runs the command line.
AS_NOBODY = """
import os, sys
from dbleak.api import check_source, fix_source
import dbleak.cache, dbleak.cli  # the cache (and its hashlib, pickle) is imported on first use
src = "import sqlite3\\ndef f(p):\\n    conn = sqlite3.connect(p)\\n    conn.execute('x')\\n"
check_source(src, "warm.py", build_fixes=True)
fix_source(src, "warm.py")
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
sys.argv = ["dbleak", *sys.argv[1:]]
dbleak.cli.main()
"""


def dbleak_cli(args: list[str], cwd: Path, as_nobody: bool = False, input: bytes | None = None,
               stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "NO_COLOR": "1"}
    if as_nobody and os.geteuid() == 0:
        command = [sys.executable, "-c", AS_NOBODY, *args]
    else:
        command = [sys.executable, "-m", "dbleak", *args]
    kwargs: dict[str, object] = {"input": input} if input is not None else {"stdin": stdin}
    done = subprocess.run(command, check=False, cwd=cwd, capture_output=True, env=env, timeout=300,
                          **kwargs)  # type: ignore[call-overload]
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))


@pytest.fixture()
def shared_dir() -> Iterator[Path]:
    """A folder under /tmp that `nobody` can enter (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="dbleak-reliability-", dir="/tmp"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        for sub in folder.rglob("*"):
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(folder)


def test_unreadable_folder_is_reported_by_name_and_the_run_goes_on(shared_dir: Path) -> None:
    (shared_dir / "good.py").write_text(LEAKY)
    locked = shared_dir / "locked"
    locked.mkdir()
    (locked / "inner.py").write_text(LEAKY)
    locked.chmod(0o000)
    result = dbleak_cli(["check", "--output-format", "concise", "-q", "."], shared_dir,
                        as_nobody=True)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr
    assert "good.py:5:12: DBL101" in result.stdout
    assert "locked:1:1: DBL002 cannot read the file: Permission denied" in result.stdout


def test_pyproject_with_a_byte_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b'[tool.dbleak]\nselect = ["DBL\xff"]\n')
    (tmp_path / "good.py").write_text(LEAKY)
    result = dbleak_cli(["check", "good.py"], tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert "pyproject.toml: invalid TOML: byte 0xff at offset 28 is not UTF-8" in result.stderr


def test_stdin_closed_is_a_message_and_exit_2(tmp_path: Path) -> None:
    script = ("import os, sys, runpy; os.close(0); sys.argv = ['dbleak', 'check', '-'];"
              "runpy.run_module('dbleak', run_name='__main__')")
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run([sys.executable, "-c", script], check=False, cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=120)
    assert "Traceback" not in done.stderr
    assert done.returncode == 2
    assert "dbleak: error: -: " in done.stderr and "standard input" in done.stderr
    closed = subprocess.run(f"{sys.executable} -m dbleak check - <&-", check=False, shell=True, cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in closed.stderr
    assert closed.returncode == 2
    assert "dbleak: error: -: standard input is closed" in closed.stderr


def test_stdin_empty_or_not_utf8_gets_a_message(tmp_path: Path) -> None:
    empty = dbleak_cli(["check", "-"], tmp_path, input=b"")
    assert empty.returncode == 0
    assert "dbleak: warning: -: standard input is empty" in empty.stderr
    latin = dbleak_cli(["check", "-"], tmp_path, input=b"x = '\xe9'\n")
    assert "Traceback" not in latin.stderr
    assert latin.returncode == 1
    assert "-:1:6: DBL001 cannot decode the file: cannot decode byte 0xe9 as utf-8" in latin.stdout


def test_report_file_in_a_path_that_cannot_exist_is_exit_2_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(LEAKY)
    (tmp_path / "plain").write_text("")
    result = dbleak_cli(["check", "good.py", "-o", "plain/report.txt"], tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert result.stderr.startswith("dbleak: error: plain/report.txt: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bug_in_dbleak_is_one_line_and_exit_2_not_1(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    # A bug cannot be produced on purpose without planting one: the one stand-in in this file.
    import dbleak.api
    import dbleak.cli

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("planted bug")

    (tmp_path / "good.py").write_text(LEAKY)
    monkeypatch.setattr(dbleak.api, "check_paths", broken)  # the CLI imports it when it runs
    monkeypatch.setattr(sys, "argv", ["dbleak", "check", str(tmp_path / "good.py")])
    with pytest.raises(SystemExit) as exit_:
        dbleak.cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == "dbleak: error: internal error: RuntimeError: planted bug (please report this)\n"


# --- the console script ends without the interpreter's teardown (issue 19) ------------------

def test_the_console_script_skips_the_teardown_and_keeps_the_exit_status(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(LEAKY)
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('teardown ran', file=sys.stderr))\n"
            "sys.argv = ['dbleak', *sys.argv[1:]]\n"
            "from dbleak.cli import run\n"
            "run()\n")
    env = {**os.environ, "PYTHONPATH": SRC, "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-c", code, "check", "--no-cache", "m.py"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert (done.returncode, done.stderr) == (1, "")
    assert MESSAGE in done.stdout and done.stdout.endswith("[*] 1 fixable with the --fix option.\n")
    version = subprocess.run([sys.executable, "-c", code, "--version"], cwd=tmp_path,
                             capture_output=True, text=True, env=env, timeout=300, check=False)
    assert (version.returncode, version.stdout, version.stderr) \
        == (0, f"dbleak {dbleak.__version__}\n", "")
    usage = subprocess.run([sys.executable, "-c", code, "check", "--no-such-option"], cwd=tmp_path,
                           capture_output=True, text=True, env=env, timeout=300, check=False)
    assert usage.returncode == 2 and "No such option" in usage.stderr
    assert "teardown ran" not in usage.stderr


def test_the_console_script_flushes_a_report_larger_than_a_pipe(tmp_path: Path) -> None:
    """Its output is flushed before the process ends: a JSON report of 2,000 findings (far
    more than a pipe's buffer) arrives whole, on stdout and in a report file."""
    body = "".join(f"def f{i}(p):\n    conn = sqlite3.connect(p)\n    conn.execute('x')\n"
                   for i in range(2000))
    (tmp_path / "big.py").write_text("import sqlite3\n" + body)
    done = dbleak_cli(["check", "--no-cache", "--output-format", "json", "big.py"], tmp_path)
    assert done.returncode == 1
    assert len(json.loads(done.stdout)) == 2000
    written = dbleak_cli(["check", "--no-cache", "--output-format", "json", "--output-file",
                          "report.json", "big.py"], tmp_path)
    assert written.returncode == 1 and written.stdout == ""
    assert len(json.loads((tmp_path / "report.json").read_text())) == 2000


@pytest.mark.parametrize(("code", "status", "printed"), [
    (None, 0, ""), (0, 0, ""), (1, 1, ""), (2, 2, ""), (130, 130, ""), (256, 0, ""),
    ("dbleak: cannot go on", 1, "dbleak: cannot go on\n"),
])
def test_exit_status_is_the_one_sys_exit_gives(code: object, status: int, printed: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from dbleak.cli import _exit_status

    assert _exit_status(code) == status
    assert capsys.readouterr().err == printed


# --- discovery: symlink loops ----------------------------------------------------------------

def _tree_with_loops(root: Path, loops: int) -> None:
    (root / "a.py").write_text(LEAKY)
    (root / "pkg").mkdir()
    (root / "pkg" / "b.py").write_text(LEAKY)
    (root / "pkg" / "deep").mkdir()
    (root / "pkg" / "deep" / "c.py").write_text(LEAKY)
    (root / "pkg" / "up").symlink_to("..", target_is_directory=True)
    if loops >= 2:
        (root / "pkg" / "deep" / "top").symlink_to("../..", target_is_directory=True)
    if loops >= 3:
        (root / "pkg" / "deep" / "again").symlink_to(root / "pkg", target_is_directory=True)


@pytest.mark.parametrize("loops", [1, 3])
def test_symlink_loops_end_and_each_file_is_checked_once(tmp_path: Path, loops: int) -> None:
    _tree_with_loops(tmp_path, loops)
    found = dbleak_cli(["check", "--output-format", "concise", "-q", "."], tmp_path)
    assert found.returncode == 1, found.stderr
    assert sorted(found.stdout.splitlines()) == [
        "a.py:5:12: DBL101 [*] " + MESSAGE,
        "pkg/b.py:5:12: DBL101 [*] " + MESSAGE,
        "pkg/deep/c.py:5:12: DBL101 [*] " + MESSAGE,
    ]
    fixed = dbleak_cli(["check", "--fix", "."], tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert "Found 3 errors (3 fixed, 0 remaining)." in fixed.stdout
    assert "with closing(sqlite3.connect(p)) as conn:" in (tmp_path / "pkg/deep/c.py").read_text()


# --- --fix keeps the file: symlinks, hard links, read-only, owner, line endings, baseline ---------

FIXED_BODY = "    with closing(sqlite3.connect(p)) as conn:\n        conn.execute(\"select 1\")\n"


def test_fix_writes_through_a_symlink_to_its_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.py"
    target.write_text(LEAKY)
    (tmp_path / "link.py").symlink_to("real/target.py")
    result = dbleak_cli(["check", "--fix", "link.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "link.py").is_symlink()
    assert os.readlink(tmp_path / "link.py") == "real/target.py"
    assert target.read_text().endswith(FIXED_BODY)


def test_fix_keeps_hard_links(tmp_path: Path) -> None:
    first = tmp_path / "first.py"
    first.write_text(LEAKY)
    os.link(first, tmp_path / "second.txt")
    inode = first.stat().st_ino
    result = dbleak_cli(["check", "--fix", "first.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert first.stat().st_ino == inode and first.stat().st_nlink == 2
    assert (tmp_path / "second.txt").read_text() == first.read_text()
    assert first.read_text().endswith(FIXED_BODY)


def test_read_only_file_is_reported_and_untouched(tmp_path: Path) -> None:
    frozen = tmp_path / "frozen.py"
    frozen.write_text(LEAKY)
    frozen.chmod(0o444)
    before = frozen.stat()
    result = dbleak_cli(["check", "--fix", "frozen.py"], tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    assert "dbleak: warning: frozen.py: not fixed: read-only" in result.stderr
    assert "Found 1 error." in result.stdout and "fixed" not in result.stdout
    after = frozen.stat()
    assert frozen.read_text() == LEAKY
    assert (after.st_ino, after.st_mode, after.st_uid) == (before.st_ino, before.st_mode, before.st_uid)


def test_file_the_user_may_not_write_is_not_replaced(shared_dir: Path) -> None:
    # The folder lets anyone create files: replacing the file would succeed, and make it nobody's.
    theirs = shared_dir / "theirs.py"
    theirs.write_text(LEAKY)
    theirs.chmod(0o644)
    result = dbleak_cli(["check", "--fix", "theirs.py"], shared_dir, as_nobody=True)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr
    assert "theirs.py: not fixed: read-only" in result.stderr
    assert theirs.read_text() == LEAKY
    assert theirs.stat().st_uid == os.geteuid()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_fix_keeps_the_owner_and_mode_of_another_users_file(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.py"
    theirs.write_text(LEAKY)
    theirs.chmod(0o640)
    os.chown(theirs, 65534, 65534)
    result = dbleak_cli(["check", "--fix", "theirs.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    after = theirs.stat()
    assert (after.st_uid, after.st_gid, after.st_mode & 0o777) == (65534, 65534, 0o640)
    assert theirs.read_text().endswith(FIXED_BODY)


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"])
def test_fix_keeps_every_line_ending_the_last_one_included(tmp_path: Path, newline: str) -> None:
    source = tmp_path / "ends.py"
    source.write_bytes(LEAKY.replace("\n", newline).encode())
    result = dbleak_cli(["check", "--fix", "ends.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    expected = ("import sqlite3\nfrom contextlib import closing\n\n\ndef f(p):\n"
                + FIXED_BODY).replace("\n", newline)
    assert source.read_bytes() == expected.encode()


def test_baseline_is_replaced_whole_not_rewritten_in_place(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(LEAKY)
    baseline = tmp_path / "baseline.json"
    assert dbleak_cli(["check", "--write-baseline", "baseline.json", "a.py"],
                      tmp_path).returncode == 0
    with open(baseline, "rb") as reader:  # a run reading the baseline while another writes it
        old = baseline.read_bytes()
        (tmp_path / "b.py").write_text(LEAKY)
        written = dbleak_cli(["check", "--write-baseline", "baseline.json", "a.py", "b.py"],
                             tmp_path)
        assert written.returncode == 0, written.stderr
        assert reader.read() == old  # the file it opened is whole, not truncated
    assert b'"b.py"' in baseline.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if "dbleak-tmp" in p.name] == []


# --- deep nesting ----------------------------------------------------------------------------

DEEP = ("import sqlite3\n\n\ndef f(p):\n    conn = sqlite3.connect(p)\n"
        "    rows = conn.execute('select a from t limit 1').fetchall()\n"
        "    return rows" + "[0]" * 1400 + "\n\n\n"
        "first = sqlite3.connect('p').execute('select a from t limit 1').fetchall()"
        + "[0]" * 1400 + "\n")


def test_a_1400_deep_subscript_chain_is_analysed_without_recursion_error(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text(DEEP)
    found = dbleak_cli(["check", "--output-format", "concise", "-q", "deep.py"], tmp_path)
    assert "internal error" not in found.stderr and "RecursionError" not in found.stderr
    assert found.returncode == 1
    codes = [line.split()[1] for line in found.stdout.splitlines()]
    assert codes.count("DBL101") == 2
    fixed = dbleak_cli(["check", "--fix", "deep.py"], tmp_path)
    assert "internal error" not in fixed.stderr and "RecursionError" not in fixed.stderr
    assert fixed.returncode == 1
    assert "deep.py:5:12: DBL101: the code is nested too deeply to render the fix; not applied" \
        in fixed.stderr
    assert (tmp_path / "deep.py").read_text() == DEEP


# --- workers die with their parent ------------------------------------------------------------
# A run over 48 files of 40 leaks each, in two worker processes, takes long enough to be stopped
# while it writes. Polling waits for states (a file fixed, a process group empty); nothing is timed.

MANY = "import sqlite3\n" + "".join(
    f'\n\ndef f{i}(p):\n    conn = sqlite3.connect(p)\n    conn.execute("select 1")\n'
    for i in range(40))


def _group(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _wait_for(condition: Callable[[], bool], limit: float = 120.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture()
def groups() -> Iterator[list[int]]:
    """Process groups a test started; whatever is left of them is killed (a failing test must
    not leave orphans behind)."""
    started: list[int] = []
    yield started
    for pgid in started:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _start_fixing(root: Path) -> subprocess.Popen[bytes]:
    for index in range(48):
        (root / f"m{index:02}.py").write_text(MANY)
    env = {**os.environ, "PYTHONPATH": SRC, "DBLEAK_JOBS": "2", "NO_COLOR": "1"}
    run = subprocess.Popen([sys.executable, "-m", "dbleak", "check", "--fix", "."], cwd=root,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True)
    fixed_one = _wait_for(lambda: any("closing" in p.read_text() for p in root.glob("m*.py")))
    assert fixed_one and run.poll() is None, "the run ended before it could be stopped"
    return run


def _every_file_whole(root: Path) -> int:
    from dbleak.api import fix_source

    fixed = fix_source(MANY, "m.py").text
    texts = [p.read_text() for p in root.glob("m*.py")]
    assert all(text in (MANY, fixed) for text in texts)
    return sum(text == fixed for text in texts)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_run_stops_its_workers_with_one_line(tmp_path: Path, signum: int,
                                                      groups: list[int]) -> None:
    run = _start_fixing(tmp_path)
    groups.append(run.pid)
    if signum == signal.SIGINT:
        os.killpg(run.pid, signum)  # Ctrl-C reaches every process of the terminal's group
    else:
        os.kill(run.pid, signum)  # a supervisor stops the main process only
    _, err = run.communicate(timeout=120)
    assert run.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert err.decode().splitlines() == [
        f"dbleak: stopped by {name}; every file is either fixed whole or untouched"]
    assert _wait_for(lambda: not _group(run.pid), 30), "workers outlived the run"
    assert _every_file_whole(tmp_path) < 48


def test_workers_of_a_killed_run_exit_without_writing_more(tmp_path: Path,
                                                          groups: list[int]) -> None:
    run = _start_fixing(tmp_path)
    groups.append(run.pid)
    os.kill(run.pid, signal.SIGKILL)  # nothing of the parent runs: the workers must notice
    run.wait(timeout=60)
    assert _wait_for(lambda: not _group(run.pid), 60), "orphaned workers kept running"
    assert _every_file_whole(tmp_path) < 48
