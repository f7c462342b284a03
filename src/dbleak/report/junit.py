"""The `junit` format: JUnit XML, one test case per checked file and a failure per finding.

Files checked without findings are passing test cases (when the CLI passes the checked paths).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from dbleak.baseline import relative_to
from dbleak.models import Finding
from dbleak.report import ReportContext


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    """The XML document, test cases sorted by path, failures in report order."""
    relative = relative_to(context.root)
    by_path: dict[str, list[Finding]] = {path: [] for path in context.checked_paths}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    cases = sorted(by_path.items(), key=lambda item: relative(item[0]))
    failed = sum(1 for _, found in cases if found)
    counts = {"tests": str(len(cases)), "failures": str(failed), "errors": "0"}
    suites = ET.Element("testsuites", {"name": "dbleak", **counts})
    suite = ET.SubElement(suites, "testsuite", {"name": "dbleak", **counts, "skipped": "0"})
    for path, found in cases:
        shown = relative(path)
        case = ET.SubElement(suite, "testcase", {"name": shown, "classname": "dbleak", "file": shown})
        for finding in found:
            mark = " [*]" if finding.fixable else ""
            failure = ET.SubElement(case, "failure", {
                "type": finding.code,
                "message": f"{finding.code}: {finding.message}",
            })
            failure.text = (f"{shown}:{finding.start.line}:{finding.start.column + 1}: "
                            f"{finding.code}{mark} {finding.message}")
    ET.indent(suites, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
