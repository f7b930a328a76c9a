"""Connectivity vocabulary: the polling cadence, outages, the downtime window, access tokens."""

from __future__ import annotations

import time

import pytest
from pytest_bdd import given, parsers, then, when

from margo_conformance.base.errors import PreconditionNotMet, StepOrderError, SuiteError
from margo_conformance.checks import cadence
from margo_conformance.checks.expect import blocked, expect, not_tested
from margo_conformance.scenario import startup
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.deadlines import Deadlines
from margo_conformance.scenario.workloads import running

#: How many gaps between polls the cadence is measured over.
GAPS_MEASURED = 3
#: Three times, not twice: an agent that ignores its configuration and polls at the usual 1 s
#: reached its repository only every ~2 s on the slow tier's loaded machine, indistinguishable
#: from a configured 2 s; against 3 s it still shows.
INTERVALS = {"the usual interval": 1, "three times the usual interval": 3}
#: An attempt this close to the window's opening counts as begun before it: on a loaded machine
#: a request the agent decided on just before the opening reaches the link up to ~0.5 s later
#: (seen under the slow tier's load). An agent ignoring the window polls all through it anyway.
WINDOW_GRACE_S = 1.0


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
    deadlines = agent.deadlines
    polls = agent.observations.wait_for_polls(wanted, onboarded, deadlines.polls(wanted))
    finding = cadence.judge_cadence([p.at for p in polls], deadlines.interval, deadlines.tolerance)
    # An agent that never polls is not watching its repository (GIT-003); one that polls at
    # another rate than configured breaks CFG-003.
    expect("GIT-003", bool(polls), f"the agent must poll its repository once onboarded; it did not within "
           f"{deadlines.polls(wanted):g}s.{agent.exit_note()}")
    expect(
        "CFG-003",
        len(polls) >= wanted and finding.ok,
        f"with a polling interval of {deadlines.interval:g}s the agent "
        + (finding.problem if not finding.ok else f"polled only {len(polls)} time(s), {wanted} expected")
        + f"; {finding.detail}.{agent.exit_note()}\n{agent.evidence.excerpt(('git',))}",
    )


# -- an outage of the orchestrator and its repository (CFG-004) ---------------------------


@when("the orchestrator and its repository become unreachable as soon as the agent has begun reporting it")
def the_orchestrator_and_its_repository_become_unreachable_as_soon_as_the_agent_has_begun_reporting_it(
    agent: AgentUnderTest,
) -> None:
    latest = max(agent.published.values(), key=lambda p: p.commit.at)
    agent.orchestrator.cut_link_once_reporting(latest)
    timeout = agent.deadlines.reporting
    down = agent.observations.wait_for_link("down", timeout)
    if down is None:
        # The agent broke a rule on the way: it never fetched the deployment (GIT-004), or fetched
        # it and reported nothing the orchestrator accepted (STS-001).
        fetched = agent.observations.wait_for_pickup(latest.commit, 0.0) is not None
        blocked(
            f"a status report for {latest.deployment.name}",
            f"the orchestrator accepted none within {timeout:g}s "
            f"({'fetched' if fetched else 'never fetched'}), so the outage this scenario needs could not begin."
            f"{agent.exit_note()}\n{agent.evidence.excerpt(('git', 'commit', 'http'))}",
            requirement="STS-001" if fetched else "GIT-004",
        )


@when("the orchestrator and its repository are reachable again")
def the_orchestrator_and_its_repository_are_reachable_again(agent: AgentUnderTest) -> None:
    up = agent.observations.wait_for_link("up", agent.deadlines.outage_over)
    if up is None:
        agent.link.restore("the scenario says so")


@then("while they were unreachable the agent kept trying, backing off between attempts")
def while_they_were_unreachable_the_agent_kept_trying_backing_off_between_attempts(agent: AgentUnderTest) -> None:
    went_down, came_up = agent.observations.last_outage()
    attempts = agent.observations.link_attempts(went_down, came_up)
    repository = [a for a in attempts if a.data.get("channel") == "git"]
    finding = cadence.judge_retries([a.at for a in attempts], came_up - went_down, agent.poll_interval,
                                    repository_attempts=len(repository))
    expect(
        "CFG-004",
        finding.ok,
        f"while unreachable the agent must keep trying and back off; {finding.problem} ({finding.detail})."
        f"{agent.exit_note()}\n{agent.evidence.excerpt(('link',), last=15)}",
    )


