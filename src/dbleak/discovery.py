"""Finding the files to check: `*.py`/`*.pyi`, `.gitignore` at every level, excludes."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dbleak.settings import Settings

if TYPE_CHECKING:
    import pathspec

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


class _Excluder:
    """`exclude` + `extend-exclude` of one Settings, compiled: names anywhere, or globs from the root."""

    def __init__(self, settings: Settings) -> None:
        self.root = os.path.abspath(settings.root or ".")
        names: list[str] = []
        paths: list[str] = []
        for pattern in (*settings.exclude, *settings.extend_exclude):
            pattern = pattern.rstrip("/")
            if "/" in pattern:
                paths.append(fnmatch.translate(pattern))
                paths.append(fnmatch.translate(pattern + "/*"))
            else:
                names.append(fnmatch.translate(pattern))
                paths.append(fnmatch.translate(pattern))
        self._names = re.compile("|".join(names)) if names else None
        self._paths = re.compile("|".join(paths)) if paths else None

    def excluded(self, absolute: str, name: str) -> bool:
        if self._names is not None and self._names.match(name):
            return True
        if self._paths is None:
            return False
        if absolute.startswith(self.root + os.sep):
            relative = absolute[len(self.root) + 1:]
        else:
            relative = absolute
        if os.sep != "/":
            relative = relative.replace(os.sep, "/")
        return self._paths.match(relative) is not None


_EXCLUDERS: dict[int, tuple[Settings, _Excluder]] = {}


def _excluder(settings: Settings) -> _Excluder:
    cached = _EXCLUDERS.get(id(settings))
    if cached is None or cached[0] is not settings:
        cached = (settings, _Excluder(settings))
        _EXCLUDERS[id(settings)] = cached
    return cached[1]


def _excluded(path: Path, settings: Settings) -> bool:
    """Whether an explicit ``path`` or any folder above it (up to the config root) is excluded."""
    excluder = _excluder(settings)
    current = os.path.abspath(path)
    while True:
        if excluder.excluded(current, os.path.basename(current)):
            return True
        parent = os.path.dirname(current)
        if parent == current or not parent.startswith(excluder.root):
            return False
        current = parent


_Spec = tuple[str, "pathspec.GitIgnoreSpec"]  # the folder a .gitignore sits in, and its patterns


def _read_spec(folder: str, with_info_exclude: bool) -> pathspec.GitIgnoreSpec | None:
    lines: list[str] = []
    names = [".gitignore", os.path.join(".git", "info", "exclude")] if with_info_exclude else [".gitignore"]
    for name in names:
        try:
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as handle:
                lines.extend(handle.read().splitlines())
        except OSError:
            pass
    if not lines:
        return None
    import pathspec  # only where an ignore file has patterns (it costs a tenth of start-up)

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ancestor_specs(folder: str) -> list[_Spec]:
    """The ignore files that apply inside ``folder``: its own and its ancestors' up to the repository root."""
    chain: list[str] = []
    current = folder
    while True:
        chain.append(current)
        if os.path.exists(os.path.join(current, ".git")):
            break
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    specs: list[_Spec] = []
    for base in reversed(chain):
        spec = _read_spec(base, with_info_exclude=os.path.exists(os.path.join(base, ".git")))
        if spec is not None:
            specs.append((base, spec))
    return specs


def _ignored(absolute: str, is_dir: bool, specs: list[_Spec]) -> bool:
    for base, spec in specs:
        relative = absolute[len(base) + 1:]
        if os.sep != "/":
            relative = relative.replace(os.sep, "/")
        if spec.match_file(relative + "/" if is_dir else relative):
            return True
    return False


def is_force_excluded(path: Path, settings: Settings) -> bool:
    """Whether a file named explicitly (or as ``--stdin-filename``) is excluded under
    ``--force-exclude``: by `exclude`/`extend-exclude`, or by a `.gitignore` when respected.
    The file need not exist."""
    if _excluded(path, settings):
        return True
    absolute = os.path.abspath(path)
    return settings.respect_gitignore and _ignored(
        absolute, False, _ancestor_specs(os.path.dirname(absolute)))


