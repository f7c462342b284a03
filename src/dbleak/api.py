"""The programmatic interface the CLI and the language server share. Pure: no printing.

``check_source`` → one text; ``check_paths`` → files and folders; ``fix_source`` → fixed text.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbleak.discovery import Discovered, discover
from dbleak.index import (
    EMPTY_INDEX,
    ModuleFinder,
    ProjectIndex,
    forget_folders,
    is_package_path,
    module_name_for,
)
from dbleak.knowledge.drivers import table_for
from dbleak.models import FileResult
from dbleak.runner import (
    MOSTLY_CACHED,
    Prepared,
    check_in_processes,
    cyclic_gc_paused,
    needs_project,
    parse_again,
    prepare,
    probe_cache,
    worker_count,
)
from dbleak.settings import Settings
from dbleak.source import DecodeError, decode_source, encode_source

if TYPE_CHECKING:
    from dbleak.cache import Cache
    from dbleak.engine import Parsed
    from dbleak.fixing import FixOutcome
    from dbleak.incremental import IncrementalChecker
    from dbleak.index import Stamp
    from dbleak.run_record import RunRecord

# The rules and their analyses (the engine) and the fixes are imported by the functions that
# use them: a run whose every file is answered from the cache loads none of them.


def check_bytes(data: bytes, path: str, settings: Settings, project: ProjectIndex | None = None,
                parsed: Parsed | None = None) -> tuple[FileResult, str | None]:
    """:func:`dbleak.engine.check_bytes` (the engine imported when a file is first analysed)."""
    from dbleak.engine import check_bytes as engine_check_bytes

    return engine_check_bytes(data, path, settings, project, parsed)


def check_source(text: str, path: str = "<stdin>", settings: Settings | None = None,
                 build_fixes: bool = False, project: ProjectIndex | None = None,
                 previous: IncrementalChecker | None = None) -> FileResult:
    """Check one in-memory source text (``project``: the index of its project, if built).

    ``previous``: the checker of earlier versions of the same document; it re-analyses only the
    functions and classes an edit can affect, with the same result as a full check.
    """
    from dbleak.engine import check_text
    from dbleak.fixing import with_fixes

    settings = settings or Settings()
    if project is None:
        project = disk_index(path, settings)
    with cyclic_gc_paused():
        if previous is not None:
            result = previous.check(text, path, settings, project)
        else:
            result = check_text(text, path, settings, project=project)
    return with_fixes(text, result) if build_fixes else result


def fix_source(text: str, path: str = "<stdin>", settings: Settings | None = None,
               unsafe: bool = False, project: ProjectIndex | None = None) -> FixOutcome:
    """Apply the allowed fixes to ``text`` until stable; returns the new text and what is left."""
    from dbleak.engine import check_text
    from dbleak.fixing import fix_text

    settings = settings or Settings()
    if project is None:
        project = disk_index(path, settings)
    return fix_text(text, lambda t: check_text(t, path, settings, project=project), unsafe=unsafe)


def disk_index(path: str, settings: Settings) -> ProjectIndex | None:
    """An empty project index that reads from disk the modules a file at ``path`` imports
    (a text checked alone, as an editor or ``--stdin-filename`` passes it); None for stdin."""
    if path in ("-", "<stdin>") or not path.endswith((".py", ".pyi")):
        return None
    forget_folders()
    return ProjectIndex(finder=ModuleFinder.for_paths([path], table_for(settings.drivers)))


@dataclass
class RunOptions:
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False  # compute the fixed text without writing it
    build_fixes: bool = False  # render fix edits for every finding (JSON and friends)
    force_exclude: bool = False
    cache: Cache | None = None  # the persistent cache (None: every file is analysed)
    # The process ends without the interpreter's teardown once the output is written (the
    # command line's `run`): the project index and the trees a run made are then kept until
    # then rather than freed object by object (~0.15 s for 4,000 files' index).
    keep_until_exit: bool = False


# What runs whose process ends with os._exit keep alive until then (see keep_until_exit).
KEPT_UNTIL_EXIT: list[object] = []


@dataclass
class PathResult:
    result: FileResult
    original: str | None = None  # decoded text, when fixes were computed
    fixed: str | None = None
    write_error: str | None = None
    notes: list[str] = field(default_factory=list)
    source: str | None = None  # the decoded text, kept when there is something to show
    fixed_codes: tuple[str, ...] = ()
    fix_seconds: float = 0.0  # time spent fixing this file (``-v`` reports the sum)
    # With a cache: the file's cache key, and with a project index a digest of its summaries
    # (for the run's record).
    cache_key: str | None = None
    summaries_digest: bytes | None = None


class RunObserver:
    """Hooks a front end uses to show a run's progress (the CLI's progress bar and ``-v``).

    Every method does nothing here; ``check_paths`` calls them from the calling process.
    """

    def files_found(self, count: int) -> None:
        """Discovery is done: ``count`` files will be checked."""

    def file_done(self, result: PathResult) -> None:
        """One file is checked (and fixed)."""

    def phase_done(self, phase: str, seconds: float, detail: str = "") -> None:
        """A phase ended: "discovery", "index", "checks" or "fixes" (fix time summed over
        files); ``detail`` says more, for people."""


def _checked(data: bytes, display: str, settings: Settings, project: ProjectIndex | None,
             parsed: Parsed | None, portable: dict[str, object] | None
             ) -> tuple[FileResult, str | None]:
    """``check_bytes`` with the tree the first pass kept (``parsed``), or a parse of a file it
    did not keep given what outlived its first parse (``portable``)."""
    if parsed is None and portable is not None:
        parsed = parse_again(data, display, settings, portable)
    try:
        return check_bytes(data, display, settings, project, parsed)
    finally:
        if parsed is not None and parsed.facts is not None:
            # This module is ours alone: once checked, its facts' caches go, and with them the
            # last reference cycle holding its tree.
            parsed.facts.release()


def check_file(path: Path, display: str, settings: Settings, options: RunOptions,
               prepared: Prepared | None = None) -> PathResult:
    """Check (and with ``options.fix`` rewrite) one file. Errors become findings, never raises."""
    project = prepared.project if prepared is not None else None
    kept = prepared.parsed.pop(path, None) if prepared is not None else None
    portable = None
    if kept is not None:
        data, parsed = kept
    else:
        parsed = None
        try:
            data = path.read_bytes()
        except OSError as error:
            from dbleak.engine import unreadable

            return PathResult(unreadable(display, error))
        portable = prepared.portable.pop(path, None) if prepared is not None else None
    summarized = None  # the digest of its summaries (see PathResult)
    key = None
    if options.cache is None:
        result, text = _checked(data, display, settings, project, parsed, portable)
    else:
        hit = _from_cache(path, data, display, settings, options, prepared)
        if isinstance(hit, PathResult):
            if parsed is not None and parsed.facts is not None:
                parsed.facts.release()
            return hit
        key = hit
        # Every lookup in the index is recorded: the entry is valid while their answers are.
        index = project if project is not None else ProjectIndex()
        with index.recording() as reads:
            result, text = _checked(data, display, settings, index, parsed, portable)
        if not result.internal_errors:
            from dbleak.cache import Entry, answers_digest
            from dbleak.index import value_digest

            read = tuple(sorted(reads))
            summaries = prepared.summaries.get(path) if prepared is not None else None
            digests = ({qualname: value_digest(values) for qualname, values in summaries.items()}
                       if summaries else None)
            options.cache.store(path, Entry(
                hit, summaries, result, read, answers_digest(read, index),
                options.cache.module_key(data, display, settings) if summaries is not None else "",
                digests))
            if summaries is not None:
                from dbleak.run_record import summaries_digest

                summarized = summaries_digest(summaries, digests)
    if text is None:
        return PathResult(result, cache_key=key, summaries_digest=summarized)
    from dbleak.fixing import with_fixes

    if not (options.fix or options.diff):
        return PathResult(with_fixes(text, result) if options.build_fixes else result,
                          source=text if result.findings else None, cache_key=key,
                          summaries_digest=summarized)
    fix_started = time.perf_counter()
    outcome = fix_source(text, display, settings, unsafe=options.unsafe_fixes, project=project)
    fix_seconds = time.perf_counter() - fix_started
    notes = [f"{display}:{note}" for note in outcome.refused]
    if outcome.unsettled:
        notes.append(f"{display}: fixes did not settle after repeated rounds; "
                     "some were not applied (please report this)")
    final = outcome.result
    if outcome.applied:
        final = replace(final, fixed_source=outcome.text, fixes_applied=outcome.applied)
    if options.build_fixes:
        final = with_fixes(outcome.text, final)
    path_result = PathResult(final, original=text, fixed=outcome.text if outcome.applied else None,
                             notes=notes, source=outcome.text, fixed_codes=outcome.fixed_codes,
                             fix_seconds=fix_seconds)
    if options.fix and not options.diff and outcome.applied:
        from dbleak.fixing import ReadOnlyError, write_source_file

        decoded = decode_source(data)
        try:
            out = encode_source(outcome.text, decoded)
        except UnicodeEncodeError as error:
            path_result.write_error = f"{display}: the fixed text cannot be encoded as {decoded.encoding}: {error}"
            path_result.fixed = None
            path_result.result = replace(result, fixed_source=None, fixes_applied=0)
            return path_result
        try:
            write_source_file(path, out)
        except ReadOnlyError:
            path_result.write_error = f"{display}: not fixed: read-only"
            path_result.fixed = None
            path_result.fixed_codes = ()
            path_result.result = replace(result, fixed_source=None, fixes_applied=0)
        except OSError as error:
            path_result.write_error = f"{display}: cannot write the fixed file: {error.strerror or error}"
            path_result.fixed = None
            path_result.fixed_codes = ()
            path_result.result = replace(result, fixed_source=None, fixes_applied=0)
    return path_result


def _from_cache(path: Path, data: bytes, display: str, settings: Settings, options: RunOptions,
                prepared: Prepared | None) -> PathResult | str:
    """The result kept in the cache for a file, when it is still valid; else the file's key."""
    assert options.cache is not None
    key = prepared.keys.get(path) if prepared is not None else None
    entry = prepared.cached.pop(path, None) if prepared is not None else None
    if key is None:
        key = options.cache.key(data, display, settings)
    if entry is None:
        entry = options.cache.load(path)
    if entry is None or entry.key != key or entry.result is None:
        return key
    project = prepared.project if prepared is not None else None
    if not entry.current(project if project is not None else EMPTY_INDEX):
        return key
    result = entry.result
    summarized = None
    if prepared is not None and entry.summaries is not None:
        from dbleak.run_record import summaries_digest

        summarized = summaries_digest(entry.summaries, entry.digests)
    # A fix is rendered from the file's analysis: a file with a fix to apply is checked again.
    fixing = options.fix or options.diff
    if fixing and any(finding.plan is not None for finding in result.findings):
        return key
    try:
        text = decode_source(data).text
    except DecodeError:
        return PathResult(result, cache_key=key, summaries_digest=summarized)
    if fixing:
        return PathResult(result, original=text, source=text)
    source = text if result.findings else None
    if options.build_fixes:  # the fixes (libcst) are imported only to render a plan
        from dbleak.fixing import with_fixes

        result = with_fixes(text, result)
    return PathResult(result, source=source, cache_key=key, summaries_digest=summarized)


