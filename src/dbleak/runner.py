"""Running a whole tree: the project-index pass, then checking each file with its tree kept.

When a selected rule reads the project index, the first pass parses each file, summarizes its
functions into the index and keeps the tree (and its facts) for the checking pass while the
process's memory is under a bound; past it a file is parsed again when checked (its summaries
are not made again). A tree is freed by reference counting as soon as its file is checked or,
when not kept, summarized: memory stays flat whatever the size of the tree checked.
"""

from __future__ import annotations

import ast
import gc
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbleak.discovery import Discovered
from dbleak.index import (
    ModuleFinder,
    ProjectIndex,
    drivers_key,
    is_package_path,
    merge_disk_reads,
    module_name_for,
    recorded_disk_reads,
)
from dbleak.knowledge.drivers import table_for
from dbleak.registry import active_codes
from dbleak.settings import Settings
from dbleak.source import DecodeError, decode_source

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from dbleak.cache import Cache, Entry
    from dbleak.engine import Parsed

# multiprocessing and pickle are imported where workers start: a run of one process (a file,
# a warm cache) does not pay for them. The rules and their analyses (the engine) are imported
# where a file is parsed: a run whose every file the cache answers does not load them.

# Source characters whose trees are kept between the passes (~37x that in memory), per process.
KEEP_BUDGET = 40_000_000
# Resident memory past which a process (the run's own, or a worker) keeps no more trees:
# later files are parsed again when checked. Trees cost ~29 bytes a character (18.5 M
# characters of /tmp/benchsrc: ~535 MB kept whole). Until the fifteenth session a recursive
# closure and sqlglot's kept errors tied each module's tree to a reference cycle, which the
# paused collector never freed: one process peaked at 640 MB keeping no tree at all. Freed,
# a process keeping none peaks at ~115 MB; at this bound, one process peaks at ~385 MB for
# ~17 % more CPU than keeping every tree (benchmarks/README.md), and two workers keep their
# shares whole (~370 MB).
KEEP_MEMORY = 340 * 2**20
# The project index's memory per byte of source summarized into it (~240 MB for the 60 MB of
# a 4,112-file tree, benchmarks/README.md): a process keeps a tree only while its memory and
# the index still to come stay under KEEP_MEMORY, so that the index arriving later (the
# summaries of the files not read yet, or of the other workers' shares) does not push it past.
INDEX_PER_SOURCE_BYTE = 4


