"""Deployment-status vocabulary: the states an agent reports while it applies a deployment."""

from __future__ import annotations

from pytest_bdd import parsers, then

from margo_conformance.checks import status_rules
from margo_conformance.checks.expect import expect
from margo_conformance.checks.status_model import (
    component_states,
    judge_sequence,
    overall_follows_current_component,
    overall_is_most_severe,
    overall_states,
    shown,
)
from margo_conformance.emulated_wos.state import ReceivedDocument
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.agent_state import Published
from steps.agent.device import require_final_state


def _latest(agent: AgentUnderTest) -> Published:
    return max(agent.published.values(), key=lambda p: p.commit.at)


def _final_reports(agent: AgentUnderTest, published: Published) -> list[ReceivedDocument]:
    deployment_id = published.deployment.deployment_id
    deadlines = agent.deadlines
    # No fetch, no status: say so after one polling interval instead of the deployment timeout.
    fetched = agent.observations.wait_for_pickup(published.commit, deadlines.poll)
    expect(
        agent.dialect.requirements.desired_state_fetched,
        fetched is not None,
        f"the agent did not fetch deployment {published.deployment.name} ("
        f"{published.commit.sha[:11]}) within {deadlines.poll:g}s, so it cannot "
        f"apply or report it.{agent.exit_note()}\n{agent.evidence.excerpt(('git', 'commit'))}",
    )
    timeout = deadlines.deployment
    reports = agent.observations.wait_for_final_status(deployment_id, timeout)
    so_far = overall_states([r.document for r in agent.observations.status_reports(deployment_id)])
    # Nothing reported at all for a fetched deployment: it was not applied (GIT-004, 1.0 DSA-036);
    # some reports but no final state: progress went unreported (STS-001).
    expect(
        "STS-001" if so_far else agent.dialect.requirements.deployment_applied,
        reports is not None,
        f"a final state (Installed or Failed) was expected for deployment {published.deployment.name} "
        f"({deployment_id}) within {timeout:g}s; reported so far: {shown(so_far)}.{agent.exit_note()}\n"
        + (agent.evidence.excerpt() if reports is None else ""),
    )
    return reports or []


@then("the agent reports the deployment as Pending, then Installing, then Installed")
def the_agent_reports_the_deployment_as_pending_then_installing_then_installed(
    agent: AgentUnderTest,
) -> None:
    published = _latest(agent)
    reports = _final_reports(agent, published)
    finding = judge_sequence(overall_states([r.document for r in reports]))
    expect(
        agent.dialect.requirements.status_sequence,
        finding.ok,
        f"deployment {published.deployment.name} must be reported Pending, then Installing, then Installed: "
        f"{finding.problem}; reported: {shown(finding.observed)}",
    )


@then("the agent reports each component as Pending, then Installing, then Installed")
def the_agent_reports_each_component_as_pending_then_installing_then_installed(
    agent: AgentUnderTest,
) -> None:
    published = _latest(agent)
    documents = [r.document for r in _final_reports(agent, published)]
    # Without a components list no component state can be judged: say that, not "never reported".
    bare = next((i for i, d in enumerate(documents, start=1) if not _lists_components(d)), None)
    expect(
        agent.dialect.requirements.status_document,
        bare is None,
        f"every status document carries components[{{name, state, error?}}]; status report {bare} for "
        f"{published.deployment.name} has no components list"
        + (f": {documents[bare - 1]!r}" if bare is not None else ""),
    )
    for component in published.deployment.component_names:
        finding = judge_sequence(component_states(documents, component))
        expect(
            agent.dialect.requirements.status_sequence,
            finding.ok,
            f"component {component!r} of {published.deployment.name} must be reported Pending, then Installing, "
            f"then Installed: {finding.problem}; reported: {shown(finding.observed)}",
        )


def _require_components(agent: AgentUnderTest, index: int, report: ReceivedDocument) -> None:
    """A report without components breaks the document's rule (STS-003, 1.0 STS-012), not the
    overall-state rule judged from them."""
    expect(
        agent.dialect.requirements.status_document,
        _lists_components(report.document),
        f"every status document carries components[{{name, state, error?}}]; status report {index} has none, "
        f"so its overall state cannot be judged: {report.document!r}",
    )


def _lists_components(document: object) -> bool:
    return isinstance(document, dict) and isinstance(document.get("components"), list)


@then("every status report names the deployment and its components as published")
def every_status_report_names_the_deployment_and_its_components_as_published(
    agent: AgentUnderTest,
) -> None:
    published = _latest(agent)
    expected_id = published.deployment.deployment_id
    expected_components = sorted(published.deployment.component_names)
    for report in _final_reports(agent, published):
        document = report.document if isinstance(report.document, dict) else {}
        expect(
            agent.dialect.requirements.status_document,
            document.get("deploymentId") == expected_id,
            f"a status report for {expected_id} must carry that deploymentId; it carried "
            f"{document.get('deploymentId')!r}",
        )
        named = sorted(c.get("name") for c in document.get("components", []) if isinstance(c, dict))
        expect(
            agent.dialect.requirements.status_components,
            named == expected_components,
            f"status reports must list the published components {expected_components}, one entry each; "
            f"a report listed {named}",
        )


@then("every status report is a valid deployment status document")
def every_status_report_is_a_valid_deployment_status_document(agent: AgentUnderTest) -> None:
    published = _latest(agent)
    for index, report in enumerate(_final_reports(agent, published), start=1):
        expect(
            status_rules.requirements_of(report.errors, agent.dialect.requirements.status_rows),
            not report.errors,
            f"status report {index} for {published.deployment.name} must be a valid status document; it violates "
            f"the schema: " + "; ".join(report.errors[:8]),
        )


@then("the agent reported the status of no deployment the orchestrator never assigned")
def the_agent_reported_the_status_of_no_deployment_the_orchestrator_never_assigned(agent: AgentUnderTest) -> None:
    refused = list(agent.device.refusals)
    expect(
        agent.dialect.requirements.status_document,
        not refused,
        f"a status report names a deployment of the device, but the orchestrator refused {len(refused)} report(s) "
        f"for deployments it never assigned (404): " + "; ".join(r.describe() for r in refused[:3]),
        observed=[r.describe() for r in refused],
    )


@then("while any component is not yet installed the overall state is that component's state")
def while_any_component_is_not_yet_installed_the_overall_state_is_that_components_state(
    agent: AgentUnderTest,
) -> None:
    published = _latest(agent)
    for index, report in enumerate(_final_reports(agent, published), start=1):
        _require_components(agent, index, report)
        violation = overall_follows_current_component(report.document)
        expect("STS-005", violation is None, f"status report {index}: {violation}")


@then(parsers.parse('the agent reports the deployment "{name}" as {state:w} in the end'))
def the_agent_reports_the_deployment_as_state_in_the_end(agent: AgentUnderTest, name: str, state: str) -> None:
    require_final_state(agent, name, state.lower(), "STS-011", f"deployment {name} must end {state.lower()}")


@then("every status report gives the most severe component state as the overall state")
def every_status_report_gives_the_most_severe_component_state_as_the_overall_state(agent: AgentUnderTest) -> None:
    published = _latest(agent)
    reports = agent.observations.outcome(published.deployment.name).reports
    expect(
        "STS-011",
        bool(reports),
        f"status reports for {published.deployment.name} were expected; none came, so no overall state to judge",
    )
    for index, report in enumerate(reports, start=1):
        _require_components(agent, index, report)
        violation = overall_is_most_severe(report.document)
        expect("STS-015", violation is None, f"status report {index} for {published.deployment.name}: {violation}")
