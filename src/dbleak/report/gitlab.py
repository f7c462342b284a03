"""The `gitlab` format: a GitLab Code Quality report (a subset of the Code Climate issue format).

Paths are relative to ``CI_PROJECT_DIR`` when it is set (the CLI passes it in), else to the
repository root. Fingerprints come from the baseline keys (file, code, enclosing function,
normalised statement), so they survive lines moving, and repeats are numbered to stay unique.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dbleak.baseline import finding_keys, fingerprints, relative_to
from dbleak.models import Finding
from dbleak.registry import ENGINE_CODES
from dbleak.report import ReportContext

_CATEGORIES = {"DBL1": "Bug Risk", "DBL2": "Performance", "DBL3": "Performance"}


def _category(code: str) -> str:
    for prefix, category in _CATEGORIES.items():
        if code.startswith(prefix):
            return category
    return "Bug Risk"


def issue(finding: Finding, path: str, fingerprint: str) -> dict[str, Any]:
    """The Code Quality issue of one finding."""
    return {
        "description": f"{finding.code}: {finding.message}",
        "check_name": finding.code,
        "fingerprint": fingerprint,
        "severity": "critical" if finding.code in ENGINE_CODES else "major",
        "categories": [_category(finding.code)],
        "location": {
            "path": path,
            "positions": {
                "begin": {"line": finding.start.line, "column": finding.start.column + 1},
                "end": {"line": finding.end.line, "column": finding.end.column + 1},
            },
        },
    }


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    """The report: a JSON array of issues, in report order."""
    relative = relative_to(context.project_dir or context.root)
    prints = fingerprints(finding_keys(findings, context.sources, relative))
    issues = [issue(finding, relative(finding.path), fingerprint)
              for finding, fingerprint in zip(findings, prints)]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
