"""Device vocabulary every agent feature uses: the new device, the agent container starting and
staying up, and `require_final_state`, the final-state check the failure and status steps share."""

from __future__ import annotations

from pytest_bdd import given, then, when

from margo_conformance.checks.expect import expect
from margo_conformance.checks.status_model import normalise, overall_states, shown
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.agent_state import Outcome


@given("the orchestrator expects a new device")
def the_orchestrator_expects_a_new_device(agent: AgentUnderTest) -> None:
    agent.orchestrator.expect_device()


@given("the device's agent is configured with the orchestrator's address")
def the_devices_agent_is_configured_with_the_orchestrators_address(agent: AgentUnderTest) -> None:
    # The address, device identity and onboarding key reach the agent through the SUT file's
    # placeholders; rendering them now surfaces a bad template before anything starts.
    agent.placeholder_values()


@when("the agent starts")
def the_agent_starts(agent: AgentUnderTest) -> None:
    agent.start_agent()


@given("the agent has started and onboarded")
def the_agent_has_started_and_onboarded(agent: AgentUnderTest) -> None:
    agent.start_agent()
    agent.wait_until_onboarded()


@then("the agent is still running")
def the_agent_is_still_running(agent: AgentUnderTest) -> None:
    expect(
        ("CFG-004", "GIT-004"),
        agent.observations.container_running(),
        "the agent must keep running whatever its orchestrator refuses or publishes, "
        f"but its container stopped.{agent.exit_note()}",
    )


def require_final_state(agent: AgentUnderTest, name: str, state: str, requirement: str, rule: str) -> Outcome:
    """The latest publication of `name` was fetched and ended in `state` (installed, failed);
    when it did not, `requirement` fails and `rule` opens the message ("deployment x ... must be
    reported Failed")."""
    outcome = agent.observations.outcome(name)
    deadlines = agent.deadlines
    expect(
        agent.dialect.requirements.desired_state_fetched,
        outcome.fetched is not None,
        f"the agent did not fetch the desired state with deployment {name} within "
        f"{deadlines.poll:g}s, so it cannot report it.{agent.exit_note()}\n"
        f"{agent.evidence.excerpt(agent.dialect.desired_state_evidence)}",
    )
    states = overall_states([r.document for r in outcome.reports])
    expect(
        _final_state_requirement(agent, outcome, state, requirement),
        outcome.final_state == state,
        f"{rule}; "
        + (f"it was reported {outcome.final_state.capitalize()}" if outcome.final is not None
           else f"no final state came within {deadlines.deployment:g}s")
        + f" (reported: {shown(states)}).{agent.exit_note()}\n{agent.evidence.excerpt(('http', 'log'))}",
    )
    return outcome


def _final_state_requirement(agent: AgentUnderTest, outcome: Outcome, state: str, requirement: str) -> str:
    """What a deployment that did not end in `state` broke: nothing reported at all, it was not
    applied (GIT-004, 1.0 DSA-036); components that reached `state` under an overall state that
    did not, the overall-state rule (STS-005, 1.0 STS-015); otherwise `requirement`."""
    requirements = agent.dialect.requirements
    if outcome.final_state == state:
        return requirement  # it held: the rule the scenario asks about is the one verified
    if not outcome.reports:
        return requirements.deployment_applied
    if any(_components_reached(r.document, state) for r in outcome.reports):
        return requirements.overall_state
    return requirement


def _components_reached(document: object, state: str) -> bool:
    """Any component failed (for `failed`), or every component installed (for `installed`)."""
    components = document.get("components") if isinstance(document, dict) else None
    states = [normalise(c.get("state")) for c in components or [] if isinstance(c, dict)]
    if state == "failed":
        return "failed" in states
    return bool(states) and all(s == state for s in states)
