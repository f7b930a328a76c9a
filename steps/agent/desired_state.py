"""Desired-state vocabulary: publishing deployments and watching the agent read its repository."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from margo_conformance.base.errors import StepOrderError
from margo_conformance.base.evidence import Event
from margo_conformance.checks.expect import expect
from margo_conformance.scenario.agent import AgentUnderTest


@when(parsers.parse('the orchestrator publishes the deployment "{name}"'))
def the_orchestrator_publishes_the_deployment(agent: AgentUnderTest, name: str) -> None:
    agent.orchestrator.publish(name)


@then("the agent reads its assigned repository using the access token it was issued")
def the_agent_reads_its_assigned_repository_using_the_access_token_it_was_issued(
    agent: AgentUnderTest,
) -> None:
    deadlines = agent.deadlines
    timeout = deadlines.poll
    read = agent.observations.wait_for_repository_read(timeout)
    expect(
        "GIT-003",
        read is not None,
        f"the agent did not read its repository with its access token within "
        f"{timeout:g}s of onboarding (polling interval {deadlines.interval:g}s + {deadlines.tolerance:g}s)."
        f"{agent.exit_note()}{_unassigned_reads(agent)}\nGit operations seen:\n{agent.evidence.excerpt(('git',))}",
    )
    # The next poll closes the agent's first cycle: whatever else it read in that cycle, before
    # or after its own repository, is on record by then.
    read_at = read.at if read is not None else 0.0
    agent.observations.wait(lambda _: next((p for p in agent.observations.polls() if p.at > read_at), None), timeout)
    foreign = _unassigned_reads(agent)
    expect("GIT-005", not foreign, f"the agent must read desired state only from its assigned repository.{foreign}")


def _unassigned_reads(agent: AgentUnderTest) -> str:
    """The repositories other than its assigned one that the agent asked for, first request each."""
    own = agent.device.device_id
    first: dict[str, Event] = {}
    for operation in agent.observations.git_operations():
        if operation.data["repo"] != own:
            first.setdefault(operation.data["repo"], operation)
    if not first:
        return ""
    origin = agent.evidence.origin
    return f" Assigned {own}.git, it also requested: " + "; ".join(
        f"{repo}.git (+{e.at - origin:.2f}s {e.data['method']} {e.data['path']} -> {e.data['status']})"
        for repo, e in first.items()
    )


@then("the agent fetches the new desired state within its polling interval")
def the_agent_fetches_the_new_desired_state_within_its_polling_interval(agent: AgentUnderTest) -> None:
    what, commit = agent.latest_commit()  # the newest publication or removal
    deadlines = agent.deadlines
    allowed = deadlines.poll
    fetch = agent.observations.wait_for_pickup(commit, allowed)
    expect(
        "DSA-030" if commit.manifest_version else "GIT-003",
        fetch is not None,
        f"{commit.sha[:11]} ({what}) was not fetched "
        f"within {allowed:g}s (polling interval {deadlines.interval:g}s + tolerance {deadlines.tolerance:g}s)."
        f"{agent.exit_note()}\nExchanges seen:\n{agent.evidence.excerpt(('git', 'http', 'commit'))}",
    )


@when("the repository starts refusing the agent's access token")
def the_repository_starts_refusing_the_agents_access_token(agent: AgentUnderTest) -> None:
    agent.orchestrator.refuse_repository_access()


@when("the repository accepts the agent's access token again")
def the_repository_accepts_the_agents_access_token_again(agent: AgentUnderTest) -> None:
    agent.orchestrator.allow_repository_access()


@then("the repository refuses the agent's next attempt to read it")
def the_repository_refuses_the_agents_next_attempt_to_read_it(agent: AgentUnderTest) -> None:
    if agent.refused_since is None:
        raise StepOrderError("add 'When the repository starts refusing the agent's access token'")
    allowed = agent.deadlines.poll
    refused = agent.observations.wait_for_refused_read(agent.refused_since, allowed)
    expect(
        "GIT-003",
        refused is not None,
        f"after its access was withdrawn the agent made no attempt to read its repository "
        f"within {allowed:g}s, so it is not watching it.{agent.exit_note()}\n"
        f"{agent.evidence.excerpt(('git',))}",
    )
