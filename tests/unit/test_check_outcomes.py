"""Per-check outcomes (no Docker): a failed check fails only the requirements it names; a
blocked scenario fails the requirement broken at its prerequisite and leaves the others
blocked; advisory checks are shown and never counted; checks travel from pytest-xdist workers;
the coverage statement lists every MUST and SHOULD row of the role and profile."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from margo_conformance.base.requirements import load_catalogue
from margo_conformance.base.schemas import validation_errors
from margo_conformance.checks.expect import (
    ADVISORY,
    Blocked,
    Check,
    CheckFailed,
    advise,
    blocked,
    expect,
    scenario_ledger,
)
from margo_conformance.commands.listing import requirement_lines
from margo_conformance.report.html.page import render_report
from margo_conformance.report.junit import ADVISORY as JUNIT_ADVISORY
from margo_conformance.report.junit import BLOCKED as JUNIT_BLOCKED
from margo_conformance.report.junit import FAILED_REQUIREMENTS as JUNIT_FAILED
from margo_conformance.report.junit import write_junit
from margo_conformance.results.collector import ResultsCollector
from margo_conformance.results.coverage import (
    NOT_COVERED,
    NOT_TESTABLE,
    PlannedScenario,
    coverage_statement,
)
from margo_conformance.results.model import RunContext, ScenarioResult
from margo_conformance.results.verdict import decide_verdict, requirement_outcomes
from margo_conformance.results.xdist import CONTROLLER, SCENARIO_PROPERTY
from tests.synthetic_results import collector_for, scenario, sut_description

TAGS = ("wos", "V24", "must")
ONBOARDING = ("req_ONB_004", "req_CAP_002", "req_STS_002", "req_TOK_003")


def _failed(*requirements: str, message: str = "refused with 422") -> Check:
    return Check(tuple(requirements), False, message, observed="HTTP 422")


def _passed(*requirements: str) -> Check:
    return Check(tuple(requirements), True, "held")


def _rows(scenarios: list[ScenarioResult]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in requirement_outcomes(scenarios)}


def _tree(tmp_path: Path, results: list[ScenarioResult], **kw: Any) -> dict[str, Any]:
    tree = collector_for(tmp_path, results, **kw).results_tree(RunContext())
    assert validation_errors(tree, "results") == []
    return tree


# -- the ledger ---------------------------------------------------------------------------------


def test_expect_advise_and_blocked_record_into_the_current_ledger() -> None:
    with scenario_ledger() as ledger:
        expect("CAP-002", True, "capabilities accepted with 201")
        assert advise("CAP-002", False, "apiVersion '' was accepted (I-13: the value is open)") is False
        with pytest.raises(CheckFailed) as failed:
            expect(["STS-002", "STS-003"], False, "status answered 500", observed={"status": 500})
        with pytest.raises(Blocked) as stopped:
            blocked("capabilities accepted", "refused with 422", requirement="CAP-001")
    assert failed.value.requirements == ("STS-002", "STS-003")
    assert str(stopped.value) == "blocked: capabilities accepted (CAP-001 failed there): refused with 422"
    assert [(c.requirements, c.passed, c.kind) for c in ledger.checks] == [
        (("CAP-002",), True, "requirement"),
        (("CAP-002",), False, ADVISORY),
        (("STS-002", "STS-003"), False, "requirement"),
        (("CAP-001",), False, "requirement"),
    ]
    assert ledger.checks[2].observed == {"status": "500"}  # a flat mapping stays data
    assert ledger.failed_requirements() == ["CAP-001", "STS-002", "STS-003"]


def test_an_ending_exception_is_recorded_once() -> None:
    with scenario_ledger() as ledger:
        ledger.record_ending(CheckFailed(["TOK-001"], "no bearer token on POST /capabilities"))
        ledger.record_ending(CheckFailed(["TOK-001"], "again"))
        ledger.record_ending(Blocked("token issued", "403", requirement="TOK-003"))
        ledger.record_ending(AssertionError("a plain assertion names nothing"))
    assert [c.requirements for c in ledger.checks] == [("TOK-001",), ("TOK-003",)]


# -- what a scenario fails ----------------------------------------------------------------------


def test_a_failing_example_fails_only_what_its_failed_check_names() -> None:
    example = scenario("Onboarding robustness [wrong-kind]", "fail", TAGS + ONBOARDING)
    example.checks = [_passed("ONB-004"), _failed("CAP-002")]
    assert example.failed_requirements == ["CAP-002"] and example.traced_by == "checks"
    rows = _rows([example])
    assert rows["CAP-002"]["outcome"] == "fail"
    assert rows["ONB-004"]["outcome"] == "pass"
    assert rows["STS-002"]["outcome"] == rows["TOK-003"]["outcome"] == "not_reached"
    assert rows["CAP-002"]["failed_checks"][0]["observed"] == "HTTP 422"


def test_a_requirement_passes_when_checked_and_never_failed() -> None:
    failing = scenario("example 1", "fail", TAGS + ONBOARDING)
    failing.checks = [_failed("CAP-002")]
    passing = scenario("example 2", "pass", TAGS + ONBOARDING)
    passing.checks = [_passed("STS-002")]
    rows = _rows([failing, passing])
    assert rows["STS-002"]["outcome"] == "pass" and rows["STS-002"]["traced_by"] == "checks"
    assert rows["STS-002"]["scenario_outcomes"] == ["not_reached", "pass"]
    assert rows["CAP-002"]["outcome"] == "fail"
    assert rows["TOK-003"]["outcome"] == "pass" and rows["TOK-003"]["traced_by"] == "tags"


def test_a_failure_that_names_no_requirement_falls_back_to_the_tags_visibly() -> None:
    legacy = scenario("not yet migrated", "fail", TAGS + ("req_CAP_002", "req_STS_002"), message="assert 422 == 201")
    assert legacy.failed_requirements == ["CAP-002", "STS-002"] and legacy.traced_by == "tags"
    entry = legacy.to_json()
    assert entry["traced_by"] == "tags" and entry["failed_requirements"] == ["CAP-002", "STS-002"]
    row = _rows([legacy])["CAP-002"]
    assert row["outcome"] == "fail" and row["traced_by"] == "tags"
    assert row["failed_checks"][0]["message"] == "assert 422 == 201"


def test_a_blocked_scenario_fails_the_broken_prerequisite_and_blocks_the_rest(tmp_path: Path) -> None:
    stopped = scenario("Status is refused without a token", "error", ("agent", "V24", "must", "req_TOK_001",
                       "req_STS_001"), message="blocked: capabilities accepted (CAP-001 failed there): 422")
    stopped.blocked = "capabilities accepted"
    stopped.checks = [_failed("CAP-001")]
    rows = _rows([stopped])
    assert rows["CAP-001"]["outcome"] == "fail"
    assert rows["TOK-001"]["outcome"] == rows["STS-001"]["outcome"] == "blocked"
    assert rows["STS-001"]["blocked"] == [{"scenario": stopped.name, "prerequisite": "capabilities accepted"}]
    verdict = decide_verdict([stopped])
    assert verdict.verdict == "fail"
    assert "blocked at: capabilities accepted, CAP-001 failed there" in verdict.reasons[0]
    tree = _tree(tmp_path, [stopped])
    assert tree["scenarios"][0]["blocked"] == "capabilities accepted"
    assert tree["scenarios"][0]["outcome"] == "error"


def test_a_blocked_scenario_that_names_no_broken_requirement_is_an_error() -> None:
    stopped = scenario("Rollback", "error", ("agent", "V24", "must", "req_DEP_004"), message="blocked: ...")
    stopped.blocked = "the agent installed version 1"
    assert stopped.failed_requirements == [] and stopped.traced_by is None
    assert _rows([stopped])["DEP-004"]["outcome"] == "blocked"
    verdict = decide_verdict([stopped])
    assert verdict.verdict == "error" and "blocked (a prerequisite was refused)" in verdict.reasons[0]


def test_advisory_checks_are_shown_and_never_counted(tmp_path: Path) -> None:
    passing = scenario("Empty apiVersion", "pass", TAGS + ("req_CAP_002",))
    passing.checks = [Check(("CAP-003",), False, "apiVersion '' accepted", ADVISORY, ("I-13",))]
    assert decide_verdict([passing]).verdict == "pass"
    rows = _rows([passing])
    assert rows["CAP-003"]["outcome"] == "advisory" and rows["CAP-003"]["advisory"][0]["ambiguities"] == ["I-13"]
    assert rows["CAP-002"]["outcome"] == "pass"
    tree = _tree(tmp_path, [passing])
    assert tree["verdict"] == "pass"
    page = render_report(tree)
    assert "advisory" in page


def test_an_error_that_is_not_blocked_judges_nothing_it_did_not_check() -> None:
    crashed = scenario("crash", "error", TAGS + ("req_CAP_002", "req_STS_002"))
    crashed.checks = [_passed("CAP-002")]
    rows = _rows([crashed])
    assert rows["CAP-002"]["outcome"] == "pass" and rows["STS-002"]["outcome"] == "error"


# -- transport and junit ------------------------------------------------------------------------


def test_checks_and_blocked_travel_from_a_worker_to_the_controller(tmp_path: Path) -> None:
    stopped = scenario("blocked one", "error", ("agent", "V24", "must", "req_TOK_001"), nodeid="t::a")
    stopped.blocked = "capabilities accepted"
    stopped.checks = [_passed("ONB-005"), _failed("CAP-001"), Check(("CAP-003",), True, "open", ADVISORY)]
    entry = json.loads(json.dumps(stopped.to_json()))  # execnet sends plain data
    back = ScenarioResult.from_json(entry)
    assert back.checks == stopped.checks and back.blocked == stopped.blocked
    assert back.to_json() == entry
    collector = ResultsCollector(tmp_path, sut_description(), "run-1", mode=CONTROLLER)
    report = SimpleNamespace(nodeid="t::a", when="teardown", user_properties=[(SCENARIO_PROPERTY, entry)],
                             failed=False, longrepr="")
    collector.pytest_runtest_logreport(report)  # type: ignore[arg-type]
    tree = collector.results_tree()
    assert tree["scenarios"][0]["failed_requirements"] == ["CAP-001"]
    assert tree["verdict"] == "fail"


PYTEST_FILE = textwrap.dedent(
    """
    import pytest
    from margo_conformance.checks.expect import advise, blocked, expect

    @pytest.mark.wos
    @pytest.mark.V24
    @pytest.mark.req_CAP_002
    @pytest.mark.req_STS_002
    def test_example_fails_on_one_check():
        expect("CAP-002", True, "accepted")
        advise("CAP-003", False, "apiVersion '' accepted")
        expect("STS-002", False, "status answered 500", observed=500)

    @pytest.mark.wos
    @pytest.mark.V24
    @pytest.mark.req_TOK_003
    def test_blocked_at_the_token():
        blocked("a token was issued", "token request answered 403", requirement="TOK-005")

    @pytest.mark.wos
    @pytest.mark.V24
    @pytest.mark.req_GIT_003
    def test_plain_assertion():
        assert 1 == 2, "a step not yet using expect"
    """
)


def test_the_collector_gives_each_scenario_its_own_ledger_and_junit_shows_its_checks(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(PYTEST_FILE)
    collector = ResultsCollector(tmp_path / "out", sut_description("wos"), "run-1")
    code = pytest.main(
        [str(tmp_path / "test_sample.py"), "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(tmp_path)],
        plugins=[collector],
    )
    assert code == 1
    by_name = {s.nodeid.rsplit("::", 1)[-1]: s for s in collector.scenarios}
    example = by_name["test_example_fails_on_one_check"]
    assert example.outcome == "fail" and example.failed_requirements == ["STS-002"]
    assert [c.kind for c in example.checks] == ["requirement", "advisory", "requirement"]
    token = by_name["test_blocked_at_the_token"]
    assert token.outcome == "error" and token.blocked == "a token was issued"
    assert token.message == "blocked: a token was issued (TOK-005 failed there): token request answered 403"
    assert token.failed_requirements == ["TOK-005"]
    legacy = by_name["test_plain_assertion"]
    assert legacy.failed_requirements == ["GIT-003"] and legacy.traced_by == "tags"
    junit = write_junit(tmp_path, collector.results_tree())
    properties = {
        (case.get("name"), p.get("name")): p.get("value")
        for case in ET.parse(junit).getroot().iter("testcase")
        for p in case.iter("property")
    }
    assert properties[("test_example_fails_on_one_check", JUNIT_FAILED)] == "STS-002"
    assert properties[("test_blocked_at_the_token", JUNIT_BLOCKED)] == "a token was issued"
    assert "CAP-003 (does not hold)" in properties[("test_example_fails_on_one_check", JUNIT_ADVISORY)]


# -- the coverage statement ---------------------------------------------------------------------


def _planned(name: str, *tags: str) -> PlannedScenario:
    return PlannedScenario(f"t::{name}", name, frozenset(tags))


def _binding(role_actors: tuple[str, ...], profile: str, level: str = "must") -> list[str]:
    return [
        r.id for r in load_catalogue().values()
        if r.level == level and profile in r.profiles and any(a in r.actor for a in role_actors)
    ]


def test_the_statement_lists_every_must_and_should_row_of_the_role_and_profile() -> None:
    planned = [
        _planned("onboards", "agent", "V24", "must", "req_ONB_005", "req_CAP_001"),
        _planned("status [PR1]", "agent", "PR1", "must", "req_STS_001"),
    ]
    statement = coverage_statement("agent", "PR1", "pass", planned, {"STS-001": "pass"})
    rows = {r["id"]: r for r in statement.rows}
    must = _binding(("CLIENT", "BOTH"), "PR1")
    assert sorted(r for r in rows if rows[r]["level"] == "must") == sorted(must)
    assert len(rows) == len(must) + len(_binding(("CLIENT", "BOTH"), "PR1", "should"))
    assert rows["STS-001"]["status"] == "passed"
    # A V24-only scenario does not cover the PR1 rows it traces.
    assert rows["ONB-005"]["status"] == rows["CAP-001"]["status"] == NOT_COVERED
    counts = statement.counts("must")
    assert statement.sentence().startswith(f"PASS for the 1 tested of {len(must)} PR1 MUST requirements; "
                                           f"{counts[NOT_COVERED]} not covered by this suite version")


def test_rows_the_catalogue_marks_untestable_carry_its_reason() -> None:
    statement = coverage_statement("agent", "PR1", "pass", [], {})
    row = next(r for r in statement.rows if r["id"] == "CFG-007")
    assert row["status"] == NOT_TESTABLE and "documentation check" in row["reason"]
    assert "1 not black-box testable" in statement.sentence() or "not black-box testable" in statement.sentence()


def test_each_status_of_a_row() -> None:
    planned = [_planned("a", "agent", "V24", "must", "req_TOK_001", "req_CAP_001", "req_STS_001", "req_CAP_003",
                        "req_ONB_005")]
    outcomes = {"TOK-001": "fail", "CAP-001": "blocked", "STS-001": "advisory", "CAP-003": "error"}
    rows = {r["id"]: r["status"] for r in coverage_statement("agent", "V24", "fail", planned, outcomes).rows}
    assert (rows["TOK-001"], rows["CAP-001"], rows["STS-001"]) == ("failed", "blocked", "advisory")
    assert rows["CAP-003"] == rows["ONB-005"] == "no_verdict"  # covered, but no verdict in this run


def test_results_json_and_the_banner_carry_the_statement_per_claimed_profile(tmp_path: Path) -> None:
    v24 = scenario("onboards", "pass", ("agent", "V24", "must", "req_ONB_005", "req_CAP_001"))
    pr1 = scenario("status [PR1]", "pass", ("agent", "PR1", "must", "req_STS_001"))
    tree = _tree(tmp_path, [v24, pr1], profiles=("V24", "PR1"))
    statements = {s["profile"]: s for s in tree["coverage"]["statements"]}
    assert set(statements) == {"V24", "PR1"}
    pr1_rows = {r["id"]: r["status"] for r in statements["PR1"]["requirements"]}
    assert pr1_rows["ONB-005"] == "not_covered" and pr1_rows["STS-001"] == "passed"
    v24_rows = {r["id"]: r["status"] for r in statements["V24"]["requirements"]}
    assert v24_rows["ONB-005"] == v24_rows["CAP-001"] == "passed"
    assert statements["PR1"]["statement"].startswith("PASS for the 1 tested of ")
    page = render_report(tree)
    assert statements["PR1"]["statement"] in page and "Catalogue coverage" in page


def test_list_requirements_for_a_profile_counts_only_scenarios_that_run_for_it() -> None:
    lines = {line.split()[0]: line for line in requirement_lines("agent", ["PR1"]) if line[:3].isupper()}
    # ONB-001 binds both profiles; only the V24 onboarding scenario traces it.
    assert "not covered by a scenario" in lines["ONB-001"]
    assert "scenario(s)" in lines["ONB-005"]  # PR1's own onboarding feature traces it
    v24 = {line.split()[0]: line for line in requirement_lines("agent", ["V24"]) if line[:3].isupper()}
    assert "scenario(s)" in v24["ONB-001"]


def test_the_page_shows_a_blocked_scenario_its_failed_check_and_its_advisory_checks(tmp_path: Path) -> None:
    stopped = scenario("Status without a token", "error", ("agent", "V24", "must", "req_TOK_001"),
                       message="blocked: capabilities accepted (CAP-001 failed there): refused with 422")
    stopped.blocked = "capabilities accepted"
    stopped.checks = [_failed("CAP-001"), Check(("CAP-003",), False, "apiVersion '' accepted", ADVISORY)]
    page = render_report(_tree(tmp_path, [stopped]))
    assert "blocked at: capabilities accepted; CAP-001 failed there" in page
    assert "HTTP 422" in page and "advisory: does not hold" in page
    assert 'class="badge badge-blocked"' in page  # TOK-001 in the traceability matrix


def test_a_profile_is_not_failed_by_a_check_naming_only_another_profiles_requirement(tmp_path: Path) -> None:
    # A scenario run for both profiles whose failed check names STS-004 (V24's state vocabulary).
    shared = scenario("status vocabulary", "fail", ("agent", "must", "req_STS_001", "req_STS_004"))
    shared.checks = [_failed("STS-004")]
    tree = _tree(tmp_path, [shared], profiles=("V24", "PR1"))
    verdicts = {p["profile"]: p["verdict"] for p in tree["profiles"]}
    assert verdicts == {"V24": "fail", "PR1": "partial"}
    assert tree["verdict"] == "fail"
    legacy = scenario("legacy", "fail", ("agent", "must", "req_STS_004"))  # traced by tags: every profile
    assert decide_verdict([legacy], profile="PR1").verdict == "fail"


OUTLINE_FEATURE = textwrap.dedent(
    """
    @wos @V24 @must
    Feature: Onboarding answers

      @req_CAP_002 @req_STS_002
      Scenario Outline: A request is answered
        Given the request <request>
        Then the status check holds for <request>
        And the capabilities check holds for <request>

        Examples:
          | request |
          | good    |
          | badcaps |
    """
)
OUTLINE_STEPS = textwrap.dedent(
    """
    from pytest_bdd import given, parsers, scenarios, then
    from margo_conformance.checks.expect import expect

    scenarios("outline.feature")

    @given(parsers.parse("the request {request}"))
    def request(request):
        pass

    @then(parsers.parse("the status check holds for {request}"))
    def status(request):
        expect("STS-002", True, "status accepted")

    @then(parsers.parse("the capabilities check holds for {request}"))
    def capabilities(request):
        expect("CAP-002", request != "badcaps", f"capabilities for {request} answered 422", observed=422)
    """
)


def test_an_outline_example_fails_only_what_its_failed_check_names(tmp_path: Path) -> None:
    (tmp_path / "outline.feature").write_text(OUTLINE_FEATURE)
    (tmp_path / "test_outline.py").write_text(OUTLINE_STEPS)
    collector = ResultsCollector(tmp_path / "out", sut_description("wos"), "run-1")
    code = pytest.main([str(tmp_path / "test_outline.py"), "-q", "-p", "no:cacheprovider", "--rootdir",
                        str(tmp_path)], plugins=[collector])
    assert code == 1
    by_name = {s.name: s for s in collector.scenarios}
    good, bad = by_name["A request is answered [good]"], by_name["A request is answered [badcaps]"]
    assert bad.outcome == "fail" and bad.tags == ["V24", "must", "req_CAP_002", "req_STS_002", "wos"]
    assert good.outcome == "pass" and [c.requirements for c in good.checks] == [("STS-002",), ("CAP-002",)]
    assert bad.failed_requirements == ["CAP-002"] and bad.traced_by == "checks"
    rows = _rows(collector.scenarios)
    assert rows["CAP-002"]["outcome"] == "fail" and rows["STS-002"]["outcome"] == "pass"
