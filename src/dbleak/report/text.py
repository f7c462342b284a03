"""The `full` and `concise` text formats (ruff's shape)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dbleak.models import Applicability, Finding
from dbleak.source import LineIndex

Style = Callable[[str, str], str]


def plain(text: str, _role: str) -> str:
    return text


_ANSI = {"path": "1", "code": "1;31", "fix": "36", "caret": "1;31", "gutter": "34", "help": "1;36"}


def ansi(text: str, role: str) -> str:
    code = _ANSI.get(role)
    return f"\x1b[{code}m{text}\x1b[0m" if code else text


def applicable(finding: Finding, unsafe: bool) -> bool:
    """Whether ``--fix`` applies the finding's fix (with ``--unsafe-fixes`` when ``unsafe``)."""
    plan = finding.plan
    if plan is None:
        return False
    return plan.applicability is Applicability.SAFE \
        or unsafe and plan.applicability is Applicability.UNSAFE


def concise_line(finding: Finding, style: Style = plain, unsafe: bool = False) -> str:
    """ruff's line; ``[*]`` marks a fix ``--fix`` would apply (an unsafe one only with
    ``--unsafe-fixes``)."""
    location = f"{finding.path}:{finding.start.line}:{finding.start.column + 1}:"
    mark = " [*]" if applicable(finding, unsafe) else ""
    return f"{style(location, 'path')} {style(finding.code, 'code')}{mark} {finding.message}"


def full_block(finding: Finding, source: str | None, style: Style = plain,
               unsafe: bool = False) -> str:
    lines = [concise_line(finding, style, unsafe)]
    if source is None:
        return "\n".join(lines)
    index = LineIndex(source)
    first = max(finding.start.line - 1, 1)
    last = min(finding.start.line + 1, len(index.lines))
    width = len(str(last))
    gutter = style(" " * width + " |", "gutter")
    lines.append(gutter)
    for number in range(first, last + 1):
        text = index.line_text(number).rstrip("\r\n")
        lines.append(f"{style(str(number).rjust(width) + ' |', 'gutter')} {text}")
        if number == finding.start.line:
            start = finding.start.column
            if finding.end.line == finding.start.line:
                length = max(finding.end.column - start, 1)
            else:
                length = max(len(text) - start, 1)
            caret = " " * start + style("^" * length + " " + finding.code, "caret")
            lines.append(f"{gutter} {caret}")
    lines.append(gutter)
    if finding.plan is not None:
        label = "help" if finding.fixable else "note"
        lines.append(f"{' ' * width} = {style(label, 'help')}: {finding.plan.title}")
    return "\n".join(lines) + "\n"


def summary(findings: Sequence[Finding], fixed: int, unsafe_hidden: int, fix_mode: bool,
            unsafe: bool = False) -> list[str]:
    """Ruff's closing lines."""
    out: list[str] = []
    remaining = len(findings)
    if fix_mode and fixed:
        total = remaining + fixed
        if remaining:
            out.append(f"Found {total} error{'s' if total != 1 else ''} ({fixed} fixed, {remaining} remaining).")
        else:
            out.append(f"Found {total} error{'s' if total != 1 else ''} ({fixed} fixed, 0 remaining).")
    elif remaining:
        out.append(f"Found {remaining} error{'s' if remaining != 1 else ''}.")
    else:
        out.append("All checks passed!")
    fixable = sum(1 for f in findings if applicable(f, unsafe))
    if fixable and not fix_mode:
        out.append(f"[*] {fixable} fixable with the --fix option."
                   + (f" ({unsafe_hidden} hidden fixes can be enabled with the `--unsafe-fixes` option.)"
                      if unsafe_hidden else ""))
    elif fixable and fix_mode:
        out.append(f"[*] {fixable} fixable with the --fix option.")
    elif unsafe_hidden:
        out.append(f"No fixes available ({unsafe_hidden} hidden fixes can be enabled with the "
                   "`--unsafe-fixes` option).")
    return out
