"""Agent request-signing vocabulary (PR1): what the orchestrator found when it verified each
request's RFC 9421 signature against the certificate the agent onboarded with."""

from __future__ import annotations

from pytest_bdd import then

from margo_conformance.base.evidence import Event
from margo_conformance.checks.expect import expect
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.agent_evidence import path_of


def _faults(requests: list[Event]) -> list[str]:
    """`METHOD path: why` for each request whose signature did not hold."""
    return [f"{e.data.get('method')} {path_of(e)}: {e.data['signature'].get('fault')}"
            for e in requests if not e.data["signature"].get("ok")]


def _verified(requests: list[Event]) -> list[Event]:
    """The requests the orchestrator verified (those of a known client, and onboarding)."""
    return [e for e in requests if isinstance(e.data.get("signature"), dict)]


@then("the agent's onboarding request is signed with the key of the certificate it presents")
def the_agents_onboarding_request_is_signed_with_the_key_of_the_certificate_it_presents(
    agent: AgentUnderTest,
) -> None:
    onboarded = agent.onboarding()
    faults = _faults(_verified([onboarded]))
    expect("ONB-014", not faults,
           "the onboarding request must be signed (RFC 9421) with the key of the certificate it carries "
           f"(I-21); {'; '.join(faults)}", observed=onboarded.data.get("signature"))


@then("every request the agent sends after onboarding is signed with the key of its certificate")
def every_request_the_agent_sends_after_onboarding_is_signed_with_the_key_of_its_certificate(
    agent: AgentUnderTest,
) -> None:
    onboarded = agent.onboarding()
    agent.all_kinds_of_requests_seen(onboarded.at)
    later = _verified([e for e in agent.observations.requests() if e.at > onboarded.at])
    faults = _faults(later)
    kinds = sorted({f"{e.data.get('method')} {e.data.get('operation')}" for e in later})
    expect("SEC-011", not faults,
           f"every request must be signed (RFC 9421 over @method, @target-uri and Content-Digest) with the key of "
           f"the certificate the agent onboarded with; {len(faults)} of {len(later)} did not hold "
           f"({', '.join(kinds)}): {'; '.join(faults[:5])}",
           observed=[{"request": f"{e.data.get('method')} {path_of(e)}", **e.data["signature"]} for e in later[:10]])
