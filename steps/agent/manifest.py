"""State-manifest vocabulary (PR1): polling with entity tags, rollback, digests, removal."""

from __future__ import annotations

import time

from pytest_bdd import given, parsers, then, when

from margo_conformance.checks.expect import blocked, expect
from margo_conformance.checks.status_model import collapse, judge_sequence, overall_state, overall_states, shown
from margo_conformance.emulated_wos.manifest import MANIFEST_MEDIA_TYPE
from margo_conformance.scenario.agent import AgentUnderTest
from steps.agent.device import require_final_state


def _window(agent: AgentUnderTest) -> float:
    """How long a manifest poll is waited for: two intervals plus the tolerance (the first
    poll after a change may still carry the old version)."""
    return agent.deadlines.absence


@then("the agent polls its state manifest asking for the manifest media type")
def the_agent_polls_its_state_manifest_asking_for_the_manifest_media_type(agent: AgentUnderTest) -> None:
    poll = agent.observations.wait_for_manifest_poll(agent.evidence.origin, _window(agent))
    expect(
        "DSA-030",
        poll is not None,
        f"the agent did not fetch its state manifest within {_window(agent):g}s of onboarding."
        f"{agent.exit_note()}\n{agent.evidence.excerpt()}",
    )
    accept = poll.data["request_headers"].get("accept", "") if poll is not None else ""
    expect(
        "DSA-030",
        MANIFEST_MEDIA_TYPE in accept,
        f"the manifest request should ask for {MANIFEST_MEDIA_TYPE}; Accept was {accept!r}",
    )


@then("the agent's later polls carry the entity tag of the manifest it holds")
def the_agents_later_polls_carry_the_entity_tag_of_the_manifest_it_holds(agent: AgentUnderTest) -> None:
    first = agent.observations.wait_for_manifest_poll(agent.evidence.origin, _window(agent))
    expect("DSA-030", first is not None,
           f"the agent was expected to fetch its state manifest; it did not within {_window(agent):g}s")
    first_at = first.at if first is not None else 0.0
    observations = agent.observations
    later = observations.wait(lambda _: next((p for p in observations.manifest_polls() if p.at > first_at), None),
                              _window(agent))
    expect("DSA-030", later is not None,
           f"the agent must poll its manifest again; it did not within {_window(agent):g}s")
    sent = later.data["request_headers"].get("if-none-match") if later is not None else None
    status = later.data["status"] if later is not None else None
    expect(
        "DSA-030",
        sent is not None and status == 304,
        f"a repeated poll must send If-None-Match with the ETag it holds and get 304; it sent "
        f"If-None-Match={sent!r} and got {status}",
    )


@given(parsers.parse('the orchestrator has published the deployment "{name}" and the agent installed it'))
def the_orchestrator_has_published_the_deployment_and_the_agent_installed_it(agent: AgentUnderTest, name: str) -> None:
    # The scene, not what the scenario judges: an agent that cannot install a valid deployment is
    # blocked here, naming the rule it broke, and the scenario's own requirements are not judged.
    requirements = agent.dialect.requirements
    published = agent.orchestrator.publish(name)
    # No fetch, no installation: say so after one polling interval instead of the deployment timeout.
    late = agent.deadlines.poll
    if agent.observations.wait_for_pickup(published.commit, late) is None:
        blocked(
            f"deployment {name} fetched",
            f"the agent did not fetch it within {late:g}s of its publication.{agent.exit_note()}\n"
            f"{agent.evidence.excerpt(('git', 'http', 'commit'))}",
            requirement=requirements.desired_state_fetched,
        )
    timeout = agent.deadlines.deployment
    if agent.observations.wait_for_state(name, ("installed",), published.commit.at, timeout) is None:
        reports = agent.observations.status_reports(published.deployment.deployment_id)
        so_far = overall_states([r.document for r in reports])
        blocked(
            f"deployment {name} installed",
            f"the agent fetched it but did not report it installed within {timeout:g}s (reported: {shown(so_far)})."
            f"{agent.exit_note()}\n{agent.evidence.excerpt()}",
            requirement=requirements.deployment_applied,
        )


@when("the orchestrator serves an older manifest version without the deployment")
def the_orchestrator_serves_an_older_manifest_version_without_the_deployment(agent: AgentUnderTest) -> None:
    (name,) = list(agent.published)
    agent.orchestrator.serve_older_manifest_without(name)


@then("the agent fetches the older manifest")
def the_agent_fetches_the_older_manifest(agent: AgentUnderTest) -> None:
    since = max(e.at for e in agent.evidence.events("note"))
    poll = agent.observations.wait_for_manifest_poll(since, _window(agent), version=1)
    expect(
        "DSA-030",
        poll is not None,
        f"the agent did not fetch the changed manifest within {_window(agent):g}s.\n{agent.evidence.excerpt()}",
    )


