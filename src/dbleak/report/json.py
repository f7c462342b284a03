"""The `json` format: ruff's shape, one object per finding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dbleak.models import Finding, Position
from dbleak.registry import rule_url


def _position(pos: Position) -> dict[str, int]:
    return {"row": pos.line, "column": pos.column + 1}


def finding_to_json(finding: Finding) -> dict[str, Any]:
    fix = None
    if finding.plan is not None:
        edits = finding.fix.edits if finding.fix is not None else ()
        fix = {
            "applicability": finding.plan.applicability.value,
            "message": finding.plan.title,
            "edits": [
                {"content": e.content, "location": _position(e.start), "end_location": _position(e.end)}
                for e in edits
            ],
        }
    return {
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "filename": finding.path,
        "location": _position(finding.start),
        "end_location": _position(finding.end),
        "fix": fix,
        "noqa_row": finding.start.line,
        "url": rule_url(finding.code),
    }


def render(findings: Sequence[Finding]) -> str:
    return json.dumps([finding_to_json(f) for f in findings], indent=2, ensure_ascii=False) + "\n"
