"""AgentUnderTest without an agent: what the suite publishes, configures and decides on its own."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from margo_conformance.base.errors import StepOrderError, SutError
from margo_conformance.base.evidence import NOTE, EvidenceLog
from margo_conformance.base.paths import DEFAULT_SUT_FILE, FIXTURES_DIR
from margo_conformance.checks import cadence
from margo_conformance.checks.expect import Blocked, scenario_ledger
from margo_conformance.config.run_config import RunConfig, load_sut_file
from margo_conformance.emulated_wos.server import EmulatedWos
from margo_conformance.scenario import startup
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.workloads import DEVICE_LABEL

PAYLOADS = FIXTURES_DIR / "payloads" / "v24"


@pytest.fixture
def agent(wos: EmulatedWos, evidence: EvidenceLog, tmp_path: Path) -> Iterator[AgentUnderTest]:
    run = RunConfig(sut=load_sut_file(DEFAULT_SUT_FILE), report_dir=tmp_path / "r", run_id="run-test")
    under_test = AgentUnderTest(run, wos, evidence, tmp_path / "scenario")
    under_test.orchestrator.expect_device()
    yield under_test
    under_test.stop()


def repository_file(agent: AgentUnderTest, path: str) -> str:
    return subprocess.run(["git", "-C", str(agent.device.repo_path), "show", f"main:{path}"],
                          capture_output=True, text=True, check=True).stdout


def test_the_device_reaches_the_wos_through_its_own_link(agent: AgentUnderTest) -> None:
    values = agent.placeholder_values()
    assert values["wos_url"] == f"http://host.docker.internal:{agent.link.port}"
    assert agent.device.public_url == values["wos_url"]
    assert values["workload_labels"] == f"org.margo.conformance.run=run-test,{DEVICE_LABEL}={agent.device.device_id}"
    assert values["downtime_window"] == ""


def test_the_reference_sut_file_maps_workload_labels_and_the_downtime_window(agent: AgentUnderTest) -> None:
    assert agent.workloads_observable
    assert agent.sut_maps("downtime_window")
    assert not agent.sut_maps("public_url")


def test_a_changed_polling_interval_reaches_the_placeholders(agent: AgentUnderTest) -> None:
    agent.set_polling_interval(2)
    assert agent.poll_interval == 2
    assert agent.placeholder_values()["poll_interval_s"] == "2"
    assert agent.placeholder_values()["poll_interval_ms"] == "2000"


def test_a_downtime_window_is_configured_ahead_and_cuts_the_link_for_exactly_its_length(
    agent: AgentUnderTest, evidence: EvidenceLog
) -> None:
    opens, closes = agent.orchestrator.configure_downtime_window()
    assert opens > agent.evidence.origin and closes - opens >= 4
    start, _, end = agent.placeholder_values()["downtime_window"].partition("/")
    assert start.endswith("Z") and end.endswith("Z")
    assert not agent.link.is_down  # not before it opens
    assert not evidence.events(NOTE)


def test_the_window_opens_after_the_slowest_onboarding_this_process_has_seen(agent: AgentUnderTest) -> None:
    startup.forget()
    try:
        before = time.time()
        opens, _ = agent.orchestrator.configure_downtime_window()
        assert opens - before <= cadence.WINDOW_LEAD_S + 1  # nothing seen yet: the usual lead
        startup.record_onboarding(10.0)
        startup.record_onboarding(4.0)  # the slowest counts
        agent.downtime_window = None
        opens, _ = agent.orchestrator.configure_downtime_window()
        assert opens - time.time() >= 1.5 * 10.0 + 1.0 - 0.1
    finally:
        startup.forget()


def test_several_documents_go_out_in_one_commit_broken_ones_as_written(agent: AgentUnderTest) -> None:
    published = agent.orchestrator.publish_together(["hello-compose", "not-yaml", "parameter-without-targets"])
    assert set(published) == {"hello-compose", "parameter-without-targets"}  # not-yaml names no deployment
    assert len({p.commit.sha for p in published.values()}) == 1
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(repository_file(agent, "deployments/not-yaml.yaml"))
    broken = yaml.safe_load(repository_file(agent, "deployments/parameter-without-targets.yaml"))
    assert "targets" not in broken["spec"]["parameters"]["greeting"]
    assert broken["metadata"]["annotations"]["id"] == published["parameter-without-targets"].deployment.deployment_id


def test_a_broken_fixture_is_published_by_name_like_any_other(agent: AgentUnderTest) -> None:
    published = agent.orchestrator.publish("unknown-profile-type")
    assert published.deployment.document["spec"]["deploymentProfile"]["type"] == "wasm-module"


def test_a_revision_keeps_the_deployments_id_and_file(agent: AgentUnderTest) -> None:
    first = agent.orchestrator.publish("hello-compose")
    revised = agent.orchestrator.publish_revision("hello-compose", "new-greeting")
    assert revised.deployment.deployment_id == first.deployment.deployment_id
    assert revised.deployment.path_in_repo == first.deployment.path_in_repo == "deployments/hello-compose.yaml"
    assert revised.commit.sha != first.commit.sha
    text = repository_file(agent, "deployments/hello-compose.yaml")
    assert "hello again, with a new greeting" in text
    assert agent.latest_commit() == ("hello-compose", revised.commit)


def test_the_latest_change_may_be_a_removal(agent: AgentUnderTest) -> None:
    agent.orchestrator.publish("hello-compose")
    removal = agent.orchestrator.remove_deployment("hello-compose")
    assert agent.latest_commit() == ("removal of hello-compose", removal)


def test_configuration_after_the_start_is_a_step_order_error(agent: AgentUnderTest) -> None:
    agent._sut = object()  # type: ignore[assignment]  # as if started
    with pytest.raises(StepOrderError):
        agent.set_polling_interval(3)
    with pytest.raises(StepOrderError):
        agent.orchestrator.configure_downtime_window()
    agent._sut = None


def test_tokens_expire_or_are_revoked_and_the_wos_says_so(agent: AgentUnderTest, evidence: EvidenceLog) -> None:
    expiring = agent.device.issue_access_token()
    agent.orchestrator.invalidate_access_tokens("expired")
    assert expiring in agent.device.access_tokens and not agent.device.token_is_valid(expiring)
    revoked = agent.device.issue_access_token()
    agent.orchestrator.invalidate_access_tokens("revoked")
    assert revoked not in agent.device.access_tokens
    assert [e.data["change"] for e in evidence.events(NOTE)] == ["expired", "revoked"]


# -- the scene "the agent has started and onboarded": accepted capabilities, or blocked -------


def _onboarded_token(agent: AgentUnderTest, client: httpx.Client) -> str:
    device = agent.device
    body = {"apiVersion": "onboarding.margo/v1", "kind": "OnboardingRequest",
            "deviceId": device.device_id, "onboardingKey": device.onboarding_key}
    onboarding = client.post("/onboarding/", json=body).json()
    form = {"grant_type": "client_credentials", "client_id": onboarding["clientId"],
            "client_secret": onboarding["clientSecret"]}
    return client.post("/oauth/token", data=form).json()["access_token"]


def _capabilities(agent: AgentUnderTest) -> dict:
    document = json.loads(sorted((PAYLOADS / "device-capabilities" / "valid").glob("*.json"))[0].read_text())
    document["properties"]["id"] = agent.device.device_id
    return document


@pytest.fixture
def client(wos: EmulatedWos) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=wos.url_for_host, timeout=5) as c:
        yield c


def test_accepted_capabilities_end_onboarding(agent: AgentUnderTest, client: httpx.Client) -> None:
    token = _onboarded_token(agent, client)
    client.post(f"/device/{agent.device.device_id}/capabilities", json=_capabilities(agent),
                headers={"Authorization": f"Bearer {token}"})
    assert agent.wait_until_onboarded().data["status"] == 201


def test_capabilities_sent_without_a_token_block_the_scene_on_tok_001(
    agent: AgentUnderTest, client: httpx.Client
) -> None:
    _onboarded_token(agent, client)
    client.post(f"/device/{agent.device.device_id}/capabilities", json=_capabilities(agent))
    with scenario_ledger() as ledger, pytest.raises(Blocked) as blocked:
        agent.wait_until_onboarded()
    assert blocked.value.requirement == "TOK-001" and "refused with 401" in str(blocked.value)
    assert ledger.failed_requirements() == ["TOK-001"]


def test_capabilities_the_wos_refuses_block_the_scene_on_the_row_they_break(
    agent: AgentUnderTest, client: httpx.Client
) -> None:
    token = _onboarded_token(agent, client)
    document = _capabilities(agent)
    del document["properties"]["serialNumber"]
    client.post(f"/device/{agent.device.device_id}/capabilities", json=document,
                headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(Blocked) as blocked:
        agent.wait_until_onboarded()
    assert blocked.value.prerequisite == "accepted capabilities"
    assert blocked.value.requirement == "CAP-003" and "refused with 422" in str(blocked.value)


def test_an_agent_that_onboarded_but_sent_no_capabilities_is_blocked_on_cap_001(
    agent: AgentUnderTest, client: httpx.Client
) -> None:
    agent.run = dataclasses.replace(agent.run, sut=dataclasses.replace(
        agent.run.sut, timeouts=dataclasses.replace(agent.run.sut.timeouts, onboarding=0.2)))
    _onboarded_token(agent, client)
    with pytest.raises(Blocked) as blocked:
        agent.wait_until_onboarded()
    assert blocked.value.requirement == "CAP-001"


def test_an_agent_that_never_onboarded_is_an_error_of_the_sut(agent: AgentUnderTest) -> None:
    agent.run = dataclasses.replace(agent.run, sut=dataclasses.replace(
        agent.run.sut, timeouts=dataclasses.replace(agent.run.sut.timeouts, onboarding=0.2)))
    with pytest.raises(SutError) as error:
        agent.wait_until_onboarded()
    assert not isinstance(error.value, Blocked)