@then(parsers.parse('the agent does not start removing the deployment "{name}"'))
def the_agent_does_not_start_removing_the_deployment(agent: AgentUnderTest, name: str) -> None:
    since = time.time() - _window(agent)
    removing = agent.observations.wait_for_state(name, ("removing", "removed"), since, _window(agent))
    expect(
        _trusted_manifest_rule(agent),
        removing is None,
        f"the agent started removing {name} although the manifest it may trust still "
        f"lists it; it reported {removing.document.get('status') if removing else ''}",
    )


@when(parsers.parse('the orchestrator publishes the deployment "{name}" with content that does not match its digest'))
def the_orchestrator_publishes_the_deployment_with_content_that_does_not_match_its_digest(
    agent: AgentUnderTest, name: str
) -> None:
    agent.orchestrator.publish_corrupted(name)


@then(parsers.parse('the agent fetches the content of the deployment "{name}"'))
def the_agent_fetches_the_content_of_the_deployment(agent: AgentUnderTest, name: str) -> None:
    published = agent.deployment(name)
    fetched = agent.observations.wait_for_content_fetch(name, published.commit.at, _window(agent))
    expect(
        "DSA-036",
        fetched is not None,
        f"the agent did not fetch the content of {name} (its YAML or a bundle) within "
        f"{_window(agent):g}s.\n{agent.evidence.excerpt()}",
    )


@then(parsers.parse('the agent does not report the deployment "{name}" as Installed'))
def the_agent_does_not_report_the_deployment_as_installed(agent: AgentUnderTest, name: str) -> None:
    published = agent.deployment(name)
    installed = agent.observations.wait_for_state(name, ("installed",), published.commit.at, _window(agent))
    deployment_id = published.deployment.deployment_id
    unsupported = deployment_id in agent.desired.unsupported_digests
    expect(
        "DSA-033" if unsupported else "DSA-032",
        installed is None,
        f"the agent installed {name} although the manifest lists it under a digest of an algorithm 1.0 does not "
        f"name (sha512), which makes the manifest invalid" if unsupported else
        f"the agent installed {name} although the bytes it fetched do not match the digest "
        f"the manifest gives for them",
    )


def _trusted_manifest_rule(agent: AgentUnderTest) -> str:
    """Which manifest the agent may trust decides the rule: the one still listing a deployment,
    after a 404 for its content (DSA-035); the one before, after a manifest using a digest
    algorithm 1.0 does not name (DSA-033); the newer one, after a rollback (DSA-031)."""
    desired = agent.desired
    if desired.withheld:
        return "DSA-035"
    return "DSA-033" if desired.unsupported_digests else "DSA-031"


@when(parsers.parse('the orchestrator publishes the deployment "{name}" under a digest of an algorithm the '
                    'standard does not name'))
def the_orchestrator_publishes_the_deployment_under_a_digest_of_an_algorithm_the_standard_does_not_name(
    agent: AgentUnderTest, name: str
) -> None:
    agent.orchestrator.publish_under_unsupported_digest(name)


@then(parsers.parse('the agent installs the deployment "{name}", ignoring its specification extensions'))
def the_agent_installs_the_deployment_ignoring_its_specification_extensions(agent: AgentUnderTest, name: str) -> None:
    require_final_state(agent, name, "installed", "DSA-039",
                        f"deployment {name} carries x-<name>-extensions members (at its top level, in spec, its "
                        "deployment profile and a component), which an agent ignores: it must end installed")


@when("the orchestrator stops serving the deployment's content but still lists it")
def the_orchestrator_stops_serving_the_deployments_content_but_still_lists_it(agent: AgentUnderTest) -> None:
    (name,) = list(agent.published)
    agent.orchestrator.withhold_content(name)


@when(parsers.parse('the orchestrator removes the deployment "{name}"'))
def the_orchestrator_removes_the_deployment(agent: AgentUnderTest, name: str) -> None:
    agent.orchestrator.remove_deployment(name)


@then(parsers.parse('the agent reports the deployment "{name}" as Removing, then Removed'))
def the_agent_reports_the_deployment_as_removing_then_removed(agent: AgentUnderTest, name: str) -> None:
    removal = agent.removed[name]
    final = agent.observations.wait_for_state(name, ("removed", "failed"), removal.at, agent.deadlines.deployment)
    deployment_id = agent.deployment(name).deployment.deployment_id
    reports = agent.observations.status_reports(deployment_id)
    after = collapse(overall_state(r.document) for r in reports if r.at >= removal.at)
    finding = judge_sequence(after, ("removing", "removed"))
    fetched = agent.observations.wait_for_pickup(removal, 0.0)  # on record by now, if it happened at all
    pickup = (f"it fetched the manifest without {name} at +{fetched.at - agent.evidence.origin:.2f}s"
              if fetched is not None else f"it never fetched the manifest without {name}")
    # Nothing reported at all: the agent did not reconcile (DSA-036); reports out of order: STS-011.
    expect(
        "STS-011" if after else "DSA-036",
        final is not None and finding.ok,
        f"after {name} left the manifest the agent must report removing, then removed; "
        f"{finding.problem or 'no final state'}; reported: {shown(after)}; {pickup}.{agent.exit_note()}",
    )
