"""Adopting dbleak on existing code: baselines (report only new findings) and `# noqa` comments.

A finding is keyed on its file, its code, the qualified name of the function around it and the
normalised text of the flagged statement (its header, for a compound statement) — never on line
numbers, so the key survives lines moving up or down and code being added elsewhere in the file.
Keys form a multiset: two identical statements in one function are two entries.
The same keys give the stable fingerprints of the SARIF and GitLab reports.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import re
import tokenize
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dbleak.fixing import write_atomically, write_source_file
from dbleak.models import Finding
from dbleak.noqa import parse_suppressions
from dbleak.registry import ENGINE_CODES

BASELINE_VERSION = 1

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class BaselineError(Exception):
    """The baseline file cannot be read or is not a dbleak baseline."""


@dataclass(frozen=True, order=True)
class FindingKey:
    path: str  # POSIX path, relative to the folder the keys are made for
    code: str
    function: str  # qualified name of the innermost enclosing def or class; "" at module level
    statement: str  # normalised text of the flagged statement


@dataclass(frozen=True)
class _Statement:
    start: tuple[int, int]  # (line, character column)
    end: tuple[int, int]
    header_end: tuple[int, int]  # where the statement's own text stops (its body starts)
    scope: str  # qualified name of the enclosing def/class


def physical_lines(text: str) -> list[str]:
    """The lines as Python counts them: ended by ``\\n``, ``\\r\\n`` or ``\\r`` only.

    (``str.splitlines`` also splits at form feeds and other separators, which would shift line
    numbers against those of ``ast`` and ``tokenize``.)
    """
    return io.StringIO(text, newline="").readlines()


class SourceOutline:
    """The statements of one module with their enclosing scopes; parsed once, queried per finding."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = physical_lines(text)
        self.offsets = [0]
        for line in self.lines:
            self.offsets.append(self.offsets[-1] + len(line))
        self.statements: list[_Statement] = []
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return
        self._collect(tree.body, "")

    def _line(self, line: int) -> str:
        return self.lines[line - 1] if 1 <= line <= len(self.lines) else ""

    def _position(self, line: int, byte_column: int) -> tuple[int, int]:
        """(line, character column) of an ``ast`` position (its columns are UTF-8 bytes)."""
        text = self._line(line)
        if text.isascii():
            return (line, byte_column)
        return (line, len(text.encode("utf-8")[:byte_column].decode("utf-8", errors="replace")))

    def _offset(self, line: int, column: int) -> int:
        if line > len(self.lines):
            return len(self.text)
        return self.offsets[line - 1] + column

    def _collect(self, nodes: Iterable[ast.AST], scope: str) -> None:
        for node in nodes:
            if not isinstance(node, (ast.stmt, ast.excepthandler)):
                continue
            start = self._position(node.lineno, node.col_offset)
            end = self._position(node.end_lineno or node.lineno, node.end_col_offset or 0)
            header_end = end
            first_child = _first_child(node)
            if first_child is not None:
                header_end = self._position(first_child.lineno, first_child.col_offset)
            self.statements.append(_Statement(start, end, header_end, scope))
            inner = f"{scope}.{node.name}" if scope and isinstance(node, _SCOPES) else (
                node.name if isinstance(node, _SCOPES) else scope)
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    self._collect(children, inner)
            for case in getattr(node, "cases", None) or ():
                self._collect(case.body, inner)

    def describe(self, line: int, column: int) -> tuple[str, str]:
        """(enclosing scope, normalised statement text) of the position (1-based line, 0-based column)."""
        position = (line, column)
        best: _Statement | None = None
        for statement in self.statements:
            contains = statement.start <= position <= statement.end
            if contains and (best is None or statement.start >= best.start):
                best = statement
        if best is None:
            return "", normalise(self._line(line))
        start = self._offset(*best.start)
        stop = self._offset(*best.header_end)
        return best.scope, normalise(self.text[start:stop])


def _first_child(node: ast.AST) -> ast.stmt | ast.pattern | None:
    """The first nested statement (or case pattern) of a compound statement, if any."""
    body = getattr(node, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
        return body[0]
    if isinstance(node, ast.Match) and node.cases:
        return node.cases[0].pattern
    return None


def normalise(fragment: str) -> str:
    """Tokens joined by single spaces: whitespace, line breaks and comments do not count."""
    words: list[str] = []
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER}
    try:
        for token in tokenize.generate_tokens(io.StringIO(fragment.strip() + "\n").readline):
            if token.type not in skip:
                words.append(token.string)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # a header alone may be incomplete (an open bracket): keep what was read
    return " ".join(words) if words else " ".join(fragment.split())


