"""Render a report as JUnit XML for CI tools: one ``<testsuite>`` per assignment.

Status mapping: ``passed`` → a bare ``<testcase>``; ``failed`` and ``timeout`` → ``<failure>``
(the submission's fault); ``error`` → ``<error>`` (the grader could not run the test);
``not_attempted`` → ``<skipped>``. The student-facing feedback is the element's ``message`` and
text. ElementTree escapes XML specials; characters XML 1.0 cannot carry at all (most control
characters) are dropped so the document always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.report import AssignmentResult, Report, TestResult

SUITES_NAME = "Redis course hidden suites"
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ELEMENT = {"failed": "failure", "timeout": "failure", "error": "error", "not_attempted": "skipped"}


def _xml_text(text: str) -> str:
    """``text`` without the characters an XML 1.0 document cannot contain."""
    return _NOT_XML.sub("", text)


def _counts(tests: list[TestResult] | tuple[TestResult, ...]) -> dict[str, str]:
    elements = [_ELEMENT.get(t.status) for t in tests]
    return {
        "tests": str(len(tests)),
        "failures": str(elements.count("failure")),
        "errors": str(elements.count("error")),
        "skipped": str(elements.count("skipped")),
    }


def _testcase(parent: ET.Element, result: AssignmentResult, test: TestResult) -> None:
    name = test.id.split("::", 1)[1] if "::" in test.id else test.id
    case = ET.SubElement(parent, "testcase", {"name": _xml_text(name), "classname": _xml_text(result.name)})
    properties = ET.SubElement(case, "properties")
    for key, value in (
        ("description", test.name),
        ("section", test.section),
        ("score", str(test.score)),
        ("max_score", str(test.max_score)),
    ):
        ET.SubElement(properties, "property", {"name": key, "value": _xml_text(value)})
    element = _ELEMENT.get(test.status)
    if element is not None:
        feedback = _xml_text(test.feedback)
        outcome = ET.SubElement(case, element, {"message": feedback, "type": test.status})
        outcome.text = feedback


def render(report: Report) -> str:
    """The JUnit XML document for ``report`` (UTF-8 text with an XML declaration)."""
    totals = {"name": SUITES_NAME, **_counts(report.tests()), "time": f"{report.duration_s:.3f}"}
    root = ET.Element("testsuites", totals)
    for result in report.assignments:
        suite = ET.SubElement(root, "testsuite", {"name": _xml_text(result.name), **_counts(result.tests)})
        properties = ET.SubElement(suite, "properties")
        for key, value in (("score", result.score), ("max_score", result.max_score)):
            ET.SubElement(properties, "property", {"name": key, "value": str(value)})
        for test in result.tests:
            _testcase(suite, result, test)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
