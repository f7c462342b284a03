"""Output formats: pure functions of a sorted list of findings.

Each machine-readable format is a module with ``render(findings, context) -> str`` registered in
:data:`FORMATS`. The text formats (`full`, `concise`) are written by the CLI, which adds the summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from dbleak.models import Finding


@dataclass(frozen=True)
class ReportContext:
    """What a formatter may know besides the findings."""

    root: str = "."  # the folder paths are made relative to (the repository root for SARIF)
    sources: Mapping[str, str] = field(default_factory=dict)  # decoded texts by path, if kept
    fixable_codes: frozenset[str] = frozenset()


Formatter = Callable[[Sequence[Finding], ReportContext], str]


def _json(findings: Sequence[Finding], context: ReportContext) -> str:
    from dbleak.report import json as json_format

    return json_format.render(findings)


FORMATS: dict[str, Formatter] = {
    "json": _json,
}

# Formats whose output needs the rendered fix edits (libcst is loaded for them).
NEEDS_FIX_EDITS: set[str] = {"json"}

TEXT_FORMATS = ("full", "concise")
