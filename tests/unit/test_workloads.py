"""Following the device's workloads: the watcher's events and the questions asked of them."""

from __future__ import annotations

from pathlib import Path

from margo_conformance.base.evidence import WORKLOAD, EvidenceLog
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.scenario.workloads import (
    DEPLOYMENT_VARIABLE,
    DEVICE_LABEL,
    WorkloadWatcher,
    changed_since,
    containers_of,
    expected_environment,
    missing_environment,
    package_environment,
    parameter_environment,
    running,
    suite_labels_finder,
)

ARTIFACTS = FIXTURES_DIR / "artifacts"


class FakeApi:
    def __init__(self, environments: dict[str, list[str]]) -> None:
        self.environments = environments

    def inspect_container(self, container: str) -> dict:
        if container not in self.environments:
            raise RuntimeError("gone")
        return {"Config": {"Env": self.environments[container]}}


class FakeClient:
    def __init__(self, environments: dict[str, list[str]]) -> None:
        self.api = FakeApi(environments)


def engine_event(action: str, container: str, **attributes: str) -> dict:
    # The engine puts a container's labels among its event attributes.
    actor = {"ID": container, "Attributes": {"name": container, DEVICE_LABEL: "dev-1", **attributes}}
    return {"Type": "container", "Action": action, "Actor": actor}


def test_the_watcher_attributes_containers_to_deployments_by_their_environment() -> None:
    evidence = EvidenceLog()
    watcher = WorkloadWatcher(suite_labels_finder("dev-1"), evidence)
    watcher._client = FakeClient({"c1": [f"{DEPLOYMENT_VARIABLE}=d-1", "GREETING=hi", "PATH=/bin"]})
    watcher._handle(engine_event("create", "c1"))  # not watched
    watcher._handle(engine_event("start", "c1", image="img"))
    watcher._handle(engine_event("die", "c1", exitCode="0"))
    watcher._handle(engine_event("destroy", "c1"))
    events = evidence.events(WORKLOAD)
    assert [e.data["action"] for e in events] == ["start", "stop", "remove"]
    assert all(e.data["deployment"] == "d-1" for e in events)
    assert events[0].data["environment"]["GREETING"] == "hi"
    assert events[0].summary == "started c1 (deployment d-1)"


def test_a_container_gone_before_inspection_has_no_deployment() -> None:
    evidence = EvidenceLog()
    watcher = WorkloadWatcher(suite_labels_finder("dev-1"), evidence)
    watcher._client = FakeClient({})
    watcher._handle(engine_event("start", "c9"))
    assert evidence.events(WORKLOAD)[0].data["deployment"] == ""


def recorded(*steps: tuple[str, str, str, dict | None]) -> EvidenceLog:
    evidence = EvidenceLog()
    for action, container, deployment, environment in steps:
        evidence.record(WORKLOAD, f"{action} {container}", action=action, container=container, name=container,
                        deployment=deployment, environment=environment or {})
    return evidence


def test_containers_of_a_deployment_with_their_lifetimes() -> None:
    evidence = recorded(("start", "a", "d1", {"X": "1"}), ("start", "b", "d2", None), ("stop", "a", "d1", None),
                        ("start", "c", "d1", {"X": "2"}), ("remove", "a", "d1", None))
    first, second = containers_of(evidence.events(), "d1")
    assert (first.container, second.container) == ("a", "c")
    assert first.stopped_at is not None and second.stopped_at is None
    assert second.environment == {"X": "2"}
    assert running([first, second], float("inf")) == [second]
    assert running([first, second], first.started_at) == [first]
    assert changed_since([first, second], second.started_at) == ["c started"]
    assert changed_since([first, second], first.started_at) == ["a started", "c started", "a stopped"]


def test_missing_environment_names_what_differs() -> None:
    assert missing_environment({"A": "1", "B": "2"}, {"A": "1"}) == {}
    assert missing_environment({"A": "1"}, {"A": "2", "C": "3"}) == {"A": ("1", "2"), "C": (None, "3")}


DOCUMENT = {
    "spec": {
        "deploymentProfile": {"components": [
            {"name": "hello", "properties": {"packageLocation": "http://wos:1/artifacts/hello-v2.compose.yaml"}},
            {"name": "other", "properties": {"packageLocation": "http://elsewhere/pkg.yaml"}},
        ]},
        "parameters": {
            "greeting": {"value": "hi", "targets": [{"pointer": "ENV.GREETING", "components": ["hello"]}]},
            "count": {"value": 3, "targets": [{"pointer": "ENV.COUNT", "components": ["hello", "other"]}]},
            "helm": {"value": "x", "targets": [{"pointer": "image.tag", "components": ["hello"]}]},
        },
    }
}


def test_parameters_give_the_targeted_components_their_env_pointers_only() -> None:
    assert parameter_environment(DOCUMENT, "hello") == {"GREETING": "hi", "COUNT": "3"}
    assert parameter_environment(DOCUMENT, "other") == {"COUNT": "3"}


def test_the_suites_own_packages_add_their_environment(tmp_path: Path) -> None:
    assert package_environment("http://wos:1/artifacts/hello-v2.compose.yaml", ARTIFACTS) == {
        "COMPONENT": "hello", "PACKAGE_REVISION": "2"}
    assert package_environment("http://elsewhere/pkg.yaml", ARTIFACTS) == {}
    assert package_environment("http://wos:1/artifacts/absent.yaml", tmp_path) == {}
    assert expected_environment(DOCUMENT, "hello", ARTIFACTS) == {
        "COMPONENT": "hello", "PACKAGE_REVISION": "2", "GREETING": "hi", "COUNT": "3"}
