"""Checking one source text: decode, parse once, run the selected rules, apply suppressions."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from dbleak.analysis.module import ModuleFacts
from dbleak.analysis.project import ProjectIndex, module_name_for
from dbleak.knowledge.drivers import table_for
from dbleak.models import FileResult, Finding, Position
from dbleak.noqa import Suppressions, may_suppress, parse_suppressions
from dbleak.registry import (
    ENGINE_CODES,
    SYNTAX_ERROR,
    UNREADABLE_FILE,
    per_file_ignored,
    selected_rules,
)
from dbleak.rules.base import CheckContext, Rule
from dbleak.rules.dbl003_unused_noqa import UnusedNoqa, unused_noqa_findings
from dbleak.settings import Settings
from dbleak.source import DecodeError, LineIndex, decode_source

_RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def engine_finding(code_name: tuple[str, str], path: str, message: str, line: int = 1,
                   column: int = 0) -> Finding:
    position = Position(max(line, 1), max(column, 0))
    return Finding(code_name[0], code_name[1], message, path, position, position,
                   noqa_lines=(position.line,))


def unreadable(path: str, error: OSError | str) -> FileResult:
    reason = error if isinstance(error, str) else (error.strerror or str(error))
    return FileResult(path, (engine_finding(UNREADABLE_FILE, path, f"cannot read the file: {reason}"),))


def _newer_syntax_hint(text: str, error: SyntaxError) -> str | None:
    """Whether a syntax error is syntax of a newer Python than the one running dbleak."""
    line = (error.text or "").strip()
    candidates: list[tuple[str, str]] = [
        (r"^type\s+\w+(\[.*\])?\s*=", "3.12 (`type` aliases)"),
        (r"^(async\s+)?def\s+\w+\s*\[", "3.12 (generic functions)"),
        (r"^class\s+\w+\s*\[", "3.12 (generic classes)"),
        (r"^except\s*\*", "3.11 (`except*`)"),
        (r"^match\s+.+:\s*$", "3.10 (`match`)"),
        (r"f['\"].*\{[^}]*['\"]", "3.12 (nested quotes in f-strings)"),
        (r"^except\s+[^:(]+,[^:]+:", "3.14 (`except` without parentheses)"),
        (r"t['\"]", "3.14 (template strings)"),
    ]
    for pattern, version in candidates:
        if re.search(pattern, line):
            required = version.split(" ", 1)[0]
            if tuple(int(x) for x in required.split(".")) > sys.version_info[:2]:
                return version
    return None


# `except ldap.LDAPError, e:` binds the exception in Python 2. Python 3.14 reads a comma list
# of exception types there too, but a lowercase name after the comma is a variable, not a type.
_PYTHON2_EXCEPT = re.compile(r"^except\s+[^:(,]+,\s*([a-z_][a-z0-9_]*)\s*:")


def _syntax_finding(path: str, text: str, error: SyntaxError) -> Finding:
    line = error.lineno or 1
    column = (error.offset or 1) - 1
    python2 = _PYTHON2_EXCEPT.match((error.text or "").strip())
    hint = None if python2 else _newer_syntax_hint(text, error)
    if python2 is not None:
        message = (f"SyntaxError: Python 2 syntax: `except X, {python2.group(1)}:` binds the "
                   f"exception in Python 2; Python 3 spells it `except X as {python2.group(1)}:`")
    elif hint is not None:
        message = (f"this file uses syntax of Python {hint}, newer than the Python {_RUNNING} "
                   f"running dbleak; run dbleak under Python {hint.split(' ', 1)[0]} or later")
    else:
        message = f"SyntaxError: {error.msg}"
    return engine_finding(SYNTAX_ERROR, path, message, line, column)


@dataclass
class Parsed:
    """A module parsed once and kept for the checking pass."""

    tree: ast.Module
    facts: ModuleFacts | None = None


def active_rules(path: str, settings: Settings) -> tuple[type[Rule], ...]:
    return selected_rules(settings, per_file_ignored(path, settings))


def may_hold_findings(text: str, rules: Iterable[type[Rule]], settings: Settings) -> bool:
    """Cheap pre-filter: False when no selected rule's trigger words occur in the text."""
    drivers = table_for(settings.drivers)
    triggers: set[str] = set()
    for rule in rules:
        words = rule.triggers(drivers)
        if words is None:
            return True
        triggers.update(words)
    return any(word in text for word in triggers)


