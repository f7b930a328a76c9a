"""Reports with the wrong credentials, two devices reporting at once, and the V24 states, against
the reference WOS running in this process (with its isolation and status faults switched on
where a test shows the harness notices them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from margo_conformance.base.schemas import validation_errors
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import (
    DEFINED_STATE_SPELLINGS,
    UNDEFINED_STATES,
    status_report_with_undefined_state,
)
from margo_conformance.scenario.wos_isolation import (
    CAPABILITIES,
    CREDENTIALS,
    ROUNDS,
    STATUS,
    crossed_views,
    crossing_requirements,
    held_for,
    read_repository_with_a_forged_token,
    report_at_once,
    report_with,
)
from margo_conformance.scenario.wos_states import report_each_state
from tests.reference_wos import wos_under_test

DEPLOYMENT_ID = "0b7e2a4c-2f1d-4a55-9d53-7f43c1e0a111"


def _two_devices(wos: WosUnderTest) -> None:
    for role, application in (("device", "hello-compose"), ("other", "two-components")):
        wos.register_device(role)
        assert wos.onboard(role).status == 201
        assert wos.request_token(role).status == 200
        wos.deploy(application, role=role)


def test_crossed_views_name_what_the_device_was_shown() -> None:
    mine = {"properties": {"id": "dev-1"}}
    shown = {"state": "Installed", "components": [{"name": "hello", "state": "Installed"}]}
    assert crossed_views("dev-1", mine, mine, "installed", ["hello"], shown) == []
    theirs = {"properties": {"id": "dev-2"}}
    other = {"state": "Failed", "components": [{"name": "db", "state": "Failed"}]}
    assert crossed_views("dev-1", mine, theirs, "Installed", ["hello"], other) == [
        "dev-1 holds capabilities naming 'dev-2', not the ones it reported",
        "dev-1 shows its deployment as 'Failed' with components ['db'], but it reported Installed "
        "for ['hello']",
    ]
    nothing = {"state": None, "components": []}
    assert crossed_views("dev-1", mine, None, "Pending", ["hello"], nothing) == [
        "dev-1 holds capabilities naming None, not the ones it reported",
        "dev-1 shows its deployment as None with components [], but it reported Pending "
        "for ['hello']",
    ]


def test_two_devices_at_once_stay_apart_on_the_reference_wos(tmp_path: Path) -> None:
    with wos_under_test(tmp_path) as wos:
        _two_devices(wos)
        result = report_at_once(wos)
    assert result.refused() == [] and result.crossings == []
    assert result.rounds_checked == ROUNDS
    assert len(result.sent) == 2 * 2 * ROUNDS
    assert {s.answer.status for s in result.sent} == {201}


def test_reports_filed_under_the_wrong_device_are_found(tmp_path: Path) -> None:
    with wos_under_test(tmp_path, "status-crosstalk") as wos:
        _two_devices(wos)
        result = report_at_once(wos, rounds=3)
    assert result.refused() == []
    assert result.crossings, "the crosstalk fault went unnoticed"
    assert all(" shows its deployment as " in c for c in result.crossings)
    assert crossing_requirements(result.crossings) == ["STS-002"]  # status crossed, not capabilities


def test_a_refused_report_stops_both_devices(tmp_path: Path) -> None:
    with wos_under_test(tmp_path, "status-500") as wos:
        _two_devices(wos)
        result = report_at_once(wos)
    assert [s.describe().split(": ")[1] for s in result.refused()] == ["500"] * len(
        result.refused()
    )
    assert 1 <= len(result.refused()) <= 2
    assert result.rounds_checked == 0


def test_reports_with_the_wrong_credentials_are_refused_and_change_nothing(tmp_path: Path) -> None:
    expected = {
        "without an access token": 401,
        "with an access token the orchestrator never issued": 401,
        "with another device's access token": 403,
    }
    assert set(expected) == set(CREDENTIALS)
    with wos_under_test(tmp_path) as wos:
        _two_devices(wos)
        for report in (CAPABILITIES, STATUS):
            for credentials, status in expected.items():
                before = held_for(wos, report)
                assert report_with(wos, report, credentials).status == status, (report, credentials)
                assert held_for(wos, report) == before


def test_another_devices_token_is_accepted_for_capabilities_under_the_fault(tmp_path: Path) -> None:
    with wos_under_test(tmp_path, "capabilities-cross-device") as wos:
        _two_devices(wos)
        assert report_with(wos, CAPABILITIES, "with another device's access token").status == 201
        assert held_for(wos, CAPABILITIES) is not None


def test_a_forged_token_does_not_read_the_repository(tmp_path: Path) -> None:
    with wos_under_test(tmp_path) as wos:
        wos.register_device()
        wos.onboard()
        assert wos.read_repository().ok
        read = read_repository_with_a_forged_token(wos)
    assert not read.ok and wos.last_read is read


@pytest.mark.parametrize("which", list(UNDEFINED_STATES))
def test_undefined_state_reports_break_only_the_state_rule(which: str) -> None:
    report = status_report_with_undefined_state(DEPLOYMENT_ID, ["db", "web"], which)
    errors = validation_errors(report, "v24/deployment-status")
    overall, component = UNDEFINED_STATES[which]
    assert len(errors) == (overall != "Installing") + (component != "Installing")
    assert report["components"][0]["state"] == "Installing"
    assert report["components"][1]["state"] == component


def test_every_state_in_both_spellings_is_reported_and_read_back(tmp_path: Path) -> None:
    with wos_under_test(tmp_path) as wos:
        wos.register_device()
        wos.onboard()
        wos.request_token()
        wos.deploy("two-components")
        reports = report_each_state(wos, "two-components")
    assert [r.state for r in reports] == list(DEFINED_STATE_SPELLINGS)
    assert all(r.answer.status == 201 for r in reports)
    assert [r.shown["state"] for r in reports if r.shown] == [
        s.capitalize() for s in DEFINED_STATE_SPELLINGS
    ]


def test_reporting_every_state_stops_at_the_first_refusal(tmp_path: Path) -> None:
    with wos_under_test(tmp_path, "status-500") as wos:
        wos.register_device()
        wos.onboard()
        wos.request_token()
        wos.deploy("two-components")
        reports = report_each_state(wos, "two-components")
    assert [(r.state, r.answer.status, r.shown) for r in reports] == [("Pending", 500, None)]
