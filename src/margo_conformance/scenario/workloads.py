"""The device's workloads as the suite sees them: containers on the Docker engine.

A SUT file that maps `{workload_labels}` promises that the agent puts those labels on every
container it starts (README); for agent scenarios the labels name the run and the scenario's
device. A SUT file may instead declare how its agent's containers are found (interop choice
`workloads`: its own labels, a name pattern, or any container started during the scenario).
`WorkloadWatcher` reads the engine's event stream for the device's containers and records each
start and stop as a `workload` event. Which
deployment a container runs, the container says itself: every deployment fixture carries a
parameter that puts `MARGO_CONFORMANCE_DEPLOYMENT=<deployment id>` into the environment of its
components (wire contract section 7).

The functions below the watcher are pure: they answer questions ("which containers of this
deployment ran, and when did they stop?") over recorded events, and are unit-tested without
Docker.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from margo_conformance.base.evidence import WORKLOAD, Event, EvidenceLog
from margo_conformance.config.interop import ANY, LABELS, WorkloadFinder

DEVICE_LABEL = "org.margo.conformance.device"
DEPLOYMENT_VARIABLE = "MARGO_CONFORMANCE_DEPLOYMENT"
ENV_POINTER = "ENV."
_WATCHED = ("start", "die", "destroy")


def suite_labels_finder(device_id: str) -> WorkloadFinder:
    """The default finder: the device label of `{workload_labels}`."""
    return WorkloadFinder(LABELS, labels={DEVICE_LABEL: device_id})


class WorkloadWatcher:
    """Records the start and stop of every container of one device (as its finder tells them)."""

    def __init__(self, finder: WorkloadFinder, evidence: EvidenceLog) -> None:
        self.finder = finder
        self.evidence = evidence
        self._deployments: dict[str, str] = {}  # container id -> deployment id
        self._client: Any = None
        self._stream: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> WorkloadWatcher:
        import docker  # the Docker SDK is needed only when workloads are watched

        self._client = docker.from_env()
        # The request is made here, so every event from now on reaches the stream.
        self._stream = self._client.events(decode=True, filters=self.finder.engine_filters())
        self._thread = threading.Thread(target=self._follow, name="workload-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):  # closing a broken stream is still closing it
                self._stream.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._client is not None:
            self._client.close()

    def _follow(self) -> None:
        try:
            for event in self._stream:
                self._handle(event)
        except Exception:  # noqa: BLE001 - the stream ends with an error when stop() closes it
            return

    def _handle(self, event: Mapping[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        if action not in _WATCHED:
            return
        actor = event.get("Actor") or {}
        container = str(actor.get("ID") or event.get("id") or "")
        attributes = actor.get("Attributes") or {}
        name = str(attributes.get("name", container[:12]))
        if action == "start":
            if not self.finder.matches(name, attributes):
                return
            environment = self._environment(container)
            deployment = environment.get(DEPLOYMENT_VARIABLE, "")
            if self.finder.how == ANY and not deployment:
                return  # any container: only those a deployment of the suite's started count
            self._deployments[container] = deployment
            self.evidence.record(
                WORKLOAD, f"started {name}" + (f" (deployment {deployment[:8]})" if deployment else ""),
                action="start", container=container, name=name, deployment=deployment,
                image=str(attributes.get("image", "")), environment=environment,
            )
            return
        if container not in self._deployments:
            return
        deployment = self._deployments[container]
        verb = "stopped" if action == "die" else "removed"
        self.evidence.record(
            WORKLOAD, f"{verb} {name}" + (f" (deployment {deployment[:8]})" if deployment else ""),
            action="stop" if action == "die" else "remove", container=container, name=name,
            deployment=deployment, exit_code=attributes.get("exitCode"),
        )

    def remove_seen(self, deployments: Iterable[str] | None = None) -> int:
        """Remove the containers it saw start (only those of `deployments` when given): with a
        declared finder the run's own cleanup cannot find them by label. Returns how many."""
        wanted = set(deployments) if deployments is not None else None
        removed = 0
        for container, deployment in list(self._deployments.items()):
            if wanted is not None and deployment not in wanted:
                continue
            with contextlib.suppress(Exception):  # gone already, or the engine refuses: nothing to do
                self._client.api.remove_container(container, force=True, v=True)
                removed += 1
        return removed

    def _environment(self, container: str) -> dict[str, str]:
        try:
            variables = self._client.api.inspect_container(container)["Config"]["Env"] or []
        except Exception:  # noqa: BLE001 - gone already: nothing to attribute it by
            return {}
        return dict(item.partition("=")[::2] for item in variables)


