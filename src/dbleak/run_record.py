"""The cache's record of a whole run: a run given the same files as a run before, none of them
changed, answers from one record without opening any file's entry.

A warm run answered from the files' entries reads each entry and asks the project index again
every lookup each file's findings were made with (`Entry.current`): ~0.8 ms a file, 3 s for
4,000 files. When nothing at all changed, those answers cannot have changed either: the index
is made of the run's files and of what it read from disk beyond them. So a run of at least
:data:`RECORD_MIN_FILES` files (a pre-commit run of a few changed files is answered by their
entries) leaves a record of

- its *key*: dbleak's version and code, Python's version, the working folder, whether fixes
  were rendered, the folders the project index reads modules from, and each file's path, the
  path it is shown as, its module name and the settings that apply to it;
- each file's *stamp* (mode, size, modification and change times, inode), taken before the run
  read it;
- the stamp of every file and folder the project index read, probed or listed beyond the run's
  files (:func:`dbleak.index.recording_disk_reads`: modules read from disk, folder listings, an
  ``__init__.py`` or a project marker looked for);
- each file's result, its cache key, and a digest of its project-index summaries.

A later run given the same files uses the record when its key is the same and every stamp
is (a file or folder added, removed or written changes its own stamp or its folder's). When a
few files changed (at most ``runner.MOSTLY_CACHED``) but nothing read beyond the run's files
did, the run builds its project index (from the entries, without reading the unchanged files
again: their keys are in the record; the changed files parsed); if every
changed file's summaries have the digest the record holds, the index answers every lookup as
it did, and only the changed files are checked: the others' results come from the record (an
edit inside a function body that changes no summary, a comment, a new finding's line). A
changed summary falls back to the entries, which find the files that read it. A file
written within :data:`RACY_SECONDS` of the run that read it may change again without a new
stamp (timestamps have a coarse clock): such a run leaves no record, as git treats a "racily
clean" entry. Runs that fix (``--fix``, ``--diff``) neither read nor leave a record.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbleak import __version__
from dbleak.discovery import Discovered
from dbleak.index import RACY_SECONDS, Stamp, module_name_for, racy, roots_for, stamp_of
from dbleak.models import FileResult
from dbleak.settings import Settings

# Fewer files are answered as fast from their entries, and a record for every set of files a
# pre-commit hook passes would fill the cache.
RECORD_MIN_FILES = 24


@dataclass(frozen=True)
class RunRecord:
    """What the cache keeps of one run (see the module's documentation)."""

    key: str
    stamps: tuple[Stamp | None, ...]  # each file's, in the run's order
    reads: dict[str, Stamp | None]  # each file or folder read beyond the run's files
    results: tuple[FileResult, ...]  # each file's, in the run's order
    keys: tuple[str | None, ...]  # each file's cache key (its entry's)
    # The digest of each file's project-index summaries (:func:`summaries_digest`; None
    # when the run built no index).
    summaries: tuple[bytes | None, ...]

    def well_formed(self) -> bool:
        return (isinstance(self.key, str) and isinstance(self.stamps, tuple)
                and isinstance(self.reads, dict) and isinstance(self.results, tuple)
                and isinstance(self.summaries, tuple) and isinstance(self.keys, tuple)
                and len(self.stamps) == len(self.results) == len(self.keys) == len(self.summaries)
                and all(isinstance(r, FileResult) for r in self.results))


def record_name(items: list[Discovered], build_fixes: bool) -> str:
    """The name of the record of a run of ``items``: one per set of files (and per kind of
    output: a run that renders fixes keeps results with their edits)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(b"fixes\0" if build_fixes else b"plain\0")
    for item in items:
        digest.update(os.fsencode(str(item.path)))
        digest.update(b"\0")
    return "run-" + digest.hexdigest()


def record_key(items: list[Discovered], settings_for: Callable[[Path], Settings],
               settings_key: Callable[[Settings], str], build_fixes: bool) -> str:
    """Everything a run's results are made from but the stamps (see the module's docs)."""
    from dbleak.cache import code_stamp

    digest = hashlib.blake2b(digest_size=32)
    for part in (__version__, code_stamp(), sys.version, os.getcwd(), str(build_fixes)):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    for root in roots_for(item.display for item in items):
        digest.update(os.fsencode(root))
        digest.update(b"\1")
    for item in items:
        for part in (str(item.path), item.display, str(item.explicit),
                     module_name_for(item.display), settings_key(settings_for(item.path))):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
    return digest.hexdigest()


def stamps(items: Iterable[Discovered]) -> tuple[Stamp | None, ...]:
    return tuple(stamp_of(str(item.path)) for item in items)


def changed_files(record: RunRecord, key: str, current: tuple[Stamp | None, ...]
                  ) -> list[int] | None:
    """The positions of the files whose stamps differ from ``record``'s (``current``: the
    stamps of a run whose key is ``key``); None when the record is of another run, or something
    read from disk beyond the run's files changed."""
    if record.key != key or len(record.stamps) != len(current):
        return None
    if not all(stamp_of(path) == stamp for path, stamp in record.reads.items()):
        return None
    return [index for index, (old, new) in enumerate(zip(record.stamps, current)) if old != new]


def summaries_digest(summaries: Mapping[str, Mapping[str, Any]],
                     digests: Mapping[str, bytes] | None = None) -> bytes:
    """One digest of a module's summaries (``digests``: the digest of each, when known)."""
    from dbleak.index import value_digest

    digest = hashlib.blake2b(digest_size=16)
    for qualname in sorted(summaries):
        digest.update(qualname.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
        known = digests.get(qualname) if digests is not None else None
        digest.update(known if known is not None else value_digest(summaries[qualname]))
    return digest.digest()


def racy_reads(started: float, file_stamps: Iterable[Stamp | None]) -> bool:
    """Whether a file or folder was written within :data:`RACY_SECONDS` of ``started`` (or
    after it): its next change may keep the same stamp."""
    return any(racy(stamp, started) for stamp in file_stamps)


__all__ = ["RACY_SECONDS", "RECORD_MIN_FILES", "RunRecord", "changed_files", "racy_reads",
           "record_key", "record_name", "stamps", "summaries_digest"]
