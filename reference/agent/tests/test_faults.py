"""Each fault switch breaks exactly what it names, and nothing when it is off."""

from __future__ import annotations

import base64
import logging
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from agent_fakes import FakeServer, Recorded, Reply
from margo_agent import faults as f
from margo_agent.agent import Agent
from margo_agent.config import load_config
from margo_agent.faults import KNOWN_FAULTS, Faults, parse_faults
from margo_agent.gitops import GitCheckout
from margo_agent.reconciler import Reconciler
from margo_agent.status import DeploymentProgress, StatusError, StatusReporter
from margo_agent.transport import TransportError
from margo_agent.wos_client import DesiredStateRepo, WosClient, WosError, sibling_repository
from suite_schemas import suite_validator
from test_reconciler import FakeRuntime


def test_every_switch_parses_and_has_a_predicate() -> None:
    assert parse_faults(",".join(sorted(KNOWN_FAULTS))) == KNOWN_FAULTS
    for name in KNOWN_FAULTS:
        predicate = name.replace("-", "_")
        assert getattr(Faults(frozenset({name})), predicate) is True
        assert getattr(Faults(), predicate) is False


def test_an_unknown_switch_is_refused() -> None:
    with pytest.raises(ValueError, match="no-such-fault"):
        parse_faults("no-such-fault")


def reconciler(tmp_path: Path, *switches: str) -> tuple[Reconciler, FakeRuntime, list[dict[str, Any]]]:
    runtime = FakeRuntime()
    reports: list[dict[str, Any]] = []
    subject = Reconciler(runtime, reports.append, tmp_path / "a.json", False, Faults(frozenset(switches)))
    return subject, runtime, reports


def test_ignore_updates(make_deployment, tmp_path: Path) -> None:
    subject, runtime, _ = reconciler(tmp_path, f.IGNORE_UPDATES)
    subject.reconcile({"d1": make_deployment("web", deployment_id="d1")})
    subject.reconcile({"d1": make_deployment("web", deployment_id="d1", package_url="http://wos.invalid/v2")})
    assert runtime.calls == [("install", "d1/web")]


def test_ignore_removals(make_deployment, tmp_path: Path) -> None:
    subject, runtime, _ = reconciler(tmp_path, f.IGNORE_REMOVALS)
    subject.reconcile({"d1": make_deployment("web", deployment_id="d1")})
    subject.reconcile({})
    assert runtime.calls == [("install", "d1/web")]


def test_one_deployment_only(make_deployment, tmp_path: Path) -> None:
    subject, runtime, _ = reconciler(tmp_path, f.ONE_DEPLOYMENT_ONLY)
    subject.reconcile({"d1": make_deployment("a", deployment_id="d1"), "d2": make_deployment("b", deployment_id="d2")})
    assert runtime.calls == [("install", "d1/a")]


def test_reapply_all_on_change(make_deployment, tmp_path: Path) -> None:
    subject, runtime, _ = reconciler(tmp_path, f.REAPPLY_ALL_ON_CHANGE)
    first = make_deployment("a", deployment_id="d1")
    subject.reconcile({"d1": first})
    subject.reconcile({"d1": first})  # nothing changed: nothing happens
    subject.reconcile({"d1": first, "d2": make_deployment("b", deployment_id="d2")})
    assert runtime.calls == [("install", "d1/a"), ("remove", "d1"), ("install", "d1/a"), ("install", "d2/b")]


def test_no_error_details_and_overall_from_last_component() -> None:
    plain = DeploymentProgress("d1", ["db", "web"], error_details=False)
    plain.failed(0, StatusError("E", "broken"))
    document = plain.document()
    assert document["status"] == {"state": "Failed"}
    assert "error" not in document["components"][0]
    last = DeploymentProgress("d1", ["db", "web"], overall_from_last_component=True)
    last.installing(0)
    assert last.document()["status"]["state"] == "Pending"
    last.failed(0, StatusError("E", "broken"))
    assert last.document()["status"] == {"state": "Pending"}


def test_drop_owed_status() -> None:
    stop = threading.Event()
    attempts: list[str] = []

    def deliver(deployment_id: str, document: dict[str, Any]) -> None:
        attempts.append(document["status"]["state"])
        raise TransportError("unreachable")

    reporter = StatusReporter(deliver, stop, 0.01, keep_undelivered=False)
    reporter.start()
    reporter.report({"deploymentId": "d1", "status": {"state": "Pending"}, "components": []})
    reporter.report({"deploymentId": "d1", "status": {"state": "Installed"}, "components": []})
    assert reporter.wait_delivered(5)
    assert attempts == ["Pending", "Installed"]  # one attempt each, then dropped
    stop.set()
    reporter.wake()