def discover(paths: list[Path], settings_for: Callable[[Path], Settings], force_exclude: bool = False,
             on_error: Callable[[Path, OSError], None] | None = None) -> Iterator[Discovered]:
    """Yield the files to check, each once, in a stable order."""
    seen: set[str] = set()  # real paths of the files yielded
    visited: set[str] = set()  # real paths of the folders walked: a symlink loop ends here
    for root in paths:
        if not root.exists():
            if on_error:
                on_error(root, FileNotFoundError(2, "No such file or directory", str(root)))
            continue
        absolute = os.path.abspath(root)
        if not root.is_dir():
            if force_exclude and is_force_excluded(root, settings_for(root)):
                continue
            real = os.path.realpath(absolute)
            if real not in seen:
                seen.add(real)
                yield Discovered(root, display_path(root), explicit=True)
            continue
        settings = settings_for(root)
        if force_exclude and root != Path(".") and _excluded(root, settings):
            continue
        # A folder holding `.git` is a repository of its own: the ignore files above it do not
        # apply inside it (as in git, and in ruff).
        parent_specs = [] if os.path.exists(os.path.join(absolute, ".git")) or os.path.dirname(absolute) == absolute \
            else _ancestor_specs(os.path.dirname(absolute))
        yield from _walk(absolute, root, settings_for, parent_specs, seen, visited, on_error)


def _walk(absolute_root: str, given_root: Path, settings_for: Callable[[Path], Settings],
          parent_specs: list[_Spec], seen: set[str], visited: set[str],
          on_error: Callable[[Path, OSError], None] | None) -> Iterator[Discovered]:
    """Depth-first, sorted by name; the ignore files of each folder apply below it.

    A folder reached twice (through a symlink, or a loop of them) is walked once, and a file
    reached under two names is checked once."""
    cwd = os.getcwd()
    given = str(given_root)
    # (absolute folder, the path as the user would see it, the ignore specs of the folders above
    # it, its real path): a folder's own ignore file is read once its entries are listed, and a
    # folder reached by no symlink is its parent's real path and its name (`realpath` per folder
    # was a fifth of a warm run's discovery)
    stack: list[tuple[str, str, list[_Spec], str]] = [
        (absolute_root, given, parent_specs, os.path.realpath(absolute_root))]
    while stack:
        folder, shown, specs, real_folder = stack.pop()
        if real_folder in visited:
            continue
        visited.add(real_folder)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            if on_error:
                on_error(Path(shown), error)
            continue
        specs = _with_own_spec(folder, specs, {entry.name for entry in entries})
        subfolders: list[tuple[str, str, list[_Spec], str]] = []
        folder_settings = settings_for(Path(folder) / "__dbleak_probe__.py")
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if not is_dir and not name.endswith(SUFFIXES):
                continue
            absolute = os.path.join(folder, name)
            settings = settings_for(Path(absolute)) if is_dir else folder_settings
            if _excluder(settings).excluded(absolute, name):
                continue
            if settings.respect_gitignore and specs and _ignored(absolute, is_dir, specs):
                continue
            display = os.path.relpath(absolute, cwd) if not os.path.isabs(given) else absolute
            real = (os.path.realpath(absolute) if entry.is_symlink()
                    else os.path.join(real_folder, name))
            if is_dir:
                subfolders.append((absolute, display, specs, real))
                continue
            if real in seen:
                continue
            seen.add(real)
            yield Discovered(Path(absolute) if os.path.isabs(given) else Path(display), display,
                             explicit=False)
        stack.extend(reversed(subfolders))


def _with_own_spec(folder: str, specs: list[_Spec], names: set[str]) -> list[_Spec]:
    """The ignore specs that apply inside ``folder`` (``names``: its entries)."""
    repository = ".git" in names
    if repository:
        specs = []  # a nested repository: the outer one's ignore files stop at its root
    if not repository and ".gitignore" not in names:
        return specs
    spec = _read_spec(folder, with_info_exclude=repository)
    return [*specs, (folder, spec)] if spec is not None else specs