def parse_module(text: str, path: str) -> ast.Module | Finding:
    """Parse with ``ast``; a syntax error becomes a DBL001 finding."""
    try:
        return ast.parse(text, filename=path)
    except SyntaxError as error:
        return _syntax_finding(path, text, error)
    except (ValueError, MemoryError, RecursionError) as error:
        return engine_finding(SYNTAX_ERROR, path, f"cannot parse: {error}")


def check_text(text: str, path: str, settings: Settings,
               rules: Iterable[type[Rule]] | None = None, project: ProjectIndex | None = None,
               parsed: Parsed | None = None) -> FileResult:
    """Check decoded source text. Never raises for bad input: it becomes a finding."""
    active = tuple(rules) if rules is not None else active_rules(path, settings)
    if not active:
        return FileResult(path)
    if parsed is None:
        # Always parse, so a syntax error is reported; the pre-filter saves the analysis.
        tree = parse_module(text, path)
        if isinstance(tree, Finding):
            return FileResult(path, (tree,))
        if not may_hold_findings(text, active, settings):
            return FileResult(path)
        parsed = Parsed(tree)
    findings, errors = run_rules(text, path, settings, active, parsed.tree, project, parsed.facts)
    return finished(text, path, findings, errors, settings, active)


def run_rules(text: str, path: str, settings: Settings, active: tuple[type[Rule], ...],
              tree: ast.Module, project: ProjectIndex | None = None,
              facts: ModuleFacts | None = None) -> tuple[list[Finding], list[str]]:
    """The rules' findings on ``tree`` (the parse of ``text``, or a part of it), before any
    suppression, and the internal errors met."""
    ctx = CheckContext(path, text, tree, settings, module_name_for(path), project, facts)
    findings: list[Finding] = []
    errors: list[str] = []
    try:
        for rule in active:
            try:
                findings.extend(rule.check(ctx))
            except Exception:  # noqa: BLE001 - a bug in one rule must not end the run
                import traceback

                detail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
                errors.append(f"{path}: internal error in {rule.code} ({rule.name}): {detail}")
    finally:
        # Breaks the context's reference cycles: the tree is freed once its caller drops it.
        ctx.release()
    return findings, errors


def finished(text: str, path: str, findings: list[Finding], errors: list[str],
             settings: Settings | None = None, active: Iterable[type[Rule]] = ()) -> FileResult:
    """The result of raw findings: ``noqa`` comments of ``text`` applied (unless
    ``settings.ignore_noqa``), DBL003 unused-noqa added when it is among ``active``, sorted."""
    active = tuple(active)
    if settings is not None and settings.ignore_noqa:
        findings.sort(key=Finding.sort_key)
        return FileResult(path, tuple(findings), tuple(errors))
    stale_check = any(rule.code == UnusedNoqa.code for rule in active)
    if findings or stale_check:
        suppressions = (parse_suppressions(text) if stale_check or may_suppress(
            text, [line for finding in findings for line in finding.noqa_lines]) else Suppressions())
        used: set[tuple[int, str]] = set()
        kept: list[Finding] = []
        for finding in findings:
            if suppressions.suppresses(finding.code, finding.noqa_lines):
                used.update(suppressions.used_by(finding.code, finding.noqa_lines))
            else:
                kept.append(finding)
        if stale_check and not errors:  # a rule that failed may have had the finding
            enabled = {rule.code for rule in active} | set(ENGINE_CODES)
            kept.extend(f for f in unused_noqa_findings(text, path, used, enabled)
                        if not suppressions.suppresses(f.code, f.noqa_lines))
        findings = kept
    findings.sort(key=Finding.sort_key)
    return FileResult(path, tuple(findings), tuple(errors))


def undecodable(path: str, error: DecodeError) -> FileResult:
    return FileResult(path, (engine_finding(SYNTAX_ERROR, path, f"cannot decode the file: {error}",
                                            error.line, error.column),))


def check_bytes(data: bytes, path: str, settings: Settings, project: ProjectIndex | None = None,
                parsed: Parsed | None = None) -> tuple[FileResult, str | None]:
    """Decode then check. Returns the result and the decoded text (None when undecodable)."""
    try:
        decoded = decode_source(data)
    except DecodeError as error:
        return undecodable(path, error), None
    return check_text(decoded.text, path, settings, project=project, parsed=parsed), decoded.text


__all__ = ["LineIndex", "check_bytes", "check_text", "module_name_for", "per_file_ignored", "unreadable"]