def resident_memory() -> int | None:
    """This process's resident memory in bytes (None where it cannot be read cheaply)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a run.

    A run keeps many syntax trees alive (the first pass's, for the second); with the collector
    on, every collection walks all of them again, which made parsing three times slower.
    The trees hold no reference cycles, and the caches analyses keep on a module's facts and
    on a check's context, which do, are released when the module is done with
    (``ModuleFacts.release``, ``CheckContext.release``): trees are freed by reference counting.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def disk_finder(items: list[Discovered], settings_for: Callable[[Path], Settings],
                cache: Cache | None = None) -> ModuleFinder:
    """Reads, when a lookup needs them, the modules the run was not given: from the packages
    and projects of the files it was given (their summaries kept in ``cache``, if given)."""
    entries = settings_for(items[0].path).drivers if items else None
    drivers = table_for(entries)
    finder = ModuleFinder.for_paths((item.display for item in items), drivers, cache,
                                    drivers_key(entries))
    for item in items:
        finder.loaded(module_name_for(item.display), item.display)  # summarized by the run
    return finder


@dataclass
class Prepared:
    project: ProjectIndex = field(default_factory=ProjectIndex)
    parsed: dict[Path, tuple[bytes, Parsed]] = field(default_factory=dict)
    # With a cache: each file's cache key and its summaries, and the entries whose key matched.
    keys: dict[Path, str] = field(default_factory=dict)
    summaries: dict[Path, dict[str, dict[str, Any]]] = field(default_factory=dict)
    cached: dict[Path, Entry] = field(default_factory=dict)
    # The files parsed but not kept: what their first parse's analyses made that outlives the
    # tree (``ModuleFacts.portable``), given to the facts of the parse that checks them.
    portable: dict[Path, dict[str, object]] = field(default_factory=dict)


# A warm run checks at most this many files again: worker processes would cost more than they
# save (each reads its share of the cache, and the index crosses the pipes twice).
MOSTLY_CACHED = 96
Probed = dict[Path, tuple[bytes, str, "Entry | None"]]  # each file's bytes, cache key and entry


def probe_cache(items: list[Discovered], settings_for: Callable[[Path], Settings], cache: Cache,
                limit: int | None = None) -> Probed | None:
    """Each file's bytes, cache key and entry when fewer than ``limit`` files have no entry
    matching their key (a warm run: check in this process); None as soon as ``limit`` have."""
    limit = MOSTLY_CACHED if limit is None else limit
    probed: Probed = {}
    stale = 0
    for item in items:
        try:
            data = item.path.read_bytes()
        except OSError:
            continue  # reported by the checking pass
        key = cache.key(data, item.display, settings_for(item.path))
        entry = cache.load(item.path)
        if entry is None or entry.key != key:
            entry = None
            stale += 1
            if stale >= limit:
                return None
        probed[item.path] = (data, key, entry)
    return probed


def needs_project(items: Iterable[Discovered], settings_for: Callable[[Path], Settings]) -> bool:
    return any(rule.needs_project for item in items
               for rule in active_codes(item.display, settings_for(item.path)))


def prepare(items: list[Discovered], settings_for: Callable[[Path], Settings],
            budget: int = KEEP_BUDGET, memory: int | None = KEEP_MEMORY,
            summaries: list[dict[str, dict[str, Any]]] | None = None,
            cache: Cache | None = None, probed: Probed | None = None,
            known: dict[Path, str] | None = None, pending: int | None = None) -> Prepared:
    """The first pass: build the project index, keeping parsed trees within the budget
    (``budget`` characters, and while this process's resident memory is under ``memory``
    bytes, where it can be read).

    ``summaries``, when given, also receives each module's summaries, in order. With a
    ``cache``, a file whose entry's key matches is not parsed: its summaries come from there
    (``probed``: what :func:`probe_cache` read of the files already; ``known``: the cache keys
    of files known unchanged since they were made, which are then not read). ``pending``: the
    bytes of source whose summaries the index will hold once built (the run's, with the other
    workers'; by default the items'): their share of the index is reserved in the memory bound.
    """
    prepared = Prepared()
    prepared.project.finder = disk_finder(items, settings_for, cache)
    kept = 0
    reserving = memory is not None and budget > 0
    sizes = [_size(item) for item in items] if reserving else [0] * len(items)
    if pending is None:
        pending = sum(sizes)
    for item, size in zip(items, sizes):
        settings = settings_for(item.path)
        pending -= size
        if cache is not None and known is not None and item.path in known:
            entry = cache.load(item.path)
            if entry is not None and entry.key == known[item.path] and entry.summaries is not None:
                _adopt(prepared, item.path, entry, summaries)
                continue
        probe = probed.pop(item.path, None) if probed is not None else None  # bytes freed
        try:
            data = probe[0] if probe is not None else item.path.read_bytes()
        except OSError:
            if summaries is not None:
                summaries.append({})
            continue  # reported by the checking pass
        if cache is not None:
            key = probe[1] if probe is not None else cache.key(data, item.display, settings)
            entry = probe[2] if probe is not None else cache.load(item.path)
            if entry is not None and entry.key == key and entry.summaries is not None:
                _adopt(prepared, item.path, entry, summaries)
                continue
            prepared.keys[item.path] = key
        from dbleak.analysis.module import collect_facts
        from dbleak.analysis.project import summarize_module
        from dbleak.analysis.salvage import salvage_module
        from dbleak.engine import Parsed, parse_module
        from dbleak.models import Finding

        module_summaries = {}
        tree: ast.Module | Finding | None = None
        salvaged = False
        try:
            text = decode_source(data).text
        except DecodeError:
            pass  # reported by the checking pass
        else:
            tree = parse_module(text, item.display)
            if not isinstance(tree, ast.Module):
                # summaries only: the checking pass reports that it does not parse (DBL001)
                tree, salvaged = salvage_module(text), True
        if isinstance(tree, ast.Module):
            facts = collect_facts(tree, table_for(settings.drivers),
                                  module_name_for(item.display), is_package_path(item.display))
            module_summaries = summarize_module(facts)
            prepared.project.add_summaries(module_summaries)
        if cache is not None:
            prepared.summaries[item.path] = module_summaries
        if summaries is not None:
            summaries.append(module_summaries)
        if not isinstance(tree, ast.Module):
            continue
        if not salvaged and kept + len(text) <= budget and (
                memory is None
                or (resident_memory() or 0) + INDEX_PER_SOURCE_BYTE * max(pending, 0) < memory):
            kept += len(text)
            prepared.parsed[item.path] = (data, Parsed(tree, facts))
        else:
            if not salvaged:
                prepared.portable[item.path] = facts.portable()
            facts.release()  # its tree is freed now, by reference counting
    return prepared


def _size(item: Discovered) -> int:
    try:
        return item.path.stat().st_size
    except OSError:
        return 0


def _adopt(prepared: Prepared, path: Path, entry: Entry,
           summaries: list[dict[str, dict[str, Any]]] | None) -> None:
    """A file whose cache entry's key matches: its summaries come from there."""
    assert entry.summaries is not None
    prepared.keys[path] = entry.key
    prepared.cached[path] = entry
    prepared.summaries[path] = entry.summaries
    prepared.project.add_summaries(entry.summaries, entry.digests)
    if summaries is not None:
        summaries.append(entry.summaries)


