"""WOS isolation vocabulary: reports with the wrong credentials, two devices reporting at once."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from margo_conformance.base.errors import StepOrderError
from margo_conformance.checks.expect import blocked, expect
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_isolation import (
    CAPABILITIES,
    ReportsAtOnce,
    Sent,
    crossing_requirements,
    held_for,
    read_repository_with_a_forged_token,
    report_at_once,
    report_with,
)


@given("another device has onboarded and holds an access token")
def another_device_has_onboarded_and_holds_an_access_token(wos: WosUnderTest) -> None:
    wos.register_device("other")
    answer = wos.onboard("other")
    if answer.status != 201:
        blocked("a second onboarded device", f"onboarding a second registered device was refused: "
                f"{answer.describe()}", requirement="ONB-003")
    answer = wos.request_token("other")
    if not wos.device("other").access_token:
        blocked("an access token for the second device", f"none was issued for valid credentials: "
                f"{answer.describe()}", requirement="TOK-003")


@given(
    parsers.parse('the operator has deployed the application "{application}" to the other device')
)
def the_operator_has_deployed_the_application_to_the_other_device(
    wos: WosUnderTest, application: str
) -> None:
    wos.deploy(application, role="other")


@when(parsers.parse("a {report} for the device is sent {credentials}"))
def a_report_for_the_device_is_sent_with_credentials(
    wos: WosUnderTest, report: str, credentials: str
) -> None:
    wos.held_before = held_for(wos, report)
    report_with(wos, report, credentials)


@then(parsers.parse("what the orchestrator holds from the device's {report} is unchanged"))
def what_the_orchestrator_holds_from_the_devices_report_is_unchanged(
    wos: WosUnderTest, report: str
) -> None:
    held = held_for(wos, report)
    expect(
        "TOK-005",
        held == wos.held_before,
        f"a refused {report} must change nothing, but the orchestrator now holds "
        f"{_short(held)} instead of {_short(wos.held_before)} (answer: {wos.answer().describe()})",
    )


@when(
    "both devices report their capabilities and deployment status at the same time, "
    "round after round"
)
def both_devices_report_at_the_same_time_round_after_round(wos: WosUnderTest) -> None:
    wos.reports_at_once = report_at_once(wos)


def _reports(wos: WosUnderTest) -> ReportsAtOnce:
    if wos.reports_at_once is None:
        raise StepOrderError(
            "add 'When both devices report ... at the same time, round after round'"
        )
    return wos.reports_at_once


@then("the orchestrator accepts every report of both devices")
def the_orchestrator_accepts_every_report_of_both_devices(wos: WosUnderTest) -> None:
    reports = _reports(wos)
    refused = reports.refused()
    expect(
        _requirements_of(refused) or ("CAP-002", "STS-002"),
        not refused,
        "valid reports sent at the same time as another device's must be "
        f"answered 201; {'; '.join(s.describe() for s in refused)} "
        f"(after {len(reports.sent)} report(s))",
    )


@then("the orchestrator shows each device only its own capabilities and deployment status")
def the_orchestrator_shows_each_device_only_its_own_capabilities_and_deployment_status(
    wos: WosUnderTest,
) -> None:
    reports = _reports(wos)
    if reports.rounds_checked != reports.rounds_planned:
        # A refused report ends the rounds early; the step before judges that refusal.
        blocked("every round of reports", f"only {reports.rounds_checked} of {reports.rounds_planned} rounds of "
                "reports were compared")
    expect(
        crossing_requirements(reports.crossings) or ("STS-002", "CAP-002"),
        not reports.crossings,
        "a report is filed under the device of its route; with two devices "
        f"reporting at the same time the orchestrator showed {'; '.join(reports.crossings)} "
        f"({len(reports.sent)} reports in {reports.rounds_checked} rounds)",
    )


@when("someone reads the device's repository with an access token the orchestrator never issued")
def someone_reads_the_devices_repository_with_an_access_token_the_orchestrator_never_issued(
    wos: WosUnderTest,
) -> None:
    read_repository_with_a_forged_token(wos)


def _requirements_of(refused: list[Sent]) -> tuple[str, ...]:
    """CAP-002 for a refused capabilities report, STS-002 for a refused status report."""
    return tuple(sorted({"CAP-002" if s.report == CAPABILITIES else "STS-002" for s in refused}))


def _short(value: object, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