def _worker_died(item: Discovered) -> PathResult:
    message = f"{item.display}: internal error: the worker process checking it died"
    return PathResult(FileResult(item.display, internal_errors=(message,)))


def check_paths(paths: list[Path], settings_for: Callable[[Path], Settings],
                options: RunOptions | None = None,
                on_error: Callable[[Path, OSError], None] | None = None,
                observer: RunObserver | None = None) -> Iterator[PathResult]:
    """Check every Python file under ``paths``; yields one result per file, in discovery order.

    ``observer`` hears of the number of files, each file done and each phase's time.
    """
    options = options or RunOptions()
    observer = observer or RunObserver()
    started = time.perf_counter()
    errors: list[PathResult] = []
    forget_folders()  # folders may have gained or lost an `__init__.py` since

    def collect_error(path: Path, error: OSError) -> None:
        if on_error is not None:
            on_error(path, error)
        else:
            from dbleak.engine import unreadable

            errors.append(PathResult(unreadable(str(path), error)))

    items = list(discover(paths, settings_for, options.force_exclude, collect_error))
    observer.phase_done("discovery", time.perf_counter() - started)
    observer.files_found(len(items))
    recorder = _RunRecorder.start(items, settings_for, options)
    if recorder is not None and recorder.replay is not None:
        yield from recorder.replayed(items, observer)
        yield from errors
        return
    fix_seconds = 0.0
    with cyclic_gc_paused(), (recorder.recording() if recorder is not None else nullcontext()):
        with_project = needs_project(items, settings_for)
        workers = worker_count(len(items))
        if recorder is not None and recorder.partial is not None:
            workers = 1  # a few files to check again
        probed = None
        if workers > 1 and options.cache is not None and "DBLEAK_JOBS" not in os.environ:
            # A warm run: the few files to check again cost less than starting workers.
            probed = probe_cache(items, settings_for, options.cache)
            if probed is not None:
                workers = 1
            if not with_project:
                probed = None  # prepare does not run: let the bytes go
        started = time.perf_counter()
        checks_started = started

        def indexed(detail: str = "") -> None:
            nonlocal checks_started
            checks_started = time.perf_counter()
            observer.phase_done("index", checks_started - started, detail)

        if not with_project:
            observer.phase_done("index", 0.0, "not needed by the selected rules")

        results: Iterator[PathResult]
        if workers > 1:
            results = check_in_processes(items, settings_for, options, with_project, check_file,
                                         workers, _worker_died, indexed if with_project else None)
        else:
            # One process keeps trees up to the memory bound too (flat memory at any worker
            # count): the files past it are parsed again (benchmarks/README.md).
            prepared = (prepare(items, settings_for, cache=options.cache, probed=probed,
                                known=recorder.known_keys(items) if recorder is not None else None)
                        if with_project else None)
            kept = recorder.kept(items, prepared) if recorder is not None else frozenset()
            if with_project:
                indexed(f"{_files(len(items) - len(kept))} changed since the cache's record of "
                        "the same run" if kept else "")
            if options.keep_until_exit and prepared is not None:
                KEPT_UNTIL_EXIT.append(prepared)
            results = (recorder.from_record(recorder.partial, index, item)
                       if recorder is not None and recorder.partial is not None and index in kept
                       else check_file(item.path, item.display, settings_for(item.path), options,
                                       prepared)
                       for index, item in enumerate(items))
        for result in results:
            fix_seconds += result.fix_seconds
            observer.file_done(result)
            if recorder is not None:
                recorder.add(result)
            yield result
        if recorder is not None:
            recorder.finish(items)
    checks = time.perf_counter() - checks_started
    fixing = options.fix or options.diff
    if workers > 1:
        observer.phase_done("checks", checks, f"{_files(len(items))}, {workers} processes"
                            + (", fixes included" if fixing else ""))
    else:
        observer.phase_done("checks", max(checks - fix_seconds, 0.0), _files(len(items)))
    if fixing:
        observer.phase_done("fixes", fix_seconds, "summed over the files" if workers > 1 else "")
    yield from errors


