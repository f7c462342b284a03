"""The pre-commit hooks, run by the real `pre-commit try-repo` against this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEAKY = "import sqlite3\n\nwith sqlite3.connect('app.db') as conn:\n    conn.execute('select 1')\n"

pytestmark = pytest.mark.skipif(
    shutil.which("pre-commit") is None and not os.environ.get("CI"),
    reason="pre-commit is not installed (pip install -e '.[test]')",
)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("precommit-repo")
    _git(path, "init", "-q")
    _git(path, "config", "user.email", "t@example.com")
    _git(path, "config", "user.name", "t")
    (path / "app.py").write_text(LEAKY)
    _git(path, "add", "app.py")
    return path


def _try_repo(repo: Path, hook: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--all-files"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=900,
    )


def test_check_hook_fails_with_the_finding_then_fix_hook_rewrites(
        repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("pre-commit-home")
    check = _try_repo(repo, "dbleak", home)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "app.py:3:6: DBL104" in check.stdout
    fix = _try_repo(repo, "dbleak-fix", home)
    assert fix.returncode == 1  # pre-commit fails a hook that modified files
    assert "files were modified by this hook" in fix.stdout
    assert "with closing(sqlite3.connect('app.db')) as conn, conn:" in (repo / "app.py").read_text()
    _git(repo, "add", "app.py")
    again = _try_repo(repo, "dbleak", home)
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_readme_snippet_works(tmp_path: Path) -> None:
    """The pre-commit configuration the README shows runs as it is (a local hook that calls the
    `dbleak` on PATH; here a shim that runs this checkout)."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## pre-commit\n", 1)[1]
    snippet = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert snippet is not None
    assert "rev:" not in snippet.group(1)
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / ".pre-commit-config.yaml").write_text(snippet.group(1))
    (repo / "app.py").write_text(LEAKY)
    _git(repo, "add", ".")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "dbleak"
    shim.write_text(f"#!/bin/sh\nPYTHONPATH={ROOT / 'src'} exec {sys.executable} -m dbleak \"$@\"\n")
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1",
           "PRE_COMMIT_HOME": str(tmp_path / "home")}
    run = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo,
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "app.py:3:6: DBL104" in run.stdout
    (repo / "app.py").write_text("import sqlite3\n\nprint(sqlite3.sqlite_version)\n")
    _git(repo, "add", ".")
    again = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo,
                           env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
