"""Desired versus applied state: what gets installed, reinstalled and removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from margo_agent.gitops import Component, Deployment
from margo_agent.reconciler import Reconciler
from margo_agent.workloads import WorkloadError


class FakeRuntime:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self._fail = fail

    def install(self, deployment: Deployment, component: Component) -> None:
        self.calls.append(("install", f"{deployment.id}/{component.name}"))
        if self._fail:
            raise WorkloadError("IMAGE_NOT_FOUND", "missing")

    def remove_deployment(self, deployment_id: str) -> int:
        self.calls.append(("remove", deployment_id))
        return 1


def make_reconciler(tmp_path: Path, runtime: FakeRuntime) -> tuple[Reconciler, list[Any]]:
    reports: list[dict[str, Any]] = []
    return Reconciler(runtime, reports.append, tmp_path / "applied.json", False), reports


def test_new_deployment_is_installed_once(make_deployment, tmp_path: Path) -> None:
    runtime = FakeRuntime()
    reconciler, reports = make_reconciler(tmp_path, runtime)
    deployment = make_deployment("web", deployment_id="d1")
    reconciler.reconcile({"d1": deployment})
    reconciler.reconcile({"d1": deployment})
    assert runtime.calls == [("install", "d1/web")]
    assert [r["status"]["state"] for r in reports] == ["Pending", "Installing", "Installed"]


def test_changed_deployment_is_reinstalled_from_scratch(make_deployment, tmp_path: Path) -> None:
    runtime = FakeRuntime()
    reconciler, _ = make_reconciler(tmp_path, runtime)
    reconciler.reconcile({"d1": make_deployment("web", deployment_id="d1")})
    changed = make_deployment("web", deployment_id="d1", package_url="http://wos.invalid/v2")
    reconciler.reconcile({"d1": changed})
    assert runtime.calls == [("install", "d1/web"), ("remove", "d1"), ("install", "d1/web")]


def test_removed_deployment_stops_its_containers(make_deployment, tmp_path: Path) -> None:
    runtime = FakeRuntime()
    reconciler, _ = make_reconciler(tmp_path, runtime)
    reconciler.reconcile({"d1": make_deployment("web", deployment_id="d1")})
    assert reconciler.reconcile({})
    assert runtime.calls[-1] == ("remove", "d1")


def test_failed_deployment_waits_for_a_new_version(make_deployment, tmp_path: Path) -> None:
    runtime = FakeRuntime(fail=True)
    reconciler, reports = make_reconciler(tmp_path, runtime)
    deployment = make_deployment("web", deployment_id="d1")
    reconciler.reconcile({"d1": deployment})
    reconciler.reconcile({"d1": deployment})
    assert runtime.calls == [("install", "d1/web")]
    assert reports[-1]["status"]["state"] == "Failed"


def test_applied_state_survives_a_restart(make_deployment, tmp_path: Path) -> None:
    deployment = make_deployment("web", deployment_id="d1")
    make_reconciler(tmp_path, FakeRuntime())[0].reconcile({"d1": deployment})
    runtime = FakeRuntime()
    restarted, reports = make_reconciler(tmp_path, runtime)
    restarted.reconcile({})
    assert runtime.calls == [("remove", "d1")]  # removed while the agent was down
    assert reports == []
