"""Failure vocabulary: desired state the agent cannot apply, and what it must report and spare."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from margo_conformance.checks.expect import expect, not_tested
from margo_conformance.checks.status_model import (
    component_entry,
    error_problem,
    installed_components,
    overall_state,
    overall_states,
    shown,
)
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.agent_state import Outcome
from margo_conformance.scenario.workloads import changed_since, containers_of, running
from steps.agent.device import require_final_state


def _failed(agent: AgentUnderTest, name: str) -> Outcome:
    """The deployment's outcome, which must be a Failed report (STS-006)."""
    return require_final_state(
        agent, name, "failed", "STS-006", f"deployment {name} cannot be applied, so it must be reported Failed"
    )


@then(parsers.parse('the agent reports the deployment "{name}" as Failed with an error code and message'))
def the_agent_reports_the_deployment_as_failed_with_an_error_code_and_message(agent: AgentUnderTest, name: str) -> None:
    final = _failed(agent, name).final
    document = final.document if final is not None else {}
    problem = error_problem(document.get("status"))
    expect(
        "STS-006",
        problem is None,
        f"a failure must say why with a code and a message; deployment {name} was reported Failed, but "
        f"{problem}. Report: {document!r}",
    )


@then(parsers.parse('the agent reports the component "{component}" of the deployment "{name}" '
                    "as Failed with an error code and message"))
def the_agent_reports_the_component_of_the_deployment_as_failed_with_an_error_code_and_message(
    agent: AgentUnderTest, component: str, name: str
) -> None:
    final = _failed(agent, name).final
    document = final.document if final is not None else {}
    entry = component_entry(document, component)
    expect(
        "STS-003",
        entry is not None,
        f"the Failed report for {name} must list the component {component!r}; its components were "
        f"{document.get('components')!r}",
    )
    entry = entry or {}
    expect(
        "STS-006",
        overall_state({"status": entry}) == "failed",
        f"the component {component!r} of {name} is the one that cannot be installed, but the Failed "
        f"report shows it {entry.get('state')!r}: {document.get('components')!r}",
    )
    problem = error_problem(entry)
    expect(
        "STS-006",
        problem is None,
        f"the component {component!r} of {name} was reported Failed, but {problem}. Report: {document!r}",
    )


@then(parsers.parse('the agent installs no component of the deployment "{name}"'))
def the_agent_installs_no_component_of_the_deployment(agent: AgentUnderTest, name: str) -> None:
    outcome = agent.observations.outcome(name)
    for index, report in enumerate(outcome.reports, start=1):
        installed = installed_components(report.document)
        expect(
            ("GIT-004", "STS-006"),
            not installed and overall_state(report.document) != "installed",
            f"deployment {name} cannot be applied, yet status report {index} says "
            f"{overall_state(report.document).capitalize()} with {installed or 'no component'} installed",
        )
    if not agent.workloads_observable:
        not_tested(("GIT-004", "STS-006"), f"that nothing of it started: {agent.workloads_unobservable_reason}")
    else:
        started = containers_of(agent.evidence.events(), outcome.published.deployment.deployment_id)
        expect(
            ("GIT-004", "STS-006"),
            not started,
            f"deployment {name} cannot be applied, so nothing of it may start; the device started "
            f"{', '.join(c.name for c in started) or 'nothing'} for it",
        )


@then(parsers.parse('the deployment "{name}" is left as it was'))
def the_deployment_is_left_as_it_was(agent: AgentUnderTest, name: str) -> None:
    kept = agent.deployment(name)
    what, change = agent.latest_commit()
    agent.observations.settle(change.at)
    deployment_id = kept.deployment.deployment_id
    reports = [r for r in agent.observations.status_reports(deployment_id) if r.at >= change.at]
    expect(
        "GIT-004",
        not reports,
        f"publishing {what} changed nothing about {name}, yet the agent reported {name} again: "
        f"{shown(overall_states([r.document for r in reports]))}",
    )
    if not agent.workloads_observable:
        not_tested("GIT-004", f"that its workloads were left alone: {agent.workloads_unobservable_reason}")
    else:
        containers = containers_of(agent.evidence.events(), deployment_id)
        changes = changed_since(containers, change.at)
        expect(
            "GIT-004",
            not changes,
            f"publishing {what} changed nothing about {name}, yet its workloads changed: {'; '.join(changes)}",
        )
        expect(
            "GIT-004",
            bool(running(containers, change.at)),
            f"workloads of {name} were expected running when {what} was published, as it was reported "
            f"Installed; none was. Workloads seen: {agent.evidence.excerpt(('workload',))}",
        )


@when(parsers.parse('the orchestrator publishes a document that is not YAML beside the deployment "{name}"'))
def the_orchestrator_publishes_a_document_that_is_not_yaml_beside_the_deployment(
    agent: AgentUnderTest, name: str
) -> None:
    agent.orchestrator.publish_beside_unparseable(name)
