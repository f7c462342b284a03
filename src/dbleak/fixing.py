"""Applying fixes: render, pick non-overlapping ones, re-check, repeat until stable; write safely."""

from __future__ import annotations

import ast
import errno
import os
import signal
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from dbleak.models import Applicability, Edit, FileResult, Finding, Fix, Position

MAX_ROUNDS = 10


@dataclass(frozen=True)
class FixOutcome:
    text: str
    applied: int
    result: FileResult  # the findings left after fixing
    unsettled: bool = False
    refused: tuple[str, ...] = ()  # why fixes were dropped (did not parse, did not render)
    fixed_codes: tuple[str, ...] = ()  # the code of every fix applied, in order


def allowed(finding: Finding, unsafe: bool) -> bool:
    plan = finding.plan
    if plan is None or plan.applicability is Applicability.DISPLAY_ONLY:
        return False
    return plan.applicability is Applicability.SAFE or unsafe


class TooDeepToRender(Exception):
    """The code around a fix is nested too deeply for libcst to render the fix."""


def render_plan(text: str, finding: Finding) -> Fix | None:
    """Render a finding's plan (imports libcst). None when the plan does not fit;
    :class:`TooDeepToRender` when the code is nested too deeply to render it."""
    if finding.plan is None:
        return None
    from dbleak.fixes.render import RenderError, render_fix

    try:
        return render_fix(text, finding.plan)
    except RecursionError:
        # libcst's trees and visitors recurse: code nested thousands deep cannot be rendered.
        raise TooDeepToRender from None
    except (RenderError, Exception):  # noqa: BLE001 - libcst parser errors, unexpected shapes
        return None


def build_fix(text: str, finding: Finding) -> Fix | None:
    """Render a finding's plan (imports libcst). None when the plan does not fit."""
    try:
        return render_plan(text, finding)
    except TooDeepToRender:
        return None


def with_fixes(text: str, result: FileResult) -> FileResult:
    """The result with every plan rendered into edits (for JSON, SARIF, the editor)."""
    if not any(f.plan is not None for f in result.findings):
        return result
    findings = tuple(
        replace(f, fix=build_fix(text, f)) if f.plan is not None else f
        for f in result.findings
    )
    return replace(result, findings=findings)


def _overlaps(a: Fix, b: Fix) -> bool:
    for x in a.edits:
        for y in b.edits:
            if x.start < y.end and y.start < x.end:
                return True
            if x.start == y.start or x.end == y.end:
                return True
    return False


def fix_text(text: str, check: Callable[[str], FileResult], unsafe: bool = False) -> FixOutcome:
    """Apply every allowed fix to ``text``, re-checking after each round until nothing changes."""
    from dbleak.fixes.render import apply_edits

    applied = 0
    codes: list[str] = []
    refused: list[str] = []
    result = check(text)
    seen: set[str] = {text}
    for _ in range(MAX_ROUNDS):
        chosen: list[Fix] = []
        chosen_codes: list[str] = []
        for finding in result.findings:
            if not allowed(finding, unsafe):
                continue
            try:
                fix = render_plan(text, finding)
            except TooDeepToRender:
                refused.append(f"{finding.start.line}:{finding.start.column + 1}: {finding.code}: the "
                               "code is nested too deeply to render the fix; not applied")
                continue
            if fix is None:
                refused.append(f"{finding.start.line}:{finding.start.column + 1}: {finding.code}: the fix "
                               "did not fit the source or did not parse; not applied")
                continue
            if any(_overlaps(fix, other) for other in chosen):
                continue
            if not parses_after(text, fix.edits):
                refused.append(f"{finding.start.line}:{finding.start.column + 1}: {finding.code}: the fix "
                               "did not parse; not applied")
                continue
            chosen.append(fix)
            chosen_codes.append(finding.code)
        if not chosen:
            return FixOutcome(text, applied, result, refused=tuple(refused), fixed_codes=tuple(codes))
        new_text = apply_edits(text, [e for fix in chosen for e in fix.edits])
        if not _parses(new_text):
            # Each fix parsed alone but not together: apply the first only.
            new_text = apply_edits(text, chosen[0].edits)
            chosen = chosen[:1]
            chosen_codes = chosen_codes[:1]
        if new_text in seen:
            return FixOutcome(text, applied, result, unsettled=True, refused=tuple(refused),
                             fixed_codes=tuple(codes))
        seen.add(new_text)
        text = new_text
        applied += len(chosen)
        codes.extend(chosen_codes)
        result = check(text)
    return FixOutcome(text, applied, result, unsettled=True, refused=tuple(refused),
                             fixed_codes=tuple(codes))