@dataclass
class _RunRecorder:
    """Answers a run from the cache's record of a run of the same files, or makes that record
    (see :mod:`dbleak.run_record`)."""

    cache: Cache
    name: str
    key: str
    stamps: tuple[Stamp | None, ...]  # each file's, taken before the run read any
    started: float
    # The record of the same run: every file unchanged (``replay``), or a few (``partial``,
    # ``changed``: their positions).
    replay: RunRecord | None = None
    partial: RunRecord | None = None
    changed: frozenset[int] = frozenset()
    results: list[FileResult] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    summaries: list[bytes | None] = field(default_factory=list)
    reads: dict[str, Stamp | None] | None = None
    whole: bool = True  # no result is an internal error

    @classmethod
    def start(cls, items: list[Discovered], settings_for: Callable[[Path], Settings],
              options: RunOptions) -> _RunRecorder | None:
        if options.cache is None or options.fix or options.diff:
            return None
        from dbleak import run_record  # (hashlib: a run without a cache does not load it)

        if len(items) < run_record.RECORD_MIN_FILES:
            return None
        started = time.time()
        recorder = cls(options.cache, run_record.record_name(items, options.build_fixes),
                       run_record.record_key(items, settings_for, options.cache.settings_key,
                                             options.build_fixes),
                       run_record.stamps(items), started)
        record = options.cache.load_record(recorder.name)
        changed = (run_record.changed_files(record, recorder.key, recorder.stamps)
                   if record is not None else None)
        if record is not None and changed == []:
            recorder.replay = record
        elif record is not None and changed is not None and len(changed) <= MOSTLY_CACHED:
            recorder.partial, recorder.changed = record, frozenset(changed)
        return recorder

    @contextmanager
    def recording(self) -> Iterator[None]:
        from dbleak.index import merge_disk_reads, recording_disk_reads

        with recording_disk_reads() as reads:
            if self.partial is not None:  # the results kept from it read these
                merge_disk_reads(reads, self.partial.reads)
            self.reads = reads
            yield

    def known_keys(self, items: list[Discovered]) -> dict[Path, str] | None:
        """With a partial record: the cache keys of the files unchanged since (not read again)."""
        record = self.partial
        if record is None:
            return None
        return {item.path: key for index, (item, key) in enumerate(zip(items, record.keys))
                if key is not None and index not in self.changed}

    def kept(self, items: list[Discovered], prepared: Prepared | None) -> frozenset[int]:
        """With a partial record: the positions of the files whose results it gives (every
        unchanged file, when each changed file's summaries are as the record has them);
        else none."""
        record = self.partial
        if record is None:
            return frozenset()
        if prepared is not None:
            from dbleak.run_record import summaries_digest

            for index in self.changed:
                path = items[index].path
                if path not in prepared.summaries:
                    return frozenset()  # unreadable now
                entry = prepared.cached.get(path)
                now = summaries_digest(prepared.summaries.get(path) or {},
                                       entry.digests if entry is not None else None)
                if record.summaries[index] != now:
                    return frozenset()
        return frozenset(range(len(record.results))) - self.changed

    def add(self, result: PathResult) -> None:
        self.results.append(result.result)
        self.keys.append(result.cache_key)
        self.summaries.append(result.summaries_digest)
        if result.result.internal_errors or result.write_error is not None:
            self.whole = False

    def finish(self, items: list[Discovered]) -> None:
        from dbleak import run_record

        reads = self.reads or {}
        if (not self.whole or len(self.results) != len(items) or None in self.stamps
                or run_record.racy_reads(self.started, (*self.stamps, *reads.values()))):
            return
        self.cache.store_record(self.name, run_record.RunRecord(
            self.key, self.stamps, dict(reads), tuple(self.results), tuple(self.keys),
            tuple(self.summaries)))

    def from_record(self, record: RunRecord, index: int, item: Discovered) -> PathResult:
        result = record.results[index]
        source = None
        if result.findings:
            try:
                source = decode_source(item.path.read_bytes()).text
            except (OSError, DecodeError):
                source = None
        return PathResult(result, source=source, cache_key=record.keys[index],
                          summaries_digest=record.summaries[index])

    def replayed(self, items: list[Discovered], observer: RunObserver) -> Iterator[PathResult]:
        assert self.replay is not None
        observer.phase_done("index", 0.0, "answered by the cache's record of the same run")
        started = time.perf_counter()
        for index, item in enumerate(items):
            path_result = self.from_record(self.replay, index, item)
            observer.file_done(path_result)
            yield path_result
        observer.phase_done("checks", time.perf_counter() - started, _files(len(items)))


