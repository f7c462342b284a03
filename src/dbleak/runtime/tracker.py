"""What the runtime check remembers: the database objects made while tests run, where each was
made, whether it was closed, and the reads that returned the most rows.

The tracker never keeps an object alive: it holds a weak reference to each one, so that dropping
an object behaves exactly as without the plugin (the driver's own finalizer still runs).
An object is a leak of a test when, at the end of that test, it is

- still referenced and still open after a garbage collection ("still open"), or
- collected by the garbage collector without ever being closed ("collected unclosed"; only for
  the objects whose ``close()`` the plugin sees, see :mod:`dbleak.runtime.drivers`).
"""

from __future__ import annotations

import gc
import heapq
import os
import sys
import sysconfig
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Site = tuple[str, int]  # absolute file name, 1-based line

# Libraries that make and own database connections for the user: a pool (which keeps its
# connections open on purpose) or a wrapper whose own object the plugin tracks instead.
# A driver-level connection made from inside one of them is not tracked.
OWNER_LIBRARIES = (
    os.sep + "sqlalchemy" + os.sep,
    os.sep + "aiosqlite" + os.sep,
    os.sep + "psycopg_pool" + os.sep,
    os.path.join("psycopg2", "pool.py"),
    os.path.join("mysql", "connector", "pooling.py"),
    os.path.join("asyncpg", "pool.py"),
    os.sep + "databases" + os.sep,
)

# A read made by one of these on behalf of a call the plugin records itself (pandas' read_sql
# fetching from a DB-API cursor, SQLAlchemy's Query.all reading a Result) is counted once.
READ_OWNERS = (*OWNER_LIBRARIES, os.sep + "pandas" + os.sep)

_PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _library_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    found.add(os.path.dirname(os.__file__))
    return tuple(os.path.abspath(p) + os.sep for p in sorted(found))


@dataclass(frozen=True, slots=True)
class Kind:
    """What a hook knows of every object it tracks (made once per hook, not per object)."""

    driver: str
    kind: str  # connection, cursor, session
    probe: Callable[[Any], bool] | None  # is the (alive) object still open?
    tracks_close: bool
    # Report this object when it is alive and open at the end of its test (False when another
    # tracked object that holds it is reported instead, as a Session for its Connection).
    alive_reportable: bool = True


class Record(weakref.ref):  # type: ignore[type-arg]
    """One tracked object: a weak reference to it that carries what is known of it (one object
    per tracked object, one shared callback). Identity-compared and -hashed, unlike a plain
    weak reference."""

    __slots__ = ("key", "owner", "site", "what")
    key: int  # id() of the object
    what: Kind
    site: Site
    owner: str  # the test's node id, or "fixture NAME (SCOPE)", or "session"

    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    @property
    def driver(self) -> str:
        return self.what.driver

    @property
    def kind(self) -> str:
        return self.what.kind


@dataclass(frozen=True)
class Leak:
    driver: str
    kind: str
    site: Site
    owner: str
    how: str  # "still open" or "collected unclosed"


@dataclass(frozen=True, order=True)
class Read:
    rows: int
    site: Site
    driver: str
    method: str
    owner: str


