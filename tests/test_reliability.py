"""Reliability (issue 17): no traceback, no hang, no forked file, no orphan process, linear work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import dbleak
from dbleak.api import check_source

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

from scaling import generate  # benchmarks/ is no package


def _calls(text: str) -> int:
    """Python-level function calls made by one check (deterministic, unlike a time)."""
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
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
import dbleak.cli
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
    import dbleak.cli

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("planted bug")

    (tmp_path / "good.py").write_text(LEAKY)
    monkeypatch.setattr(dbleak.cli, "check_paths", broken)
    monkeypatch.setattr(sys, "argv", ["dbleak", "check", str(tmp_path / "good.py")])
    with pytest.raises(SystemExit) as exit_:
        dbleak.cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == "dbleak: error: internal error: RuntimeError: planted bug (please report this)\n"


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
