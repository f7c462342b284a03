"""Output formats: pure functions of a sorted list of findings.

Each machine-readable format is a module with ``render(findings, context) -> str`` registered in
:data:`FORMATS`. The text formats (`full`, `concise`) are written by the CLI, which adds the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI reads the table of formats at start-up, before any finding exists
    from dbleak.models import Finding


@dataclass(frozen=True)
class ReportContext:
    """What a formatter may know besides the findings."""

    root: str = "."  # the folder paths are made relative to (the repository root for SARIF)
    sources: Mapping[str, str] = field(default_factory=dict)  # decoded texts by path, if kept
    fixable_codes: frozenset[str] = frozenset()
    # GitLab's CI_PROJECT_DIR, when set: its report's paths are relative to it.
    project_dir: str | None = None
    # Every file checked (as displayed), findings or not: JUnit lists the clean ones as passed.
    checked_paths: tuple[str, ...] = ()


Formatter = Callable[[Sequence["Finding"], ReportContext], str]


def _json(findings: Sequence[Finding], context: ReportContext) -> str:
    from dbleak.report import json as json_format

    return json_format.render(findings)


def _lazy(module: str) -> Formatter:
    """A formatter whose module is imported on first use (start-up stays cheap)."""

    def render(findings: Sequence[Finding], context: ReportContext) -> str:
        import importlib

        formatter: Formatter = importlib.import_module(f"dbleak.report.{module}").render
        return formatter(findings, context)

    return render


FORMATS: dict[str, Formatter] = {
    "json": _json,
    "sarif": _lazy("sarif"),
    "github": _lazy("github"),
    "gitlab": _lazy("gitlab"),
    "junit": _lazy("junit"),
}

# Formats whose output needs the rendered fix edits (libcst is loaded for them).
NEEDS_FIX_EDITS: set[str] = {"json", "sarif"}

TEXT_FORMATS = ("full", "concise")
