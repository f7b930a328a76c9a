"""Onboarding vocabulary: root certificate, onboarding, tokens, capabilities."""

from __future__ import annotations

from pytest_bdd import then

from margo_conformance.errors import PreconditionNotMet
from margo_conformance.roles.agent import AgentUnderTest

CERTIFICATE = "/onboarding/certificate"
ONBOARDING = ("/onboarding/", "/onboarding")
TOKEN = "/oauth/token"


@then("the agent downloads the orchestrator's root certificate")
def the_agent_downloads_the_orchestrators_root_certificate(agent: AgentUnderTest) -> None:
    timeout = agent.run.sut.timeouts.onboarding
    download = agent.wait_for_request("GET", CERTIFICATE, timeout)
    if download is not None:
        return
    onboarded = [r for r in agent.requests("POST") if r.data["path"] in ONBOARDING and r.data["status"] == 201]
    seen = f"{agent.exit_note()}\n{agent.evidence.excerpt()}"
    if onboarded:
        since = onboarded[0].at
        later = [e for e in (*agent.requests(), *agent.git_operations()) if e.at > since]
        seen = (f" It onboarded without it (+{since - agent.evidence.origin:.2f}s) and made "
                f"{len(later)} request(s) to the orchestrator and its Git server since.{agent.exit_note()}")
    raise AssertionError(
        f"CRT-002: the agent never requested the root certificate (GET {CERTIFICATE}) within {timeout:g}s.{seen}"
    )


@then("the agent onboards with its device identity after downloading the root certificate")
def the_agent_onboards_with_its_device_identity_after_downloading_the_root_certificate(
    agent: AgentUnderTest,
) -> None:
    timeout = agent.run.sut.timeouts.onboarding
    onboarded = agent.wait(
        lambda _: next((r for r in agent.requests("POST") if r.data["path"] in ONBOARDING
                        and r.data["status"] == 201), None),
        timeout,
    )
    attempts = [r for r in agent.requests("POST") if r.data["path"] in ONBOARDING]
    assert onboarded is not None, (
        f"ONB-002: the agent did not onboard as device {agent.device.device_id!r} within {timeout:g}s; "
        f"{len(attempts)} onboarding attempt(s): "
        + "; ".join(f"{a.data['status']} {a.data['response_body'][:160]}" for a in attempts)
        + agent.exit_note()
    )
    downloads = [r for r in agent.requests("GET", CERTIFICATE) if r.at <= onboarded.at]
    assert downloads, (
        "ONB-002/CRT-002: the agent onboarded before downloading the root certificate.\n"
        + agent.evidence.excerpt()
    )


@then("the agent obtains an access token with the client credentials it was issued")
def the_agent_obtains_an_access_token_with_the_client_credentials_it_was_issued(
    agent: AgentUnderTest,
) -> None:
    timeout = agent.run.sut.timeouts.onboarding
    issued = agent.wait(
        lambda _: next((r for r in agent.requests("POST", TOKEN) if r.data["status"] == 200), None),
        timeout,
    )
    attempts = agent.requests("POST", TOKEN)
    if issued is None and not attempts and not agent.device_api_requests():
        raise PreconditionNotMet(
            f"the agent sent no request that needs an access token within {timeout:g}s (no capabilities, no "
            f"status), so TOK-002 cannot be judged (the capabilities scenario judges why).{agent.exit_note()}"
        )
    assert issued is not None, (
        f"TOK-002: no access token was issued within {timeout:g}s; {len(attempts)} token request(s): "
        + "; ".join(f"{a.data['status']} {a.data['response_body'][:120]}" for a in attempts)
        + agent.exit_note()
    )
    content_type = issued.data["request_headers"].get("content-type", "")
    assert content_type.startswith("application/x-www-form-urlencoded"), (
        f"TOK-002: the token request must be form-encoded, it was sent as {content_type!r}"
    )


