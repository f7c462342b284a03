"""Incremental checking of one text that is edited again and again (the editor's document).

:class:`IncrementalChecker` keeps the last check of a text: its top-level functions and classes
(the *units*), each with its own source lines and the raw findings located in it (before any
``noqa``), plus the module-level statements that are not units (the *context*). The next text
is parsed in full; then

- when the path, the settings, the selected rules or the project index differ, or the context
  statements differ in any character, or a context statement reads a name that an edited unit
  defines: a full check;
- otherwise the units whose lines are not found unchanged in the last text are *edited*, and
  every unit that reads a name an edited (or removed) unit defines is re-checked too, repeated
  until nothing is added (a caller of a changed factory may change its findings); so is every
  unit whose last analysis typed a parameter by its call sites and that defines a name an
  edited (or removed) unit reads (it may find otherwise when a caller changes), with the units
  that call it. The rules run
  on a reduced module: the context, the re-checked units, and every unit they (or the context)
  read a name of, again transitively, so each re-checked unit sees exactly the module-level
  world it saw in the full module. Findings located in re-checked units and in the context are
  taken from that run; the other units keep their findings, moved by the number of lines they
  moved (a finding whose positions leave its unit is never moved: its unit is re-checked).
- ``noqa`` comments are applied to the new text at the end, exactly as in a full check.

Names are compared as plain identifiers (a ``Name``, an attribute, an identifier-like string),
which over-approximates what depends on what: more units are re-checked than strictly needed,
never fewer. ``tests/test_incremental.py`` checks that the result equals a full
:func:`dbleak.engine.check_text` after series of edits of every fixture.
"""

from __future__ import annotations

import ast
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from dbleak.analysis.module import walk
from dbleak.analysis.project import ProjectIndex
from dbleak.engine import (
    active_rules,
    finished,
    may_hold_findings,
    parse_module,
    run_rules,
)
from dbleak.index import module_name_for
from dbleak.models import FileResult, Finding, Position
from dbleak.rules.base import Rule
from dbleak.settings import Settings

_UNIT_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Re-checking more than this share of the units costs about as much as a full check.
_MOST = 0.5
_IDENTIFIER = re.compile(r"[^\W\d]\w*")


@dataclass(eq=False)
class _Unit:
    """One top-level function or class of a checked text."""

    node: ast.stmt
    text: str  # its lines, decorators included
    first: int  # 1-based line range
    last: int
    defines: frozenset[str]
    reads: frozenset[str]
    findings: list[Finding]
    movable: bool = True  # every position of every finding lies inside the unit
    # Its analysis typed a parameter of one of its functions by their call sites: a caller
    # changed may change its findings.
    typed: bool = False


@dataclass(eq=False)
class _State:
    key: tuple[Any, ...]
    project: ProjectIndex | None
    text: str
    tree: ast.Module
    units: list[_Unit]
    context_text: tuple[str, ...]
    context_reads: frozenset[str]


@dataclass
class Statistics:
    """What the last checks did (for tests and the benchmark)."""

    full: int = 0
    incremental: int = 0
    rechecked_units: int = 0
    reparsed: int = 0  # texts parsed only where they changed


def _lines(text: str) -> list[str] | None:
    """The lines of ``text`` as ``ast`` numbers them; None for a lone ``\\r`` (then no reuse)."""
    if "\r" in text and "\r" in text.replace("\r\n", ""):
        return None
    return text.split("\n")


def _span(node: ast.stmt) -> tuple[int, int]:
    first = node.lineno
    for decorator in getattr(node, "decorator_list", ()):
        first = min(first, decorator.lineno)
    return first, node.end_lineno or node.lineno


