"""Onboarding vocabulary: root certificate, onboarding, tokens, capabilities."""

from __future__ import annotations

from pytest_bdd import then

from margo_conformance.base.exchanges import Operation
from margo_conformance.checks import capability_rules
from margo_conformance.checks.expect import blocked, expect
from margo_conformance.emulated_wos.state import ReceivedDocument
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.agent_evidence import path_of


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
    first = _capabilities_ending_onboarding(agent)
    expect(
        "CAP-002",
        first.method == "POST",
        f"the first capabilities report should be a POST (later ones PUT), it was a {first.method}",
    )


@then("the agent reports its device capabilities as the last step of onboarding")
def the_agent_reports_its_device_capabilities_as_the_last_step_of_onboarding(agent: AgentUnderTest) -> None:
    # PR1 names no method for the first report (CAP-010: POST or PUT): only its place is judged.
    _capabilities_ending_onboarding(agent)


def _capabilities_ending_onboarding(agent: AgentUnderTest) -> ReceivedDocument:
    """The agent's first capabilities document, judged for its place: sent once the agent has
    onboarded (CAP-001) and before its first read of desired state (ONB-005). Blocked when the
    agent never onboarded or its report was refused before the document was read."""
    report = agent.observations.wait_for_capabilities_report()  # answered, accepted or not
    accepted = agent.observations.first_onboarding()  # the first: an agent may onboard again later
    onboarded_at = accepted.at if accepted is not None else agent.device.onboarded_at
    origin = agent.evidence.origin
    if report is None and onboarded_at is None:
        agent.not_onboarded()  # it never came up: no verdict on capabilities
    expect(
        "CAP-001",
        report is not None,
        f"the agent onboarded (+{(onboarded_at or origin) - origin:.2f}s) but sent no capabilities report within "
        f"{agent.deadlines.onboarding:g}s; meanwhile it made {len(agent.observations.desired_state_reads())} "
        f"request(s) for its desired state.{agent.exit_note()}",
    )
    assert report is not None  # for the type checker: the CAP-001 check above raised when it is None
    if not agent.device.capabilities:
        if report.data.get("status") in (400, 422):
            expect(agent.dialect.capabilities_refusal([]), False,
                   f"the capabilities report must be a JSON document; it was refused with "
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
    return first


@then("the reported capabilities are a valid capabilities document")
def the_reported_capabilities_are_a_valid_capabilities_document(agent: AgentUnderTest) -> None:
    rules = agent.dialect.capability_rules
    for report in _capabilities_reports(agent):
        broken = rules.requirements_of(report.errors)
        expect(
            broken or rules.all,
            not report.errors,
            f"capabilities must be a valid {agent.dialect.capabilities_kind} document{rules.explain(broken)}; "
            f"the {report.method} one violates the schema: " + "; ".join(report.errors[:8]),
            ambiguities=rules.ambiguities,
        )


@then("the reported capabilities show a device that hosts workloads: an OpenTelemetry collector, a runtime and "
      "a deployment type")
def the_reported_capabilities_show_a_device_that_hosts_workloads(agent: AgentUnderTest) -> None:
    # The agent under test applies the deployments it is given, so its device hosts workloads.
    for report in _capabilities_reports(agent):
        missing = capability_rules.hosting_gaps(report.document)
        expect(
            "CAP-012",
            not missing,
            f"a workload-hosting device reports otelCollector: true, at least one runtime and one deployment "
            f"type; the {report.method} report has " + "; ".join(missing),
        )


def _capabilities_reports(agent: AgentUnderTest) -> list[ReceivedDocument]:
    """Every capabilities document received so far, once the first has come (blocked without one)."""
    report = agent.observations.wait_for_capabilities_report()
    if report is None:
        agent.not_onboarded()
    if not agent.device.capabilities:
        agent.capabilities_refused(report)  # refused before its document was read
    return list(agent.device.capabilities)


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


@then("every request the agent sends after onboarding names the client id it was assigned")
def every_request_the_agent_sends_after_onboarding_names_the_client_id_it_was_assigned(agent: AgentUnderTest) -> None:
    observations = agent.observations
    onboarded = agent.onboarding()
    assigned = agent.device.client_id
    deadlines = agent.deadlines
    timeout = deadlines.poll + deadlines.deployment
    # Judged once the agent has reported on its deployment (so it has reported capabilities,
    # polled, fetched and reported), or at its first request that names another client.
    seen = observations.wait(lambda _: observations.misaddressed(onboarded.at, assigned)
                             or observations.status_report_since(onboarded.at), timeout)
    wrong = observations.misaddressed(onboarded.at, assigned)
    if seen is None:
        blocked("a status report", f"the agent sent no status report within {timeout:g}s of onboarding, so not every "
                f"kind of request it makes was seen.{agent.exit_note()}\n{agent.evidence.excerpt()}",
                requirement=agent.dialect.requirements.deployment_applied)
    later = [e for e in observations.requests() if e.at > onboarded.at]
    expect(
        "ONB-015",
        not wrong,
        f"after onboarding (+{onboarded.at - agent.evidence.origin:.2f}s) the orchestrator assigned the client id "
        f"{assigned!r}; {len(wrong)} of the agent's {len(later)} later request(s) did not name it: "
        + "; ".join(f"{e.data.get('method')} {path_of(e)} -> {e.data.get('status')}" for e in wrong[:5]),
        observed=[{"request": f"{e.data.get('method')} {path_of(e)}", "status": str(e.data.get("status"))}
                  for e in wrong[:10]],
    )
