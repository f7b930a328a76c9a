"""junit.xml, written from the results tree (the dict results.json holds) for CI systems.

One `<testsuite>` per feature (CI pages group test cases by suite, and a feature is what a
reader looks for), one `<testcase>` per scenario (classname: the feature; name: the scenario
with its example). The test case's outcome is the verdict's reading, not pytest's:

- pass: passed; a stale waiver (the scenario passed, but a waiver expects it to fail, which
  fails the run): `<failure>`;
- fail: `<failure>` (message: the first line; text: the whole message and the failed
  requirements); a waived failure is not a failure: passed, with the waiver in `<system-out>`;
- error: `<error>`; a blocked scenario says at which prerequisite, and one whose prerequisite
  the SUT broke a requirement on (which fails the run) is a `<failure>`;
- skip: `<skipped>` with the reason ("not claimed: ..." for a profile the SUT does not claim).

Each test case's `<properties>` carry its node id, requirements, every check (kind,
requirements, held or not, first line of the message), its advisory findings and, where they
apply, its failed requirements, blocked prerequisite and waiver; each test suite's carry the
run's id and verdict. A run stopped before any scenario is one test case in error. Every text
passes the run's redaction before it is written.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from margo_conformance.base import redaction

JUNIT_FILE = "junit.xml"
PASSED, FAILURE, ERROR, SKIPPED = "passed", "failure", "error", "skipped"
#: Test case property names (see docs/reports.md, "junit.xml").
NODEID, OUTCOME, REQUIREMENTS = "margo.nodeid", "margo.outcome", "margo.requirements"
FAILED_REQUIREMENTS, TRACED_BY = "margo.failed_requirements", "margo.traced_by"
BLOCKED, WAIVER, CHECK, ADVISORY = "margo.blocked", "margo.waiver", "margo.check", "margo.advisory"
EVIDENCE = "margo.evidence"
#: Test suite property names: the run every test case belongs to.
RUN_ID, VERDICT, VERDICT_REASON, SUT = "margo.run_id", "margo.verdict", "margo.verdict_reason", "margo.sut"
PREFLIGHT_SUITE = "margo-conformance preflight"
# Characters XML 1.0 cannot carry at all (a SUT's log line may hold terminal escapes).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class CaseOutcome:
    """How one scenario reads in JUnit: passed, failure, error or skipped, and what it says."""

    kind: str
    message: str = ""  # the element's message attribute: one line
    text: str = ""  # the element's text (failure/error) or system-out (a waived failure)
    word: str = ""  # the suite's own word for it (margo.outcome)


def clean(value: object) -> str:
    """A text as junit.xml may hold it: redacted, and without characters XML cannot carry."""
    return _NOT_XML.sub("\ufffd", redaction.redact_text(str(value)))


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def case_outcome(scenario: Mapping[str, Any]) -> CaseOutcome:
    """The JUnit reading of one scenario of the results tree (see the module docstring)."""
    outcome = str(scenario.get("outcome", ""))
    message = str(scenario.get("message", ""))
    failed = ", ".join(scenario.get("failed_requirements", []))
    waiver = scenario.get("waiver") or {}
    blame = f"\nfailed requirements: {failed} (traced by {scenario.get('traced_by', 'checks')})" if failed else ""
    if outcome == "pass" and waiver.get("status") == "stale":
        said = "passed, but the waivers file expects it to fail: remove the waiver (the run fails)"
        text = f"stale waiver: {said}\nit said: {waiver.get('reason', '')}"
        return CaseOutcome(FAILURE, f"stale waiver: {said}", text, "stale waiver")
    if outcome == "pass":
        return CaseOutcome(PASSED, word="pass")
    if outcome == "fail" and scenario.get("waived"):
        text = f"waived failure (waiver: {waiver.get('reason', '')}); the run is partial, not failed\n{message}{blame}"
        return CaseOutcome(PASSED, text=text, word="waived")
    if outcome == "fail":
        return CaseOutcome(FAILURE, first_line(message) or "failed", message + blame, "fail")
    if outcome == "error" and scenario.get("blocked"):
        prerequisite = str(scenario["blocked"])
        line = first_line(message) or f"blocked: {prerequisite}"
        if failed:  # the SUT broke a requirement at the prerequisite: the verdict counts a failure
            return CaseOutcome(FAILURE, line, f"blocked at: {prerequisite}\n{message}{blame}", "blocked")
        return CaseOutcome(ERROR, line, f"blocked at: {prerequisite}\n{message}", "blocked")
    if outcome == "error":
        return CaseOutcome(ERROR, first_line(message) or "error", message, "error")
    word = "not claimed" if message.startswith("not claimed:") else "skip"
    return CaseOutcome(SKIPPED, first_line(message) or "skipped", word=word)


def check_property(check: Mapping[str, Any]) -> str:
    """`requirement CAP-002 failed: <first line>`: one check as a property value. A check that
    held is `requirement CAP-002 passed` alone (steps word a message for when it does not hold);
    one that could not be made says why: `not_tested CAP-002: ...`."""
    kind = str(check.get("kind", "requirement"))
    requirements = ",".join(check.get("requirements", [])) or "-"
    message = first_line(str(check.get("message", "")))
    if kind == "not_tested":
        return f"{kind} {requirements}: {message}"
    if check.get("passed"):
        return f"{kind} {requirements} passed"
    return f"{kind} {requirements} failed: {message}"


def advisory_property(check: Mapping[str, Any]) -> str:
    word = "holds" if check.get("passed") else "does not hold"
    return f"{', '.join(check.get('requirements', []))} ({word}): {first_line(str(check.get('message', '')))}"


def case_properties(scenario: Mapping[str, Any], reading: CaseOutcome) -> list[tuple[str, str]]:
    properties = [(NODEID, str(scenario.get("nodeid", ""))), (OUTCOME, reading.word)]
    if scenario.get("requirements"):
        properties.append((REQUIREMENTS, ", ".join(scenario["requirements"])))
    if scenario.get("failed_requirements"):
        properties.append((FAILED_REQUIREMENTS, ", ".join(scenario["failed_requirements"])))
        properties.append((TRACED_BY, str(scenario.get("traced_by", ""))))
    if scenario.get("blocked"):
        properties.append((BLOCKED, str(scenario["blocked"])))
    waiver = scenario.get("waiver")
    if waiver:
        properties.append((WAIVER, f"{waiver.get('status', '')}: {waiver.get('reason', '')}"))
    checks = list(scenario.get("checks", []))
    properties += [(CHECK, check_property(c)) for c in checks]
    properties += [(ADVISORY, advisory_property(c)) for c in checks if c.get("kind") == "advisory"]
    if scenario.get("evidence"):
        properties.append((EVIDENCE, str(scenario["evidence"])))
    return properties


def _properties(parent: ET.Element, pairs: Sequence[tuple[str, str]]) -> None:
    if not pairs:
        return
    element = ET.SubElement(parent, "properties")
    for name, value in pairs:
        ET.SubElement(element, "property", name=name, value=clean(value))


def testcase(scenario: Mapping[str, Any]) -> tuple[ET.Element, CaseOutcome]:
    reading = case_outcome(scenario)
    case = ET.Element(
        "testcase",
        classname=clean(scenario.get("feature", "")),
        name=clean(scenario.get("name", "")),
        time=f"{float(scenario.get('duration_s', 0.0)):.3f}",
    )
    _properties(case, case_properties(scenario, reading))
    if reading.kind in (FAILURE, ERROR):
        ET.SubElement(case, reading.kind, message=clean(reading.message)).text = clean(reading.text)
    elif reading.kind == SKIPPED:
        ET.SubElement(case, SKIPPED, message=clean(reading.message))
    elif reading.text:
        ET.SubElement(case, "system-out").text = clean(reading.text)
    return case, reading


def run_properties(tree: Mapping[str, Any]) -> list[tuple[str, str]]:
    sut = tree.get("sut", {})
    pairs = [
        (RUN_ID, str(tree.get("run", {}).get("id", ""))),
        (VERDICT, str(tree.get("verdict", ""))),
        (SUT, f"{sut.get('name', '')} ({sut.get('role', '')}; {', '.join(sut.get('profiles', []))})"),
    ]
    return pairs + [(VERDICT_REASON, str(reason)) for reason in tree.get("verdict_reasons", [])]


def _suite(name: str, cases: Sequence[tuple[ET.Element, CaseOutcome]], tree: Mapping[str, Any]) -> ET.Element:
    kinds = [reading.kind for _, reading in cases]
    suite = ET.Element(
        "testsuite",
        name=clean(name),
        tests=str(len(cases)),
        failures=str(kinds.count(FAILURE)),
        errors=str(kinds.count(ERROR)),
        skipped=str(kinds.count(SKIPPED)),
        time=f"{sum(float(c.get('time', '0')) for c, _ in cases):.3f}",
        timestamp=str(tree.get("run", {}).get("started", "")),
    )
    _properties(suite, run_properties(tree))
    suite.extend(case for case, _ in cases)
    return suite


def preflight_case(tree: Mapping[str, Any]) -> tuple[ET.Element, CaseOutcome]:
    """A run stopped before any scenario: one test case in error, so CI does not read 'no tests'."""
    message = str(tree.get("message") or "; ".join(tree.get("verdict_reasons", [])) or "no scenario ran")
    reading = CaseOutcome(ERROR, first_line(message), message, "error")
    case = ET.Element("testcase", classname=PREFLIGHT_SUITE, name="the run reaches its scenarios", time="0.000")
    ET.SubElement(case, ERROR, message=clean(reading.message)).text = clean(reading.text)
    return case, reading


def junit_document(tree: Mapping[str, Any]) -> ET.Element:
    """The <testsuites> element for a results tree."""
    by_feature: dict[str, list[tuple[ET.Element, CaseOutcome]]] = {}
    for scenario in tree.get("scenarios", []):
        by_feature.setdefault(str(scenario.get("feature", "")), []).append(testcase(scenario))
    if not by_feature:
        by_feature[PREFLIGHT_SUITE] = [preflight_case(tree)]
    suites = [_suite(name, cases, tree) for name, cases in by_feature.items()]
    root = ET.Element(
        "testsuites",
        name=clean(f"Margo conformance: {tree.get('sut', {}).get('name', 'SUT')}"),
        tests=str(sum(int(s.get("tests", "0")) for s in suites)),
        failures=str(sum(int(s.get("failures", "0")) for s in suites)),
        errors=str(sum(int(s.get("errors", "0")) for s in suites)),
        skipped=str(sum(int(s.get("skipped", "0")) for s in suites)),
        time=f"{float(tree.get('run', {}).get('duration_s', 0.0)):.3f}",
    )
    root.extend(suites)
    return root


def write_junit(report_dir: Path, tree: Mapping[str, Any]) -> Path:
    """REPORT_DIR/junit.xml from `tree`. Each text is redacted before it goes into the document
    (`clean`), not the serialised file: a placeholder's `<` must be escaped like any other."""
    root = junit_document(tree)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    target = report_dir / JUNIT_FILE
    target.write_text('<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n", encoding="utf-8")
    return target
