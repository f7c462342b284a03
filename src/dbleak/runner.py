"""Running a whole tree: the project-index pass, then checking each file with its tree kept.

Every file is parsed once. When a selected rule reads the project index, the first pass parses
each file, summarizes its functions into the index and keeps the tree (and its facts) for the
checking pass, up to a memory budget; past the budget a file is parsed again when checked.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbleak.analysis.module import collect_facts
from dbleak.analysis.project import ProjectIndex
from dbleak.discovery import Discovered
from dbleak.engine import Parsed, active_rules, module_name_for, parse_module
from dbleak.knowledge.drivers import table_for
from dbleak.models import Finding
from dbleak.settings import Settings
from dbleak.source import DecodeError, decode_source

# Source characters whose trees are kept between the passes (~50x that in memory).
KEEP_BUDGET = 40_000_000


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a run.

    A run keeps many syntax trees alive (the first pass's, for the second); with the collector
    on, every collection walks all of them again, which made parsing three times slower.
    The trees hold no reference cycles, so nothing is lost by not collecting during the run.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class Prepared:
    project: ProjectIndex = field(default_factory=ProjectIndex)
    parsed: dict[Path, tuple[bytes, Parsed]] = field(default_factory=dict)


def needs_project(items: Iterable[Discovered], settings_for: Callable[[Path], Settings]) -> bool:
    return any(rule.needs_project for item in items
               for rule in active_rules(item.display, settings_for(item.path)))


def prepare(items: list[Discovered], settings_for: Callable[[Path], Settings]) -> Prepared:
    """The first pass: build the project index, keeping parsed trees within the budget."""
    prepared = Prepared()
    kept = 0
    for item in items:
        settings = settings_for(item.path)
        try:
            data = item.path.read_bytes()
            text = decode_source(data).text
        except (OSError, DecodeError):
            continue  # reported by the checking pass
        tree = parse_module(text, item.display)
        if isinstance(tree, Finding):
            continue
        facts = collect_facts(tree, table_for(settings.drivers), module_name_for(item.display))
        prepared.project.add_module(facts)
        if kept + len(text) <= KEEP_BUDGET:
            kept += len(text)
            prepared.parsed[item.path] = (data, Parsed(tree, facts))
    return prepared


# --- checking files in parallel --------------------------------------------------------------
# Worker processes are forked after the first pass, so they inherit the settings, the project
# index and the kept trees without pickling them; only each file's result travels back.

PARALLEL_MIN_FILES = 24
_WORK: tuple[list[Discovered], Callable[[Path], Settings], Any, Prepared | None, Callable[..., Any]] | None = None


def worker_count(files: int) -> int:
    """How many processes to check ``files`` files with (``DBLEAK_JOBS`` overrides)."""
    configured = os.environ.get("DBLEAK_JOBS")
    if configured and configured.isdigit():
        return max(1, int(configured))
    if files < PARALLEL_MIN_FILES or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _check_one(index: int) -> Any:
    assert _WORK is not None
    items, settings_for, options, prepared, check = _WORK
    item = items[index]
    return check(item.path, item.display, settings_for(item.path), options, prepared)


def check_in_processes(items: list[Discovered], settings_for: Callable[[Path], Settings],
                       options: Any, prepared: Prepared | None,
                       check: Callable[..., Any], workers: int) -> Iterator[Any]:
    """``check`` every item in ``workers`` forked processes; results in the items' order."""
    global _WORK
    _WORK = (items, settings_for, options, prepared, check)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            chunk = max(1, min(16, len(items) // (workers * 8)))
            yield from pool.imap(_check_one, range(len(items)), chunksize=chunk)
    finally:
        _WORK = None