# -- questions over recorded workload events ----------------------------------------------


@dataclass
class Container:
    """One container of a deployment as the events tell it."""

    container: str
    name: str
    started_at: float
    environment: dict[str, str] = field(default_factory=dict)
    stopped_at: float | None = None

    def running_at(self, moment: float) -> bool:
        return self.started_at <= moment and (self.stopped_at is None or self.stopped_at > moment)


def containers_of(events: Iterable[Event], deployment_id: str) -> list[Container]:
    """Every container that ran for the deployment, in start order, with its stop if any."""
    seen: dict[str, Container] = {}
    for event in events:
        if event.kind != WORKLOAD:
            continue
        data = event.data
        if data.get("action") == "start" and data.get("deployment") == deployment_id:
            seen[str(data["container"])] = Container(
                str(data["container"]), str(data.get("name", "")), event.at, dict(data.get("environment") or {})
            )
        elif data.get("action") in ("stop", "remove") and str(data.get("container")) in seen:
            found = seen[str(data["container"])]
            if found.stopped_at is None:
                found.stopped_at = event.at
    return sorted(seen.values(), key=lambda c: c.started_at)


def running(containers: Sequence[Container], moment: float) -> list[Container]:
    return [c for c in containers if c.running_at(moment)]


def changed_since(containers: Sequence[Container], moment: float) -> list[str]:
    """What happened to the deployment's workloads after `moment`: containers started or stopped."""
    changes = [f"{c.name} started" for c in containers if c.started_at >= moment]
    changes += [f"{c.name} stopped" for c in containers if c.stopped_at is not None and c.stopped_at >= moment]
    return changes


def missing_environment(actual: Mapping[str, str], expected: Mapping[str, str]) -> dict[str, tuple[str | None, str]]:
    """Variables of `expected` that `actual` lacks or sets differently: name -> (actual, expected)."""
    return {name: (actual.get(name), value) for name, value in expected.items() if actual.get(name) != value}


def parameter_environment(document: Mapping[str, Any], component: str) -> dict[str, str]:
    """The environment a deployment's parameters give one component (pointers `ENV.<NAME>`)."""
    environment: dict[str, str] = {}
    parameters = (document.get("spec") or {}).get("parameters") or {}
    for parameter in parameters.values():
        if not isinstance(parameter, Mapping):
            continue
        for target in parameter.get("targets") or []:
            pointer = str(target.get("pointer", ""))
            if pointer.startswith(ENV_POINTER) and component in (target.get("components") or []):
                environment[pointer[len(ENV_POINTER):]] = str(parameter.get("value"))
    return environment


def package_environment(package_location: str, artifacts_dir: Path) -> dict[str, str]:
    """The environment the suite's own Compose package at `package_location` sets (the union over
    its services); empty for a package the suite does not serve."""
    name = package_location.rstrip("/").rsplit("/", 1)[-1]
    path = artifacts_dir / name
    if "/artifacts/" not in package_location or not path.is_file():
        return {}
    document = yaml.safe_load(path.read_text()) or {}
    environment: dict[str, str] = {}
    for service in (document.get("services") or {}).values():
        raw = (service or {}).get("environment") or {}
        if isinstance(raw, Mapping):
            environment.update({str(k): str(v) for k, v in raw.items()})
    return environment


def expected_environment(document: Mapping[str, Any], component: str, artifacts_dir: Path) -> dict[str, str]:
    """What a container of `component` must carry: its package's environment, then the parameters'."""
    components = (document.get("spec") or {}).get("deploymentProfile", {}).get("components") or []
    location = next((str((c.get("properties") or {}).get("packageLocation", "")) for c in components
                     if c.get("name") == component), "")
    return {**package_environment(location, artifacts_dir), **parameter_environment(document, component)}