@then(parsers.parse('the workloads of the deployment "{name}" kept running throughout'))
def the_workloads_of_the_deployment_kept_running_throughout(agent: AgentUnderTest, name: str) -> None:
    if not agent.workloads_observable:
        not_tested("CFG-004", f"whether the workloads kept running: {agent.workloads_unobservable_reason}")
        return
    went_down, came_up = agent.observations.last_outage()
    # Judged once the agent has read its repository again: what it does about the outage (an
    # agent that took the unreachable repository for empty desired state removes its workloads)
    # has happened by then, even when the outage ended while it was still removing them.
    agent.observations.wait_for_poll_after(came_up, max(0.0, came_up + agent.deadlines.poll - time.time()))
    containers = agent.observations.workloads(name)
    before = running(containers, went_down)
    expect(
        "CFG-004",
        bool(before),
        f"workloads of {name} were expected running when the outage began, as it was reported Installed; none "
        f"was.\n{agent.evidence.excerpt(('workload',))}",
    )
    stopped = [c for c in before if c.stopped_at is not None]
    expect(
        "CFG-004",
        not stopped,
        "the device must keep its workloads while the orchestrator is unreachable; "
        + (f"{', '.join(c.name for c in stopped)} of {name} stopped "
           f"{min(c.stopped_at - went_down for c in stopped if c.stopped_at):.1f}s after the outage began "
           f"(it lasted {came_up - went_down:.1f}s).\n"
           f"{agent.evidence.excerpt(('workload', 'note', 'log'))}" if stopped else "none stopped"),
    )


@then("the agent polls its repository again within its polling interval")
def the_agent_polls_its_repository_again_within_its_polling_interval(agent: AgentUnderTest) -> None:
    _, came_up = agent.observations.last_outage()
    deadlines = agent.deadlines
    allowed = deadlines.poll
    poll = agent.observations.wait_for_poll_after(came_up, max(0.0, came_up + allowed - time.time()))
    expect(
        "CFG-004",
        poll is not None,
        f"{allowed:g}s after the orchestrator was reachable again the agent had not read its "
        f"repository (polling interval {deadlines.interval:g}s + tolerance {deadlines.tolerance:g}s): "
        f"it does not recover on its own.{agent.exit_note()}\n{agent.evidence.excerpt(('git', 'link', 'note'))}",
    )


# -- the downtime window (CFG-001) ---------------------------------------------------------


@given("the device's owner configured a downtime window shortly after the agent starts")
def the_devices_owner_configured_a_downtime_window_shortly_after_the_agent_starts(agent: AgentUnderTest) -> None:
    if not agent.sut_maps("downtime_window"):
        pytest.skip("the SUT file does not pass the agent a downtime window ({downtime_window}), so the suite "
                    "cannot configure one")
    agent.orchestrator.configure_downtime_window()


@when("the downtime window opens, taking the orchestrator and its repository out of reach")
def the_downtime_window_opens_taking_the_orchestrator_and_its_repository_out_of_reach(agent: AgentUnderTest) -> None:
    opens, _ = _downtime_window(agent)
    down = agent.observations.wait_for_link("down", Deadlines.until(opens))
    if down is None:
        raise SuiteError("the suite could not open the downtime window on time")
    _require_onboarded_before(agent, opens)


def _require_onboarded_before(agent: AgentUnderTest, opens: int) -> None:
    """An agent still onboarding when its window opened cannot be judged on the window: its
    onboarding waited the window out, and a quiet window says nothing about its polling."""
    reports = agent.observations.capabilities_reports()
    accepted = next((r.at for r in reports if r.data.get("status") == 201), None)
    if accepted is None or accepted >= opens:
        started = agent.started_at or agent.evidence.origin
        when = f"{accepted - started:.1f}s" if accepted is not None else "not yet"
        raise PreconditionNotMet(
            f"the agent was still onboarding when its downtime window opened {opens - started:.1f}s after its "
            f"start (it onboarded: {when}; the window opens after the slowest onboarding this run has seen, "
            f"x{startup.SLOWEST_FACTOR:g} + {startup.SLOWEST_MARGIN_S:g}s), so its silence in the window says "
            "nothing about CFG-001; a loaded machine starts the agent late: run the scenario again"
        )


