"""junit.xml and the Allure statuses, written from synthetic results trees: each outcome reads
as the verdict reads it (a waived failure is not a failure), the XML parses, and a credential
in a message never reaches the file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from margo_conformance.base import redaction
from margo_conformance.checks.expect import NOT_TESTED, Check
from margo_conformance.report.allure import ALLURE_RESULTS, NODEID_LABEL, align_allure_results
from margo_conformance.report.junit import (
    ADVISORY,
    BLOCKED,
    CHECK,
    FAILED_REQUIREMENTS,
    OUTCOME,
    RUN_ID,
    VERDICT,
    WAIVER,
    write_junit,
)
from margo_conformance.results.model import RunContext
from margo_conformance.results.tree import preflight_tree
from margo_conformance.results.waivers import Waiver
from tests.synthetic_results import (
    FAILING_MESSAGE,
    REFUSED_CAPABILITIES,
    SECRET,
    SIZE_ADVICE,
    collector_for,
    judged_scenarios,
    scenario,
    sut_description,
    write_failing_run,
)
from tests.synthetic_results import (
    RUN_ID as SYNTHETIC_RUN_ID,
)

FAILING = "A newly published deployment is fetched within the polling interval"


def cases(path: Path) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in ET.parse(path).getroot().iter("testcase")}


def properties(case: ET.Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for prop in case.iter("property"):
        found.setdefault(prop.get("name", ""), []).append(prop.get("value", ""))
    return found


def tree_of(tmp_path: Path, results: list[Any], waivers: tuple[Waiver, ...] = ()) -> dict[str, Any]:
    return collector_for(tmp_path, results).results_tree(RunContext(waivers=waivers))


def test_a_failure_names_its_first_line_and_its_requirements(tmp_path: Path) -> None:
    tree = write_failing_run(tmp_path)
    root = ET.parse(write_junit(tmp_path, tree)).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "1"
    failing = cases(tmp_path / "junit.xml")[FAILING]
    failure = failing.find("failure")
    assert failure is not None and failure.get("message") == FAILING_MESSAGE
    assert "Git operations seen" in (failure.text or "")
    assert "failed requirements: CFG-003, GIT-003" in (failure.text or "")
    assert properties(failing)[FAILED_REQUIREMENTS] == ["CFG-003, GIT-003"]
    assert failing.get("classname") == "Desired state pulled from the device's Git repository"
    assert failing.get("time") == "1.250"
    suite = root.find("testsuite")
    assert suite is not None
    run = properties(suite)
    assert run[RUN_ID] == [SYNTHETIC_RUN_ID] and run[VERDICT] == ["fail"]


def test_pass_and_skip(tmp_path: Path) -> None:
    write_junit(tmp_path, write_failing_run(tmp_path))
    found = cases(tmp_path / "junit.xml")
    passing = found["The agent onboards with the orchestrator"]
    assert [child.tag for child in passing] == ["properties"]
    assert properties(passing)[OUTCOME] == ["pass"]
    skipped = found["The agent reports a removed deployment"].find("skipped")
    assert skipped is not None and skipped.get("message") == "the SUT file claims no removal support"


def test_a_waived_failure_is_not_a_failure(tmp_path: Path) -> None:
    waiver = Waiver(scenario="fetched within the polling interval", reason="polls every 5 s until 2.4")
    tree = write_failing_run(tmp_path, waivers=(waiver,))
    root = ET.parse(write_junit(tmp_path, tree)).getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0"
    waived = cases(tmp_path / "junit.xml")[FAILING]
    assert waived.find("failure") is None and waived.find("error") is None
    said = waived.findtext("system-out") or ""
    assert "waived failure (waiver: polls every 5 s until 2.4)" in said and FAILING_MESSAGE in said
    assert properties(waived)[OUTCOME] == ["waived"]
    assert properties(waived)[WAIVER] == ["waived: polls every 5 s until 2.4"]


def test_a_stale_waiver_fails_its_test_case(tmp_path: Path) -> None:
    passing = scenario("The agent onboards with the orchestrator")
    tree = tree_of(tmp_path, [passing], (Waiver(scenario="onboards", reason="set at the factory"),))
    assert tree["verdict"] == "fail"
    failure = cases(write_junit(tmp_path, tree))["The agent onboards with the orchestrator"].find("failure")
    assert failure is not None and (failure.get("message") or "").startswith("stale waiver:")


def test_blocked_scenarios_say_at_what_and_a_broken_prerequisite_is_a_failure(tmp_path: Path) -> None:
    refused = scenario("A deployment is acknowledged", "error", message="blocked: an accepted deployment: 503")
    refused.blocked = "an accepted deployment"
    tree = tree_of(tmp_path, [*judged_scenarios(), refused])
    found = cases(write_junit(tmp_path, tree))
    error = found["A deployment is acknowledged"].find("error")
    assert error is not None and error.get("message") == "blocked: an accepted deployment: 503"
    assert "blocked at: an accepted deployment" in (error.text or "")
    assert properties(found["A deployment is acknowledged"])[BLOCKED] == ["an accepted deployment"]
    blamed = found["The device reports its status"]
    failure = blamed.find("failure")
    assert failure is not None and "CAP-001" in (failure.text or "")
    assert properties(blamed)[BLOCKED] == [REFUSED_CAPABILITIES]
    assert properties(blamed)[OUTCOME] == ["blocked"]


def test_each_check_and_advisory_finding_is_a_property(tmp_path: Path) -> None:
    scenarios = judged_scenarios()
    scenarios[-1].checks = [Check(("ONB-004",), True, "no way to observe it", NOT_TESTED)]
    found = cases(write_junit(tmp_path, tree_of(tmp_path, scenarios)))
    failing = properties(found["The orchestrator refuses bad requests and keeps serving [wrong-kind]"])
    assert failing[CHECK][0] == "requirement ERR-001 passed"
    assert failing[CHECK][1].startswith("requirement CAP-002 failed: a capabilities report of the wrong kind")
    advised = properties(found["The token endpoint answers a large request"])
    assert advised[ADVISORY] == [f"TOK-003 (does not hold): {SIZE_ADVICE}"]
    assert found["The token endpoint answers a large request"].find("failure") is None
    assert properties(found["The orchestrator onboards a device"])[CHECK] == [
        "not_tested ONB-004: no way to observe it"
    ]


def test_a_scenario_of_a_profile_not_claimed_is_skipped_saying_so(tmp_path: Path) -> None:
    other = scenario("The agent reports over PR1 [PR1]", "skip", tags=("agent", "PR1", "must"),
                     message="not claimed: the SUT claims V24, not PR1")
    found = cases(write_junit(tmp_path, tree_of(tmp_path, [other, scenario("ok")])))
    skipped = found["The agent reports over PR1 [PR1]"].find("skipped")
    assert skipped is not None and (skipped.get("message") or "").startswith("not claimed:")
    assert properties(found["The agent reports over PR1 [PR1]"])[OUTCOME] == ["not claimed"]


def test_a_run_stopped_before_any_scenario_is_one_error(tmp_path: Path) -> None:
    tree = preflight_tree(sut_description(), "run-1", "SUT image 'acme:1' is not on the Docker engine")
    root = ET.parse(write_junit(tmp_path, tree)).getroot()
    assert root.get("tests") == "1" and root.get("errors") == "1"
    error = root.find("testsuite/testcase/error")
    assert error is not None and error.get("message") == "SUT image 'acme:1' is not on the Docker engine"


def test_a_credential_in_a_message_is_redacted_and_the_xml_stays_well_formed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redaction, "_current", redaction.Redactor())
    redaction.learn("onboardingKey", SECRET)
    leaking = scenario("The key is used", "fail", message=f'sent "{SECRET}" & <got> 401\x1b[0m\nsecond {SECRET}')
    leaking.checks = [Check(("ONB-001",), False, f"key {SECRET} refused")]
    target = write_junit(tmp_path, tree_of(tmp_path, [leaking]))
    text = target.read_text(encoding="utf-8")
    assert SECRET not in text and "&lt;redacted:onboardingKey#1&gt;" in text
    failure = cases(target)["The key is used"].find("failure")
    assert failure is not None
    assert failure.get("message") == 'sent "<redacted:onboardingKey#1>" & <got> 401\ufffd[0m'


# -- Allure: the statuses follow the results tree -----------------------------------------------


def allure_result(nodeid: str, status: str) -> dict[str, Any]:
    return {"uuid": nodeid.rsplit("::", 1)[-1], "name": nodeid, "status": status,
            "statusDetails": {"message": "AssertionError", "trace": "Traceback ..."},
            "labels": [{"name": NODEID_LABEL, "value": nodeid}]}


def test_allure_statuses_follow_the_verdict_and_missing_scenarios_are_added(tmp_path: Path) -> None:
    waiver = Waiver(scenario="fetched within the polling interval", reason="polls every 5 s until 2.4")
    tree = write_failing_run(tmp_path, waivers=(waiver,))
    by_name = {s["name"]: s["nodeid"] for s in tree["scenarios"]}
    results = tmp_path / ALLURE_RESULTS
    results.mkdir()
    failing = results / "a-result.json"
    failing.write_text(json.dumps(allure_result(by_name[FAILING], "failed")))
    passing = results / "b-result.json"
    passing.write_text(json.dumps(allure_result(by_name["The agent onboards with the orchestrator"], "passed")))
    foreign = results / "c-result.json"
    foreign.write_text(json.dumps({"uuid": "c", "name": "another tool's", "status": "failed", "labels": []}))
    assert align_allure_results(tmp_path, tree) == 2  # the waived failure, and the skip allure never saw
    waived = json.loads(failing.read_text())
    assert waived["status"] == "passed" and waived["statusDetails"]["trace"] == "Traceback ..."
    assert waived["statusDetails"]["message"].startswith("waived failure (waiver: polls every 5 s until 2.4)")
    assert json.loads(passing.read_text())["status"] == "passed"
    assert json.loads(foreign.read_text())["status"] == "failed"
    added = [json.loads(p.read_text()) for p in results.glob("*-result.json") if p not in (failing, passing, foreign)]
    assert [(a["name"], a["status"]) for a in added] == [("The agent reports a removed deployment", "skipped")]
    assert added[0]["statusDetails"]["message"] == "the SUT file claims no removal support"
