"""Suppression comments: `# noqa`, `# noqa: DBL104, DBL101`, and file-level `# dbleak: noqa`."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_FILE_NOQA = re.compile(
    r"#\s*dbleak\s*:\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)
ALL = frozenset({"*"})


@dataclass
class Suppressions:
    by_line: dict[int, frozenset[str]] = field(default_factory=dict)
    file_codes: frozenset[str] = frozenset()

    def suppresses(self, code: str, lines: tuple[int, ...]) -> bool:
        if self.file_codes is ALL or code in self.file_codes:
            return True
        for line in lines:
            codes = self.by_line.get(line)
            if codes is not None and (codes is ALL or code in codes):
                return True
        return False


    def used_by(self, code: str, lines: tuple[int, ...]) -> list[tuple[int, str]]:
        """The (line, code) entries of line-level `# noqa: CODE` comments that suppress ``code``
        on ``lines`` (every one that does: removing any of them alone keeps it suppressed)."""
        return [(line, code) for line in lines
                if (codes := self.by_line.get(line)) is not None and codes is not ALL
                and code in codes]


@dataclass(frozen=True)
class NoqaDirective:
    """One line-level `# noqa` comment, as written (for DBL003 unused-noqa and its fix)."""

    line: int
    column: int  # 0-based character column of the comment's `#`
    comment: str  # the whole comment token
    start: int  # where the directive begins inside ``comment``
    end: int  # and ends (after its last code)
    codes: tuple[str, ...] | None  # as written, upper-cased; None for a blanket noqa


def noqa_directives(text: str) -> list[NoqaDirective]:
    """Every line-level `# noqa` comment of ``text`` (file-level `# dbleak: noqa` excluded)."""
    if "noqa" not in text.lower():
        return []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text, newline=None).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    found: list[NoqaDirective] = []
    for token in tokens:
        if token.type != tokenize.COMMENT or _FILE_NOQA.match(token.string):
            continue
        match = _NOQA.search(token.string)
        if match is None:
            continue
        written = match.group("codes")
        codes = tuple(code.upper() for code in _CODE.findall(written)) if written else None
        found.append(NoqaDirective(token.start[0], token.start[1], token.string, match.start(),
                                   match.end(), codes))
    return found


def _codes(text: str | None) -> frozenset[str]:
    if not text:
        return ALL
    return frozenset(code.upper() for code in _CODE.findall(text))


def may_suppress(text: str, lines: Iterable[int]) -> bool:
    """Whether a suppression comment may apply to a finding on ``lines``: a file-level
    directive anywhere, or ``noqa`` written on one of the lines. A cheap look before
    :func:`parse_suppressions` tokenizes the whole file (2 % of a run on Django's sources,
    whose files mention ``noqa`` far from their findings)."""
    if "noqa" not in text.lower():
        return False
    if "\r" in text or _FILE_NOQA.search(text):
        return True  # (other line ends than ``\n``: numbered as the tokenizer does, below)
    physical = text.split("\n")
    return any(0 < line <= len(physical) and "noqa" in physical[line - 1].lower() for line in lines)


def parse_suppressions(text: str) -> Suppressions:
    """Find suppression comments. Only real comments count (a `# noqa` inside a string does not)."""
    result = Suppressions()
    if "noqa" not in text and "NOQA" not in text.upper():
        return result
    file_codes: set[str] = set()
    file_all = False
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text, newline=None).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        tokens = []
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        comment = token.string
        file_match = _FILE_NOQA.match(comment)
        if file_match:
            codes = _codes(file_match.group("codes"))
            if codes is ALL:
                file_all = True
            else:
                file_codes |= codes
            continue
        match = _NOQA.search(comment)
        if match:
            line = token.start[0]
            codes = _codes(match.group("codes"))
            previous = result.by_line.get(line)
            if previous is ALL or codes is ALL:
                result.by_line[line] = ALL
            else:
                result.by_line[line] = (previous or frozenset()) | codes
    result.file_codes = ALL if file_all else frozenset(file_codes)
    return result
