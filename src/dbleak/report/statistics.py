"""`--statistics`: one line per code with its count, sorted by count (then code)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from dbleak.models import Finding


def rows(findings: Sequence[Finding]) -> list[tuple[int, str, str, bool]]:
    """(count, code, name, any fixable) per code, most frequent first."""
    table: dict[str, tuple[int, str, bool]] = {}
    for finding in findings:
        count, name, fixable = table.get(finding.code, (0, finding.name, False))
        table[finding.code] = (count + 1, name, fixable or finding.fixable)
    return sorted(((count, code, name, fixable) for code, (count, name, fixable) in table.items()),
                  key=lambda row: (-row[0], row[1]))


def render_text(findings: Sequence[Finding]) -> str:
    """ruff's shape: ``count<TAB>code<TAB>[*] name``, counts right-aligned."""
    table = rows(findings)
    if not table:
        return ""
    width = max(len(str(count)) for count, *_ in table)
    return "".join(f"{count:>{width}}\t{code}\t{'[*]' if fixable else '   '} {name}\n"
                   for count, code, name, fixable in table)


def render_json(findings: Sequence[Finding]) -> str:
    """The same rows as a JSON array (for `--output-format json`)."""
    return json.dumps([{"code": code, "name": name, "count": count, "fixable": fixable}
                       for count, code, name, fixable in rows(findings)], indent=2) + "\n"
