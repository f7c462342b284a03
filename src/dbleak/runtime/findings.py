"""Runtime records as dbleak findings (DBL901 runtime-leak, DBL902 large-read), and the
cross-check of a runtime report against the static findings (`dbleak check --runtime-report`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dbleak.models import Finding, Position
from dbleak.runtime.tracker import Leak, Read, Site

RUNTIME_LEAK = ("DBL901", "runtime-leak")
LARGE_READ = ("DBL902", "large-read")
# The static codes that can stand for a runtime finding on the same lines.
COVERING: dict[str, tuple[str, ...]] = {RUNTIME_LEAK[0]: ("DBL1",), LARGE_READ[0]: ("DBL2", "DBL3")}


@dataclass(frozen=True)
class LeakGroup:
    """The leaks made at one site: one finding, with the tests that leaked."""

    site: Site
    driver: str
    kind: str
    how: tuple[str, ...]
    owners: tuple[str, ...]


def group_leaks(leaks: Iterable[Leak]) -> list[LeakGroup]:
    groups: dict[tuple[Site, str, str], list[Leak]] = {}
    for leak in leaks:
        groups.setdefault((leak.site, leak.driver, leak.kind), []).append(leak)
    return [LeakGroup(site, driver, kind, tuple(sorted({leak.how for leak in items})),
                      tuple(sorted({leak.owner for leak in items})))
            for (site, driver, kind), items in sorted(groups.items())]


def display_path(path: str, root: str | None = None) -> str:
    """``path`` relative to ``root`` (default: the current folder) when inside it."""
    base = os.path.abspath(root or os.getcwd())
    relative = os.path.relpath(path, base)
    return path if relative.startswith("..") else relative


def _line_span(path: str, line: int) -> tuple[Position, Position]:
    """The statement's line from its first non-blank character to its end (0-based columns)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[line - 1]
    except (OSError, IndexError):
        return Position(line, 0), Position(line, 0)
    start = len(text) - len(text.lstrip())
    return Position(line, start), Position(line, len(text.rstrip()))


def _owners_text(owners: Sequence[str]) -> str:
    shown = ", ".join(owners[:3]) + (f" and {len(owners) - 3} more" if len(owners) > 3 else "")
    tests = [o for o in owners if "::" in o]
    return (f"in {len(owners)} test{'s' if len(owners) != 1 else ''}: {shown}" if len(tests) == len(owners)
            else f"in {shown}")


def leak_message(group: LeakGroup) -> str:
    how = " or ".join(group.how)
    return f"{group.driver} {group.kind} made here was left open ({how}) {_owners_text(group.owners)}"


def leak_findings(leaks: Iterable[Leak], root: str | None = None) -> list[Finding]:
    findings = []
    for group in group_leaks(leaks):
        start, end = _line_span(group.site[0], group.site[1])
        findings.append(Finding(RUNTIME_LEAK[0], RUNTIME_LEAK[1], leak_message(group),
                                display_path(group.site[0], root), start, end))
    return findings


def read_findings(reads: Iterable[Read], root: str | None = None) -> list[Finding]:
    """One finding per line and method: its largest read."""
    best: dict[tuple[Site, str], Read] = {}
    for read in reads:
        known = best.get((read.site, read.method))
        if known is None or read.rows > known.rows:
            best[(read.site, read.method)] = read
    findings = []
    for (site, method), read in sorted(best.items()):
        start, end = _line_span(site[0], site[1])
        message = (f"`{method}` ({read.driver}) returned {read.rows:,} rows at run time "
                   f"(the largest read here, in {read.owner})")
        findings.append(Finding(LARGE_READ[0], LARGE_READ[1], message,
                                display_path(site[0], root), start, end))
    return findings


# -- the cross-check ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RuntimeEntry:
    code: str
    path: str  # absolute
    line: int
    message: str
    filename: str  # as written in the report


class RuntimeReportError(Exception):
    pass


def load_runtime_report(path: Path) -> list[RuntimeEntry]:
    """The DBL901/DBL902 findings of a `pytest --dbleak-report` file; relative file names are
    relative to the report's own folder (pytest writes them relative to its rootdir, where the
    report usually sits) and else to the current folder."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RuntimeReportError(f"{path}: cannot read the runtime report: {error}") from None
    if not isinstance(data, list):
        raise RuntimeReportError(f"{path}: not a dbleak JSON report (a list of findings)")
    entries = []
    for item in data:
        try:
            code, filename, line = item["code"], item["filename"], int(item["location"]["row"])
        except (TypeError, KeyError, ValueError):
            raise RuntimeReportError(f"{path}: not a dbleak JSON report (a list of findings)") from None
        if code not in COVERING:
            continue
        absolute = filename if os.path.isabs(filename) else os.path.join(path.parent, filename)
        if not os.path.exists(absolute) and not os.path.isabs(filename):
            absolute = filename
        entries.append(RuntimeEntry(code, os.path.abspath(absolute), line, str(item.get("message", "")),
                                    filename))
    return entries


def _covers(finding: Finding, entry: RuntimeEntry) -> bool:
    return (finding.code.startswith(COVERING[entry.code])
            and os.path.abspath(finding.path) == entry.path
            and finding.start.line <= entry.line <= max(finding.end.line, finding.start.line))


def cross_check(findings: Sequence[Finding], entries: Sequence[RuntimeEntry],
                checked_paths: Iterable[str]) -> tuple[list[Finding], list[RuntimeEntry]]:
    """Mark the static findings a runtime finding confirms; return them and the runtime
    findings in the checked files that no static finding covers (the misses)."""
    marked = []
    for finding in findings:
        if any(_covers(finding, entry) for entry in entries):
            finding = replace(finding, message=finding.message + " (confirmed at run time)")
        marked.append(finding)
    checked = {os.path.abspath(path) for path in checked_paths}
    misses = [entry for entry in entries if entry.path in checked
              and not any(_covers(finding, entry) for finding in findings)]
    return marked, misses