def parse_again(data: bytes, display: str, settings: Settings,
                portable: dict[str, object]) -> Parsed | None:
    """A file the first pass parsed but did not keep, parsed again for its check, its facts
    given what outlived the first parse; None when it does not decode or parse (the check
    then reports it)."""
    from dbleak.analysis.module import collect_facts
    from dbleak.engine import Parsed, parse_module

    try:
        text = decode_source(data).text
    except DecodeError:
        return None
    tree = parse_module(text, display)
    if not isinstance(tree, ast.Module):
        return None
    facts = collect_facts(tree, table_for(settings.drivers), module_name_for(display),
                          is_package_path(display))
    facts.adopt(portable)
    return Parsed(tree, facts)


# --- checking files in parallel --------------------------------------------------------------
# Each worker process (forked, so it inherits the settings and the rule registry) takes a fixed
# share of the files (:func:`shares`: about as many characters each). It parses its files once
# and sends their summaries, pickled, to the parent, which passes every worker's bytes on to
# every worker unread; each worker merges all of them in file order (as one process would) and
# checks its files with the trees it kept. The parent yields the results in file order, reading
# them from whichever worker has one ready.

PARALLEL_MIN_FILES = 24


def worker_count(files: int) -> int:
    """How many processes to check ``files`` files with (``DBLEAK_JOBS`` overrides)."""
    configured = os.environ.get("DBLEAK_JOBS")
    if configured and configured.isdigit():
        return max(1, int(configured))
    if files < PARALLEL_MIN_FILES:
        return 1
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def shares(items: list[Discovered], workers: int) -> tuple[list[int], int]:
    """The worker of each item, and the items' bytes: in file order, each file to the worker
    with the fewest characters so far (its size on disk). Taking every N-th file left one
    worker 6 % more to parse and check than the other on /tmp/benchsrc, and the run waits for
    the slower one."""
    loads = [0] * workers
    owner: list[int] = []
    for item in items:
        worker = loads.index(min(loads))
        loads[worker] += _size(item)
        owner.append(worker)
    return owner, sum(loads)


def _merged_index(conn: Connection, owner: list[int], own: int,
                  summaries: list[dict[str, dict[str, Any]]], finder: ModuleFinder | None
                  ) -> ProjectIndex:
    """The project index of every worker's summaries, merged in file order as one process
    merges them: the other workers' pickled lists (one entry per file of their share) read
    from ``conn`` in worker order, worker ``own``'s are ``summaries``, used as they are (the
    kept facts share their objects: unpickled, they would be held twice)."""
    import pickle

    project = ProjectIndex(finder=finder)
    shares: list[Iterator[dict[str, dict[str, Any]]]] = []
    for worker in range(max(owner, default=0) + 1):
        # Each share's bytes are dropped as soon as they are read (8 MB on /tmp/benchsrc).
        shares.append(iter(summaries if worker == own else pickle.loads(conn.recv_bytes())))
    for worker in owner:
        module = next(shares[worker], None)  # None: that worker died, its files unknown
        if module is not None:
            project.add_summaries(module)
    return project


