"""Connectivity vocabulary: the polling cadence, outages, the downtime window, access tokens."""

from __future__ import annotations

import time

import pytest
from pytest_bdd import given, parsers, then, when

from margo_conformance import cadence
from margo_conformance.errors import PreconditionNotMet
from margo_conformance.roles.agent import WORKLOADS_NOT_OBSERVABLE, AgentUnderTest
from margo_conformance.workloads import running

#: How many gaps between polls the cadence is measured over.
GAPS_MEASURED = 3
INTERVALS = {"the usual interval": 1, "twice the usual interval": 2}
#: An attempt this close to the window's opening counts as begun before it.
WINDOW_GRACE_S = 0.3


def _late(agent: AgentUnderTest) -> float:
    """One polling interval plus the lateness the SUT file allows."""
    return agent.poll_interval + agent.run.sut.polling.tolerance


# -- polling (CFG-003) -------------------------------------------------------------------


@given(parsers.parse("the device's owner sets the polling interval to {setting}"))
def the_devices_owner_sets_the_polling_interval_to(agent: AgentUnderTest, setting: str) -> None:
    if setting not in INTERVALS:
        raise ValueError(f"unknown polling interval {setting!r}; known: {', '.join(INTERVALS)}")
    agent.set_polling_interval(INTERVALS[setting] * agent.run.sut.polling.interval)


@then("the agent polls its repository at that interval")
def the_agent_polls_its_repository_at_that_interval(agent: AgentUnderTest) -> None:
    onboarded = agent.wait_until_onboarded().at
    wanted = GAPS_MEASURED + 1
    polls = agent.wait_for_polls(wanted, onboarded, wanted * _late(agent) + agent.poll_interval)
    tolerance = agent.run.sut.polling.tolerance
    finding = cadence.judge_cadence([p.at for p in polls], agent.poll_interval, tolerance)
    assert len(polls) >= wanted and finding.ok, (
        f"CFG-003/GIT-003: with a polling interval of {agent.poll_interval:g}s the agent "
        + (finding.problem if not finding.ok else f"polled only {len(polls)} time(s), {wanted} expected")
        + f"; {finding.detail}.{agent.exit_note()}\n{agent.evidence.excerpt(('git',))}"
    )


# -- an outage of the orchestrator and its repository (CFG-004) ---------------------------


@when("the orchestrator and its repository become unreachable as soon as the agent has begun reporting it")
def the_orchestrator_and_its_repository_become_unreachable_as_soon_as_the_agent_has_begun_reporting_it(
    agent: AgentUnderTest,
) -> None:
    latest = max(agent.published.values(), key=lambda p: p.commit.at)
    agent.cut_link_once_reporting(latest)
    down = agent.wait_for_link("down", _late(agent) + agent.run.sut.timeouts.deployment)
    if down is None:
        raise PreconditionNotMet(
            f"the orchestrator accepted no status report for {latest.deployment.name} within "
            f"{_late(agent) + agent.run.sut.timeouts.deployment:g}s, so the outage this scenario needs could not "
            f"begin (the status scenarios judge why).{agent.exit_note()}\n"
            f"{agent.evidence.excerpt(('git', 'commit', 'http'))}"
        )


@when("the orchestrator and its repository are reachable again")
def the_orchestrator_and_its_repository_are_reachable_again(agent: AgentUnderTest) -> None:
    longest = cadence.outage_duration(agent.poll_interval) + agent.run.sut.timeouts.deployment
    up = agent.wait_for_link("up", longest + 2)
    if up is None:
        agent.link.restore("the scenario says so")


@then("while they were unreachable the agent kept trying, backing off between attempts")
def while_they_were_unreachable_the_agent_kept_trying_backing_off_between_attempts(agent: AgentUnderTest) -> None:
    went_down, came_up = agent.last_outage()
    attempts = agent.link_attempts(went_down, came_up)
    repository = [a for a in attempts if a.data.get("channel") == "git"]
    finding = cadence.judge_retries([a.at for a in attempts], came_up - went_down, agent.poll_interval,
                                    repository_attempts=len(repository))
    assert finding.ok, (
        f"CFG-004/GIT-003: {finding.problem} ({finding.detail}).{agent.exit_note()}\n"
        f"{agent.evidence.excerpt(('link',), last=15)}"
    )


@then(parsers.parse('the workloads of the deployment "{name}" kept running throughout'))
def the_workloads_of_the_deployment_kept_running_throughout(agent: AgentUnderTest, name: str) -> None:
    if not agent.workloads_observable:
        pytest.skip(WORKLOADS_NOT_OBSERVABLE)
    went_down, _ = agent.last_outage()
    containers = agent.workloads(name)
    before = running(containers, went_down)
    assert before, (
        f"CFG-004: no workload of {name} was running when the outage began, although it was reported "
        f"Installed.\n{agent.evidence.excerpt(('workload',))}"
    )
    stopped = [c for c in before if c.stopped_at is not None]
    assert not stopped, (
        f"CFG-004: the device must keep its workloads while the orchestrator is unreachable; "
        f"{', '.join(c.name for c in stopped)} of {name} stopped "
        f"{min(c.stopped_at - went_down for c in stopped if c.stopped_at):.1f}s into the outage.\n"
        f"{agent.evidence.excerpt(('workload', 'note', 'log'))}"
    )