def _names(node: ast.AST) -> tuple[frozenset[str], frozenset[str]]:
    """The identifiers a unit defines for others (its name, nested defs and classes, class
    attributes, attributes it sets, names it declares ``global``) and every identifier it reads
    (names, attributes, parameter and keyword names and the fields of a Django lookup path,
    identifier-like strings, imported names)."""
    defines: set[str] = set()
    reads: set[str] = set()
    for child in walk(node):
        kind = type(child)
        if kind is ast.Name:
            reads.add(child.id)  # type: ignore[attr-defined]
        elif kind is ast.Attribute:
            reads.add(child.attr)  # type: ignore[attr-defined]
            if not isinstance(child.ctx, ast.Load):  # type: ignore[attr-defined]
                defines.add(child.attr)  # type: ignore[attr-defined]
        elif kind in _UNIT_TYPES:
            defines.add(child.name)  # type: ignore[attr-defined]
            if kind is ast.ClassDef:
                for stmt in child.body:  # type: ignore[attr-defined]
                    for target in walk(stmt) if not isinstance(stmt, _UNIT_TYPES) else ():
                        if isinstance(target, ast.Name) and not isinstance(target.ctx, ast.Load):
                            defines.add(target.id)
        elif kind is ast.Global or kind is ast.Nonlocal:
            defines.update(child.names)  # type: ignore[attr-defined]
        elif kind is ast.Constant and isinstance(child.value, str):  # type: ignore[attr-defined]
            if child.value.isidentifier():  # type: ignore[attr-defined]
                reads.add(child.value)  # type: ignore[attr-defined]
        elif kind is ast.arg or kind is ast.keyword:
            if isinstance(child, ast.keyword) and child.arg == "related_name" \
                    and isinstance(child.value, ast.Constant) and isinstance(child.value.value, str):
                defines.add(child.value.value)  # a Django related manager the field names
            if child.arg is not None:  # type: ignore[attr-defined]
                reads.add(child.arg)  # type: ignore[attr-defined]  # a pytest fixture's name
                if "__" in child.arg:  # type: ignore[attr-defined]
                    # a Django lookup path (`item__event=…`) reads every field it names
                    reads.update(p for p in child.arg.split("__") if p)  # type: ignore[attr-defined]
        elif kind is ast.alias:
            name = child.asname or child.name  # type: ignore[attr-defined]
            defines.add(name.split(".")[0])
            reads.add(child.name.split(".")[-1])  # type: ignore[attr-defined]
    return frozenset(defines), frozenset(reads)


def _positions(value: Any) -> Iterable[Position]:
    if isinstance(value, Position):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _positions(item)
    elif is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            yield from _positions(getattr(value, f.name))


def _moved(value: Any, delta: int) -> Any:
    if isinstance(value, Position):
        return Position(value.line + delta, value.column)
    if isinstance(value, tuple):
        return tuple(_moved(item, delta) for item in value)
    if isinstance(value, list):
        return [_moved(item, delta) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _moved(getattr(value, f.name), delta) for f in fields(value)
                   if f.init}
        return replace(value, **changes)
    return value


def _moved_finding(finding: Finding, delta: int) -> Finding:
    return replace(finding, start=_moved(finding.start, delta), end=_moved(finding.end, delta),
                   plan=_moved(finding.plan, delta),
                   noqa_lines=tuple(line + delta for line in finding.noqa_lines))


def _inside(finding: Finding, first: int, last: int) -> bool:
    lines = [p.line for p in _positions((finding.start, finding.end, finding.plan))]
    lines.extend(finding.noqa_lines)
    return all(first <= line <= last for line in lines)