@then("every request the agent sends to the device API carries a valid access token")
def every_request_the_agent_sends_to_the_device_api_carries_a_valid_access_token(
    agent: AgentUnderTest,
) -> None:
    agent.wait_until_onboarded()
    calls = agent.device_api_requests()
    refused = [c for c in calls if c.data["status"] in (401, 403)]
    assert calls, "TOK-001: the agent sent no request to the device API to judge"
    assert not refused, (
        f"TOK-001: {len(refused)} of {len(calls)} device API request(s) lacked a valid bearer token: "
        + "; ".join(
            f"{c.data['method']} {c.data['path']} "
            f"Authorization={c.data['request_headers'].get('authorization', '(none)')!r} -> {c.data['status']}"
            for c in refused[:5]
        )
    )


@then("the agent reports its device capabilities after onboarding")
def the_agent_reports_its_device_capabilities_after_onboarding(agent: AgentUnderTest) -> None:
    first = agent.first_capabilities()
    onboarded_at = agent.device.onboarded_at
    origin = agent.evidence.origin
    if first is None:
        if onboarded_at is None:
            raise agent.not_onboarded()  # it never came up: no verdict on capabilities
        raise AssertionError(
            f"CAP-001/ONB-005: the agent onboarded (+{onboarded_at - origin:.2f}s) but sent no capabilities "
            f"report within {agent.run.sut.timeouts.onboarding:g}s; meanwhile it made "
            f"{len(agent.desired_state_reads())} request(s) for its desired state.{agent.exit_note()}"
        )
    assert onboarded_at is not None and first.at >= onboarded_at, (
        "ONB-005: capabilities arrived before the device had onboarded"
    )
    # Capability reporting is part of onboarding, so it comes before the agent starts
    # following its desired state.
    early = [e for e in agent.desired_state_reads() if e.at < first.at]
    assert not early, (
        f"ONB-005: capability reporting is part of onboarding, but the agent made {len(early)} request(s) "
        f"for its desired state before it reported capabilities (+{first.at - origin:.2f}s); the first: "
        f"+{early[0].at - origin:.2f}s {early[0].summary}"
    )
    assert first.method == "POST", (
        f"CAP-002: the first capabilities report should be a POST (later ones PUT), it was a {first.method}"
    )


def _capabilities_requirement(error: str) -> str:
    """The requirement a schema error breaks: roles are CAP-004, units CAP-005, the rest (missing
    members included) CAP-003."""
    path, _, message = error.partition(":")
    if "is a required property" in message:
        return "CAP-003"
    if path.startswith("properties.roles"):
        return "CAP-004"
    if path in ("properties.resources.memory", "properties.resources.storage") or (
        path.startswith("properties.resources.cpus.") and path.endswith(".frequency")
    ):
        return "CAP-005"
    return "CAP-003"


_CAPABILITIES_RULES = {
    "CAP-004": "V24 roles are Standalone Cluster, Cluster Leader and Standalone Device",
    "CAP-005": "memory and storage are whole GB, CPU frequency whole GHz, all integers",
}


@then("the reported capabilities are a valid capabilities document")
def the_reported_capabilities_are_a_valid_capabilities_document(agent: AgentUnderTest) -> None:
    reports = agent.device.capabilities
    assert reports, "CAP-001: no capabilities report received"
    for report in reports:
        broken = sorted({_capabilities_requirement(e) for e in report.errors})
        rules = "".join(f" ({_CAPABILITIES_RULES[r]})" for r in broken if r in _CAPABILITIES_RULES)
        assert not report.errors, (
            f"{'/'.join(broken)}: the {report.method} capabilities document violates the schema{rules}: "
            + "; ".join(report.errors[:8])
        )


@then("the reported capabilities describe the device the agent onboarded as")
def the_reported_capabilities_describe_the_device_the_agent_onboarded_as(agent: AgentUnderTest) -> None:
    expected = agent.device.device_id
    for report in agent.device.capabilities:
        properties = report.document.get("properties") if isinstance(report.document, dict) else None
        reported = properties.get("id") if isinstance(properties, dict) else None
        assert reported == expected, (
            f"CAP-003: capabilities must carry the device's identity {expected!r} in properties.id, "
            f"the {report.method} report said {reported!r}"
        )
        assert f"/device/{expected}/" in report.path, (
            f"CAP-002: capabilities for {expected!r} were sent to {report.path}"
        )