@then("the agent polls its repository again within its polling interval")
def the_agent_polls_its_repository_again_within_its_polling_interval(agent: AgentUnderTest) -> None:
    _, came_up = agent.last_outage()
    allowed = _late(agent)
    poll = agent.wait_for_poll_after(came_up, max(0.0, came_up + allowed - time.time()))
    assert poll is not None, (
        f"CFG-004/GIT-003: {allowed:g}s after the orchestrator was reachable again the agent had not read its "
        f"repository (polling interval {agent.poll_interval:g}s + tolerance {agent.run.sut.polling.tolerance:g}s): "
        f"it does not recover on its own.{agent.exit_note()}\n{agent.evidence.excerpt(('git', 'link', 'note'))}"
    )


# -- the downtime window (CFG-001) ---------------------------------------------------------


@given("the device's owner configured a downtime window shortly after the agent starts")
def the_devices_owner_configured_a_downtime_window_shortly_after_the_agent_starts(agent: AgentUnderTest) -> None:
    if not agent.sut_maps("downtime_window"):
        pytest.skip("the SUT file does not pass the agent a downtime window ({downtime_window}), so the suite "
                    "cannot configure one")
    agent.configure_downtime_window()


@when("the downtime window opens, taking the orchestrator and its repository out of reach")
def the_downtime_window_opens_taking_the_orchestrator_and_its_repository_out_of_reach(agent: AgentUnderTest) -> None:
    assert agent.downtime_window is not None, "step order: no downtime window was configured"
    opens, _ = agent.downtime_window
    down = agent.wait_for_link("down", max(0.0, opens - time.time()) + 2)
    assert down is not None, "the suite could not open the downtime window on time"


@then("the agent does not try to reach the orchestrator or its repository during the downtime window")
def the_agent_does_not_try_to_reach_the_orchestrator_or_its_repository_during_the_downtime_window(
    agent: AgentUnderTest,
) -> None:
    assert agent.downtime_window is not None, "step order: no downtime window was configured"
    opens, closes = agent.downtime_window
    agent.wait_for_link("up", max(0.0, closes - time.time()) + 2)
    attempts = agent.link_attempts(opens + WINDOW_GRACE_S, closes)
    assert not attempts, (
        f"CFG-001: inside its downtime window ({cadence.format_window(opens, closes)}) the agent must not try "
        f"to reach the orchestrator; it tried {len(attempts)} time(s): "
        + "; ".join(f"+{a.at - opens:.1f}s {a.data.get('method')} {a.data.get('path')}" for a in attempts[:6])
        + agent.exit_note()
    )


# -- access tokens (TOK-001, TOK-002, TOK-004) ---------------------------------------------


@when(parsers.re(r"the agent's access token (?P<change>expires|is revoked)"))
def the_agents_access_token_expires_or_is_revoked(agent: AgentUnderTest, change: str) -> None:
    agent.invalidate_access_tokens("expired" if change == "expires" else "revoked")


@then("the orchestrator turns the agent's old access token away")
def the_orchestrator_turns_the_agents_old_access_token_away(agent: AgentUnderTest) -> None:
    assert agent.tokens_invalidated_at is not None, "step order: no access token was invalidated"
    timeout = 2 * _late(agent)
    refused = agent.wait_for_turned_away(agent.tokens_invalidated_at, timeout)
    assert refused is not None, (
        f"TOK-001: the agent sent no device API request with its old access token within {timeout:g}s of the "
        f"new desired state, so there was nothing to turn away.{agent.exit_note()}\n{agent.evidence.excerpt()}"
    )


@then("the agent obtains a new access token with the client credentials it was issued")
def the_agent_obtains_a_new_access_token_with_the_client_credentials_it_was_issued(agent: AgentUnderTest) -> None:
    assert agent.tokens_invalidated_at is not None, "step order: no access token was invalidated"
    refused = agent.wait_for_turned_away(agent.tokens_invalidated_at, 0)
    since = refused.at if refused is not None else agent.tokens_invalidated_at
    timeout = _late(agent)
    issued = agent.wait_for_token_issued(since, timeout)
    assert issued is not None, (
        f"TOK-001/TOK-004: the orchestrator refused the agent's access token, and within {timeout:g}s the agent "
        f"did not obtain a new one with its client credentials.{agent.exit_note()}\n"
        f"{agent.evidence.excerpt(('http',))}"
    )
