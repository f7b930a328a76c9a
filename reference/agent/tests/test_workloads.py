"""Compose packages, parameter mapping and the container runtime (with a fake engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import docker.errors
import pytest
from agent_fakes import FakeServer, Reply
from margo_agent.workloads import DockerRuntime, WorkloadError, parameter_environment, parse_compose

COMPOSE = """
services:
  api:
    image: margo-conformance/workload:dev
    command: ["sleep", "3600"]
    environment:
      MODE: production
      RETRIES: 3
  worker:
    image: busybox:latest
    command: sh -c 'echo "hello world"'
    environment:
      - A=1
      - B=x=y
"""


def test_compose_subset_is_parsed() -> None:
    api, worker = parse_compose(COMPOSE)
    assert api.name == "api"
    assert api.image == "margo-conformance/workload:dev"
    assert api.command == ("sleep", "3600")
    assert api.environment == {"MODE": "production", "RETRIES": "3"}
    assert worker.command == ("sh", "-c", 'echo "hello world"')
    assert worker.environment == {"A": "1", "B": "x=y"}


def test_service_without_command_keeps_the_image_default() -> None:
    (service,) = parse_compose("services: {app: {image: alpine}}")
    assert service.command is None and service.environment == {}


@pytest.mark.parametrize(
    "text",
    ["", "not: [valid", "services: {}", "services: {app: {command: x}}", "- a\n- b"],
)
def test_unusable_packages_fail_with_package_invalid(text: str) -> None:
    with pytest.raises(WorkloadError) as caught:
        parse_compose(text)
    assert caught.value.code == "PACKAGE_INVALID"


def test_env_pointers_become_environment_of_the_targeted_component_only(make_deployment) -> None:
    deployment = make_deployment(
        "api",
        "db",
        parameters={
            "siteId": {
                "value": "SID-123",
                "targets": [{"pointer": "ENV.SITE_ID", "components": ["api", "db"]}],
            },
            "adminName": {
                "value": "Some One",
                "targets": [{"pointer": "ENV.ADMIN_NAME", "components": ["api"]}],
            },
            "pollFrequency": {
                "value": 120,
                "targets": [{"pointer": "ENV.POLL_FREQUENCY", "components": ["db"]}],
            },
            "helmOnly": {
                "value": "4",
                "targets": [{"pointer": "settings.limits.cpu", "components": ["api"]}],
            },
        },
    )
    assert parameter_environment(deployment, "api") == {
        "SITE_ID": "SID-123",
        "ADMIN_NAME": "Some One",
    }
    assert parameter_environment(deployment, "db") == {
        "SITE_ID": "SID-123",
        "POLL_FREQUENCY": "120",
    }


@dataclass
class FakeContainer:
    short_id: str = "c0ffee"
    attrs: dict[str, Any] = field(default_factory=lambda: {"State": {"Status": "running"}})

    def reload(self) -> None:
        pass


@dataclass
class FakeEngine:
    """Just the docker SDK surface DockerRuntime uses."""

    images_present: set[str]
    runs: list[dict[str, Any]] = field(default_factory=list)
    list_filters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def images(self) -> FakeEngine:
        return self

    @property
    def containers(self) -> FakeEngine:
        return self

    def get(self, image: str) -> object:
        if image not in self.images_present:
            raise docker.errors.ImageNotFound(f"No such image: {image}")
        return object()

    def run(self, image: str, **kwargs: Any) -> FakeContainer:
        self.runs.append({"image": image, **kwargs})
        return FakeContainer()

    def list(self, all: bool, filters: dict[str, Any]) -> list[FakeContainer]:
        self.list_filters.append(filters)
        return []


@pytest.fixture
def package_url(fake_server: FakeServer) -> str:
    fake_server.route("GET /artifacts/app.yaml", lambda _: Reply(200, COMPOSE, "text/yaml"))
    return f"{fake_server.url}/artifacts/app.yaml"


def test_install_runs_each_service_with_labels_and_parameters(make_deployment, package_url) -> None:
    engine = FakeEngine({"margo-conformance/workload:dev", "busybox:latest"})
    runtime = DockerRuntime("dev-1", {"run": "r1"}, client=engine)
    deployment = make_deployment(
        "app",
        package_url=package_url,
        parameters={
            "mode": {"value": "test", "targets": [{"pointer": "ENV.MODE", "components": ["app"]}]}
        },
    )
    runtime.install(deployment, deployment.components[0])
    api, worker = engine.runs
    assert api["image"] == "margo-conformance/workload:dev"
    assert api["command"] == ["sleep", "3600"]
    assert api["environment"] == {"MODE": "test", "RETRIES": "3"}  # parameters win
    assert api["labels"] == {
        "run": "r1",
        "org.margo.device": "dev-1",
        "org.margo.deployment": deployment.id,
        "org.margo.component": "app",
    }
    assert api["detach"] is True and api["init"] is True
    assert worker["environment"] == {"A": "1", "B": "x=y", "MODE": "test"}


def test_missing_image_fails_without_pulling(make_deployment, package_url) -> None:
    engine = FakeEngine({"busybox:latest"})
    runtime = DockerRuntime("dev-1", {}, client=engine)
    deployment = make_deployment("app", package_url=package_url)
    with pytest.raises(WorkloadError) as caught:
        runtime.install(deployment, deployment.components[0])
    assert caught.value.code == "IMAGE_NOT_FOUND"
    assert engine.runs == []


def test_unreachable_package_fails_with_package_fetch_failed(make_deployment, fake_server) -> None:
    runtime = DockerRuntime("dev-1", {}, client=FakeEngine(set()))
    deployment = make_deployment("app", package_url=f"{fake_server.url}/artifacts/missing.yaml")
    with pytest.raises(WorkloadError) as caught:
        runtime.install(deployment, deployment.components[0])
    assert caught.value.code == "PACKAGE_FETCH_FAILED"


def test_other_profiles_are_not_supported(make_deployment) -> None:
    deployment = make_deployment("chart", profile="helm.v3")
    runtime = DockerRuntime("dev-1", {}, client=FakeEngine(set()))
    with pytest.raises(WorkloadError) as caught:
        runtime.install(deployment, deployment.components[0])
    assert caught.value.code == "UNSUPPORTED_PROFILE"


def test_removal_selects_only_this_devices_containers_of_the_deployment() -> None:
    engine = FakeEngine(set())
    DockerRuntime("dev-1", {"run": "r1"}, client=engine).remove_deployment("dep-1")
    assert engine.list_filters == [
        {"label": ["org.margo.deployment=dep-1", "org.margo.device=dev-1"]}
    ]
