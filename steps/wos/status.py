"""WOS status vocabulary: reports the device sends and what the orchestrator shows."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pytest_bdd import parsers, then, when

from margo_conformance.checks.expect import expect
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import (
    NOT_JSON,
    UNDEFINED_STATES,
    application_components,
    status_report,
    status_report_with_undefined_state,
)


def _only_deployment(wos: WosUnderTest) -> tuple[str, str]:
    (application,) = wos.deployments
    return application, wos.deployment_id(application)


def _report(wos: WosUnderTest, state: str) -> dict[str, Any]:
    """The profile's status document for the scenario's deployment, every component in `state`."""
    application, deployment_id = _only_deployment(wos)
    device_id = wos.device().device_id if wos.dialect.client_scoped else ""
    return wos.dialect.status_report(deployment_id, device_id, application_components(application), state)


@when(parsers.re(r"the device reports the deployment as (?P<state>Pending|Installing|Installed|Failed|"
                 r"pending|installing|installed|failed)$"))
def the_device_reports_the_deployment_as(wos: WosUnderTest, state: str) -> None:
    _, deployment_id = _only_deployment(wos)
    wos.report_status(deployment_id, _report(wos, state))


#: 1.0 status reports that parse but break a rule (STS-020), named in the Gherkin -> what to
#: change in a report of installing: (overall state, last component's state).
SEMANTIC_DEFECTS = {
    "its state spelled with a capital": ("Installed", "installed"),
    "a component in a state Margo does not define": ("installing", "sleeping"),
}
_SEMANTIC = "|".join(map(re.escape, SEMANTIC_DEFECTS))


@when(parsers.re(rf"the device reports the deployment with (?P<defect>{_SEMANTIC})$"))
def the_device_reports_the_deployment_with_a_semantic_error(wos: WosUnderTest, defect: str) -> None:
    _, deployment_id = _only_deployment(wos)
    report = _report(wos, "installing")
    report["status"]["state"], report["components"][-1]["state"] = SEMANTIC_DEFECTS[defect]
    wos.report_status(deployment_id, report)


@when("the device reports the deployment's status in a body that is not JSON")
def the_device_reports_the_deployments_status_in_a_body_that_is_not_json(wos: WosUnderTest) -> None:
    _, deployment_id = _only_deployment(wos)
    wos.report_status(deployment_id, None, raw_body=NOT_JSON)


@then("the orchestrator accepts the report")
def the_orchestrator_accepts_the_report(wos: WosUnderTest) -> None:
    # 1.0 texts answer an accepted status 200 or 201 (I-7): any 2xx.
    status = wos.answer().status
    expect(wos.answer_judges(), status is not None and 200 <= status < 300,
           f"a valid status report must be accepted (2xx); {wos.answer().describe()}", ambiguities=("I-7",))


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
@then(parsers.parse("the orchestrator still shows the deployment as {state}"))
def the_orchestrator_shows_the_deployment_as(wos: WosUnderTest, state: str) -> None:
    application, _ = _only_deployment(wos)
    shown = wos.shown_status(application)
    expect(
        wos.dialect.requirements.status_route,
        str(shown.get("state", "")).lower() == state.lower(),
        f"after accepting a report of {state} the orchestrator must show {state}; it shows {shown.get('state')!r}",
    )
