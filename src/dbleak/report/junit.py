"""The `junit` format: JUnit XML as Jenkins' schema defines it, one test case per finding.

As ruff: a test suite per file, a failing test case per finding (most JUnit consumers show only
the first failure of a case). A checked file without findings is one passing test case, so CI
shows what was checked. The document validates against `tests/schemas/jenkins-junit.xsd`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from dbleak.baseline import relative_to
from dbleak.models import Finding
from dbleak.report import ReportContext


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    """The XML document: suites sorted by path, cases in report order."""
    relative = relative_to(context.root)
    by_path: dict[str, list[Finding]] = {path: [] for path in context.checked_paths}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    files = sorted(by_path.items(), key=lambda item: relative(item[0]))
    tests = sum(max(len(found), 1) for _, found in files)
    suites = ET.Element("testsuites", {"name": "dbleak", "tests": str(tests),
                                       "failures": str(len(findings)), "errors": "0"})
    for path, found in files:
        shown = relative(path)
        suite = ET.SubElement(suites, "testsuite", {
            "name": shown, "tests": str(max(len(found), 1)), "failures": str(len(found)),
            "errors": "0", "skipped": "0", "package": "dbleak",
        })
        if not found:
            ET.SubElement(suite, "testcase", {"name": "no findings", "classname": shown})
            continue
        for finding in found:
            line, column = finding.start.line, finding.start.column + 1
            mark = " [*]" if finding.fixable else ""
            # Unique per finding: consumers that key cases on (classname, name) keep them all.
            case = ET.SubElement(suite, "testcase", {
                "name": f"{finding.code} at line {line}, column {column}", "classname": shown,
            })
            failure = ET.SubElement(case, "failure", {
                "type": finding.code, "message": f"{finding.code}: {finding.message}",
            })
            failure.text = f"{shown}:{line}:{column}: {finding.code}{mark} {finding.message}"
    ET.indent(suites, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