class IncrementalChecker:
    """Checks successive versions of one document, re-analysing only what an edit can change.

    The result of :meth:`check` is always what :func:`dbleak.engine.check_text` gives for the
    same text. Thread-safe: one check at a time.
    """

    def __init__(self, most: float = _MOST) -> None:
        """``most``: the largest share of the units re-checked before a full check is cheaper
        (1.0: always try the incremental path, as the tests do)."""
        self.most = most
        self._state: _State | None = None
        self._lock = threading.Lock()
        self.statistics = Statistics()

    def forget(self) -> None:
        with self._lock:
            self._state = None

    def check(self, text: str, path: str, settings: Settings,
              project: ProjectIndex | None = None) -> FileResult:
        with self._lock:
            return self._check(text, path, settings, project)

    # -- the two paths

    def _check(self, text: str, path: str, settings: Settings,
               project: ProjectIndex | None) -> FileResult:
        active = active_rules(path, settings)
        self._state, state = None, self._state
        if not active:
            return FileResult(path)
        key = (path, settings, active)
        lines = _lines(text)
        reusable = (state is not None and state.key == key and state.project is project
                    and lines is not None)
        spliced = reparsed(state.text, state.tree, text) if state is not None and reusable else None
        if spliced is not None and may_hold_findings(text, active, settings):
            self.statistics.reparsed += 1
            assert state is not None and lines is not None
            result = self._incremental(state, text, lines, path, settings, active, spliced,
                                       project)
            if result is not None:
                return result
        tree = parse_module(text, path)
        if isinstance(tree, Finding):
            return FileResult(path, (tree,))
        if not may_hold_findings(text, active, settings):
            return FileResult(path)
        if lines is None:
            findings, errors = run_rules(text, path, settings, active, tree, project)
            self.statistics.full += 1
            return finished(text, path, findings, errors, settings, active)
        if state is not None and reusable and spliced is None:
            result = self._incremental(state, text, lines, path, settings, active, tree, project)
            if result is not None:
                return result
        return self._full(key, text, lines, path, settings, active, tree, project)

    def _split(self, tree: ast.Module, lines: list[str]) -> tuple[
            list[tuple[ast.stmt, int, int, str]], list[ast.stmt], tuple[str, ...]]:
        units: list[tuple[ast.stmt, int, int, str]] = []
        context: list[ast.stmt] = []
        context_text: list[str] = []
        for stmt in tree.body:
            first, last = _span(stmt)
            segment = "\n".join(lines[first - 1:last])
            if isinstance(stmt, _UNIT_TYPES):
                units.append((stmt, first, last, segment))
            else:
                context.append(stmt)
                context_text.append(segment)
        return units, context, tuple(context_text)

    def _full(self, key: tuple[Any, ...], text: str, lines: list[str], path: str,
              settings: Settings, active: tuple[type[Rule], ...], tree: ast.Module,
              project: ProjectIndex | None) -> FileResult:
        findings, errors, typed = _run_recording(text, path, settings, active, tree, project)
        self.statistics.full += 1
        if not errors:
            split, context, context_text = self._split(tree, lines)
            units = []
            for node, first, last, segment in split:
                defines, reads = _names(node)
                units.append(_Unit(node, segment, first, last, defines, reads, [],
                                   typed=_name_of(node) in typed))
            context_reads: set[str] = set()
            for stmt in context:
                context_reads.update(_names(stmt)[1])
            self._assign(units, findings)
            self._state = _State(key, project, text, tree, units, context_text,
                                 frozenset(context_reads))
        return finished(text, path, findings, errors, settings, active)

    @staticmethod
    def _assign(units: list[_Unit], findings: Iterable[Finding]) -> list[Finding]:
        """Hand each finding to the unit it lies in; returns those in the context."""
        starts = [unit.first for unit in units]
        context: list[Finding] = []
        for finding in findings:
            line = finding.start.line
            index = bisect_right(starts, line) - 1
            if index >= 0 and line <= units[index].last:
                unit = units[index]
                unit.findings.append(finding)
                if unit.movable and not _inside(finding, unit.first, unit.last):
                    unit.movable = False
            else:
                context.append(finding)
        return context

    @staticmethod
    def _support(units: list[_Unit], recheck: set[int], support: set[int],
                 needed: set[str]) -> None:
        """Add to ``support`` every unit defining a ``needed`` name, transitively."""
        grown = True
        while grown:
            grown = False
            for index, unit in enumerate(units):
                if (index not in recheck and index not in support
                        and not unit.defines.isdisjoint(needed)):
                    support.add(index)
                    needed.update(unit.reads)
                    grown = True

    def _incremental(self, state: _State, text: str, lines: list[str], path: str,
                     settings: Settings, active: tuple[type[Rule], ...], tree: ast.Module,
                     project: ProjectIndex | None) -> FileResult | None:
        split, _, context_text = self._split(tree, lines)
        if context_text != state.context_text:
            return None
        old_by_text: dict[str, list[_Unit]] = {}
        for unit in state.units:
            old_by_text.setdefault(unit.text, []).append(unit)
        units: list[_Unit] = []
        kept: dict[int, _Unit] = {}  # index of a new unit -> the old unit it repeats
        for index, (node, first, last, segment) in enumerate(split):
            candidates = old_by_text.get(segment)
            old = candidates.pop(0) if candidates else None
            if old is not None and (old.first == first or old.movable):
                kept[index] = old
                units.append(_Unit(node, segment, first, last, old.defines, old.reads, [],
                                   old.movable, old.typed))
            else:
                defines, reads = _names(node)
                units.append(_Unit(node, segment, first, last, defines, reads, []))
        # What the edited, added and removed units define (names whose meaning may have
        # changed) and read (their calls, which may type a callee's parameters).
        changed: set[str] = set()
        called: set[str] = set()
        gone = [old for candidates in old_by_text.values() for old in candidates]
        for unit in [*(u for i, u in enumerate(units) if i not in kept), *gone]:
            changed.update(unit.defines)
            called.update(unit.reads)
        recheck = {index for index in range(len(units)) if index not in kept}
        grown = True
        while grown:
            grown = False
            for index, unit in enumerate(units):
                if index not in recheck and not unit.reads.isdisjoint(changed):
                    recheck.add(index)
                    changed.update(unit.defines)
                    grown = True
        if not state.context_reads.isdisjoint(changed):
            return None  # module-level code reads something that changed
        # Call sites: a function whose parameter its analysis typed by its calls (every caller
        # passes a connection, a queryset) may find otherwise when a caller changes. Such a
        # unit defining a name an edited, added or removed unit reads is re-checked too, with
        # every unit that reads one of its names (its callers) in the reduced module.
        callees = {index for index, unit in enumerate(units)
                   if index not in recheck and unit.typed and not unit.defines.isdisjoint(called)}
        recheck |= callees
        if len(recheck) > self.most * max(len(units), 1):
            return None
        # The units the re-checked ones (and the context) read, transitively: their support.
        needed: set[str] = set(state.context_reads)
        for index in recheck:
            needed.update(units[index].reads)
        support: set[int] = set()
        callee_names: set[str] = set()
        for index in callees:
            callee_names.update(units[index].defines)
        for index, unit in enumerate(units):
            if index not in recheck and not unit.reads.isdisjoint(callee_names):
                support.add(index)  # a caller of a re-checked callee: its call sites
                needed.update(unit.reads)
        unit_at = {id(unit.node): index for index, unit in enumerate(units)}
        while True:
            self._support(units, recheck, support, needed)
            body = [stmt for stmt in tree.body
                    if unit_at.get(id(stmt)) is None or unit_at[id(stmt)] in recheck
                    or unit_at[id(stmt)] in support]
            reduced = ast.Module(body=body, type_ignores=tree.type_ignores)
            found, errors, typed = _run_recording(text, path, settings, active, reduced, project)
            if errors:
                return None
            # A fix plan picks names the module does not use yet and reuses imports it has:
            # a unit left out that mentions a name the plans mention must be in the module.
            fresh = [_Unit(u.node, u.text, u.first, u.last, u.defines, u.reads, [])
                     for u in units]
            context_findings = self._assign(fresh, found)
            mentioned = _plan_identifiers(context_findings)
            for index in recheck:
                mentioned.update(_plan_identifiers(fresh[index].findings))
            missing = [index for index, unit in enumerate(units)
                       if index not in recheck and index not in support
                       and not (mentioned.isdisjoint(unit.reads)
                                and mentioned.isdisjoint(unit.defines))]
            if not missing:
                break
            for index in missing:
                support.add(index)
                needed.update(units[index].reads)
            if len(recheck) + len(support) > self.most * len(units):
                return None
        findings = list(context_findings)
        for index, unit in enumerate(units):
            if index in recheck:
                unit.findings = fresh[index].findings
                unit.movable = fresh[index].movable
                unit.typed = _name_of(unit.node) in typed
            else:
                old = kept[index]
                delta = unit.first - old.first
                unit.findings = ([_moved_finding(f, delta) for f in old.findings] if delta
                                 else list(old.findings))
            findings.extend(unit.findings)
        self.statistics.incremental += 1
        self.statistics.rechecked_units += len(recheck)
        self._state = _State(state.key, project, text, tree, units, context_text,
                             state.context_reads)
        return finished(text, path, findings, [], settings, active)


