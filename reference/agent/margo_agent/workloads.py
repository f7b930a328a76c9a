"""Running docker-compose profile components as containers on the local Docker engine.

A component's `packageLocation` names a Compose file (wire contract §7); each of its
services becomes one container. Images are never pulled: the device runs only what is
already on the engine, and a missing image fails the component with IMAGE_NOT_FOUND.
Containers are found again by their labels, never by name, so several agents can share
one engine.
"""

from __future__ import annotations

import logging
import shlex
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import yaml

from margo_agent import transport
from margo_agent.gitops import Component, Deployment

log = logging.getLogger(__name__)

COMPOSE_PROFILE = "docker-compose"
LABEL_DEPLOYMENT = "org.margo.deployment"
LABEL_COMPONENT = "org.margo.component"
LABEL_DEVICE = "org.margo.device"
ENV_POINTER_PREFIX = "ENV."
STOP_TIMEOUT_S = 10


class WorkloadError(Exception):
    """A component could not be installed; `code` is what the status report carries."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    command: tuple[str, ...] | None
    environment: Mapping[str, str]


def parse_compose(text: str) -> list[ServiceSpec]:
    """The Compose subset of the wire contract: services.<name>.image/command/environment."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkloadError("PACKAGE_INVALID", f"package is not YAML: {exc}") from None
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict) or not services:
        raise WorkloadError("PACKAGE_INVALID", "package is not a Compose file with services")
    return [_service(name, spec) for name, spec in services.items()]


def _service(name: str, spec: Any) -> ServiceSpec:
    if not isinstance(spec, dict) or not isinstance(spec.get("image"), str):
        raise WorkloadError("PACKAGE_INVALID", f"service {name!r} has no image")
    command = spec.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    if command is not None and not isinstance(command, list):
        raise WorkloadError("PACKAGE_INVALID", f"service {name!r} has an invalid command")
    return ServiceSpec(
        name=str(name),
        image=spec["image"],
        command=tuple(str(arg) for arg in command) if command is not None else None,
        environment=_environment(name, spec.get("environment")),
    )


