"""The `sarif` format: SARIF 2.1.0, one run, for GitHub code scanning and other SARIF viewers.

Paths are URIs relative to the repository root (``uriBaseId`` ``%SRCROOT%``); regions are 1-based
and counted in Unicode code points (``columnKind``), which is how dbleak counts columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from dbleak import __version__
from dbleak.baseline import finding_keys, fingerprints, relative_to
from dbleak.models import Edit, Finding, Position
from dbleak.registry import ENGINE_CODES, rule_by_code
from dbleak.report import ReportContext

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://dbleak.readthedocs.io/"
FINGERPRINT_NAME = "dbleak/v1"
SOURCE_ROOT = "%SRCROOT%"

_ENGINE_DESCRIPTIONS = {
    "DBL001": "The file is not valid Python, so it could not be checked.",
    "DBL002": "The file could not be read or decoded, so it could not be checked.",
}

_FAMILY_TAGS = {"DBL1": "resource-leak", "DBL2": "unbounded-read", "DBL3": "needless-materialization"}


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n", 1)[0].split())
    match = re.match(r"(.+?[.!?])(?:\s|$)", paragraph)
    return match.group(1) if match else paragraph


def _level(code: str) -> str:
    # Engine findings mean the file was not checked at all: that is an error, not a warning.
    return "error" if code in ENGINE_CODES else "warning"


def rule_descriptor(code: str, name: str) -> dict[str, Any]:
    """The ``reportingDescriptor`` of a code, from the rule's documentation."""
    rule = rule_by_code(code)
    descriptor: dict[str, Any] = {"id": code, "name": name}
    if rule is None:
        text = _ENGINE_DESCRIPTIONS.get(code, name)
        descriptor["shortDescription"] = {"text": text}
        descriptor["fullDescription"] = {"text": text}
    else:
        sections = rule.doc_sections()
        what = sections.get("What it does", "")
        why = sections.get("Why is this bad?", "")
        descriptor["shortDescription"] = {"text": _first_sentence(what) or rule.name}
        descriptor["fullDescription"] = {"text": "\n\n".join(part for part in (what, why) if part)}
        documentation = rule.documentation()
        descriptor["help"] = {"text": documentation, "markdown": documentation}
        descriptor["helpUri"] = rule.url()
    descriptor["defaultConfiguration"] = {"level": _level(code)}
    tags = ["dbleak"] + [tag for prefix, tag in _FAMILY_TAGS.items() if code.startswith(prefix)]
    descriptor["properties"] = {"tags": tags}
    return descriptor


def _region(start: Position, end: Position) -> dict[str, int]:
    return {
        "startLine": start.line,
        "startColumn": start.column + 1,
        "endLine": end.line,
        "endColumn": end.column + 1,
    }


def _artifact(uri: str) -> dict[str, str]:
    return {"uri": uri, "uriBaseId": SOURCE_ROOT}


def _replacement(edit: Edit) -> dict[str, Any]:
    return {"deletedRegion": _region(edit.start, edit.end), "insertedContent": {"text": edit.content}}


def _fixes(finding: Finding, uri: str) -> list[dict[str, Any]]:
    if not finding.fixable or finding.fix is None or not finding.fix.edits:
        return []
    return [{
        "description": {"text": finding.fix.title},
        "artifactChanges": [{
            "artifactLocation": _artifact(uri),
            "replacements": [_replacement(edit) for edit in finding.fix.edits],
        }],
        "properties": {"applicability": finding.fix.applicability.value},
    }]


def build(findings: Sequence[Finding], context: ReportContext) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict."""
    relative = relative_to(context.root)
    names: dict[str, str] = {}
    for finding in findings:
        names.setdefault(finding.code, finding.name)
    codes = sorted(names)
    index = {code: position for position, code in enumerate(codes)}
    prints = fingerprints(finding_keys(findings, context.sources, relative))
    results: list[dict[str, Any]] = []
    for finding, fingerprint in zip(findings, prints):
        uri = quote(relative(finding.path), safe="/")
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": _level(finding.code),
            "message": {"text": finding.message},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": _artifact(uri),
                    "region": _region(finding.start, finding.end),
                },
            }],
            "partialFingerprints": {FINGERPRINT_NAME: fingerprint},
        }
        fixes = _fixes(finding, uri)
        if fixes:
            result["fixes"] = fixes
        results.append(result)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "dbleak",
                    "version": __version__,
                    "informationUri": INFORMATION_URI,
                    "rules": [rule_descriptor(code, names[code]) for code in codes],
                },
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    """The SARIF log as indented JSON (deterministic: keys in a fixed order, findings sorted)."""
    return json.dumps(build(findings, context), indent=2, ensure_ascii=False) + "\n"