def relative_to(folder: str) -> Callable[[str], str]:
    """A function that makes a finding's path POSIX and relative to ``folder`` (when it can)."""
    base = os.path.abspath(folder)

    def relative(path: str) -> str:
        if path in ("-", "<stdin>"):
            return path
        try:
            rel = os.path.relpath(os.path.abspath(path), base)
        except ValueError:  # another drive on Windows
            return Path(path).as_posix()
        return Path(rel).as_posix()

    return relative


def finding_keys(findings: Sequence[Finding], sources: Mapping[str, str],
                 relative: Callable[[str], str]) -> list[FindingKey]:
    """The key of every finding, in order. Parses each file with findings once."""
    outlines: dict[str, SourceOutline | None] = {}
    keys: list[FindingKey] = []
    for finding in findings:
        if finding.path not in outlines:
            text = sources.get(finding.path)
            outlines[finding.path] = SourceOutline(text) if text is not None else None
        outline = outlines[finding.path]
        if outline is None:
            scope, statement = "", ""
        else:
            scope, statement = outline.describe(finding.start.line, finding.start.column)
        keys.append(FindingKey(relative(finding.path), finding.code, scope, statement))
    return keys


def fingerprints(keys: Sequence[FindingKey]) -> list[str]:
    """A hash per key, made unique by counting repeats of the same key (in report order)."""
    seen: Counter[FindingKey] = Counter()
    out: list[str] = []
    for key in keys:
        occurrence = seen[key]
        seen[key] += 1
        data = "\0".join((key.path, key.code, key.function, key.statement, str(occurrence)))
        out.append(hashlib.sha256(data.encode("utf-8")).hexdigest()[:32])
    return out


def write_baseline(path: Path, keys: Iterable[FindingKey]) -> int:
    """Write the baseline file (sorted, one entry per distinct key with its count); returns the total."""
    counts = Counter(keys)
    entries = [
        {"path": key.path, "code": key.code, "function": key.function,
         "statement": key.statement, "count": count}
        for key, count in sorted(counts.items())
    ]
    document = {"dbleak-baseline": BASELINE_VERSION, "entries": entries}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: an interrupted run must not leave a truncated baseline the next run rejects.
    write_atomically(path, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())
    return sum(counts.values())


