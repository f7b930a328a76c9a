"""WOS status-state vocabulary: every V24 state accepted and shown, a report already accepted."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from margo_conformance.base.errors import StepOrderError
from margo_conformance.checks.expect import blocked, expect
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import application_components, status_report
from margo_conformance.scenario.wos_states import report_each_state


def _only_application(wos: WosUnderTest) -> str:
    if len(wos.deployments) != 1:
        raise StepOrderError(
            "add 'Given the operator has deployed the application ... to the device'"
        )
    (application,) = wos.deployments
    return application


@given(
    parsers.re(
        r"the device has reported the deployment as (?P<state>Pending|Installing|Installed|Failed)$"
    )
)
def the_device_has_reported_the_deployment_as(wos: WosUnderTest, state: str) -> None:
    application = _only_application(wos)
    deployment_id = wos.deployment_id(application)
    answer = wos.report_status(
        deployment_id, status_report(deployment_id, application_components(application), state)
    )
    if answer.status != 201:
        blocked(f"an accepted report of {state}", f"a valid report of {state} was refused: {answer.describe()}",
                requirement="STS-002")


@when("the device reports the deployment in turn as every state Margo defines")
def the_device_reports_the_deployment_in_turn_as_every_state_margo_defines(
    wos: WosUnderTest,
) -> None:
    report_each_state(wos, _only_application(wos))


@then("the orchestrator accepts each of those reports and shows the state reported")
def the_orchestrator_accepts_each_of_those_reports_and_shows_the_state_reported(
    wos: WosUnderTest,
) -> None:
    reports = wos.state_reports
    if not reports:
        raise StepOrderError(
            "add 'When the device reports the deployment in turn as every state Margo defines'"
        )
    seen = "; ".join(
        f"{r.state} -> {r.answer.status}, shown {r.shown.get('state') if r.shown else '(not read)'}"
        for r in reports
    )
    refused = [r for r in reports if r.answer.status != 201]
    # Refused as the client's fault (4xx): a state Margo defines was taken for undefined (STS-004);
    # a 5xx or no answer: the route failed (STS-002).
    as_client_error = [r for r in refused if r.answer.status is not None and 400 <= r.answer.status < 500]
    expect(
        ("STS-004" if as_client_error else "STS-002") if refused else ("STS-002", "STS-004"),
        not refused,
        "a report of every V24 state must be accepted (201)"
        + (f"; {refused[0].state!r} was answered {refused[0].answer.describe()}" if refused else "")
        + f". Reports so far: {seen}",
    )
    misshown = [
        r
        for r in reports
        if r.shown is None or str(r.shown.get("state", "")).lower() != r.state.lower()
    ]
    expect(
        "STS-002",
        not misshown,
        f"after accepting a report the orchestrator must show its state; it did not for "
        f"{', '.join(r.state for r in misshown)}. Reports: {seen}",
    )
