"""WOS status vocabulary: reports the device sends and what the orchestrator shows."""

from __future__ import annotations

import re
import uuid

from pytest_bdd import parsers, then, when

from margo_conformance.checks.expect import expect
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import (
    UNDEFINED_STATES,
    application_components,
    status_report,
    status_report_with_undefined_state,
)


def _only_deployment(wos: WosUnderTest) -> tuple[str, str]:
    (application,) = wos.deployments
    return application, wos.deployment_id(application)


@when(parsers.re(r"the device reports the deployment as (?P<state>Pending|Installing|Installed|Failed)$"))
def the_device_reports_the_deployment_as(wos: WosUnderTest, state: str) -> None:
    application, deployment_id = _only_deployment(wos)
    wos.report_status(deployment_id, status_report(deployment_id, application_components(application), state))


_UNDEFINED = "|".join(map(re.escape, UNDEFINED_STATES))


@when(parsers.re(rf"the device reports the deployment with (?P<undefined>{_UNDEFINED})$"))
def the_device_reports_the_deployment_with_an_undefined_state(wos: WosUnderTest, undefined: str) -> None:
    application, deployment_id = _only_deployment(wos)
    report = status_report_with_undefined_state(deployment_id, application_components(application), undefined)
    wos.report_status(deployment_id, report)


@when("the device reports the status of a deployment the orchestrator never assigned")
def the_device_reports_the_status_of_a_deployment_the_orchestrator_never_assigned(wos: WosUnderTest) -> None:
    application, _ = _only_deployment(wos)
    unknown = str(uuid.uuid4())
    wos.report_status(unknown, status_report(unknown, application_components(application), "Installed"))


@then(parsers.parse("the orchestrator shows the deployment as {state}"))
def the_orchestrator_shows_the_deployment_as(wos: WosUnderTest, state: str) -> None:
    application, _ = _only_deployment(wos)
    shown = wos.shown_status(application)
    expect(
        "STS-002",
        str(shown.get("state", "")).lower() == state.lower(),
        f"after accepting a report of {state} the orchestrator must show {state}; it shows {shown.get('state')!r}",
    )
