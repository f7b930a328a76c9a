"""report.html leads with what failed, per requirement (no Docker, no browser): one entry per
failed requirement with its catalogue summary, the checks that failed it and what they saw (rows
as a table), a link to the evidence; then the blocked scenarios grouped by the refused
prerequisite, then the advisory checks. Also what a check may keep as `observed`."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from margo_conformance.base.schemas import validation_errors
from margo_conformance.checks.expect import (
    OBSERVED_ROWS,
    Check,
    CheckFailed,
    advise,
    expect,
    scenario_ledger,
    shorten_observed,
)
from margo_conformance.report.html.page import write_report
from margo_conformance.scenario.wos_bad_request_walk import Exchange, Walk
from tests.synthetic_results import (
    ANSWERS,
    REFUSED_CAPABILITIES,
    ROBUSTNESS,
    SIZE_ADVICE,
    WRONG_KIND_MESSAGE,
    write_failing_run,
    write_judged_run,
)


def _page(tmp_path: Path) -> str:
    tree = write_judged_run(tmp_path)
    assert validation_errors(tree, "results") == []  # rows and mappings as `observed` included
    return write_report(tmp_path).read_text(encoding="utf-8")


def _section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}">')
    return page[start : page.index("</section>", start)]


def _sections(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">', page)


def test_the_page_leads_with_failed_requirements_then_blocked_then_advisory(tmp_path: Path) -> None:
    sections = _sections(_page(tmp_path))
    assert sections[:4] == ["failed-requirements", "blocked", "advisory", "summary"]
    assert sections.index("failures") > sections.index("summary")


def test_one_entry_per_failed_requirement_with_its_summary_check_and_evidence(tmp_path: Path) -> None:
    lead = _section(_page(tmp_path), "failed-requirements")
    entries = re.findall(r'<header class="req-head" id="requirement-([A-Z]{3}-\d{3})"', lead)
    assert entries == ["CAP-001", "CAP-002"]  # one each, though CAP-001 failed in two scenarios
    assert lead.count('<div class="req-failure">') == 2
    cap002 = lead[lead.index('id="requirement-CAP-002"') :]
    assert "V24: accept POST and PUT /device/{deviceId}/capabilities; success is 201." in cap002
    assert f'<p class="check-message">{WRONG_KIND_MESSAGE}</p>' in cap002
    assert f"<strong>{ROBUSTNESS}</strong>" in cap002 and "example wrong-kind" in cap002
    assert 'href="#scenario-1">evidence' in cap002  # the failing scenario's article below


def test_observed_rows_are_a_table_not_a_run_on_line(tmp_path: Path) -> None:
    lead = _section(_page(tmp_path), "failed-requirements")
    table = re.search(r'<table class="data observed">.*?</table>', lead, re.S)
    assert table is not None
    assert "<th>request</th><th>sent</th><th>answer</th>" in table.group(0)
    assert table.group(0).count("<tr>") == len(ANSWERS) + 1  # the header row and one per answer
    assert "capabilities report; " not in lead and "All answers" not in lead


def test_one_refusal_that_blocked_many_scenarios_reads_as_one_check(tmp_path: Path) -> None:
    page = _page(tmp_path)
    cap001 = _section(page, "failed-requirements").split('id="requirement-CAP-002"')[0]
    assert cap001.count('<p class="check-message">') == 1
    assert "1 failed check in 2 scenarios" in cap001
    assert "The device reports its status" in cap001 and "A deployment reaches the device" in cap001
    assert '<td class="key">detail</td><td>unknown member cpuArchitecture</td>' in cap001
    blocked = _section(page, "blocked")
    row = re.search(r"<tr><td>" + REFUSED_CAPABILITIES + r"</td>.*?</tr>", blocked, re.S)
    assert row is not None
    assert 'href="#requirement-CAP-001">CAP-001</a>' in row.group(0)  # broken there
    assert "STS-002, STS-003" in row.group(0)  # left unjudged
    assert "Blocked (2)" in blocked


def test_advisory_checks_name_their_catalogue_rows_and_what_was_seen(tmp_path: Path) -> None:
    advisory = _section(_page(tmp_path), "advisory")
    assert html.escape(SIZE_ADVICE) in advisory and ">I-13<" in advisory
    assert "does not hold" in advisory and "HTTP 200 after 0.4s" in advisory
    assert 'href="#scenario-row-4">scenario' in advisory  # a passing scenario: its row
    assert 'id="scenario-row-4"' in _section(_page(tmp_path), "scenarios")


def test_a_failure_traced_by_tags_keeps_one_sentence_and_shows_the_rest_as_observed(tmp_path: Path) -> None:
    write_failing_run(tmp_path)
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert _sections(page)[:2] == ["failed-requirements", "summary"]  # nothing blocked or advisory
    assert '<a href="#blocked">' not in page and '<a href="#advisory">' not in page
    lead = _section(page, "failed-requirements")
    assert (
        '<p class="check-message">GIT-003/CFG-003: commit 1a2b3c4 (hello-compose) was not fetched '
        "within 3s</p>" in lead
    )
    assert '<pre class="block observed">Git operations seen:\n  +0.50s git advertise -&gt; 401</pre>' in lead
    # Both tags failed by the same assertion: one entry naming both, the failure shown once.
    assert lead.count('<div class="req-failure">') == 1 and lead.count('<p class="check-message">') == 1
    assert 'id="requirement-CFG-003"' in lead and 'id="requirement-GIT-003"' in lead
    assert "These 2 requirements failed together (1 failed check)" in lead
    assert "each of its requirement tags (CFG-003" not in lead  # said once, for the group


def test_a_passing_run_says_no_requirement_failed(tmp_path: Path) -> None:
    from margo_conformance.report.html.page import render_report

    tree = json.loads(json.dumps(write_judged_run(tmp_path)))
    tree["requirements"] = [r for r in tree["requirements"] if r["outcome"] != "fail"]
    assert "No requirement failed." in _section(render_report(tree), "failed-requirements")


# -- what a check keeps as observed ---------------------------------------------------------------


def test_rows_and_flat_mappings_stay_data_anything_else_one_line() -> None:
    assert shorten_observed([{"request": "token", "status": 200}]) == [{"request": "token", "status": "200"}]
    assert shorten_observed({"status": 422, "detail": None}) == {"status": "422", "detail": ""}
    assert shorten_observed({"body": {"nested": [1]}}) == "{'body': {'nested': [1]}}"
    assert shorten_observed("a\n  b") == "a b"
    rows = shorten_observed([{"n": i} for i in range(OBSERVED_ROWS + 5)])
    assert isinstance(rows, list) and len(rows) == OBSERVED_ROWS + 1 and rows[-1] == {"n": "… and 5 more"}


def test_rows_travel_from_a_worker_and_advisory_checks_keep_what_they_saw() -> None:
    with scenario_ledger() as ledger:
        advise("TOK-003", False, "a 2 MiB request was accepted", observed={"status": 200})
        with pytest.raises(CheckFailed):
            expect("ERR-001", False, "a bad request was answered with 500", observed=ANSWERS)
    assert ledger.checks[0].observed == {"status": "200"}
    assert Check.from_json(ledger.checks[1].to_json()) == ledger.checks[1]
    assert ledger.checks[1].observed == ANSWERS


def test_a_walk_gives_its_answers_as_rows() -> None:
    from margo_conformance.emulated_device.client import Answer

    answer = Answer("POST", "http://wos/token", 400, {}, b"", 0.1)
    record = Walk(["a body that is not JSON"], [Exchange("token request", "a body that is not JSON", answer)])
    assert record.answers() == [{"request": "token request", "sent": "a body that is not JSON", "answer": "400"}]


def test_a_long_list_in_a_verdict_reason_folds_so_the_lead_comes_into_view(tmp_path: Path) -> None:
    from margo_conformance.report.html.page import render_report

    tree = write_judged_run(tmp_path)
    names = "; ".join(f"scenario number {i}" for i in range(20))
    tree["verdict_reasons"] = [f"20 mandatory scenario(s) were not run: {names}", "1 scenario(s) failed: short"]
    banner = render_report(tree).split("</header>")[0]
    assert (
        '<li>20 mandatory scenario(s) were not run <details class="reason-list"><summary>show</summary>'
        "scenario number 0; scenario number 1;" in banner
    )
    assert "<li>1 scenario(s) failed: short</li>" in banner


def test_a_waived_failure_is_listed_last_and_marked_waived(tmp_path: Path) -> None:
    from margo_conformance.results.waivers import Waiver

    write_failing_run(tmp_path, waivers=(Waiver(scenario="fetched within the polling interval", reason="2.4"),))
    lead = _section(write_report(tmp_path).read_text(encoding="utf-8"), "failed-requirements")
    assert '<div class="req-failure waived">' in lead and "fail · waived" in lead
    assert "0 requirement(s) failed, 2 more waived." in lead


def test_every_value_in_the_lead_is_escaped(tmp_path: Path) -> None:
    from margo_conformance.report.html.page import render_report
    from tests.unit.test_report_html import _Resources

    tree = write_judged_run(tmp_path)
    evil = '"><img src=x onerror=alert(1)>'
    for row in tree["requirements"]:
        for check in row["failed_checks"]:
            check["message"] = evil
            check["observed"] = [{evil: evil}] if isinstance(check.get("observed"), list) else {evil: evil}
    for scenario in tree["scenarios"]:
        scenario["blocked"] = evil if scenario.get("blocked") else None
        for check in scenario["checks"]:
            check["ambiguities"] = [evil]
    parser = _Resources()
    parser.feed(render_report(tree))
    assert parser.loads == []


# -- what a run did not test, and the SHOULD rows beside the MUST ones -----------------------------

_STATEMENT = {
    "profile": "V24",
    "statement": "PASS for the 20 tested of 40 V24 MUST requirements; 20 not covered by this suite version",
    "must": {"passed": 20, "failed": 0, "advisory": 0, "blocked": 0, "no_verdict": 0, "not_covered": 20,
             "not_testable": 0},
    "should": {"passed": 2, "failed": 1, "advisory": 1, "blocked": 0, "no_verdict": 0, "not_covered": 5,
               "not_testable": 1},
    "requirements": [{"id": "ERR-001", "level": "should", "status": "advisory"}],
}


def _tree_with_not_tested() -> dict:
    return {
        "verdict": "pass",
        "scenarios": [{
            "name": "Workloads keep running during an outage", "nodeid": "n1", "outcome": "pass",
            "requirements": ["CFG-004"],
            "checks": [
                {"requirements": ["STS-001"], "passed": True, "message": "reports in order", "kind": "requirement"},
                {"requirements": ["CFG-004"], "passed": True, "kind": "not_tested",
                 "message": "not tested: the SUT file declares: runs workloads on its own containerd"},
            ],
        }],
        "coverage": {"statements": [_STATEMENT]},
    }


def test_checks_not_tested_are_listed_with_their_reasons() -> None:
    from margo_conformance.report.html.page import render_report

    page = render_report(_tree_with_not_tested())
    assert '<a href="#not-tested">' in page
    section = _section(page, "not-tested")
    assert ">CFG-004<" in section and "runs workloads on its own containerd" in section
    assert "not tested: the SUT" not in section  # the reason, without the prefix
    assert "Workloads keep running during an outage" in section
    assert _sections(page).index("not-tested") > _sections(page).index("not-run")


def test_no_not_tested_section_when_every_check_was_made(tmp_path: Path) -> None:
    assert '<section id="not-tested">' not in _page(tmp_path)


def test_the_banner_and_the_coverage_section_give_the_should_rows_beside_the_must_ones() -> None:
    from margo_conformance.report.html.coverage import should_sentence
    from margo_conformance.report.html.page import render_report

    line = should_sentence(_STATEMENT)
    assert line == ("SHOULD: 3 tested of 10 V24 SHOULD requirements (1 failed); 5 not covered by this suite "
                    "version; 1 advisory only; 1 not black-box testable")
    page = render_report(_tree_with_not_tested())
    banner = page[: page.index("<section")]
    assert html.escape(_STATEMENT["statement"]) in banner and html.escape(line) in banner
    assert html.escape(line) in _section(page, "coverage")
    assert should_sentence({"profile": "PR1", "should": {}}) == ""
