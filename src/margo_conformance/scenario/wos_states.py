"""V24 status states as the suite's device reports them to a WOS, one after the other."""

from __future__ import annotations

from margo_conformance.scenario.wos import StateReport, WosUnderTest
from margo_conformance.scenario.wos_documents import DEFINED_STATE_SPELLINGS, application_components, status_report


def report_each_state(wos: WosUnderTest, application: str) -> list[StateReport]:
    """Report every V24 state in both spellings, reading what is shown after each; stop at
    the first report that is not accepted."""
    deployment_id = wos.deployment_id(application)
    components = application_components(application)
    wos.state_reports = []
    for state in DEFINED_STATE_SPELLINGS:
        answer = wos.report_status(deployment_id, status_report(deployment_id, components, state))
        shown = wos.shown_status(application) if answer.status == 201 else None
        wos.state_reports.append(StateReport(state, answer, shown))
        if shown is None:
            break
    return wos.state_reports
