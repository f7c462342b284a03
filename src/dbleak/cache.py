"""The persistent cache: each file's project summaries and findings, kept between runs (as ruff's).

One entry per checked file, in ``<cache dir>/<dbleak version>/``, named by a digest of the
file's absolute path. An entry holds

- its *key*: a digest of the file's bytes, the settings that apply to it, the path it is shown
  as (and the module name that path gives), dbleak's and Python's versions;
- the file's project-index summaries (so a warm run builds the index without parsing it);
- its findings, and every lookup in the project index the analysis made (recorded by
  :meth:`dbleak.index.ProjectIndex.recording`) with a digest of each answer.

The summaries are reused when the key matches; the findings only when, besides, every recorded
lookup gives the same answer in this run's index: a changed helper in another module
invalidates the files that read it, and only those.

Entries are written to a temporary file then moved into place (``os.replace``), so a reader
sees a whole entry or none; two runs at once may both write an entry, and the last one wins,
whole. An entry is a header (magic, payload digest) and a pickle read by an unpickler that
builds only dbleak's own result classes: an entry that is truncated, corrupt, foreign or from
another version is ignored (and rewritten), never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbleak import __version__
from dbleak.index import ProjectIndex, Read, Stamp, is_package_path, module_name_for
from dbleak.models import FileResult
from dbleak.settings import Settings

if TYPE_CHECKING:
    from dbleak.run_record import RunRecord

FOLDER_NAME = ".dbleak_cache"
ENVIRONMENT = "DBLEAK_CACHE_DIR"
_MAGIC = b"dbleak-cache-1\n"
_DIGEST_SIZE = 32
# The mark backup tools know a cache folder by (https://bford.info/cachedir/).
_CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                 "# This file is a cache directory tag created by dbleak.\n")
_PROJECT_MARKERS = ("pyproject.toml", "dbleak.toml", ".git")
# The only classes an entry may hold besides plain data (checked when it is read).
_TRUSTED_MODULES = ("dbleak.cache", "dbleak.models", "dbleak.fixes.plan", "dbleak.fixes.plan_lifecycle",
                    "dbleak.run_record")


@dataclass(frozen=True)
class Entry:
    """What the cache keeps of one file."""

    key: str
    summaries: dict[str, dict[str, Any]] | None = None  # None: not summarized
    result: FileResult | None = None  # None: not checked
    reads: tuple[Read, ...] = ()  # each lookup in the project index the analysis made
    answers: bytes = b""  # the digest of their answers (see :func:`answers_digest`)
    # The key its summaries have as a module read from disk (see :meth:`Cache.summaries`).
    module_key: str = ""
    # The digest of each summary (``index.value_digest``): a warm run checks the other entries'
    # lookups against them without digesting the summaries again.
    digests: dict[str, bytes] | None = None

    def current(self, project: ProjectIndex) -> bool:
        """Whether every lookup the findings were made with answers the same in ``project``."""
        return answers_digest(self.reads, project) == self.answers


@functools.lru_cache(maxsize=1)
def code_stamp() -> str:
    """A stamp of dbleak's own code: the path, size and modification time of each of its
    modules. A release changes ``__version__``; a working copy (an editable install, a
    developer's branch, the benchmarks run between commits) changes its files without it, and
    its entries must not outlive the code that made them."""
    root = Path(__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(root.rglob("*.py")):
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def answers_digest(reads: tuple[Read, ...], project: ProjectIndex) -> bytes:
    """One digest of the answers ``project`` gives to ``reads``."""
    digest = hashlib.blake2b(digest_size=16)
    for read in reads:
        digest.update(project.digest_of(read))
    return digest.digest()


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _TRUSTED_MODULES:
            found = getattr(sys.modules.get(module) or __import__(module, fromlist=[name]),
                            name, None)
            if isinstance(found, type) and found.__module__ == module and found is not _Unpickler:
                return found  # a class defined there (not one it imports, such as Path)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache entry")


def default_folder(start: Path | None = None) -> Path:
    """``$DBLEAK_CACHE_DIR``, else ``.dbleak_cache`` in the project root: the nearest folder at or
    above ``start`` (the working folder) holding a ``pyproject.toml``, a ``dbleak.toml`` or a
    ``.git``, else ``start`` itself."""
    configured = os.environ.get(ENVIRONMENT)
    if configured:
        return Path(configured)
    start = (start or Path.cwd()).absolute()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in _PROJECT_MARKERS):
            return folder / FOLDER_NAME
    return start / FOLDER_NAME


@dataclass
class Cache:
    """One cache folder; :meth:`load` and :meth:`store` never raise."""

    folder: Path
    _settings_keys: dict[int, tuple[Settings, str]] = field(default_factory=dict, repr=False)
    _ready: bool = field(default=False, repr=False)

    @property
    def entries(self) -> Path:
        return self.folder / __version__

    def settings_key(self, settings: Settings) -> str:
        """``settings.cache_key()``, made once per settings object."""
        known = self._settings_keys.get(id(settings))
        if known is None or known[0] is not settings:
            known = (settings, settings.cache_key())
            self._settings_keys[id(settings)] = known
        return known[1]

    def key(self, data: bytes, display: str, settings: Settings) -> str:
        """The digest of everything a file's analysis starts from, but the project index."""
        digest = hashlib.blake2b(digest_size=_DIGEST_SIZE)
        for part in (__version__, code_stamp(), sys.version, self.settings_key(settings), display,
                     module_name_for(display),
                     str(is_package_path(display))):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        digest.update(hashlib.blake2b(data, digest_size=_DIGEST_SIZE).digest())
        return digest.hexdigest()

    def _entry_path(self, path: Path | str, kind: str = "") -> Path:
        name = hashlib.blake2b(os.fsencode(kind + os.path.abspath(path)),
                               digest_size=16).hexdigest()
        return self.entries / name

    def load(self, path: Path) -> Entry | None:
        """The entry kept for the file at ``path``; None when there is none or it is unusable."""
        return self._entry(self._entry_path(path))

    def store(self, path: Path, entry: Entry) -> None:
        """Keep ``entry`` for the file at ``path`` (atomically; a failure to write is ignored)."""
        self._write(self._entry_path(path), entry)

    def load_record(self, name: str) -> RunRecord | None:
        """The record of a run kept under ``name`` (see :mod:`dbleak.run_record`), if usable."""
        from dbleak.run_record import RunRecord

        record = self._read(self.entries / name)
        return record if isinstance(record, RunRecord) and _checked(record.well_formed) else None

    def store_record(self, name: str, record: RunRecord) -> None:
        self._write(self.entries / name, record)

    # A module the run was not given but read from disk (see ModuleFinder) has an entry of its
    # own, apart from the one of the file as a checked file (whose key has its settings).

    def summaries(self, path: str, key: str) -> dict[str, dict[str, Any]] | None:
        """The summaries kept for the module read from disk at ``path``, under ``key``: its own
        entry, or those a run that checked the file kept with its findings (a pre-commit run of
        one changed file after a whole-project run summarizes none of what it imports)."""
        wanted = self._module_key(key)
        entry = self._entry(self._entry_path(path, "module:"))
        if entry is not None and entry.key == wanted:
            return entry.summaries
        checked = self._entry(self._entry_path(path))
        if checked is not None and checked.summaries is not None and checked.module_key == wanted:
            return checked.summaries
        return None

    def module_key(self, data: bytes, display: str, settings: Settings) -> str:
        """The key a checked file's summaries have as a module read from disk."""
        from dbleak.index import drivers_key, module_summary_key

        return self._module_key(module_summary_key(
            module_name_for(display), is_package_path(display), drivers_key(settings.drivers), data))

    def keep_summaries(self, path: str, key: str, summaries: dict[str, dict[str, Any]]) -> None:
        self._write(self._entry_path(path, "module:"), Entry(self._module_key(key), summaries))

    def notes(self, kind: str, folder: str) -> dict[str, tuple[Stamp, Any]]:
        """What the text of each module of the package at ``folder`` says (``kind``:
        "markers", whether it declares models; "words", the identifiers in it), by file stamp
        (see ``index._TextNotes``); empty when none are kept or they are unusable."""
        kept = self._read(self._entry_path(folder, f"{kind}:"))
        if not isinstance(kept, dict) or not all(
                isinstance(path, str) and isinstance(value, tuple) and len(value) == 2
                and isinstance(value[0], tuple) and _note(kind, value[1])
                for path, value in kept.items()):
            return {}
        return kept

    def keep_notes(self, kind: str, folder: str, notes: dict[str, tuple[Stamp, Any]]) -> None:
        self._write(self._entry_path(folder, f"{kind}:"), notes)

    @staticmethod
    def _module_key(key: str) -> str:
        return f"{__version__}\0{code_stamp()}\0{sys.version}\0{key}"

    def _entry(self, location: Path) -> Entry | None:
        entry = self._read(location)
        return entry if isinstance(entry, Entry) and _checked(lambda: _well_formed(entry)) else None

    def _read(self, location: Path) -> object:
        try:
            with open(location, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        header = len(_MAGIC) + _DIGEST_SIZE
        if len(data) <= header or not data.startswith(_MAGIC):
            return None
        payload = data[header:]
        if hashlib.blake2b(payload, digest_size=_DIGEST_SIZE).digest() != data[len(_MAGIC):header]:
            return None
        try:
            entry = _Unpickler(io.BytesIO(payload)).load()
        except Exception:  # noqa: BLE001 - whatever is wrong with an entry, it is not used
            return None
        return entry

    def _write(self, location: Path, entry: object) -> None:
        try:
            payload = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return
        data = _MAGIC + hashlib.blake2b(payload, digest_size=_DIGEST_SIZE).digest() + payload
        try:
            self._prepare_folder()
            descriptor, temporary = tempfile.mkstemp(dir=self.entries, prefix=".tmp-")
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(data)
                os.replace(temporary, location)
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
        except OSError:
            return

    def _prepare_folder(self) -> None:
        """Make the folder, with its own ``.gitignore`` (``*``) and a ``CACHEDIR.TAG``: in a
        folder dbleak makes, or one named ``.dbleak_cache`` (never in a folder of the user's
        given as ``--cache-dir``, where a ``*`` would hide it from git)."""
        if self._ready:
            return
        ours = not self.folder.exists() or self.folder.name == FOLDER_NAME
        self.entries.mkdir(parents=True, exist_ok=True)
        for name, content in ((".gitignore", "# Automatically created by dbleak.\n*\n"),
                              ("CACHEDIR.TAG", _CACHEDIR_TAG)):
            target = self.folder / name
            if ours and not target.exists():
                descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    handle.write(content)
                os.replace(temporary, target)
        self._ready = True


def _note(kind: str, value: object) -> bool:
    if kind == "markers":
        return isinstance(value, bool)
    return isinstance(value, frozenset)  # of words (whatever it holds only names modules)


def _checked(test: Callable[[], bool]) -> bool:
    """``test()``, False when it raises: an object pickled by other code (a working copy's
    earlier version of a class, without a field added since) lacks attributes."""
    try:
        return test()
    except Exception:  # noqa: BLE001 - whatever is wrong with an entry, it is not used
        return False


def _well_formed(entry: Any) -> bool:
    return (isinstance(entry, Entry) and isinstance(entry.key, str)
            and (entry.summaries is None or isinstance(entry.summaries, dict))
            and (entry.result is None or isinstance(entry.result, FileResult))
            and isinstance(entry.reads, tuple) and isinstance(entry.answers, bytes)
            and isinstance(entry.module_key, str)
            and (entry.digests is None or (isinstance(entry.digests, dict) and all(
                isinstance(q, str) and isinstance(d, bytes) for q, d in entry.digests.items()))))


__all__ = ["Cache", "Entry", "answers_digest", "default_folder"]