def parses_after(text: str, edits: tuple[Edit, ...]) -> bool:
    """Whether ``text`` still parses with ``edits`` applied, reading only what they touch.

    Top-level statements parse independently: the statements an edit touches (with the
    comments and blank lines between them; for an insertion, the lines on both sides of it) are
    parsed alone with the edit applied. Checking each fix of a module is then linear in the
    size of the module, not its size times its fixes.
    """
    from dbleak.fixes.render import apply_edits, layout_of

    layout = layout_of(text)
    if layout is None or layout.shared_lines:
        return _parses(apply_edits(text, edits))
    windows: list[tuple[int, int, list[Edit]]] = []  # (first line, last line, edits), merged
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        low = edit.start.line
        high = edit.end.line - 1 if edit.end.column == 0 else edit.end.line
        if high < low:  # an insertion before line `low`: it may continue the line above
            low, high = max(1, low - 1), min(low, len(layout.lines))
        for first, last in layout.spans:
            if last >= low and first <= high:
                low, high = min(low, first), max(high, last)
        if windows and low <= windows[-1][1]:
            first, last, grouped = windows.pop()
            low, high = min(low, first), max(high, last)
            edits_in = [*grouped, edit]
        else:
            edits_in = [edit]
        windows.append((low, high, edits_in))
    for low, high, grouped in windows:
        window = "".join(layout.lines[low - 1:high])
        shifted = [Edit(e.content, Position(e.start.line - low + 1, e.start.column),
                        Position(e.end.line - low + 1, e.end.column)) for e in grouped]
        if not _parses(apply_edits(window, shifted)):
            return False
    return True


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


class ReadOnlyError(OSError):
    """The file is read-only (no write permission for the user, or no write bit at all)."""


def is_read_only(path: Path) -> bool:
    """Whether ``path`` must not be rewritten: the user may not write it, or its mode has no
    write bit at all (root may write anything, so the bits are read as the owner's intent)."""
    mode = os.stat(path).st_mode
    return not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


class ParentGone(BaseException):
    """A worker's parent process has died: the run is over, and nothing may be written."""


def _no_parent_to_lose() -> bool:
    return True


# Set in each worker process: whether the process that started the run is still alive.
_parent_alive: Callable[[], bool] = _no_parent_to_lose


def guard_writes(parent_alive: Callable[[], bool]) -> None:
    """Make every later write of this process first check ``parent_alive`` (workers call it)."""
    global _parent_alive
    _parent_alive = parent_alive


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while a file is written: they arrive once it is whole."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # not on this platform / not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_source_file(path: Path, data: bytes) -> None:
    """Write the complete, verified ``data`` over an existing source file, keeping the file.

    A symlink is written through to its target; a file with other hard links is written in
    place (a new inode would leave its other names with the old text); otherwise the write is
    atomic and keeps mode, owner and group. A read-only file raises :class:`ReadOnlyError` and is
    left untouched.
    """
    target = Path(os.path.realpath(path))
    if is_read_only(target):
        raise ReadOnlyError(errno.EACCES, "read-only", str(path))
    if os.stat(target).st_nlink > 1:
        with _signals_held():
            if not _parent_alive():
                raise ParentGone
            _write_in_place(target, data)
        return
    write_atomically(target, data)


def _write_in_place(path: Path, data: bytes) -> None:
    with open(path, "r+b") as out:
        out.write(data)
        out.truncate()
        out.flush()
        os.fsync(out.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder and ``os.replace``, keeping mode bits,
    owner and group (written in place when they cannot be kept). A symlink is followed."""
    path = Path(os.path.realpath(path))
    try:
        before: os.stat_result | None = os.stat(path)
    except OSError:
        before = None
    if before is not None and (before.st_uid != os.geteuid() or before.st_gid != os.getegid()):
        try_chown = True
    else:
        try_chown = False
    folder = path.parent
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".dbleak-tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if before is not None:
            os.chmod(temp, stat.S_IMODE(before.st_mode))
        with _signals_held():
            if not _parent_alive():
                raise ParentGone
            if try_chown and before is not None:
                try:
                    os.chown(temp, before.st_uid, before.st_gid)
                except PermissionError:
                    # Another user's file we may write: replacing it would make it ours.
                    os.unlink(temp)
                    _write_in_place(path, data)
                    return
            os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