def _run_recording(text: str, path: str, settings: Settings, active: tuple[type[Rule], ...],
                   tree: ast.Module, project: ProjectIndex | None
                   ) -> tuple[list[Finding], list[str], frozenset[str]]:
    """``run_rules``, and the names of the top-level functions and classes whose parameters an
    analysis typed by their call sites."""
    from dbleak.analysis.sources import CALL_SITE_TYPED

    typed: set[str] = set()
    token = CALL_SITE_TYPED.set(typed)
    try:
        findings, errors = run_rules(text, path, settings, active, tree, project)
    finally:
        CALL_SITE_TYPED.reset(token)
    prefix = module_name_for(path)
    skip = len(prefix.split(".")) if prefix else 0
    return findings, errors, frozenset(q.split(".")[skip] for q in typed
                                       if (not prefix or q.startswith(prefix + "."))
                                       and len(q.split(".")) > skip)


def _name_of(node: ast.stmt) -> str:
    return getattr(node, "name", "")


def _plan_identifiers(findings: Iterable[Finding]) -> set[str]:
    """Every identifier in the text of the findings' fix plans (names, wrappers, imports)."""
    found: set[str] = set()
    for finding in findings:
        if finding.plan is not None:
            for text in _strings(finding.plan.operations):
                found.update(_IDENTIFIER.findall(text))
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _strings(item)
    elif is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            yield from _strings(getattr(value, f.name))


