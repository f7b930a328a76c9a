"""Onboarding vocabulary: root certificate, onboarding, tokens, capabilities."""

from __future__ import annotations

from pytest_bdd import then

from margo_conformance.base.exchanges import Operation
from margo_conformance.checks import capability_rules
from margo_conformance.checks.expect import expect
from margo_conformance.scenario.agent import AgentUnderTest


@then("the agent downloads the orchestrator's root certificate")
def the_agent_downloads_the_orchestrators_root_certificate(agent: AgentUnderTest) -> None:
    timeout = agent.deadlines.onboarding
    download = agent.observations.wait_for_request(Operation.ROOT_CERTIFICATE, timeout, "GET")
    if download is not None:
        return
    onboarded = [r for r in agent.observations.requests(Operation.ONBOARDING, "POST") if r.data["status"] == 201]
    seen = f"{agent.exit_note()}\n{agent.evidence.excerpt()}"
    if onboarded:
        since = onboarded[0].at
        later = [e for e in (*agent.observations.requests(), *agent.observations.git_operations()) if e.at > since]
        seen = (f" It onboarded without it (+{since - agent.evidence.origin:.2f}s) and made "
                f"{len(later)} request(s) to the orchestrator and its Git server since.{agent.exit_note()}")
    expect("CRT-002", False,
           f"the agent never requested the root certificate (GET {agent.dialect.routes.root_certificate}) "
           f"within {timeout:g}s.{seen}")


@then("the agent onboards with its device identity after downloading the root certificate")
def the_agent_onboards_with_its_device_identity_after_downloading_the_root_certificate(
    agent: AgentUnderTest,
) -> None:
    timeout = agent.deadlines.onboarding
    onboarded = agent.observations.wait(
        lambda _: next((r for r in agent.observations.requests(Operation.ONBOARDING, "POST")
                        if r.data["status"] == 201), None),
        timeout,
    )
    attempts = agent.observations.requests(Operation.ONBOARDING, "POST")
    expect(
        "ONB-002",
        onboarded is not None,
        f"the agent did not onboard as device {agent.device.device_id!r} within {timeout:g}s; "
        f"{len(attempts)} onboarding attempt(s): "
        + "; ".join(f"{a.data['status']} {a.data['response_body'][:160]}" for a in attempts)
        + agent.exit_note(),
    )
    downloads = [r for r in agent.observations.requests(Operation.ROOT_CERTIFICATE, "GET") if r.at <= onboarded.at]
    expect(
        ("ONB-002", "CRT-002"),
        bool(downloads),
        "the agent onboarded before downloading the root certificate.\n" + agent.evidence.excerpt(),
    )


@then("the agent obtains an access token with the client credentials it was issued")
def the_agent_obtains_an_access_token_with_the_client_credentials_it_was_issued(
    agent: AgentUnderTest,
) -> None:
    timeout = agent.deadlines.onboarding
    issued = agent.observations.wait(
        lambda _: next((r for r in agent.observations.requests(Operation.TOKEN, "POST") if r.data["status"] == 200),
                       None),
        timeout,
    )
    attempts = agent.observations.requests(Operation.TOKEN, "POST")
    if issued is None and not attempts and not agent.observations.device_api_requests():
        # Nothing that needs a token was sent, so TOK-002 cannot be judged: blocked on what the
        # agent owed first (its capabilities, or its onboarding).
        agent.not_onboarded()
    expect(
        "TOK-002",
        issued is not None,
        f"no access token was issued within {timeout:g}s; {len(attempts)} token request(s): "
        + "; ".join(f"{a.data['status']} {a.data['response_body'][:120]}" for a in attempts)
        + agent.exit_note(),
    )
    content_type = issued.data["request_headers"].get("content-type", "")
    expect(
        "TOK-002",
        content_type.startswith("application/x-www-form-urlencoded"),
        f"the token request must be form-encoded, it was sent as {content_type!r}",
    )