@then("the agent does not try to reach the orchestrator or its repository during the downtime window")
def the_agent_does_not_try_to_reach_the_orchestrator_or_its_repository_during_the_downtime_window(
    agent: AgentUnderTest,
) -> None:
    opens, closes = _downtime_window(agent)
    agent.observations.wait_for_link("up", Deadlines.until(closes))
    attempts = agent.observations.link_attempts(opens + WINDOW_GRACE_S, closes)
    expect(
        "CFG-001",
        not attempts,
        f"inside its downtime window ({cadence.format_window(opens, closes)}) the agent must not try "
        f"to reach the orchestrator; it tried {len(attempts)} time(s): "
        + "; ".join(f"+{a.at - opens:.1f}s {a.data.get('method')} {a.data.get('path')}" for a in attempts[:6])
        + agent.exit_note(),
    )


def _downtime_window(agent: AgentUnderTest) -> tuple[int, int]:
    if agent.downtime_window is None:
        raise StepOrderError("no downtime window was configured: add 'Given the device's owner configured a "
                             "downtime window ...'")
    return agent.downtime_window


# -- access tokens (TOK-001, TOK-002, TOK-004) ---------------------------------------------


@when(parsers.re(r"the agent's access token (?P<change>expires|is revoked)"))
def the_agents_access_token_expires_or_is_revoked(agent: AgentUnderTest, change: str) -> None:
    agent.orchestrator.invalidate_access_tokens("expired" if change == "expires" else "revoked")


@then("the orchestrator turns the agent's old access token away")
def the_orchestrator_turns_the_agents_old_access_token_away(agent: AgentUnderTest) -> None:
    invalidated_at = _tokens_invalidated_at(agent)
    timeout = 2 * agent.deadlines.poll  # the agent may use the old token on its next poll, or the one after
    refused = agent.observations.wait_for_turned_away(invalidated_at, timeout)
    sent = [r for r in agent.observations.device_api_requests() if r.at >= invalidated_at]
    if refused is None and not sent:
        # Nothing was sent that a token could be judged on: the agent broke a rule on the way, it
        # never fetched the new desired state (GIT-004) or reported nothing about it (STS-001).
        _, commit = agent.latest_commit()
        fetched = agent.observations.wait_for_pickup(commit, 0.0) is not None
        blocked(
            "a device API request after the token was invalidated",
            f"the agent sent none within {timeout:g}s of the new desired state "
            f"({'fetched' if fetched else 'never fetched'}).{agent.exit_note()}\n{agent.evidence.excerpt()}",
            requirement="STS-001" if fetched else "GIT-004",
        )
    expect(
        "TOK-001",
        refused is not None,
        f"a device API request with the old access token was expected to be turned away; the agent's "
        f"{len(sent)} request(s) within {timeout:g}s of the new desired state were not.{agent.exit_note()}\n"
        f"{agent.evidence.excerpt()}",
    )


@then("the agent obtains a new access token with the client credentials it was issued")
def the_agent_obtains_a_new_access_token_with_the_client_credentials_it_was_issued(agent: AgentUnderTest) -> None:
    invalidated_at = _tokens_invalidated_at(agent)
    refused = agent.observations.wait_for_turned_away(invalidated_at, 0)
    since = refused.at if refused is not None else invalidated_at
    timeout = agent.deadlines.poll
    issued = agent.observations.wait_for_token_issued(since, timeout)
    expect(
        ("TOK-001", "TOK-004"),
        issued is not None,
        f"the orchestrator refused the agent's access token, and within {timeout:g}s the agent "
        f"did not obtain a new one with its client credentials.{agent.exit_note()}\n"
        f"{agent.evidence.excerpt(('http',))}",
    )


def _tokens_invalidated_at(agent: AgentUnderTest) -> float:
    if agent.tokens_invalidated_at is None:
        raise StepOrderError("no access token was invalidated: add 'When the agent's access token expires'")
    return agent.tokens_invalidated_at
