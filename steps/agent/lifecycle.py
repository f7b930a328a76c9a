"""Lifecycle vocabulary: changed, removed and side-by-side deployments, and their workloads."""

from __future__ import annotations

import re

from pytest_bdd import parsers, then, when

from margo_conformance.base.errors import StepOrderError
from margo_conformance.checks.expect import expect, not_tested
from margo_conformance.checks.status_model import judge_sequence, judge_update, overall_states, shown
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.agent_orchestrator import ARTIFACT_FIXTURES
from margo_conformance.scenario.agent_state import Outcome
from margo_conformance.scenario.workloads import expected_environment, missing_environment, running


@when(parsers.parse('the orchestrator publishes the revision "{revision}" of the deployment "{name}"'))
def the_orchestrator_publishes_the_revision_of_the_deployment(agent: AgentUnderTest, revision: str, name: str) -> None:
    agent.orchestrator.publish_revision(name, revision)


@when(parsers.parse("the orchestrator publishes the deployments {names} together"))
def the_orchestrator_publishes_the_deployments_together(agent: AgentUnderTest, names: str) -> None:
    agent.orchestrator.publish_together(re.findall(r'"([^"]+)"', names))


@then(parsers.parse('the agent reports the deployment "{name}" as Pending, then Installing, then Installed'))
def the_agent_reports_the_named_deployment_as_pending_then_installing_then_installed(
    agent: AgentUnderTest, name: str
) -> None:
    outcome = agent.observations.outcome(name)
    expect(
        "GIT-004",
        outcome.fetched is not None,
        f"the agent did not fetch the desired state with {name}.{agent.exit_note()}\n"
        f"{agent.evidence.excerpt(('git', 'commit'))}",
    )
    finding = judge_sequence(overall_states([r.document for r in outcome.reports]))
    expect(
        _sequence_requirement(outcome),
        finding.ok,
        f"deployment {name} must be reported Pending, then Installing, then Installed: {finding.problem}; "
        f"reported: {shown(finding.observed)}{agent.exit_note()}",
    )


@then(parsers.parse('the agent reports the deployment "{name}" as Installing, then Installed again'))
def the_agent_reports_the_deployment_as_installing_then_installed_again(agent: AgentUnderTest, name: str) -> None:
    outcome = agent.observations.outcome(name)
    finding = judge_update(overall_states([r.document for r in outcome.reports]))
    expect(
        _sequence_requirement(outcome),
        finding.ok,
        f"after the change to {name} ({outcome.published.commit.sha[:11]}) the agent must apply "
        f"it and report Installing, then Installed: {finding.problem}; reported since the change: "
        f"{shown(finding.observed)}.{agent.exit_note()}\n{agent.evidence.excerpt(('git', 'commit', 'http'))}",
    )


def _sequence_requirement(outcome: Outcome) -> str:
    """A fetched deployment the agent reported nothing for was not applied (GIT-004); reports in
    the wrong order break STS-001."""
    return "STS-001" if outcome.reports else "GIT-004"


@then(parsers.parse('the device runs the deployment "{name}" as changed, and nothing of the version before'))
def the_device_runs_the_deployment_as_changed_and_nothing_of_the_version_before(
    agent: AgentUnderTest, name: str
) -> None:
    if not agent.workloads_observable:
        not_tested("GIT-004", f"what runs on the device after the change: {agent.workloads_unobservable_reason}")
        return
    published = agent.deployment(name)
    changed_at = published.commit.at
    document = published.deployment.document
    components = published.deployment.component_names
    wanted = {c: expected_environment(document, c, ARTIFACT_FIXTURES) for c in components}

    def changed(containers: list) -> list | None:
        now_running = running(containers, float("inf"))
        new = [c for c in now_running if c.started_at >= changed_at]
        old = [c for c in now_running if c.started_at < changed_at]
        covered = all(any(not missing_environment(c.environment, env) for c in new) for env in wanted.values())
        return now_running if covered and not old else None

    found = agent.observations.wait_for_workloads(name, changed, agent.deadlines.deployment)
    containers = agent.observations.workloads(name)
    old = [c.name for c in running(containers, float("inf")) if c.started_at < changed_at]
    expect(
        "GIT-004",
        not old,
        f"nothing of the version of {name} before the change may still run; still running: {', '.join(old)}",
    )
    expect(
        "GIT-004",
        found is not None,
        f"workloads of {name} carrying the change were expected; none started since the change carries it; "
        f"expected, per component: {wanted}; started since: "
        + "; ".join(f"{c.name} {c.environment}" for c in containers if c.started_at >= changed_at),
    )


@then("every status report names its own deployment and only that deployment's components")
def every_status_report_names_its_own_deployment_and_only_that_deployments_components(agent: AgentUnderTest) -> None:
    by_id = {p.deployment.deployment_id: p.deployment for p in agent.published.values()}
    strangers = sorted(set(agent.device.statuses) - set(by_id))
    expect(
        "STS-003",
        not strangers,
        f"reports may name only deployments the orchestrator published; the agent also reported {strangers}",
    )
    for deployment_id, deployment in by_id.items():
        expected = sorted(deployment.component_names)
        for index, report in enumerate(agent.observations.status_reports(deployment_id), start=1):
            document = report.document if isinstance(report.document, dict) else {}
            named = sorted(str(c.get("name")) for c in document.get("components", []) if isinstance(c, dict))
            expect(
                "STS-003",
                document.get("deploymentId") == deployment_id and named == expected,
                f"report {index} for {deployment.name} must carry its id {deployment_id} and its components "
                f"{expected}; it carried {document.get('deploymentId')!r} and {named}",
            )


@then(parsers.parse('the workloads of the deployment "{name}" stop'))
def the_workloads_of_the_deployment_stop(agent: AgentUnderTest, name: str) -> None:
    if not agent.workloads_observable:
        not_tested("GIT-004", f"whether the removed deployment's workloads stop: {agent.workloads_unobservable_reason}")
        return
    timeout = agent.deadlines.deployment
    stopped = agent.observations.wait_for_workloads(
        name, lambda cs: cs if cs and not running(cs, float("inf")) else None, timeout)
    containers = agent.observations.workloads(name)
    expect(
        "GIT-004",
        bool(containers),
        f"workloads of {name} were expected, as it was reported Installed; none was ever seen running.\n"
        f"{agent.evidence.excerpt(('workload',))}",
    )
    expect(
        "GIT-004",
        stopped is not None,
        f"{name} was removed from the desired state, but its workloads still run "
        f"{timeout:g}s later: {', '.join(c.name for c in running(containers, float('inf')))}"
        f"{agent.exit_note()}\n{agent.evidence.excerpt(('git', 'commit', 'workload', 'log'))}",
    )


@then(parsers.parse('the agent reports nothing more for the deployment "{name}"'))
def the_agent_reports_nothing_more_for_the_deployment(agent: AgentUnderTest, name: str) -> None:
    removal = agent.removed.get(name)
    if removal is None:
        raise StepOrderError(f"{name} was not removed in this scenario")
    agent.observations.settle(removal.at)
    deployment_id = agent.deployment(name).deployment.deployment_id
    later = [r for r in agent.observations.status_reports(deployment_id) if r.at >= removal.at]
    expect(
        "STS-004",
        not later,
        f"V24 has no state for a removal, so after {name} was removed the agent must report nothing "
        f"more for it; it reported {shown(overall_states([r.document for r in later]))}"
        + (f": {later[-1].document!r}" if later else ""),
    )
