"""The `github` format: GitHub Actions workflow commands, one annotation per finding.

    ::warning title=dbleak (DBL104),file=app/db.py,line=3,col=6,endLine=3,endColumn=28::message

Escaping is the Actions toolkit's (``@actions/core``): data escapes ``%``, ``\\r`` and ``\\n``;
property values also ``:`` and ``,``. GitHub places columns only within one line, so a finding
that spans lines gets ``line`` and ``endLine`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from dbleak.baseline import relative_to
from dbleak.models import Finding
from dbleak.registry import ENGINE_CODES
from dbleak.report import ReportContext


def escape_data(text: str) -> str:
    """Escape a command's message (the toolkit's ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (the toolkit's ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, properties: Sequence[tuple[str, str | int]], message: str) -> str:
    """One workflow command line: ``::kind key=value,...::message``."""
    rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties)
    return f"::{kind} {rendered}::{escape_data(message)}" if rendered else f"::{kind}::{escape_data(message)}"


def annotation(finding: Finding, path: str) -> str:
    """The annotation of one finding; ``path`` is relative to the repository root."""
    properties: list[tuple[str, str | int]] = [
        ("title", f"dbleak ({finding.code})"),
        ("file", path),
        ("line", finding.start.line),
    ]
    if finding.start.line == finding.end.line:
        properties += [("col", finding.start.column + 1), ("endLine", finding.end.line),
                       ("endColumn", finding.end.column + 1)]
    else:
        properties.append(("endLine", finding.end.line))
    mark = " [*]" if finding.fixable else ""
    message = f"{path}:{finding.start.line}:{finding.start.column + 1}: {finding.code}{mark} {finding.message}"
    return command("error" if finding.code in ENGINE_CODES else "warning", properties, message)


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    """One command per finding, in report order."""
    relative = relative_to(context.root)
    return "".join(annotation(finding, relative(finding.path)) + "\n" for finding in findings)
