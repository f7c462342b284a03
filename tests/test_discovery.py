"""Discovery: which files a run checks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dbleak.discovery import discover
from dbleak.settings import ConfigResolver, Settings


def found(paths: list[Path], root: Path, force_exclude: bool = False,
          settings: Settings | None = None) -> list[str]:
    old = os.getcwd()
    os.chdir(root)
    try:
        resolver = ConfigResolver()
        settings_for = (lambda p: settings) if settings else resolver.for_path
        return sorted(d.display for d in discover(paths, settings_for, force_exclude))
    finally:
        os.chdir(old)


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def test_python_files_and_stubs_only(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "b.pyi", "c.txt", "pkg/d.py", "pkg/e.pyc")
    assert found([Path(".")], tmp_path) == ["a.py", "b.pyi", "pkg/d.py"]


def test_default_excludes(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", ".venv/lib/x.py", "venv/y.py", "node_modules/z.py", "build/keep.py",
          ".tox/t.py", "__pycache__/c.py", ".git/hooks/h.py", "site-packages/s.py")
    assert found([Path(".")], tmp_path) == ["a.py", "build/keep.py"]


def test_vendored_code_is_excluded_by_default(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "pkg/vendor/v.py", "pkg/_vendor/w.py", "vendored/x.py",
          "third_party/y.py", "pkg/vendors/keep.py")
    assert found([Path(".")], tmp_path) == ["a.py", "pkg/vendors/keep.py"]


def test_gitignore_at_every_level_and_info_exclude(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    touch(tmp_path, "a.py", "gen/out.py", "pkg/b.py", "pkg/secret.py", "pkg/sub/c.py", "local.py")
    (tmp_path / ".gitignore").write_text("gen/\n")
    (tmp_path / "pkg" / ".gitignore").write_text("secret.py\nsub/\n")
    (tmp_path / ".git" / "info" / "exclude").write_text("local.py\n")
    assert found([Path(".")], tmp_path) == ["a.py", "pkg/b.py"]
    settings = Settings(respect_gitignore=False, root=str(tmp_path))
    assert "gen/out.py" in found([Path(".")], tmp_path, settings=settings)


def test_explicit_files_are_checked_even_when_excluded(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    touch(tmp_path, "ignored.py", "venv/tool.py")
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    assert found([Path("ignored.py"), Path("venv/tool.py")], tmp_path) == ["ignored.py", "venv/tool.py"]
    assert found([Path("ignored.py"), Path("venv/tool.py")], tmp_path, force_exclude=True) == []


def test_exclude_settings_from_config(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "migrations/0001.py", "tests/fixtures/f.py", "tests/t.py")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dbleak]\nextend-exclude = ['migrations', 'tests/fixtures']\n")
    assert found([Path(".")], tmp_path) == ["a.py", "tests/t.py"]


def test_each_file_once(tmp_path: Path) -> None:
    touch(tmp_path, "pkg/a.py")
    assert found([Path("pkg"), Path("pkg/a.py"), Path(".")], tmp_path) == ["pkg/a.py"]


def test_ignore_files_above_a_repository_do_not_apply_inside_it(tmp_path: Path) -> None:
    # An outer repository ignores `inner/` and `*_gen.py`; `inner` is a repository of its own.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("inner/\n*_gen.py\n")
    subprocess.run(["git", "init", "-q", str(tmp_path / "inner")], check=True)
    touch(tmp_path, "a.py", "inner/b.py", "inner/sub/c_gen.py")
    assert found([Path(".")], tmp_path) == ["a.py"]
    assert found([Path(".")], tmp_path / "inner") == ["b.py", "sub/c_gen.py"]
    (tmp_path / "inner" / ".gitignore").write_text("")
    (tmp_path / ".gitignore").write_text("*_gen.py\n")
    assert found([Path(".")], tmp_path) == ["a.py", "inner/b.py", "inner/sub/c_gen.py"]