def _files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"


def build_project_index(paths: list[Path], settings_for: Callable[[Path], Settings]) -> ProjectIndex:
    """The project index of every module under ``paths`` (for callers checking single texts)."""
    items = list(discover(paths, settings_for))
    return prepare(items, settings_for, budget=0).project  # no tree is needed afterwards


ModuleSummaries = dict[str, dict[str, Any]]


def project_summaries(paths: list[Path], settings_for: Callable[[Path], Settings]
                      ) -> tuple[dict[str, ModuleSummaries], ModuleFinder | None]:
    """Each module's summaries under ``paths``, by absolute path, and the finder of the modules
    outside them: what :func:`index_of` builds an index from, and what an editor updates one
    module at a time (see :func:`summarize_text`)."""
    items = list(discover(paths, settings_for))
    found: list[ModuleSummaries] = []
    prepared = prepare(items, settings_for, budget=0, summaries=found)
    by_path = {os.path.abspath(item.path): summaries for item, summaries in zip(items, found)}
    return by_path, prepared.project.finder


def summarize_text(text: str, path: str, settings: Settings) -> ModuleSummaries:
    """The summaries of one module's text (empty when it does not parse)."""
    from dbleak.analysis.project import summarize_tree
    from dbleak.analysis.salvage import summary_tree

    tree = summary_tree(text, path)
    if tree is None:
        return {}
    return summarize_tree(tree, module_name_for(path), is_package_path(path),
                          table_for(settings.drivers))


def index_of(modules: dict[str, ModuleSummaries], finder: ModuleFinder | None) -> ProjectIndex:
    """A new project index of ``modules``' summaries (merged in path order)."""
    project = ProjectIndex(finder=finder)
    for path in sorted(modules):
        project.add_summaries(modules[path])
    return project


def __getattr__(name: str) -> Any:
    """``IncrementalChecker``, for the language server (imported when first asked for: a
    check from the command line does not use it)."""
    if name == "IncrementalChecker":
        from dbleak.incremental import IncrementalChecker

        return IncrementalChecker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DecodeError",
    "IncrementalChecker",
    "PathResult",
    "RunObserver",
    "RunOptions",
    "build_project_index",
    "check_file",
    "check_paths",
    "check_source",
    "disk_index",
    "fix_source",
    "index_of",
    "project_summaries",
    "summarize_text",
]