def _partition_worker(share: list[Discovered], settings_for: Callable[[Path], Settings],
                      options: Any, check: Callable[..., Any], with_project: bool,
                      owner: list[int], worker: int, conn: Connection,
                      finder: ModuleFinder | None = None, parent: int | None = None,
                      total: int | None = None) -> None:
    import pickle

    from dbleak.fixing import ParentGone, guard_writes

    # The parent decides when the run stops: Ctrl-C (sent to the whole process group) is
    # ignored here, and SIGTERM (the parent's, when it stops) ends the worker at once. A worker
    # whose parent died (SIGKILL, a crash) stops before its next file and writes nothing more.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = parent if parent is not None else os.getppid()

    def parent_alive() -> bool:
        return os.getppid() == parent

    guard_writes(parent_alive)
    try:
        prepared: Prepared | None = None
        if with_project:
            summaries: list[dict[str, dict[str, Any]]] = []
            # The other shares' summaries arrive once this one is summarized: the memory of
            # the whole run's index is reserved (``total``: the bytes of every share).
            prepared = prepare(share, settings_for, summaries=summaries,
                               cache=getattr(options, "cache", None), pending=total)
            conn.send_bytes(pickle.dumps(summaries, pickle.HIGHEST_PROTOCOL))
            prepared.project = ProjectIndex()  # this share's index: replaced by the merged one
            prepared.project = _merged_index(conn, owner, worker, summaries, finder)
            del summaries
            if getattr(options, "keep_until_exit", False):
                # The worker ends with os._exit: its index is not freed object by object.
                from dbleak.api import KEPT_UNTIL_EXIT

                KEPT_UNTIL_EXIT.append(prepared)
        for item in share:
            if not parent_alive():
                return
            conn.send(check(item.path, item.display, settings_for(item.path), options, prepared))
        reads = recorded_disk_reads()
        if reads is not None:  # the parent records the run: what this worker read from disk
            conn.send(reads)
        conn.close()
    except (ParentGone, EOFError, OSError):  # the parent is gone: nobody to report to
        return


def check_in_processes(items: list[Discovered], settings_for: Callable[[Path], Settings],
                       options: Any, with_project: bool, check: Callable[..., Any],
                       workers: int, crashed: Callable[[Discovered], Any],
                       indexed: Callable[[], None] | None = None) -> Iterator[Any]:
    """``check`` every item in ``workers`` forked processes; results in the items' order.

    ``crashed(item)`` makes the result for an item whose worker died; ``indexed()`` is called
    once every worker has been sent the summaries of all (when a project index is built).
    """
    import multiprocessing
    import pickle
    from multiprocessing.connection import wait

    from dbleak.analysis.project import load_summarizers
    from dbleak.registry import all_rules

    # The workers analyse files: the rules and the summarizers are imported once, here, and
    # each worker inherits them.
    all_rules()
    load_summarizers()
    nothing = pickle.dumps([], pickle.HIGHEST_PROTOCOL)  # the summaries of a worker that died
    context = multiprocessing.get_context("fork")
    connections: list[Connection] = []
    processes = []
    owner, total = shares(items, workers)
    finder = disk_finder(items, settings_for, getattr(options, "cache", None))  # each forks a copy
    for index in range(workers):
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=_partition_worker, daemon=True,
            args=([item for item, worker in zip(items, owner) if worker == index], settings_for,
                  options, check, with_project, owner, index, child_end, finder, os.getpid(),
                  total))
        process.start()
        child_end.close()
        connections.append(parent_end)
        processes.append(process)
    alive = [True] * workers
    finished = False
    try:
        if with_project:
            # The parent only passes the bytes on: unpickling, merging and pickling the index
            # here was ~0.5 s during which both workers waited.
            received: list[bytes] = []
            for index, conn in enumerate(connections):
                try:
                    received.append(conn.recv_bytes())
                except (EOFError, OSError):
                    alive[index] = False
                    received.append(nothing)
            for index, conn in enumerate(connections):
                for source, data in enumerate(received):
                    if not alive[index]:
                        break
                    if source == index:
                        continue  # a worker has its own summaries
                    try:
                        conn.send_bytes(data)
                    except (BrokenPipeError, OSError):
                        alive[index] = False
            del received
            if indexed is not None:
                indexed()
        # Results are read from whichever worker has one ready and yielded in file order: a
        # worker ahead of the other is never left blocked on a full pipe (a result carries
        # its file's text) while the parent waits for the one behind.
        pending: list[deque[int]] = [deque() for _ in range(workers)]
        for position, worker in enumerate(owner):
            pending[worker].append(position)
        ready: dict[int, Any] = {}
        for position, item in enumerate(items):
            worker = owner[position]
            while alive[worker] and position not in ready:
                waiting = [i for i in range(workers) if alive[i] and pending[i]]
                answered = wait([connections[i] for i in waiting])
                for index in waiting:
                    if connections[index] not in answered:
                        continue
                    try:
                        ready[pending[index].popleft()] = connections[index].recv()
                    except (EOFError, OSError):
                        alive[index] = False
            yield ready.pop(position) if position in ready else crashed(item)
        recorded = recorded_disk_reads()
        if recorded is not None:
            for index, conn in enumerate(connections):
                if not alive[index]:
                    continue
                try:
                    merge_disk_reads(recorded, conn.recv())
                except (EOFError, OSError):
                    alive[index] = False
        finished = True
    finally:
        for conn in connections:
            conn.close()
        if not finished:  # interrupted, stopped or abandoned: the workers stop now
            for process in processes:
                process.terminate()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
