"""Finding the files to check: `*.py`/`*.pyi`, `.gitignore` at every level, excludes."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from dbleak.settings import Settings

SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class Discovered:
    path: Path
    display: str  # as given / relative to the working directory
    explicit: bool  # named on the command line


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _excluded(path: Path, settings: Settings) -> bool:
    """Whether ``path`` matches `exclude`/`extend-exclude` (names, or globs from the config root)."""
    patterns = (*settings.exclude, *settings.extend_exclude)
    if not patterns:
        return False
    name = path.name
    try:
        relative = path.resolve().relative_to(Path(settings.root).resolve()).as_posix()
    except ValueError:
        relative = path.as_posix()
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if "/" not in pattern and fnmatch.fnmatch(name, pattern):
            return True
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative, pattern + "/*"):
            return True
    return False


class _GitIgnores:
    """`.gitignore` files at every level, plus `.git/info/exclude` of the repository."""

    def __init__(self) -> None:
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec_for(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder in self._specs:
            return self._specs[folder]
        lines: list[str] = []
        for name in (".gitignore", ".git/info/exclude"):
            try:
                lines.extend((folder / name).read_text(encoding="utf-8", errors="replace").splitlines())
            except OSError:
                pass
        spec = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        self._specs[folder] = spec
        return spec

    def ignored(self, path: Path, is_dir: bool) -> bool:
        """Walk up from the file to the repository root, asking each folder's ignore files."""
        path = path.resolve()
        folder = path.parent
        while True:
            spec = self._spec_for(folder)
            if spec is not None:
                relative = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
                if spec.match_file(relative):
                    return True
            if (folder / ".git").exists() or folder.parent == folder:
                return False
            folder = folder.parent


def discover(paths: list[Path], settings_for: Callable[[Path], Settings], force_exclude: bool = False,
             on_error: Callable[[Path, OSError], None] | None = None) -> Iterator[Discovered]:
    """Yield the files to check, each once, in a stable order."""
    ignores = _GitIgnores()
    seen: set[Path] = set()
    for root in paths:
        if not root.exists():
            if on_error:
                on_error(root, FileNotFoundError(2, "No such file or directory", str(root)))
            continue
        if root.is_file() or not root.is_dir():
            settings = settings_for(root)
            if force_exclude and (_excluded(root, settings) or (
                    settings.respect_gitignore and ignores.ignored(root, False))):
                continue
            resolved = root.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield Discovered(root, display_path(root), explicit=True)
            continue
        settings = settings_for(root)
        if force_exclude and _excluded(root, settings) and root != Path("."):
            continue
        yield from _walk(root, settings_for, ignores, seen, on_error)


def _walk(root: Path, settings_for: Callable[[Path], Settings], ignores: _GitIgnores,
          seen: set[Path], on_error: Callable[[Path, OSError], None] | None) -> Iterator[Discovered]:
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            if on_error:
                on_error(folder, error)
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            settings = settings_for(path)
            if _excluded(path, settings):
                continue
            if settings.respect_gitignore and ignores.ignored(path, is_dir):
                continue
            if is_dir:
                subfolders.append(path)
            elif entry.name.endswith(SUFFIXES):
                resolved = path.resolve()
                if resolved in seen:
                    continue
                seen.add(resolved)
                yield Discovered(path, display_path(path), explicit=False)
        stack.extend(reversed(subfolders))
