"""The order and content of DeploymentStatus reports (STS-001, STS-003..STS-006)."""

from __future__ import annotations

from typing import Any

import pytest
from margo_agent.gitops import Component, Deployment
from margo_agent.reconciler import apply_deployment
from margo_agent.workloads import WorkloadError
from suite_schemas import suite_validator


def states(document: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return document["status"]["state"], tuple(c["state"] for c in document["components"])


class Recorder:
    """Records reports and installs in one timeline, so their order can be checked."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.timeline: list[tuple[str, Any]] = []
        self._fail_on = fail_on

    def report(self, document: dict[str, Any]) -> None:
        self.timeline.append(("report", document))

    def install(self, deployment: Deployment, component: Component) -> None:
        if component.name == self._fail_on:
            raise WorkloadError("IMAGE_NOT_FOUND", "image x is not on the device")
        self.timeline.append(("install", component.name))

    @property
    def reports(self) -> list[dict[str, Any]]:
        return [item for kind, item in self.timeline if kind == "report"]


def test_one_component_reports_pending_installing_installed(make_deployment) -> None:
    recorder = Recorder()
    assert apply_deployment(make_deployment("web"), recorder.install, recorder.report)
    assert [states(d) for d in recorder.reports] == [
        ("Pending", ("Pending",)),
        ("Installing", ("Installing",)),
        ("Installed", ("Installed",)),
    ]


def test_overall_state_follows_the_component_being_installed(make_deployment) -> None:
    recorder = Recorder()
    assert apply_deployment(make_deployment("db", "web"), recorder.install, recorder.report)
    assert [states(d) for d in recorder.reports] == [
        ("Pending", ("Pending", "Pending")),
        ("Installing", ("Installing", "Pending")),
        ("Installing", ("Installed", "Installing")),
        ("Installed", ("Installed", "Installed")),
    ]


def test_installing_is_reported_before_the_component_is_installed(make_deployment) -> None:
    recorder = Recorder()
    apply_deployment(make_deployment("db", "web"), recorder.install, recorder.report)
    kinds = [kind if kind == "install" else states(item)[0] for kind, item in recorder.timeline]
    assert kinds == ["Pending", "Installing", "install", "Installing", "install", "Installed"]


def test_failure_marks_component_and_deployment_failed_later_ones_stay_pending(
    make_deployment,
) -> None:
    recorder = Recorder(fail_on="db")
    assert not apply_deployment(
        make_deployment("db", "web", "ui"), recorder.install, recorder.report
    )
    final = recorder.reports[-1]
    assert states(final) == ("Failed", ("Failed", "Pending", "Pending"))
    error = {"code": "IMAGE_NOT_FOUND", "message": "image x is not on the device"}
    assert final["status"]["error"] == error
    assert final["components"][0]["error"] == error
    assert "error" not in final["components"][1]
    assert ("install", "web") not in recorder.timeline


def test_failure_of_the_second_component_keeps_the_first_installed(make_deployment) -> None:
    recorder = Recorder(fail_on="web")
    apply_deployment(make_deployment("db", "web"), recorder.install, recorder.report)
    assert states(recorder.reports[-1]) == ("Failed", ("Installed", "Failed"))


def test_unexpected_errors_are_reported_as_failures(make_deployment) -> None:
    def broken(deployment: Deployment, component: Component) -> None:
        raise RuntimeError("boom")

    reports: list[dict[str, Any]] = []
    assert not apply_deployment(make_deployment("web"), broken, reports.append)
    assert reports[-1]["status"]["error"]["code"] == "INSTALL_FAILED"


@pytest.mark.parametrize("components", [("web",), ("db", "web")])
def test_skip_installing_fault_never_reports_installing(make_deployment, components) -> None:
    recorder = Recorder()
    apply_deployment(
        make_deployment(*components), recorder.install, recorder.report, skip_installing=True
    )
    assert [states(d)[0] for d in recorder.reports] == ["Pending", "Installed"]
    assert all("Installing" not in states(d)[1] for d in recorder.reports)


def test_document_shape(make_deployment) -> None:
    recorder = Recorder()
    deployment = make_deployment("web", deployment_id="a3e2f5dc-912e-494f-8395-52cf3769bc06")
    apply_deployment(deployment, recorder.install, recorder.report)
    for document in recorder.reports:
        assert document["apiVersion"] == "deployment.margo/v1"
        assert document["kind"] == "DeploymentStatus"
        assert document["deploymentId"] == "a3e2f5dc-912e-494f-8395-52cf3769bc06"
        assert [c["name"] for c in document["components"]] == ["web"]
        assert "error" not in document["status"]


@pytest.mark.parametrize("fail_on", [None, "web"])
def test_reports_are_valid_against_the_suite_schema(make_deployment, fail_on) -> None:
    """Cross-check with the suite's own schema when this runs inside the repository."""
    validator = suite_validator("v24/deployment-status")
    recorder = Recorder(fail_on=fail_on)
    deployment = make_deployment("db", "web", deployment_id="a3e2f5dc-912e-494f-8395-52cf3769bc06")
    apply_deployment(deployment, recorder.install, recorder.report)
    for document in recorder.reports:
        validator.validate(document)