@dataclass
class Tracker:
    """The state of one test session. Thread-safe enough for the GIL: every update is one
    dict/list operation."""

    large_read: int = 1000
    top_reads: int = 10
    live: dict[int, Record] = field(default_factory=dict)
    collected_unclosed: list[Record] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)  # every read of at least ``large_read`` rows
    # The largest reads below ``large_read`` (a heap of at most ``top_reads``), and the count a
    # read must exceed to enter it: the one comparison made for most reads.
    _small_reads: list[Read] = field(default_factory=list)
    floor: int = 0
    reads_seen: int = 0
    owner: str = "session"
    fixtures: list[tuple[str, str]] = field(default_factory=list)  # (name, scope), innermost last
    # current_owner(), kept up to date by set_owner/enter_fixture/leave_fixture (read per object).
    current: str = "session"
    _project: dict[str, str | None] = field(default_factory=dict)
    # The file names known to be the project's own code, to their absolute paths: the one
    # look-up made when the caller of a hook is project code (the common case).
    project_files: dict[str, str] = field(default_factory=dict)
    _libraries: tuple[str, ...] = field(default_factory=_library_prefixes)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- where an object is made -------------------------------------------------------------

    def _project_path(self, filename: str) -> str | None:
        """The absolute path of ``filename`` when it is the project's own code, "" for other
        code, None for the plugin's own (skipped)."""
        path = os.path.abspath(filename)
        known: str | None
        if path.startswith(_PLUGIN_DIR):
            known = None
        elif (filename.startswith("<") or path.startswith(self._libraries)
              or f"{os.sep}site-packages{os.sep}" in path or f"{os.sep}dist-packages{os.sep}" in path):
            known = ""
        else:
            known = path
        self._project[filename] = known
        if known:
            self.project_files[filename] = known
        return known

    def creation_site(self, owners: tuple[str, ...] = OWNER_LIBRARIES) -> Site | None:
        """The first frame of the project's own code that led to this call, or None when the call
        comes from inside one of ``owners`` (a pool, or a wrapper tracked on its own)."""
        return self.site_from(sys._getframe(1), owners)

    def site_from(self, frame: Any, owners: tuple[str, ...]) -> Site | None:
        """:meth:`creation_site`, from ``frame`` outwards (the plugin's own frames are skipped)."""
        first_other: Site | None = None
        project = self._project
        while frame is not None:
            filename = frame.f_code.co_filename
            path = project[filename] if filename in project else self._project_path(filename)
            if path:
                return (path, frame.f_lineno)
            if path is not None:  # other code (the plugin's own frames are skipped)
                if owners and any(marker in filename for marker in owners):
                    return None
                if first_other is None:
                    first_other = (os.path.abspath(filename), frame.f_lineno)
            frame = frame.f_back
        return first_other

    # -- objects ------------------------------------------------------------------------------

    def current_owner(self) -> str:
        for name, scope in reversed(self.fixtures):
            if scope != "function":
                return f"fixture {name} ({scope})"
        return self.owner

    def set_owner(self, owner: str) -> None:
        self.owner = owner
        self.current = self.current_owner()

    def enter_fixture(self, name: str, scope: str) -> None:
        self.fixtures.append((name, scope))
        self.current = self.current_owner()

    def leave_fixture(self) -> None:
        self.fixtures.pop()
        self.current = self.current_owner()

    def track(self, obj: Any, what: Kind, owners: tuple[str, ...] = OWNER_LIBRARIES) -> None:
        key = id(obj)
        if key in self.live:
            return  # already tracked (a subclass whose __init__ runs the base's, patched too)
        site = self.site_from(sys._getframe(1), owners)
        if site is not None:
            self.add(obj, what, site)

    def add(self, obj: Any, what: Kind, site: Site) -> None:
        """Track ``obj``, made at ``site`` (by the current owner)."""
        try:
            record = Record(obj, self._collected)
        except TypeError:
            return  # no weak references: holding it would change when it is freed
        record.key = key = id(obj)
        record.what = what
        record.site = site
        record.owner = self.current
        self.live[key] = record

    def _collected(self, record: Record) -> None:
        if self.live.get(record.key) is record:
            del self.live[record.key]
            if record.what.tracks_close:
                self.collected_unclosed.append(record)

    def closed(self, obj: Any) -> None:
        record = self.live.get(id(obj))
        if record is not None and record() is obj:
            del self.live[record.key]

    # -- reads --------------------------------------------------------------------------------

    def read(self, rows: int, driver: str, method: str, owners: tuple[str, ...] | None = None) -> None:
        """Record a read of ``rows`` rows (callers test ``rows > tracker.floor`` first)."""
        site = self.site_from(sys._getframe(1), READ_OWNERS if owners is None else owners)
        if site is None:
            return
        read = Read(rows, site, driver, method, self.current)
        with self._lock:
            if rows >= self.large_read:
                self.reads.append(read)
                return
            if len(self._small_reads) < self.top_reads:
                heapq.heappush(self._small_reads, read)
            else:
                heapq.heappushpop(self._small_reads, read)
            if len(self._small_reads) >= self.top_reads:
                self.floor = min(self._small_reads[0].rows, self.large_read - 1)

    def largest_reads(self) -> list[Read]:
        """The largest reads, one per site (its largest), largest first."""
        best: dict[tuple[Site, str], Read] = {}
        for read in [*self.reads, *self._small_reads]:
            known = best.get((read.site, read.method))
            if known is None or read.rows > known.rows:
                best[(read.site, read.method)] = read
        return sorted(best.values(), key=lambda r: (-r.rows, r.site))

    # -- leaks --------------------------------------------------------------------------------

    def _is_open(self, record: Record, obj: Any) -> bool:
        probe = record.what.probe
        if probe is None:
            return True
        try:
            return bool(probe(obj))
        except Exception:  # noqa: BLE001 - a probe must never break the test run
            return False

    def leaks_of(self, owner: str, kept: Callable[[Any], bool] = lambda obj: False) -> list[Leak]:
        """The leaks of ``owner`` (a test id): forgets them, so that each is reported once.

        ``kept(obj)`` says whether a fixture of a wider scope still holds the object: such an
        object is handed over to the session instead.
        """
        mine = [r for r in self.live.values() if r.owner == owner]
        if mine or any(r.owner == owner for r in self.collected_unclosed):
            gc.collect()
        leaks = [Leak(r.driver, r.kind, r.site, owner, "collected unclosed")
                 for r in self.collected_unclosed if r.owner == owner]
        self.collected_unclosed = [r for r in self.collected_unclosed if r.owner != owner]
        for record in mine:
            if self.live.get(record.key) is not record:
                continue  # closed or collected meanwhile
            obj = record()
            if obj is None:
                continue
            if not self._is_open(record, obj):
                del self.live[record.key]
            elif kept(obj):
                record.owner = "session"
            else:
                del self.live[record.key]
                if record.what.alive_reportable:
                    leaks.append(Leak(record.driver, record.kind, record.site, owner, "still open"))
            del obj
        return sorted(leaks, key=lambda leak: (leak.site, leak.kind))

    def leaks_at_end(self) -> list[Leak]:
        """Every object still open at the end of the session, and every one collected unclosed
        that no test has reported yet."""
        gc.collect()
        leaks = [Leak(r.driver, r.kind, r.site, r.owner, "collected unclosed")
                 for r in self.collected_unclosed]
        self.collected_unclosed = []
        for record in list(self.live.values()):
            obj = record()
            if obj is None:
                continue
            if self._is_open(record, obj) and record.what.alive_reportable:
                leaks.append(Leak(record.driver, record.kind, record.site, record.owner,
                                  "still open"))
            del obj
        self.live.clear()
        return sorted(leaks, key=lambda leak: (leak.site, leak.kind))
