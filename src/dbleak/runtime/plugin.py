"""`pytest --dbleak`: the pytest plugin (registered through the ``pytest11`` entry point).

Inactive unless ``--dbleak`` is given: without it, loading this module changes nothing.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from dbleak.runtime import drivers
from dbleak.runtime.findings import group_leaks, leak_findings, leak_message, read_findings
from dbleak.runtime.tracker import Leak, Tracker

_STATE = pytest.StashKey["RuntimeCheck"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dbleak", "dbleak runtime check (database objects left open)")
    group.addoption("--dbleak", action="store_true", default=False,
                    help="Report the database connections, cursors and sessions each test leaves "
                         "open, and the largest reads.")
    group.addoption("--dbleak-report", metavar="PATH", default=None,
                    help="Write the runtime findings (DBL901 runtime-leak, DBL902 large-read) to "
                         "PATH as `dbleak check --output-format json` does.")
    group.addoption("--dbleak-strict", action="store_true", default=False,
                    help="Fail a test that leaks (an error at its teardown).")
    group.addoption("--dbleak-large-read", metavar="ROWS", type=int, default=1000,
                    help="Reads of at least ROWS rows are DBL902 findings (default: 1000).")


def _enabled(options: Any) -> bool:
    return bool(getattr(options, "dbleak", False) or getattr(options, "dbleak_report", None)
                or getattr(options, "dbleak_strict", False))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Before the conftest files are imported, so that `from sqlite3 import connect` in one of
    # them already gets the hooked function.
    if _enabled(early_config.known_args_namespace):
        _start(early_config, early_config.known_args_namespace.dbleak_large_read)


def pytest_configure(config: pytest.Config) -> None:
    if _enabled(config.option) and _STATE not in config.stash:
        _start(config, config.option.dbleak_large_read)


def _start(config: pytest.Config, large_read: int) -> None:
    check = RuntimeCheck(config, Tracker(large_read=large_read))
    config.stash[_STATE] = check
    check.installed, check.failed = drivers.install(check.patches, check.tracker)
    drivers.install_pandas_when_imported(check.patches, check.tracker, check.failed)
    config.pluginmanager.register(check, "dbleak-runtime-check")


def pytest_unconfigure(config: pytest.Config) -> None:
    check = config.stash.get(_STATE, None)
    if check is not None:
        check.patches.undo()
        del config.stash[_STATE]


class RuntimeCheck:
    """The hooks of an active run."""

    def __init__(self, config: pytest.Config, tracker: Tracker) -> None:
        self.config = config
        self.tracker = tracker
        self.patches = drivers.Patches()
        self.installed: list[str] = []
        self.failed: list[str] = []
        self.leaks: list[Leak] = []

    # -- who owns what is made ----------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any) -> Generator[None, Any, Any]:
        self.tracker.enter_fixture(fixturedef.argname, fixturedef.scope)
        try:
            return (yield)
        finally:
            self.tracker.leave_fixture()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self.tracker.set_owner(item.nodeid)
        return (yield)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, Any]:
        try:
            result = yield
        finally:
            kept = _wider_fixture_values(item)
            leaks = self.tracker.leaks_of(item.nodeid, lambda obj: _held_by(obj, kept))
            self.tracker.set_owner("session")
            self.leaks.extend(leaks)
        if leaks and self.config.option.dbleak_strict:
            lines = [f"{_site(leak.site)}: {leak.driver} {leak.kind} left open ({leak.how})"
                     for leak in leaks]
            pytest.fail("dbleak: this test leaked database objects:\n" + "\n".join(lines),
                        pytrace=False)
        return result

    # -- the end ------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        end = self.tracker.leaks_at_end()
        self.leaks.extend(end)
        if end and self.config.option.dbleak_strict and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        path = self.config.option.dbleak_report
        if path:
            from dbleak.report.json import render

            root = str(self.config.rootpath)
            findings = [*leak_findings(self.leaks, root),
                        *read_findings(self.tracker.reads, root)]
            findings.sort(key=lambda f: f.sort_key())
            target = Path(path)
            if not target.is_absolute():
                target = Path(self.config.invocation_params.dir) / target
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(findings), encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        terminalreporter.section("dbleak: database objects left open")
        groups = group_leaks(self.leaks)
        for group in groups:
            write(f"{_site(group.site)}: {leak_message(group)}")
        if not groups:
            write("no leaks (wrapped: " + ", ".join(self.installed) + ")")
        reads = self.tracker.largest_reads()[: self.tracker.top_reads]
        if reads:
            write("largest reads:")
            for read in reads:
                write(f"  {_site(read.site)}: {read.method} returned {read.rows:,} rows ({read.owner})")
        for message in self.failed:
            write(f"not wrapped: {message}")
        count = len(self.leaks)
        write(f"dbleak: {count} leak{'s' if count != 1 else ''} at {len(groups)} "
              f"site{'s' if len(groups) != 1 else ''}")


def _site(site: tuple[str, int]) -> str:
    relative = os.path.relpath(site[0])
    return f"{site[0] if relative.startswith('..') else relative}:{site[1]}"


def _wider_fixture_values(item: pytest.Item) -> list[Any]:
    """The values of the fixtures of a wider scope than the test that are still set up."""
    values = []
    info = getattr(item, "_fixtureinfo", None)
    for defs in (getattr(info, "name2fixturedefs", None) or {}).values():
        for fixturedef in defs:
            cached = getattr(fixturedef, "cached_result", None)
            if fixturedef.scope != "function" and cached is not None and cached[0] is not None:
                values.append(cached[0])
    return values


def _held_by(obj: Any, values: list[Any], depth: int = 3, budget: int = 10_000) -> bool:
    """Whether ``obj`` is one of ``values`` or reachable from one in a few steps."""
    seen: set[int] = set()
    layer = list(values)
    for _ in range(depth + 1):
        following = []
        for value in layer:
            if value is obj:
                return True
            if id(value) in seen or isinstance(value, (str, bytes, int, float)):
                continue
            seen.add(id(value))
            if len(seen) > budget:
                return False
            following.extend(gc.get_referents(value))
        layer = following
    return False