@then("every request the agent sends to the device API carries a valid access token")
def every_request_the_agent_sends_to_the_device_api_carries_a_valid_access_token(
    agent: AgentUnderTest,
) -> None:
    # Judged on whatever the agent sent, accepted or not: a request without a token is refused
    # before its document is read, so waiting for accepted capabilities would never judge it.
    observations = agent.observations
    first = observations.wait(lambda _: next(iter(observations.device_api_requests()), None),
                              agent.deadlines.onboarding)
    if first is None:
        agent.not_onboarded()  # nothing to judge: blocked on the capabilities (or onboarding) it owes
    calls = agent.observations.device_api_requests()
    refused = [c for c in calls if c.data["status"] in (401, 403)]
    expect(
        "TOK-001",
        not refused,
        f"every device API request must carry a valid bearer token; {len(refused)} of {len(calls)} did not: "
        + "; ".join(
            f"{c.data['method']} {c.data['path']} "
            f"Authorization={c.data['request_headers'].get('authorization', '(none)')!r} -> {c.data['status']}"
            for c in refused[:5]
        ),
    )


@then("the agent reports its device capabilities after onboarding")
def the_agent_reports_its_device_capabilities_after_onboarding(agent: AgentUnderTest) -> None:
    report = agent.observations.wait_for_capabilities_report()  # answered, accepted or not
    onboarded_at = agent.device.onboarded_at
    origin = agent.evidence.origin
    if report is None:
        if onboarded_at is None:
            agent.not_onboarded()  # it never came up: no verdict on capabilities
        expect(
            "CAP-001",
            False,
            f"the agent onboarded (+{onboarded_at - origin:.2f}s) but sent no capabilities report within "
            f"{agent.deadlines.onboarding:g}s; meanwhile it made {len(agent.observations.desired_state_reads())} "
            f"request(s) for its desired state.{agent.exit_note()}",
        )
    if not agent.device.capabilities:
        if report.data.get("status") in (400, 422):
            expect("CAP-003", False, f"the capabilities report must be a JSON document; it was refused with "
                   f"{report.data.get('status')}: {str(report.data.get('response_body', ''))[:200]}")
        agent.capabilities_refused(report)  # refused before the document was read (its token): blocked
    first = agent.device.capabilities[0]
    expect(
        "ONB-005",
        onboarded_at is not None and first.at >= onboarded_at,
        "capabilities are reported once the device has onboarded; they arrived before it had",
    )
    # Capability reporting is part of onboarding, so it comes before the agent starts
    # following its desired state.
    early = [e for e in agent.observations.desired_state_reads() if e.at < first.at]
    expect(
        "ONB-005",
        not early,
        f"capability reporting is part of onboarding, but the agent made {len(early)} request(s) for its desired "
        f"state before it reported capabilities (+{first.at - origin:.2f}s)"
        + (f"; the first: +{early[0].at - origin:.2f}s {early[0].summary}" if early else ""),
    )
    expect(
        "CAP-002",
        first.method == "POST",
        f"the first capabilities report should be a POST (later ones PUT), it was a {first.method}",
    )


@then("the reported capabilities are a valid capabilities document")
def the_reported_capabilities_are_a_valid_capabilities_document(agent: AgentUnderTest) -> None:
    reports = agent.device.capabilities
    expect("CAP-001", bool(reports), "a capabilities report was expected; none was received")
    for report in reports:
        broken = capability_rules.requirements_of(report.errors)
        rules = "".join(f" ({capability_rules.RULES[r]})" for r in broken if r in capability_rules.RULES)
        expect(
            broken or capability_rules.ALL,
            not report.errors,
            f"capabilities must be a valid DeviceCapabilities document{rules}; the {report.method} one violates the "
            "schema: " + "; ".join(report.errors[:8]),
        )


@then("the reported capabilities describe the device the agent onboarded as")
def the_reported_capabilities_describe_the_device_the_agent_onboarded_as(agent: AgentUnderTest) -> None:
    expected = agent.device.device_id
    for report in agent.device.capabilities:
        properties = report.document.get("properties") if isinstance(report.document, dict) else None
        reported = properties.get("id") if isinstance(properties, dict) else None
        expect(
            "CAP-003",
            reported == expected,
            f"capabilities must carry the device's identity {expected!r} in properties.id, "
            f"the {report.method} report said {reported!r}",
        )
        expect(
            "CAP-002",
            f"/device/{expected}/" in report.path,
            f"capabilities for {expected!r} belong under /device/{expected}/, they were sent to {report.path}",
        )