def test_no_reauth_keeps_a_refused_token(fake_server) -> None:
    from test_wos_client import TokenIssuer, onboarding_reply

    issuer = TokenIssuer()
    fake_server.route("POST /onboarding/", lambda _: onboarding_reply(fake_server))
    fake_server.route("POST /oauth/token", issuer)
    fake_server.route("POST /device/dev-1/capabilities", lambda _: Reply(401))
    client = WosClient(fake_server.url, "dev-1", reauthenticate=False)
    client.onboard("k")
    with pytest.raises(WosError):
        client.report_capabilities({}, first=True)
    assert issuer.issued == ["token-1"]


def test_omit_bearer_token_obtains_a_token_but_never_sends_it(fake_server) -> None:
    from test_wos_client import TokenIssuer, onboarding_reply

    issuer = TokenIssuer()
    fake_server.route("POST /onboarding/", lambda _: onboarding_reply(fake_server))
    fake_server.route("POST /oauth/token", issuer)
    fake_server.route("POST /device/dev-1/capabilities", lambda _: Reply(401))
    client = WosClient(fake_server.url, "dev-1", send_token=False)
    client.onboard("k")
    with pytest.raises(WosError):
        client.report_capabilities({}, first=True)
    sent = [r for r in fake_server.requests if r.path.endswith("/capabilities")]
    assert issuer.issued and sent
    assert all(name.lower() != "authorization" for r in sent for name in r.headers)


# -- onboarding, capabilities, repository and status faults of the V24 agent -------------------


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """The assigned repository, on disk (file:// ignores the token), empty: no desired state."""
    repo = tmp_path / "repos" / "dev-1.git"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    return repo


def v24_agent(fake_server: FakeServer, origin: Path, tmp_path: Path, *switches: str) -> Agent:
    """An agent whose fake WOS hands out `origin` as the desired-state repository."""
    from test_wos_client import PEM, TokenIssuer, onboarding_reply

    reply = onboarding_reply(fake_server)
    reply.body["desiredState"]["url"] = origin.as_uri()  # type: ignore[index]
    certificate = base64.b64encode(PEM.encode()).decode()
    fake_server.route("GET /onboarding/certificate", lambda _: Reply(200, {"certificate": certificate}))
    fake_server.route("POST /onboarding/", lambda _: reply)
    fake_server.route("POST /oauth/token", TokenIssuer())
    fake_server.route("POST /device/dev-1/capabilities", lambda _: Reply(201))
    state_dir = tmp_path / "state"
    state_dir.mkdir()  # Agent.run makes it before anything else
    config = load_config(
        {
            "MARGO_WOS_URL": fake_server.url,
            "MARGO_DEVICE_ID": "dev-1",
            "MARGO_ONBOARDING_KEY": "k-1",
            "MARGO_POLL_INTERVAL_S": "5",
            "MARGO_STATE_DIR": str(state_dir),
            "MARGO_AGENT_FAULTS": ",".join(switches),
        }
    )
    return Agent(config, threading.Event())


def first_cycles(agent: Agent, tmp_path: Path, count: int = 2) -> None:
    """Onboard, then poll `count` times, synchronously (nothing is published: no Docker)."""
    assert agent._start()
    checkout = GitCheckout(tmp_path / "state" / "desired-state")
    subject = Reconciler(FakeRuntime(), lambda _: None, tmp_path / "applied.json", False)
    for _ in range(count):
        assert agent._cycle(checkout, subject) is True


def paths(fake_server: FakeServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake_server.requests]


def test_without_faults_capabilities_come_after_the_root_ca_and_before_any_fetch(
    fake_server: FakeServer, origin: Path, tmp_path: Path
) -> None:
    agent = v24_agent(fake_server, origin, tmp_path)
    assert agent._start()
    assert paths(fake_server) == [
        "GET /onboarding/certificate",
        "POST /onboarding/",
        "POST /oauth/token",
        "POST /device/dev-1/capabilities",
    ]


def test_no_capabilities(fake_server: FakeServer, origin: Path, tmp_path: Path) -> None:
    agent = v24_agent(fake_server, origin, tmp_path, f.NO_CAPABILITIES)
    first_cycles(agent, tmp_path)
    assert (tmp_path / "state" / "desired-state" / ".git").is_dir()  # it did poll
    assert not [p for p in paths(fake_server) if "capabilities" in p]


