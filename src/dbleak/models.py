"""Data that crosses module boundaries: positions, edits, fixes, findings, results.

Coordinates inside the program: 1-based lines, 0-based *character* columns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Applicability(str, enum.Enum):
    """How far a fix may be trusted (ruff's meaning)."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 1-based
    column: int  # 0-based, in characters


@dataclass(frozen=True)
class Edit:
    """Replace the text between ``start`` and ``end`` by ``content``."""

    content: str
    start: Position
    end: Position


@dataclass(frozen=True)
class Fix:
    """A rendered fix: concrete text edits."""

    title: str
    applicability: Applicability
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class FixPlan:
    """A fix as the analysis plans it: operations over source ranges, rendered later by libcst.

    ``operations`` are frozen dataclasses from :mod:`dbleak.fixes.plan`.
    """

    title: str
    applicability: Applicability
    operations: tuple[object, ...]


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    message: str
    path: str
    start: Position
    end: Position
    plan: FixPlan | None = None
    # The lines on which a ``# noqa`` suppresses this finding (first and last line of the
    # statement that holds it).
    noqa_lines: tuple[int, ...] = ()
    fix: Fix | None = field(default=None, compare=False)

    @property
    def fixable(self) -> bool:
        return self.plan is not None and self.plan.applicability is not Applicability.DISPLAY_ONLY

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.start.line, self.start.column, self.code)


@dataclass(frozen=True)
class FileResult:
    """What checking one file produced."""

    path: str
    findings: tuple[Finding, ...] = ()
    # Set when a rule raised: the run must exit 2 but keeps going.
    internal_errors: tuple[str, ...] = ()
    # The fixed text, when fixes were applied (``None`` when nothing changed).
    fixed_source: str | None = None
    fixes_applied: int = 0
