"""DBL003 unused-noqa: `# noqa: DBL…` codes that suppress nothing (ruff's RUF100)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from dbleak.fixes.plan import ReplaceRange
from dbleak.knowledge.drivers import DriverTable
from dbleak.models import Applicability, Finding, FixPlan, Position
from dbleak.noqa import NoqaDirective, noqa_directives
from dbleak.rules.base import CheckContext, Example, Rule
from dbleak.source import LineIndex

_DBLEAK_CODE = re.compile(r"^DBL[0-9]+$")


class UnusedNoqa(Rule):
    """
    ## What it does
    Flags `# noqa: DBL…` comments, and single codes in them, that suppress nothing: the rule
    they name found nothing on that line, or no rule has that code.

    ## Why is this bad?
    A suppression outlives the code it was written for. A stale `# noqa: DBL101` silences the
    next leak someone writes on that line, and tells readers there is a problem where there is
    none.

    ## Example
    ```python
    conn = sqlite3.connect(path)  # noqa: DBL101
    conn.close()  # noqa: DBL101, DBL999
    ```

    ## Use instead
    ```python
    conn = sqlite3.connect(path)  # noqa: DBL101
    conn.close()
    ```

    ## Known problems
    Only dbleak's own codes are judged: codes of other tools (`# noqa: E501`) and a blanket
    `# noqa` (which every linter reads) are left alone. Unlike ruff's RUF100, a code of a rule
    that is not enabled for the file (deselected, or turned off by `per-file-ignores`) is not
    reported: another run (the editor, CI) may enable it, and `--select DBL003` alone would
    otherwise flag every suppression. A code listed for a rule that is enabled but skipped the
    file (a test module, say) is reported. With `--ignore-noqa` nothing is suppressed, so
    nothing is reported as unused.

    ## Fix safety
    Safe: only a comment changes. The fix removes the stale codes, or the whole `# noqa`
    comment when none is left (keeping any comment text that follows it, such as
    `# noqa: DBL101  # why`).

    ## Options
    None; `--ignore-noqa` turns every suppression off for a run.

    ## References
    - [ruff RUF100 unused-noqa](https://docs.astral.sh/ruff/rules/unused-noqa/)
    - [flake8: selecting and ignoring violations](https://flake8.pycqa.org/en/latest/user/violations.html#in-line-ignoring-errors)
    """

    code = "DBL003"
    name = "unused-noqa"
    message = "Unused `noqa` directive ({detail})"
    fix_title = "Remove the unused `noqa` codes"
    fix_availability = "always"
    default_enabled = False

    VALID = (
        "import sqlite3\n\nconn = sqlite3.connect('x')  # noqa: E501\n",
        "import sqlite3\n\nconn = sqlite3.connect('x')  # noqa\n",
        "x = 1  # a comment about noqa\n",
    )
    INVALID = (
        Example("x = 1  # noqa: DBL109\n", fixed="x = 1\n"),
        Example("x = 1  # noqa: E501, DBL001  # why\n", fixed="x = 1  # noqa: E501  # why\n"),
    )

    @classmethod
    def triggers(cls, drivers: DriverTable) -> Iterable[str] | None:
        return ("noqa", "NOQA", "Noqa")

    @classmethod
    def check(cls, ctx: CheckContext) -> Iterable[Finding]:
        # Whether a suppression is used is known only after every rule ran: the engine calls
        # `unused_noqa_findings` when it applies the suppressions.
        return ()


def unused_noqa_findings(text: str, path: str, used: Collection[tuple[int, str]],
                         enabled: Collection[str]) -> list[Finding]:
    """One finding per `# noqa` comment with dbleak codes that suppressed nothing.

    ``used``: the (line, code) entries that suppressed a finding; ``enabled``: the codes of the
    rules (and engine checks) run on this file.
    """
    from dbleak.registry import ENGINE_CODES, rule_by_code

    findings: list[Finding] = []
    index: LineIndex | None = None
    for directive in noqa_directives(text):
        if directive.codes is None:
            continue
        unused: list[str] = []
        unknown: list[str] = []
        for code in directive.codes:
            if not _DBLEAK_CODE.match(code) or code == UnusedNoqa.code or code in unused + unknown:
                continue
            if code not in ENGINE_CODES and rule_by_code(code) is None:
                unknown.append(code)
            elif code in enabled and (directive.line, code) not in used:
                unused.append(code)
        if not unused and not unknown:
            continue
        index = index or LineIndex(text)
        stale = {*unused, *unknown}
        detail = "; ".join(f"{label}: {', '.join(f'`{c}`' for c in codes)}"
                           for label, codes in (("unused", unused), ("unknown", unknown)) if codes)
        start = Position(directive.line, directive.column + directive.start)
        end = Position(directive.line, directive.column + directive.end)
        plan = FixPlan(UnusedNoqa.fix_title or "", Applicability.SAFE,
                       (_removal(directive, stale, index),))
        findings.append(Finding(UnusedNoqa.code, UnusedNoqa.name,
                                UnusedNoqa.message.format(detail=detail), path, start, end,
                                plan=plan, noqa_lines=(directive.line,)))
    return findings


def _removal(directive: NoqaDirective, stale: set[str], index: LineIndex) -> ReplaceRange:
    """The edit that drops ``stale`` codes from the directive, or the directive itself."""
    assert directive.codes is not None
    comment = directive.comment
    kept = [code for code in directive.codes if code not in stale]
    before = comment[:directive.start].rstrip()
    after = comment[directive.end:].strip()
    if kept:
        directive_text = "# noqa: " + ", ".join(kept)
        new_comment = (before + "  " if before else "") + directive_text
        new_comment += "  " + after if after else ""
    else:
        if after and not after.startswith("#"):
            after = "# " + after
        new_comment = before + ("  " + after if before and after else after)
    line = directive.line
    text = index.line_text(line)
    body = text.rstrip("\r\n")
    comment_end = directive.column + len(comment)
    if new_comment:
        return ReplaceRange(Position(line, directive.column), Position(line, comment_end),
                            new_comment)
    code_before = body[:directive.column].rstrip()
    if code_before:  # drop the comment and the blanks before it
        return ReplaceRange(Position(line, len(code_before)), Position(line, comment_end), "")
    if line < len(index.lines):  # a line holding only the comment goes away
        return ReplaceRange(Position(line, 0), Position(line + 1, 0), "")
    return ReplaceRange(Position(line, 0), Position(line, comment_end), "")
