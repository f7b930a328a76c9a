"""Each fault switch breaks exactly what it names, and nothing when it is off."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from margo_agent import faults as f
from margo_agent.faults import KNOWN_FAULTS, Faults, parse_faults
from margo_agent.reconciler import Reconciler
from margo_agent.status import DeploymentProgress, StatusError, StatusReporter
from margo_agent.transport import TransportError
from margo_agent.wos_client import WosClient, WosError
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
    from agent_fakes import Reply
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