def _environment(service: str, raw: Any) -> dict[str, str]:
    """Compose allows a map or a list of NAME=value; both become a map."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        pairs = (str(item).partition("=") for item in raw)
        return {key: value for key, _, value in pairs}
    raise WorkloadError("PACKAGE_INVALID", f"service {service!r} has an invalid environment")


def parameter_environment(deployment: Deployment, component: str) -> dict[str, str]:
    """Parameters whose target pointer is ENV.<NAME> and that target this component."""
    env: dict[str, str] = {}
    for name, parameter in deployment.parameters.items():
        if not isinstance(parameter, dict):
            log.warning("workload: parameter %s of %s is not a map, ignored", name, deployment.id)
            continue
        for target in parameter.get("targets") or []:
            pointer = str(target.get("pointer", ""))
            if pointer.startswith(ENV_POINTER_PREFIX) and component in (
                target.get("components") or []
            ):
                value = parameter.get("value")
                env[pointer[len(ENV_POINTER_PREFIX) :]] = "" if value is None else str(value)
    return env


def fetch_package(url: str, ssl_context: ssl.SSLContext | None) -> str:
    try:
        response = transport.request("GET", url, headers={"Accept": "*/*"}, ssl_context=ssl_context)
    except transport.TransportError as exc:
        raise WorkloadError("PACKAGE_FETCH_FAILED", str(exc)) from None
    if not response.ok:
        raise WorkloadError("PACKAGE_FETCH_FAILED", f"GET {url}: {response.summary(120)}")
    return response.body.decode("utf-8", "replace")


def component_services(
    deployment: Deployment, component: Component, ssl_context: ssl.SSLContext | None
) -> list[ServiceSpec]:
    """The services a component runs: its Compose package, fetched and parsed (any runtime)."""
    if deployment.profile_type != COMPOSE_PROFILE:
        raise WorkloadError(
            "UNSUPPORTED_PROFILE",
            f"deployment profile {deployment.profile_type!r} is not supported",
        )
    location = component.properties.get("packageLocation")
    if not location:
        raise WorkloadError(
            "PACKAGE_LOCATION_MISSING", f"component {component.name!r} has no packageLocation"
        )
    return parse_compose(fetch_package(str(location), ssl_context))


class DockerRuntime:
    def __init__(
        self,
        device_id: str,
        extra_labels: Mapping[str, str],
        ssl_context: ssl.SSLContext | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        self._device_id = device_id
        self._extra_labels = dict(extra_labels)
        self._ssl_context = ssl_context
        self._client = client

    def install(self, deployment: Deployment, component: Component) -> None:
        """Start every service of the component; return only once all containers run."""
        services = component_services(deployment, component, self._ssl_context)
        parameters = parameter_environment(deployment, component.name)
        client = self._docker()
        self._remove(client, {LABEL_DEPLOYMENT: deployment.id, LABEL_COMPONENT: component.name})
        for service in services:
            self._run(client, deployment, component, service, parameters)

    def remove_deployment(self, deployment_id: str) -> int:
        return self._remove(self._docker(), {LABEL_DEPLOYMENT: deployment_id})

    def _run(
        self,
        client: docker.DockerClient,
        deployment: Deployment,
        component: Component,
        service: ServiceSpec,
        parameters: Mapping[str, str],
    ) -> None:
        try:
            client.images.get(service.image)
        except docker.errors.ImageNotFound:
            raise WorkloadError(
                "IMAGE_NOT_FOUND",
                f"image {service.image} of service {service.name} is not on the device",
            ) from None
        except docker.errors.DockerException as exc:
            raise WorkloadError("RUNTIME_UNAVAILABLE", f"image lookup failed: {exc}") from None
        labels = {
            **self._extra_labels,
            LABEL_DEVICE: self._device_id,
            LABEL_DEPLOYMENT: deployment.id,
            LABEL_COMPONENT: component.name,
        }
        try:
            container = client.containers.run(
                service.image,
                command=list(service.command) if service.command is not None else None,
                environment={**service.environment, **parameters},
                labels=labels,
                # An init process as PID 1 forwards SIGTERM, so removal stops workloads such
                # as `sleep` promptly instead of waiting STOP_TIMEOUT_S for a kill.
                init=True,
                detach=True,
            )
            container.reload()
        except docker.errors.DockerException as exc:
            raise WorkloadError(
                "CONTAINER_START_FAILED", f"service {service.name}: {exc}"
            ) from None
        state = container.attrs.get("State", {})
        if state.get("Status") == "exited" and state.get("ExitCode", 0) != 0:
            raise WorkloadError(
                "CONTAINER_EXITED",
                f"service {service.name} exited with code {state.get('ExitCode')}",
            )
        log.info(
            "workload: %s/%s service %s started as container %s",
            deployment.id,
            component.name,
            service.name,
            container.short_id,
        )

    def _remove(self, client: docker.DockerClient, selector: Mapping[str, str]) -> int:
        """Stop and delete this device's containers matching the selector."""
        wanted = {**selector, LABEL_DEVICE: self._device_id}
        filters = {"label": [f"{key}={value}" for key, value in wanted.items()]}
        try:
            containers = client.containers.list(all=True, filters=filters)
            for container in containers:
                try:
                    container.stop(timeout=STOP_TIMEOUT_S)
                    container.remove(force=True)
                except docker.errors.NotFound:
                    pass  # already gone: that is what we wanted
        except docker.errors.DockerException as exc:
            raise WorkloadError("CONTAINER_REMOVE_FAILED", str(exc)) from None
        return len(containers)

    def _docker(self) -> docker.DockerClient:
        """Connect lazily: a device with nothing to run does not need the engine."""
        if self._client is None:
            try:
                self._client = docker.from_env()
            except docker.errors.DockerException as exc:
                raise WorkloadError(
                    "RUNTIME_UNAVAILABLE", f"Docker engine not reachable: {exc}"
                ) from None
        return self._client