def read_baseline(path: Path) -> Counter[FindingKey]:
    """The multiset of keys recorded in a baseline file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BaselineError(f"{path}: cannot read the baseline: {error.strerror or error}") from None
    except ValueError as error:
        raise BaselineError(f"{path}: not a dbleak baseline (invalid JSON: {error})") from None
    if not isinstance(document, dict) or document.get("dbleak-baseline") != BASELINE_VERSION:
        raise BaselineError(f"{path}: not a dbleak baseline (version {BASELINE_VERSION} expected)")
    counts: Counter[FindingKey] = Counter()
    for entry in document.get("entries", []):
        try:
            key = FindingKey(str(entry["path"]), str(entry["code"]), str(entry["function"]),
                             str(entry["statement"]))
            count = int(entry.get("count", 1))
        except (KeyError, TypeError, ValueError):
            raise BaselineError(f"{path}: malformed baseline entry {entry!r}") from None
        counts[key] += max(count, 0)
    return counts


@dataclass(frozen=True)
class BaselineOutcome:
    new: tuple[Finding, ...]  # findings not in the baseline, in report order
    matched: int  # findings the baseline accounts for
    fixed: int  # baseline entries of checked (or deleted) files that no finding matched


def apply_baseline(findings: Sequence[Finding], keys: Sequence[FindingKey],
                   baseline: Counter[FindingKey], checked: Iterable[str],
                   exists: Callable[[str], bool]) -> BaselineOutcome:
    """Split ``findings`` into new ones and those the baseline holds.

    ``checked``: the (relative) paths checked in this run — entries of files not checked now are
    not counted as fixed; ``exists`` tells whether a recorded path still exists (a deleted or
    renamed file's entries are fixed).
    """
    remaining = Counter(baseline)
    new: list[Finding] = []
    matched = 0
    for finding, key in zip(findings, keys):
        if remaining[key] > 0:
            remaining[key] -= 1
            matched += 1
        else:
            new.append(finding)
    checked_paths = set(checked)
    fixed = sum(count for key, count in remaining.items()
                if count > 0 and (key.path in checked_paths or not exists(key.path)))
    return BaselineOutcome(tuple(new), matched, fixed)


def fixed_entries_message(fixed: int) -> str:
    if fixed == 1:
        return "1 baseline entry is fixed; rewrite the baseline to drop it."
    return f"{fixed} baseline entries are fixed; rewrite the baseline to drop them."


# --- `--add-noqa` -------------------------------------------------------------------------------

_NOQA_CODES = re.compile(r"#\s*noqa(?P<colon>:\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?",
                         re.IGNORECASE)


def _comment_layout(text: str) -> tuple[set[int], dict[int, tokenize.TokenInfo]]:
    """Lines a comment cannot be appended to (they end inside a string or with a backslash),
    and the comment already on each line."""
    blocked: set[int] = set()
    comments: dict[int, tokenize.TokenInfo] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token
            elif token.end[0] > token.start[0]:
                blocked.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    for number, line in enumerate(physical_lines(text), start=1):
        if line.rstrip().endswith("\\") and number not in comments:
            blocked.add(number)
    return blocked, comments


def _noqa_line(finding: Finding, blocked: set[int]) -> int | None:
    """The line the comment goes on: the finding's first line, else its statement's last line."""
    allowed_lines = set(finding.noqa_lines) or {finding.start.line}
    candidates = [finding.start.line, *sorted(finding.noqa_lines, reverse=True)]
    for line in candidates:
        if line in allowed_lines and line not in blocked:
            return line
    return None


def add_noqa(text: str, findings: Sequence[Finding]) -> tuple[str, int]:
    """``text`` with a `# noqa: CODE` for every finding (merged into an existing `# noqa: ...`).

    Returns the new text and how many codes were added.
    """
    blocked, comments = _comment_layout(text)
    suppressions = parse_suppressions(text)
    wanted: dict[int, list[str]] = {}
    for finding in findings:
        if finding.code in ENGINE_CODES:
            continue  # syntax errors and unreadable files cannot be suppressed
        line = _noqa_line(finding, blocked)
        if line is None or suppressions.suppresses(finding.code, (line,)):
            continue
        codes = wanted.setdefault(line, [])
        if finding.code not in codes:
            codes.append(finding.code)
    if not wanted:
        return text, 0
    lines = physical_lines(text)
    added = 0
    for number, codes in wanted.items():
        if number > len(lines):
            continue
        raw = lines[number - 1]
        body = raw.rstrip("\r\n")
        ending = raw[len(body):]
        new_codes = ", ".join(sorted(codes))
        comment = comments.get(number)
        match = _NOQA_CODES.search(comment.string) if comment is not None else None
        if comment is not None and match is not None and match.group("codes"):
            # Merge into the codes already listed; the rest of the comment stays as it is.
            column = comment.start[1] + match.end("codes")
            body = body[:column] + ", " + new_codes + body[column:]
        else:
            body = body.rstrip() + "  # noqa: " + new_codes
        lines[number - 1] = body + ending
        added += len(codes)
    return "".join(lines), added


def repository_root(start: Path) -> Path:
    """The root of the git work tree holding ``start`` (a `.git` folder or file); else ``start``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def record_or_filter(findings: Sequence[Finding], sources: Mapping[str, str], checked: Sequence[str],
                     baseline: Path | None, write: Path | None) -> tuple[list[Finding], list[str]]:
    """Apply `--write-baseline` then `--baseline`: the findings left to report and messages to show."""
    messages: list[str] = []
    remaining = list(findings)
    if write is not None:
        relative = relative_to(str(write.parent))
        total = write_baseline(write, finding_keys(findings, sources, relative))
        messages.append(f"Wrote {total} finding{'s' if total != 1 else ''} to the baseline {write}.")
        remaining = []  # everything found is now in the baseline
    if baseline is not None:
        folder = baseline.parent
        relative = relative_to(str(folder))
        recorded = read_baseline(baseline)
        outcome = apply_baseline(findings, finding_keys(findings, sources, relative), recorded,
                                 [relative(path) for path in checked],
                                 lambda path: (folder / path).exists())
        if write is None:
            remaining = list(outcome.new)
        if outcome.fixed and write is None:
            messages.append(fixed_entries_message(outcome.fixed))
    return remaining, messages


def add_noqa_to_files(findings: Sequence[Finding], sources: Mapping[str, str]) -> tuple[int, list[str]]:
    """Write `# noqa` comments for ``findings`` into their files; returns (codes added, warnings)."""
    from dbleak.source import DecodeError, decode_source, encode_source

    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    added = 0
    warnings: list[str] = []
    for path, found in sorted(by_path.items()):
        text = sources.get(path)
        if text is None or path in ("-", "<stdin>"):
            continue
        file = Path(path)
        try:
            decoded = decode_source(file.read_bytes())
        except (OSError, DecodeError) as error:
            warnings.append(f"{path}: cannot add noqa comments: {error}")
            continue
        if decoded.text != text:
            warnings.append(f"{path}: changed while being checked; no noqa comments added")
            continue
        new_text, count = add_noqa(text, found)
        if not count:
            continue
        try:
            write_source_file(file, encode_source(new_text, decoded))
        except (OSError, UnicodeEncodeError) as error:
            warnings.append(f"{path}: cannot write the noqa comments: {error}")
            continue
        added += count
    return added, warnings