def common_prefix(old: str, new: str) -> int:
    """The length of the longest common prefix of two texts (binary search, compared in C)."""
    low, high = 0, min(len(old), len(new))
    while low < high:  # compared in C, by slices
        middle = (low + high + 1) // 2
        if old[:middle] == new[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def common_suffix(old: str, new: str, limit: int) -> int:
    """The length, at most ``limit``, of the longest common suffix of two texts."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if old[len(old) - middle:] == new[len(new) - middle:]:
            low = middle
        else:
            high = middle - 1
    return low


def _line_offset(text: str, line: int) -> int:
    """The offset where 1-based ``line`` starts (``len(text)`` past the end)."""
    offset = 0
    for _ in range(line - 1):
        found = text.find("\n", offset)
        if found < 0:
            return len(text)
        offset = found + 1
    return offset


def _shift(node: ast.AST, delta: int) -> None:
    """Move every node below ``node`` (and itself) by ``delta`` lines."""
    for child in walk(node):
        line = getattr(child, "lineno", None)
        if line is not None:
            child.lineno = line + delta  # type: ignore[attr-defined]
            end = getattr(child, "end_lineno", None)
            if end is not None:
                child.end_lineno = end + delta  # type: ignore[attr-defined]


def reparsed(old_text: str, old_tree: ast.Module, text: str) -> ast.Module | None:
    """The parse of ``text``, made by parsing only the top-level statements an edit of
    ``old_text`` (parsed as ``old_tree``) touched; None when that is not possible (then parse
    it all).

    The edited span is widened to whole top-level statements: from the first line of the
    statement holding the first changed character (decorators included) to the line before the
    statement after the last changed one. The text before the span is unchanged, and a
    statement of the old parse began there, so the tokenizer starts the span afresh, as it
    does a file; the span parses on its own only if it ends outside any bracket, string or
    line continuation, so the unchanged statements after it read as before. The old trees
    of those statements are reused, moved by the lines the edit added or removed (moving all
    of a tree costs about a third of parsing it). NOTE: the old tree is changed in place.
    """
    body = old_tree.body
    if not body or old_text == text or "__future__" in text:
        return None  # a future import can change how the rest parses
    prefix = common_prefix(old_text, text)
    suffix = common_suffix(old_text, text, min(len(old_text), len(text)) - prefix)
    first_changed = old_text.count("\n", 0, prefix) + 1
    last_changed = old_text.count("\n", 0, len(old_text) - suffix) + 1
    starts = [_span(stmt)[0] for stmt in body]
    before = bisect_right(starts, first_changed)
    start_line = starts[before - 1] if before else 1
    low = bisect_left(starts, start_line) if before else 0  # the first statement replaced
    after = bisect_right(starts, last_changed)  # the first statement left as it was
    if low and (body[low - 1].end_lineno or 0) >= start_line:
        return None  # statements share a line (`;`)
    if 0 < after < len(body) and (body[after - 1].end_lineno or 0) >= starts[after]:
        return None
    old_start = _line_offset(old_text, start_line)
    old_end = _line_offset(old_text, starts[after]) if after < len(body) else len(old_text)
    if old_end < len(old_text) - suffix or old_start > prefix:
        return None
    new_end = len(text) - (len(old_text) - old_end)
    span = text[old_start:new_end]
    delta = span.count("\n") - old_text.count("\n", old_start, old_end)
    try:
        part = ast.parse(span)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if start_line > 1:
        for stmt in part.body:
            _shift(stmt, start_line - 1)
    if delta:
        for stmt in body[after:]:
            _shift(stmt, delta)
    return ast.Module(body=[*body[:low], *part.body, *body[after:]], type_ignores=[])


__all__ = ["IncrementalChecker", "Statistics"]
