"""The project index: what the functions of the checked modules do, across modules.

Built in a cheap first pass over every module being checked (before any rule runs), so that
``conn = get_db()`` in one file is known to create a connection defined in another.

A module the run was not given is read from disk when a lookup needs it
(:class:`ModuleFinder`: the package the checked file belongs to, the project root and its
``src/``), so a file's findings do not depend on which other files were passed: a pre-commit
hook that passes one changed file sees the factories of the modules it imports. Modules read
that way answer lookups by name (:meth:`ProjectIndex.get`) only; the project-wide unions
(:meth:`ProjectIndex.union_of`) are made of the modules the run was given.

The summaries themselves are made in :mod:`dbleak.analysis.project` (each rule family's
*summarizer*). This module holds the index and the lookups only, and imports no analysis and no
rule: a warm run, whose every file is answered from the persistent cache, builds the index from
the kept summaries and checks each entry's recorded lookups with it, without loading them
(a module read from disk that the cache does not hold is summarized then: the analyses are
imported for it alone).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from dbleak.settings import DEFAULT_EXCLUDE

if TYPE_CHECKING:
    from dbleak.analysis.module import ModuleFacts
    from dbleak.knowledge.drivers import DriverTable

Read = tuple[str, str]  # a lookup: ("get", qualname), ("union", key), ("mentions", "pkg\\0name"), ("any", "")

# Keys of a module's summary (made by :mod:`dbleak.analysis.call_sites`) that say what it calls.
SUMMARY_CALL_SITES = "lifecycle.call_sites"  # on a module: (callee, bound, args, keywords)
# On a module: (method name, args, keywords) of calls on receivers nobody resolved.
SUMMARY_OPAQUE_SITES = "lifecycle.opaque_sites"
# On a module: (callee, how the call's result is used: "walked" by one loop, or "used", how
# often the call runs: 0 at import, 1 once per call of the function it is in, 2 more often: in
# a loop or a nested function) for the calls of the package's functions (see
# analysis.call_sites.result_walked_by_callers and calls_repeatedly).
SUMMARY_RESULT_USES = "lifecycle.result_uses"
SUMMARY_REFERENCED = "lifecycle.referenced"  # on a module: the package's functions used as values


def called_words(facts: Mapping[str, Any]) -> frozenset[str]:
    """The last names of what a module summary calls, calls opaquely or uses as a value: the
    words by which :func:`dbleak.analysis.call_sites.parameter_sites` may find it."""
    found = {str(site[0]).rsplit(".", 1)[-1] for site in facts.get(SUMMARY_CALL_SITES, ())}
    found.update(str(site[0]) for site in facts.get(SUMMARY_OPAQUE_SITES, ()))
    found.update(str(name).rsplit(".", 1)[-1] for name in facts.get(SUMMARY_REFERENCED, ()))
    return frozenset(found)


def is_package_path(path: str) -> bool:
    """Whether ``path`` is a package's ``__init__`` module."""
    return os.path.basename(path).rsplit(".", 1)[0] == "__init__"