def test_capabilities_after_first_poll(fake_server: FakeServer, origin: Path, tmp_path: Path) -> None:
    agent = v24_agent(fake_server, origin, tmp_path, f.CAPABILITIES_AFTER_FIRST_POLL)
    cloned_when_reported: list[bool] = []

    def capabilities(_: Recorded) -> Reply:
        cloned_when_reported.append((tmp_path / "state" / "desired-state" / ".git").is_dir())
        return Reply(201)

    assert agent._start()
    assert not [p for p in paths(fake_server) if "capabilities" in p]  # not part of onboarding
    fake_server.route("POST /device/dev-1/capabilities", capabilities)
    first_cycles(agent, tmp_path)
    assert cloned_when_reported == [True]  # once, after the first read of the repository


def test_capabilities_bad_role_and_memory_in_mb(fake_server: FakeServer, origin: Path, tmp_path: Path) -> None:
    validator = suite_validator("v24/device-capabilities")
    agent = v24_agent(fake_server, origin, tmp_path, f.CAPABILITIES_BAD_ROLE, f.CAPABILITIES_MEMORY_IN_MB)
    assert agent._start()
    sent = next(r for r in fake_server.requests if r.path.endswith("/capabilities")).json()
    assert sent["properties"]["roles"] == [f.BAD_ROLE]  # type: ignore[index]
    memory = sent["properties"]["resources"]["memory"]  # type: ignore[index]
    assert isinstance(memory, str) and memory.endswith("Mi")
    broken = {".".join(map(str, e.absolute_path)) for e in validator.iter_errors(sent)}
    assert broken == {"properties.roles.0", "properties.resources.memory"}


def test_refused_capabilities_lack_the_serial_number(fake_server: FakeServer, origin: Path, tmp_path: Path) -> None:
    validator = suite_validator("v24/device-capabilities")
    agent = v24_agent(fake_server, origin, tmp_path, f.REFUSED_CAPABILITIES)
    assert agent._start()
    sent = next(r for r in fake_server.requests if r.path.endswith("/capabilities")).json()
    assert "serialNumber" not in sent["properties"]  # type: ignore[index]
    assert [e.message for e in validator.iter_errors(sent)] == ["'serialNumber' is a required property"]


def test_skip_root_ca(fake_server: FakeServer, origin: Path, tmp_path: Path) -> None:
    agent = v24_agent(fake_server, origin, tmp_path, f.SKIP_ROOT_CA)
    assert agent._start()
    assert paths(fake_server)[0] == "POST /onboarding/"
    assert "GET /onboarding/certificate" not in paths(fake_server)
    assert agent._wos.ssl_context is None and not (tmp_path / "state" / "wos-root-ca.pem").exists()


def test_read_unassigned_repo(
    fake_server: FakeServer, origin: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent = v24_agent(fake_server, origin, tmp_path, f.READ_UNASSIGNED_REPO)
    with caplog.at_level(logging.WARNING):
        first_cycles(agent, tmp_path)
    unassigned = (origin.parent / f.UNASSIGNED_REPO).as_uri()
    reads = [r for r in caplog.records if r.getMessage() == f"fault: read-unassigned-repo: also reading {unassigned}"]
    assert len(reads) == 2  # beside every read of the assigned repository


def test_the_unassigned_repository_is_a_sibling_that_list_remote_reads(origin: Path, tmp_path: Path) -> None:
    assigned = DesiredStateRepo(url="http://wos:8080/git/dev-1.git", branch="main", access_token="t")
    assert sibling_repository(assigned, f.UNASSIGNED_REPO).url == "http://wos:8080/git/desired-state.git"
    other = origin.parent / "other.git"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    git(other, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x")
    refs = GitCheckout(tmp_path / "checkout").list_remote(DesiredStateRepo(other.as_uri(), "main", "t"))
    assert refs.endswith("refs/heads/main")


def test_status_without_components(fake_server: FakeServer, origin: Path, tmp_path: Path) -> None:
    received: list[object] = []

    def status(request: Recorded) -> Reply:
        received.append(request.json())
        return Reply(201)

    fake_server.route("POST /device/dev-1/deployment/d1/status", status)
    agent = v24_agent(fake_server, origin, tmp_path, f.STATUS_WITHOUT_COMPONENTS)
    assert agent._start()
    agent._reporter.start()
    progress = DeploymentProgress("d1", ["web"])
    agent._report_status(progress.document())  # returns once delivered
    agent._stop.set()
    agent.wake()
    assert received == [{k: v for k, v in progress.document().items() if k != "components"}]