@dataclass(frozen=True)
class FunctionSummary:
    qualname: str
    facts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # ``value_digest(facts)`` when it was kept with them (a warm run reads it from the cache).
    digest: bytes | None = field(default=None, compare=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.facts.get(key, default)


# The stem of a module file that cannot be imported by name (`0011_fill_urls.py`: a
# migration), though it belongs to its package.
_FILE_STEM = re.compile(r"\w+", re.ASCII)
_PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git", "galaxy.yml")
# An Ansible collection's modules import each other as `ansible_collections.NAMESPACE.NAME.…`
# (`…plugins.module_utils.postgres`), a package that exists only once the collection is
# installed; in its source tree, the root holding `galaxy.yml` is that package.
_COLLECTIONS_PACKAGE = "ansible_collections"
_GALAXY_FIELD = re.compile(rb"^(namespace|name)\s*:\s*['\"]?([A-Za-z0-9_]+)['\"]?\s*(?:#.*)?$", re.MULTILINE)


# --- what an analysis read from disk beyond the files of its run ---------------------------
# A file's stamp: its mode, size, modification and change times and inode (None: absent).
Stamp = tuple[int, int, int, int, int]
# While a run records (see :func:`recording_disk_reads`): every file and folder the project
# index read, probed or listed on disk, with its stamp taken before it was read.
_DISK_READS: dict[str, Stamp | None] | None = None


def stamp_of(path: str) -> Stamp | None:
    """The stamp of the file or folder at ``path`` (None when there is none)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def disk_read(path: str) -> None:
    """Note that the analysis reads, probes or lists ``path`` (while recording)."""
    reads = _DISK_READS
    if reads is not None and path not in reads:
        reads[path] = stamp_of(path)


def _package_folders_read(folder: str) -> None:
    """Note the folders :func:`package_parts` probes for ``folder`` (while recording): an
    ``__init__.py`` added or removed changes a folder's stamp."""
    if _DISK_READS is None:
        return
    current = os.path.abspath(folder)
    for _ in range(len(package_parts(current)) + 1):
        disk_read(current)
        current = os.path.dirname(current)


@contextmanager
def recording_disk_reads() -> Iterator[dict[str, Stamp | None]]:
    """Collect in the block every file and folder the project index reads from disk (the
    persistent cache's record of a run is valid while their stamps are the same)."""
    global _DISK_READS
    previous = _DISK_READS
    reads: dict[str, Stamp | None] = {}
    _DISK_READS = reads
    try:
        yield reads
    finally:
        _DISK_READS = previous


# A path two processes saw with different stamps: no file has this stamp.
_CHANGED: Stamp = (-1, -1, -1, -1, -1)
# A file written this recently may change again without a new stamp (timestamps have a coarse
# clock): what was read from it is not kept (git's "racily clean" entries).
RACY_SECONDS = 2.0


def racy(stamp: Stamp | None, since: float) -> bool:
    """Whether ``stamp`` is of a file or folder written within :data:`RACY_SECONDS` of the
    time ``since`` (or after it)."""
    return stamp is not None and stamp[2] >= int((since - RACY_SECONDS) * 1e9)


def merge_disk_reads(into: dict[str, Stamp | None], other: Mapping[str, Stamp | None]) -> None:
    """Add another process's reads to ``into``: a path the two saw with different stamps
    changed during the run, and is given a stamp no file has (the run's record never holds)."""
    for path, stamp in other.items():
        if path not in into:
            into[path] = stamp
        elif into[path] != stamp:
            into[path] = _CHANGED


def recorded_disk_reads() -> dict[str, Stamp | None] | None:
    """What this process recorded so far (None when it is not recording)."""
    return _DISK_READS


@lru_cache(maxsize=4096)
def package_parts(folder: str) -> tuple[str, ...]:
    """The dotted package path of a folder: walk up while folders hold an ``__init__.py``."""
    parts: list[str] = []
    current = os.path.abspath(folder)
    while os.path.isfile(os.path.join(current, "__init__.py")):
        name = os.path.basename(current)
        if not name.isidentifier():
            break
        parts.append(name)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return tuple(reversed(parts))


def module_name_for(path: str) -> str:
    """The dotted module name of a file (``pkg/sub/mod.py`` → ``pkg.sub.mod`` inside packages)."""
    if path in ("-", "<stdin>") or not path.endswith((".py", ".pyi")):
        return ""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    package = package_parts(os.path.dirname(path) or ".")
    if stem == "__init__":
        return ".".join(package)
    if not stem.isidentifier():
        # `0090_backfill.py` (a migration) cannot be imported by name, but it belongs to its
        # package: its relative imports and its package's models resolve from there
        return ".".join((*package, stem)) if package else ""
    return ".".join((*package, stem))


def import_roots(path: str) -> list[str]:
    """Folders from which the modules a file imports are found: the folder holding its
    top-level package (its own folder outside packages), then each folder above it up to its
    project's root (the first holding a ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or
    ``.git``) and that root's ``src/``; without a project root, the folder above only. A folder
    inside the package tree that holds a ``pyproject.toml``, ``setup.py`` or ``setup.cfg`` is a
    project of its own (``backend/`` with an ``__init__.py`` beside its ``pyproject.toml``): it
    comes first."""
    folder = os.path.dirname(os.path.abspath(path))
    root = folder
    nested: list[str] = []
    for _ in package_parts(folder):
        if any(os.path.isfile(os.path.join(root, m)) for m in _PROJECT_MARKERS[:3]):
            nested.append(root)
        root = os.path.dirname(root)
    return [r for r in dict.fromkeys([*nested, *_roots_above(root)]) if os.path.isdir(r)]


@lru_cache(maxsize=4096)
def _roots_above(root: str) -> tuple[str, ...]:
    """``root``, then each folder above it up to its project's root and that root's ``src/``;
    without a project root, ``root`` and the folder above it (see :func:`import_roots`; made
    once per folder in a run: the files of a tree share their chains)."""
    chain = [root]
    current = root
    project = None
    while True:
        if any(os.path.exists(os.path.join(current, marker)) for marker in _PROJECT_MARKERS) \
                or os.path.basename(os.path.dirname(os.path.dirname(current))) == _COLLECTIONS_PACKAGE:
            project = current  # an installed Ansible collection's root is its project's
            break
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
        chain.append(current)
    if project is None:
        return tuple(chain[:2])
    return (*chain, os.path.join(project, "src"))


def forget_folders() -> None:
    """Forget what the folders held (their ``__init__.py`` and project markers): at the start of
    a run, folders may have changed since the last."""
    package_parts.cache_clear()
    _roots_above.cache_clear()


def roots_for(paths: Iterable[str]) -> list[str]:
    """The folders modules are looked for in, for a run of the files at ``paths``."""
    roots: list[str] = []
    # The roots depend on a file's folder only: each folder once (a run gives thousands).
    for folder in dict.fromkeys(os.path.dirname(os.path.abspath(path)) for path in paths):
        roots.extend(import_roots(os.path.join(folder, "__init__.py")))
    return list(dict.fromkeys(roots))


class SummaryStore(Protocol):
    """Keeps the summaries of the modules read from disk between runs (the persistent cache)."""

    def summaries(self, path: str, key: str) -> dict[str, dict[str, Any]] | None:
        """The summaries kept for the file at ``path`` under ``key``, if any."""

    def keep_summaries(self, path: str, key: str, summaries: dict[str, dict[str, Any]]) -> None:
        """Keep ``summaries`` for the file at ``path`` under ``key``."""

    def notes(self, kind: str, folder: str) -> dict[str, tuple[Stamp, Any]]:
        """What :meth:`keep_notes` kept of ``kind`` for the package at ``folder`` (empty if
        nothing)."""

    def keep_notes(self, kind: str, folder: str, notes: dict[str, tuple[Stamp, Any]]) -> None:
        """Keep what the text of each module of the package at ``folder`` says (``kind``:
        whether it declares models, the words it holds), with the stamp of its file."""


def drivers_key(entries: Mapping[str, Any] | None) -> str:
    """The key of a ``[tool.dbleak.drivers]`` table in :func:`module_summary_key`."""
    return repr(dict(entries or {}))


def module_summary_key(module: str, is_package: bool, drivers_key: str, data: bytes) -> str:
    """What a module's summaries are made from: its name, whether it is a package, the driver
    settings (``repr`` of the ``[tool.dbleak.drivers]`` table) and its bytes."""
    import hashlib  # only with a cache: a run without one does not load it

    return "\0".join((module, str(is_package), drivers_key,
                      hashlib.blake2b(data, digest_size=16).hexdigest()))


class ModuleFinder:
    """Reads the summaries of a module from disk when a lookup needs one (once per module)."""

    def __init__(self, roots: Iterable[str], drivers: DriverTable,
                 store: SummaryStore | None = None, drivers_key: str = "") -> None:
        self.roots = list(dict.fromkeys(roots))
        self.drivers = drivers
        # With a store, a module's summaries are kept under a key of its bytes, its name and
        # the driver settings (``drivers_key``): a pre-commit run of one file does not parse
        # the modules it imports again.
        self.store = store
        self.drivers_key = drivers_key
        self._done: set[str] = set()
        self.given: set[str] = set()  # the modules the run was given (see loaded)
        # Modules that are plain files, not packages: no module lives below them, so the
        # lookup of ``pkg.db.Class.method`` reads ``pkg.db`` and asks for nothing deeper.
        self._leaves: set[str] = set()
        self._paths: dict[tuple[str, bool], bool] = {}
        self._listings: dict[str, dict[str, bool]] = {}
        self._collections: dict[str, tuple[str, str] | None] = {}

    @classmethod
    def for_paths(cls, paths: Iterable[str], drivers: DriverTable,
                  store: SummaryStore | None = None, drivers_key: str = "") -> ModuleFinder:
        return cls(roots_for(paths), drivers, store, drivers_key)

    def loaded(self, module: str, path: str = "") -> None:
        """The run was given this module (the file at ``path``): its summaries are in the
        index already."""
        self._done.add(module)
        self.given.add(module)
        if path and os.path.basename(path) != "__init__.py":
            self._leaves.add(module)

    def find(self, module: str) -> str | None:
        parts = module.split(".")
        if not all(part.isidentifier() for part in parts[:-1]) or not parts[-1].isidentifier() \
                and not _FILE_STEM.fullmatch(parts[-1]):
            return None  # (`pkg.migrations.0011_fill`: a module Django imports by its path)
        if parts[0] == _COLLECTIONS_PACKAGE and len(parts) > 3:
            return self._in_collection(parts)
        for root in self.roots:
            # Down the package folders: a missing one ends the search in this root. Most names
            # asked for are no module at all (`conn.execute`): a folder's listing, read once,
            # answers those without a system call.
            folder = root
            for part in parts[:-1]:
                if self._listing(folder).get(part) is not True:
                    break
                folder = os.path.join(folder, part)
            else:
                listing = self._listing(folder)
                name = parts[-1]
                if listing.get(name + ".py") is False:
                    candidate = os.path.join(folder, name + ".py")
                    if self._exists(candidate, dir_=False) and self._named(candidate, module, root):
                        return candidate
                if listing.get(name) is True and name.isidentifier():
                    package = os.path.join(folder, name)
                    if self._listing(package).get("__init__.py") is False:
                        candidate = os.path.join(package, "__init__.py")
                        if (self._exists(candidate, dir_=False)
                                and self._named(candidate, module, root)):
                            return candidate
        return None

    def _in_collection(self, parts: list[str]) -> str | None:
        """``ansible_collections.NS.NAME.plugins.module_utils.x``: the file under the root of
        the collection ``NS.NAME`` (a root whose ``galaxy.yml`` names it, or the folder
        ``ansible_collections/NS/NAME`` of an installed collection)."""
        for root in self.roots:
            if self._collection_of(root) != (parts[1], parts[2]):
                continue
            base = os.path.join(root, *parts[3:])
            for candidate in (base + ".py", os.path.join(base, "__init__.py")):
                if self._exists(candidate, dir_=False):
                    return candidate
        return None

    def _collection_of(self, root: str) -> tuple[str, str] | None:
        if root in self._collections:
            return self._collections[root]
        found: tuple[str, str] | None = None
        above, name = os.path.split(root)
        above, namespace = os.path.split(above)
        if os.path.basename(above) == _COLLECTIONS_PACKAGE:
            found = (namespace, name)
        else:
            fields: dict[bytes, bytes] = {}
            disk_read(os.path.join(root, "galaxy.yml"))
            try:
                with open(os.path.join(root, "galaxy.yml"), "rb") as handle:
                    for match in _GALAXY_FIELD.finditer(handle.read(65536)):
                        fields.setdefault(match.group(1), match.group(2))
            except OSError:
                pass
            if b"namespace" in fields and b"name" in fields:
                found = (fields[b"namespace"].decode(), fields[b"name"].decode())
        self._collections[root] = found
        return found

    def _listing(self, folder: str) -> dict[str, bool]:
        """The names in ``folder``, each with whether it is a folder (empty when unreadable)."""
        found = self._listings.get(folder)
        if found is None:
            found = {}
            disk_read(folder)
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        try:
                            found[entry.name] = entry.is_dir()
                        except OSError:
                            continue
            except OSError:
                pass
            self._listings[folder] = found
        return found

    def _named(self, path: str, module: str, root: str) -> bool:
        """Whether the file at ``path`` is ``module`` when imported from ``root``: its own
        dotted name, or, under a project root nested in a package tree, its name from there."""
        _package_folders_read(os.path.dirname(path))
        name = module_name_for(path)
        if name == module:
            return True
        if name and module.endswith("." + name):
            # A namespace package (PEP 420): the folders above the file's own package hold no
            # `__init__.py` (`keep/api/core/db.py` imported as `keep.api.core.db` from the
            # project root); from ``root`` the file is ``module``.
            return os.path.join(root, *module.split(".")) + os.path.splitext(path)[1] == path \
                or os.path.join(root, *module.split("."), "__init__.py") == path
        return name.endswith("." + module) and any(
            self._exists(os.path.join(root, marker), dir_=False) for marker in _PROJECT_MARKERS[:3])

    def _exists(self, path: str, dir_: bool) -> bool:
        key = (path, dir_)
        found = self._paths.get(key)
        if found is None:
            disk_read(path)
            found = os.path.isdir(path) if dir_ else os.path.isfile(path)
            self._paths[key] = found
        return found

    def load_for(self, qualname: str) -> dict[str, dict[str, Any]]:
        """The summaries of the modules ``qualname`` may live in, not read before."""
        found: dict[str, dict[str, Any]] = {}
        parts = qualname.split(".")
        top = len(parts)
        module = parts[0]
        for cut in range(1, top):
            if module in self._leaves:
                top = cut
                break
            module += "." + parts[cut]
        for cut in range(top, 0, -1):
            module = ".".join(parts[:cut])
            if module in self._done:
                continue
            self._done.add(module)
            path = self.find(module)
            if path is None:
                continue
            if os.path.basename(path) != "__init__.py":
                self._leaves.add(module)
            found.update(self._summaries(path, module))
        return found

    def _summaries(self, path: str, module: str) -> dict[str, dict[str, Any]]:
        is_package = os.path.basename(path) == "__init__.py"
        key = ""
        disk_read(path)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return {}
        if self.store is not None:
            key = module_summary_key(module, is_package, self.drivers_key, data)
            kept = self.store.summaries(path, key)
            if kept is not None:
                return kept
        # Not kept: the module is parsed and summarized (the analyses are imported for it).
        from dbleak.analysis.project import summarize_source

        summaries = summarize_source(data, path, module, is_package, self.drivers)
        if summaries is None:
            return {}
        if self.store is not None:
            self.store.keep_summaries(path, key, summaries)
        return summaries

    def sibling_packages(self, package: str) -> list[str]:
        """The other top-level packages beside ``package`` in its project's root folder (one
        holding a ``pyproject.toml``, ``setup.py``, ``setup.cfg``, ``.git`` or Django's
        ``manage.py``): the apps of a Django project, each a top-level package, whose models
        relate to each other's. Empty for a package outside such a root (installed ones)."""
        path = self.find(package)
        if path is None or os.path.basename(path) != "__init__.py":
            return []
        root = os.path.dirname(os.path.dirname(path))
        disk_read(root)  # its markers: one added or removed changes its stamp
        if not any(os.path.exists(os.path.join(root, marker))
                   for marker in (*_PROJECT_MARKERS, "manage.py")):
            return []
        return [name for name, is_dir in sorted(self._listing(root).items())
                if is_dir and name != package and name.isidentifier()
                and name not in _EXCLUDED_FOLDERS
                and self.find(name) == os.path.join(root, name, "__init__.py")]

    def package_files(self, package: str) -> list[tuple[str, str]]:
        """``(module name, path)`` of every module of a top-level package (or of the one
        top-level module of that name) on disk."""
        path = self.find(package)
        if path is None:
            return []
        if os.path.basename(path) != "__init__.py":
            return [(package, path)]
        found: list[tuple[str, str]] = []
        _package_folders_read(os.path.dirname(os.path.dirname(path)))
        for folder, subfolders, files in os.walk(os.path.dirname(path)):
            disk_read(folder)
            for name in subfolders:
                disk_read(os.path.join(folder, name))  # whether it holds an `__init__.py`
            subfolders[:] = sorted(d for d in subfolders if d.isidentifier()
                                   and d not in _EXCLUDED_FOLDERS
                                   and os.path.isfile(os.path.join(folder, d, "__init__.py")))
            for name in sorted(files):
                if name.endswith(".py"):
                    module = module_name_for(os.path.join(folder, name))
                    if module and module.split(".", 1)[0] == package:
                        found.append((module, os.path.join(folder, name)))
        return found

    def __getstate__(self) -> dict[str, Any]:
        return {"roots": self.roots, "drivers": self.drivers, "_done": set(), "given": set(), "_paths": {},
                "_listings": {}, "_collections": {}, "store": self.store,
                "drivers_key": self.drivers_key}


# A module's opaque call sites by method name, and its call sites by the called function's
# last name (``SUMMARY_OPAQUE_SITES``, ``SUMMARY_CALL_SITES``), each in the summary's order.
SiteGroups = tuple[dict[str, list[Any]], dict[str, list[Any]]]


def group_sites(summary: Mapping[str, Any]) -> SiteGroups:
    """The call sites of a module's summary grouped by the name they call: a parameter's call
    sites are looked up by its function's name (a scan of every site of every module that
    mentions it was 2 % of a run)."""
    opaque: dict[str, list[Any]] = {}
    for site in summary.get(SUMMARY_OPAQUE_SITES) or ():
        opaque.setdefault(str(site[0]), []).append(site)
    calls: dict[str, list[Any]] = {}
    for site in summary.get(SUMMARY_CALL_SITES) or ():
        calls.setdefault(str(site[0]).rsplit(".", 1)[-1], []).append(site)
    return opaque, calls


@dataclass
class ProjectIndex:
    """Function summaries by qualified name (``package.module.function``, ``module.Class.method``)."""

    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    # Reads the modules the run was not given, when a lookup needs them.
    finder: ModuleFinder | None = field(default=None, repr=False, compare=False)
    # Unions of one summary key over every entry, made when first asked for (see union_of).
    _unions: dict[str, frozenset[Any]] = field(default_factory=dict, repr=False, compare=False)
    # The same by top-level package of the entries (see union_of).
    _top_unions: dict[str, dict[str, frozenset[Any]]] = field(
        default_factory=dict, repr=False, compare=False)
    # Summaries read from disk by the finder (not part of the unions).
    _disk: dict[str, FunctionSummary] = field(default_factory=dict, repr=False, compare=False)
    # Names the finder was asked for once already.
    _missing: set[str] = field(default_factory=set, repr=False, compare=False)
    # Per top-level package: {identifier: the package's modules that mention it}.
    _mentions: dict[str, _Mentions] = field(default_factory=dict, repr=False, compare=False)
    # Answers of `package_mentions`, and each module's called words (by the summary they are of).
    _mentioning_cache: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = field(
        default_factory=dict, repr=False, compare=False)
    _called: dict[str, tuple[FunctionSummary, frozenset[str]]] = field(
        default_factory=dict, repr=False, compare=False)
    # While recording (see :meth:`recording`): every lookup made, as (kind, name).
    _reads: set[Read] | None = field(default=None, repr=False, compare=False)
    # union_of with a package: the answers, and the model modules of each package read.
    _package_unions: dict[tuple[str, str], frozenset[Any]] = field(
        default_factory=dict, repr=False, compare=False)
    _model_modules_of: dict[str, frozenset[str]] = field(
        default_factory=dict, repr=False, compare=False)
    # The digest of each lookup's answer (see :meth:`digest_of`), made when first asked for.
    _digests: dict[Read, bytes] = field(default_factory=dict, repr=False, compare=False)
    # Each module's call sites grouped by the name called (see :func:`group_sites`), by the
    # summary they are of.
    _site_groups: dict[str, tuple[Mapping[str, Any], SiteGroups]] = field(
        default_factory=dict, repr=False, compare=False)

    @contextmanager
    def recording(self) -> Iterator[set[Read]]:
        """Collect every lookup made inside the block: what a file's findings depend on, beyond
        its own text (the persistent cache keys a file's findings by their answers)."""
        previous, reads = self._reads, {("any", "")}
        self._reads = reads
        try:
            yield reads
        finally:
            self._reads = previous

    def digest_of(self, read: Read) -> bytes:
        """A digest of the answer the index gives now to a recorded lookup (stable across runs
        and processes)."""
        found = self._digests.get(read)
        if found is None:
            kind, name = read
            value: Any
            if kind == "get":
                summary = self.get(name)
                if summary is not None and summary.digest is not None:
                    self._digests[read] = summary.digest
                    return summary.digest
                value = None if summary is None else summary.facts
            elif kind == "union":
                key, _, package = name.partition("\0")
                value = self.union_of(key, package)
            elif kind == "mentions":  # the modules whose calls may type a parameter
                package, _, word = name.partition("\0")
                value = [module for module, _facts in self._mentioning(package, word)]
            else:  # "any": whether the run's own modules define anything
                value = bool(self.functions)
            found = value_digest(value)
            self._digests[read] = found
        return found

    def add_module(self, facts: ModuleFacts) -> None:
        from dbleak.analysis.project import summarize_module

        self.add_summaries(summarize_module(facts))

    def add_summaries(self, merged: Mapping[str, Mapping[str, Any]],
                      digests: Mapping[str, bytes] | None = None) -> None:
        """Merge one module's summaries (as :func:`summarize_module` makes them), with the
        digest of each (:func:`value_digest`) when the cache kept them."""
        if merged:
            self._unions.clear()
            self._top_unions.clear()
            self._package_unions.clear()
            self._mentions.clear()
            self._mentioning_cache.clear()
            self._digests.clear()
        for qualname, values in merged.items():
            previous = self.functions.get(qualname)
            digest = digests.get(qualname) if digests is not None else None
            if previous is not None:
                values = {**previous.facts, **values}
                digest = None  # merged: the digest is of what only one module says
            self.functions[qualname] = FunctionSummary(qualname, MappingProxyType(values), digest)

    def union_of(self, key: str, package: str = "") -> frozenset[Any]:
        """Every value listed under ``key`` by any entry (e.g. all relation field names).

        With ``package`` (a top-level package), only by the run's modules of that package and
        of the other top-level packages of its project (:meth:`ModuleFinder.sibling_packages`),
        and also by those packages' modules on disk that declare models (see
        :data:`_MODEL_MARKERS`) and that the run was not given: a file checked alone knows its
        project's models as a whole run does, and a run given several projects keeps each
        project's models to itself."""
        if self._reads is not None:
            self._reads.add(("union", f"{key}\0{package}" if package else key))
        by_top = self._key_by_top(key)
        cached = self._unions.get(key)
        if cached is None:
            cached = self._unions[key] = frozenset().union(*by_top.values())
        if not package or self.finder is None:
            return cached
        found = self._package_unions.get((key, package))
        if found is None:
            modules = self._model_modules(package)
            project = {package, *self.finder.sibling_packages(package)}
            found = frozenset().union(*(by_top[top] for top in project if top in by_top))
            found |= frozenset(
                value for module, summary in self._disk.items()
                if _in_modules(module, modules) for value in summary.facts.get(key, ()))
            self._package_unions[(key, package)] = found
        return found

    def _key_by_top(self, key: str) -> dict[str, frozenset[Any]]:
        """The values listed under ``key`` by the run's entries, by top-level package: made
        for ``key`` and every key of :func:`union_keys` in one pass over the entries."""
        found = self._top_unions.get(key)
        if found is None:
            keys = _UNION_KEYS | {key}
            groups: dict[str, dict[str, set[Any]]] = {name: {} for name in keys}
            for qualname, summary in self.functions.items():
                facts = summary.facts
                if facts.keys().isdisjoint(keys):
                    continue
                top = qualname.split(".", 1)[0]
                for name in keys:
                    values = facts.get(name)
                    if values:
                        group = groups[name].get(top)
                        if group is None:
                            group = groups[name][top] = set()
                        group.update(values)
            for name, by_top in groups.items():
                self._top_unions[name] = {top: frozenset(values) for top, values in by_top.items()}
            found = self._top_unions[key]
        return found

    def _model_modules(self, package: str) -> frozenset[str]:
        """The modules of ``package`` and of the other top-level packages of its project (a
        Django project's apps: :meth:`ModuleFinder.sibling_packages`) on disk, not in the run,
        whose text declares models (their summaries are read into the index once)."""
        found = self._model_modules_of.get(package)
        if found is not None:
            return found
        modules: set[str] = set()
        finder = self.finder
        assert finder is not None
        for name in (package, *finder.sibling_packages(package)):
            notes = _TextNotes(finder, name, "markers")
            for module, path in finder.package_files(name):
                if module in self.functions or module in finder.given:
                    notes.skip(path)
                    continue  # the run's own: in the union already (its text is not read:
                    # the index depends on the run's files through their summaries only)
                if notes.of(path, _declares_models):
                    modules.add(module)
                    self.get(module)  # reads the module's summaries into the index
            notes.save()
        found = self._model_modules_of[package] = frozenset(modules)
        return found

    def get(self, qualname: str | None) -> FunctionSummary | None:
        if qualname is None:
            return None
        if self._reads is not None:
            self._reads.add(("get", qualname))
        found = self.functions.get(qualname) or self._disk.get(qualname)
        if found is not None or self.finder is None or qualname in self._missing:
            return found
        self._missing.add(qualname)
        for name, values in self.finder.load_for(qualname).items():
            if name in self.functions:
                continue  # the run's own copy of that module wins
            previous = self._disk.get(name)
            merged = {**previous.facts, **values} if previous is not None else values
            self._disk[name] = FunctionSummary(name, MappingProxyType(merged))
        return self._disk.get(qualname)


    def package_mentions(self, package: str, name: str) -> list[tuple[str, Mapping[str, Any]]]:
        """``(module name, module summary)`` of the modules of a top-level package whose text
        mentions ``name``: every module of the package on disk (the run's own summaries when
        the run has them), so the answer does not depend on which files the run was given."""
        if self._reads is not None:
            # what the answer depends on: which modules call `name` (their summaries are
            # recorded as they are read below)
            self._reads.add(("mentions", f"{package}\0{name}"))
        return self._mentioning(package, name)

    def _mentioning(self, package: str, name: str) -> list[tuple[str, Mapping[str, Any]]]:
        key = (package, name)
        cached = self._mentioning_cache.get(key)
        if cached is None:
            cached = self._mentioning_cache[key] = self._find_mentioning(package, name)
        return cached

    def _find_mentioning(self, package: str, name: str) -> list[tuple[str, Mapping[str, Any]]]:
        mentions = self._mentions.get(package)
        if mentions is None:
            mentions = self._mentions[package] = _Mentions(self._package_words(package))
        found: list[tuple[str, Mapping[str, Any]]] = []
        for module in mentions.modules_with(name):
            summary = self.get(module)
            # only the modules whose summaries call it: the same answer whether a module's
            # words came from its text or from its summary
            if summary is not None and name in self._called_words_of(module, summary):
                found.append((module, summary.facts))
        return found

    def site_groups(self, module: str, summary: Mapping[str, Any]) -> SiteGroups:
        """:func:`group_sites` of a module's summary, made once per summary."""
        found = self._site_groups.get(module)
        if found is None or found[0] is not summary:
            found = self._site_groups[module] = (summary, group_sites(summary))
        return found[1]

    def _called_words_of(self, module: str, summary: FunctionSummary) -> frozenset[str]:
        found = self._called.get(module)
        if found is None or found[0] is not summary:
            found = self._called[module] = (summary, called_words(summary.facts))
        return found[1]

    def _package_words(self, package: str) -> list[tuple[str, frozenset[str]]]:
        words: list[tuple[str, frozenset[str]]] = []
        files = self.finder.package_files(package) if self.finder is not None else []
        seen: set[str] = set()
        done = self.finder._done if self.finder is not None else set()
        notes = _TextNotes(self.finder, package, "words") if self.finder is not None else None
        for module, path in files:
            seen.add(module)
            summary = self.functions.get(module) or self._disk.get(module)
            if summary is not None or module in done:
                # summarized already (by the run, or read for a lookup): what it calls says
                # as much as its text, without reading the file again
                found = self._called_words_of(module, summary) if summary is not None else frozenset()
                if notes is not None:
                    notes.skip(path)
            else:
                assert notes is not None
                read = notes.of(path, _words)
                if read is None:
                    continue
                found = read
            words.append((module, found))
        if notes is not None:
            notes.save()
        for module, summary in self.functions.items():
            # Modules of the run that are not on disk where the finder looks (texts checked
            # through the API): what their summaries call.
            if module in seen or module.split(".", 1)[0] != package:
                continue
            words.append((module, called_words(summary.facts)))  # empty but for module summaries
        return words


class _Mentions:
    """The modules of a package that mention each word. A file passed alone asks about a few
    names: each is answered by testing every module's words (a Django-sized package's
    index of ~270,000 entries cost a third of such a run); past a few questions, the words
    are indexed once. Either way the modules come in the package's order."""

    INDEX_AFTER = 16

    def __init__(self, words: list[tuple[str, frozenset[str]]]) -> None:
        self._words = words
        self._index: dict[str, list[str]] | None = None
        self._asked = 0

    def modules_with(self, name: str) -> list[str]:
        if self._index is None:
            self._asked += 1
            if self._asked <= self.INDEX_AFTER:
                return [module for module, words in self._words if name in words]
            index: dict[str, list[str]] = {}
            for module, words in self._words:
                for word in words:
                    index.setdefault(word, []).append(module)
            self._index = index
        return self._index.get(name, [])


_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
# Folders a run leaves out by default (vendored code, builds): a package's modules read from
# disk leave them out too, as a whole run would (kolibri vendors Django in `kolibri/dist/`).
# A project's own `exclude` settings are not known here.
_EXCLUDED_FOLDERS = frozenset(DEFAULT_EXCLUDE)
# What a module that declares models (Django, SQLAlchemy) or their managers says in its text.
_MODEL_MARKERS = re.compile(
    rb"\b(?:models\.Model|ForeignKey|OneToOneField|ManyToManyField|Column\(|mapped_column|"
    rb"relationship\(|Manager\b|QuerySet\b|unique_together|UniqueConstraint|__tablename__|"
    rb"unique=True|primary_key=True)")


# The summary keys whose unions the analyses ask for (see ProjectIndex.union_of): made together.
_UNION_KEYS: set[str] = set()


def union_keys(*keys: str) -> None:
    """Declare summary keys an analysis asks ``union_of`` for: the index makes the unions of
    all of them in one pass over its entries."""
    _UNION_KEYS.update(keys)


_T = TypeVar("_T")


def _declares_models(text: bytes) -> bool:
    return _MODEL_MARKERS.search(text) is not None


def _words(text: bytes) -> frozenset[str]:
    return frozenset(word.decode("ascii") for word in _WORD.findall(text))


class _TextNotes:
    """What the text of each module of one top-level package says, kept in the finder's store
    (the persistent cache) by each file's stamp: a file passed alone does not read every module
    of a large package again, only those changed since."""

    def __init__(self, finder: ModuleFinder, package: str, kind: str) -> None:
        found_at = finder.find(package)
        self.folder = os.path.dirname(found_at) if found_at is not None else ""
        self.store = finder.store if self.folder else None
        self.kind = kind
        self.known = self.store.notes(kind, self.folder) if self.store is not None else {}
        self.fresh: dict[str, tuple[Stamp, Any]] = {}
        self.started = time.time()

    def of(self, path: str, compute: Callable[[bytes], _T]) -> _T | None:
        """``compute`` of the file's bytes (None when it cannot be read)."""
        disk_read(path)
        stamp = stamp_of(path) if self.store is not None else None
        kept = self.known.get(path)
        if stamp is not None and kept is not None and kept[0] == stamp:
            value: _T = kept[1]
        else:
            try:
                with open(path, "rb") as handle:
                    value = compute(handle.read())
            except OSError:
                return None
        if stamp is not None and not racy(stamp, self.started):
            self.fresh[path] = (stamp, value)
        return value

    def skip(self, path: str) -> None:
        """A file of the package not read this time (the run summarized it): what was kept of
        it stays, to be checked against its stamp when it is read again."""
        kept = self.known.get(path)
        if kept is not None:
            self.fresh[path] = kept

    def save(self) -> None:
        if self.store is not None and self.fresh != self.known:
            self.store.keep_notes(self.kind, self.folder, self.fresh)


def _in_modules(qualname: str, modules: frozenset[str]) -> bool:
    """Whether a summary's qualified name belongs to one of ``modules``."""
    module = qualname
    while module:
        if module in modules:
            return True
        module = module.rpartition(".")[0]
    return False


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _canonical(value: Any) -> str:
    """The text of ``value`` with every mapping and set in a fixed order (set order varies by
    process)."""
    kind = type(value)
    if kind in _SCALARS:
        return repr(value)
    if kind is tuple or kind is list:
        for item in value:
            if type(item) not in _SCALARS:
                break
        else:
            return repr(value)  # scalars only (most origins): their repr is already fixed
        return ("(" if kind is tuple else "[") + ",".join(map(_canonical, value)) + ")"
    if kind is frozenset or kind is set:
        return "{" + ",".join(sorted(map(_canonical, value))) + "}"
    if isinstance(value, Mapping):
        return "{" + ",".join(sorted(f"{_canonical(key)}:{_canonical(item)}"
                                     for key, item in value.items())) + "}"
    if isinstance(value, (tuple, list)):  # a subclass (a named tuple)
        return kind.__qualname__ + _canonical(tuple(value))
    if isinstance(value, (set, frozenset)):
        return kind.__qualname__ + _canonical(frozenset(value))
    return repr(value)


def value_digest(value: Any) -> bytes:
    """A digest of plain summary data, the same in every process."""
    if value is None:
        return _NONE_DIGEST  # most lookups of a warm run: a name no module defines
    import hashlib  # only with a cache: a run without one does not load it

    return hashlib.blake2b(_canonical(value).encode("utf-8", "surrogatepass"),
                           digest_size=16).digest()


# value_digest(None), made once: the blake2b digest of "None".
_NONE_DIGEST = bytes.fromhex("9781e576fbd9086ba1e97c87f1bd1575")


EMPTY_INDEX = ProjectIndex()
