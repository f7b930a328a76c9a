"""A small PR1 WOS for the PR1 agent's unit tests: onboarding, capabilities, the state
manifest with content-addressed YAMLs (with the suite's test hooks: corrupted, withheld,
an older served version), status reports. Plus a workload runtime that records calls.

Test modules import the `pr1_wos` fixture from here by name."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from suite_schemas import suite_validator

MANIFEST_TYPE = "application/vnd.margo.manifest.v1+json"
BUNDLE_TYPE = "application/vnd.margo.bundle.v1+tar+gzip"
#: Any PEM certificate will do as the WOS root CA: the agent only stores it over http.
ROOT_CA_PEM = b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUY2E=\n-----END CERTIFICATE-----\n"


def digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def deployment_yaml(deployment_id: str, *components: str, name: str = "app", marker: str = "") -> bytes:
    parts = "".join(
        f"      - name: {c}\n        properties:\n          packageLocation: http://wos.invalid/artifacts/{c}.yaml\n"
        for c in components
    )
    first = components[0]
    return (
        "apiVersion: application.margo.org/v1alpha1\n"
        "kind: ApplicationDeployment\n"
        f"id: {deployment_id}\n"
        "metadata:\n"
        f"  annotations:\n    applicationId: {name}\n"
        f"  name: {name}-deployment\n  namespace: margo-test\n"
        "spec:\n  deploymentProfile:\n    type: compose\n    components:\n"
        f"{parts}"
        "  parameters:\n    greeting:\n"
        f"      value: hello{marker}\n"
        f"      targets:\n        - pointer: GREETING\n          components: [{first}]\n"
    ).encode()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakePr1Wos:
    url: str = ""
    client_id: str = "client-7"
    deployments: dict[str, bytes] = field(default_factory=dict)
    version: int = 1
    served_version: int | None = None
    corrupted: set[str] = field(default_factory=set)
    withheld: set[str] = field(default_factory=set)
    known_clients: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def record(self, request: Request) -> None:
        with self.arrived:
            self.requests.append(request)
            self.arrived.notify_all()

    def wait_until(self, condition: Callable[[], object], timeout: float = 10.0) -> None:
        """Wake on every request the fake answers; fail with what it saw after `timeout`."""
        with self.arrived:
            met = self.arrived.wait_for(condition, timeout)
        assert met, f"timed out after {timeout:g}s; requests seen: {[(r.method, r.path) for r in self.requests]}"

    # -- what the tests change -------------------------------------------------------------

    def publish(self, deployment_id: str, body: bytes) -> None:
        with self.lock:
            self.deployments[deployment_id] = body
            self.version += 1

    def remove(self, deployment_id: str) -> None:
        with self.lock:
            self.deployments.pop(deployment_id, None)
            self.version += 1

    # -- what the tests read -----------------------------------------------------------------

    def seen(self, method: str, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    @property
    def manifest_polls(self) -> list[Request]:
        route = f"/api/v1/clients/{self.client_id}/deployments"
        return [r for r in self.requests if r.method == "GET" and r.path == route]

    @property
    def statuses(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests if r.method == "POST" and r.path.endswith("/status")]

    def states(self, deployment_id: str) -> list[tuple[str, tuple[str, ...]]]:
        return [
            (s["status"]["state"], tuple(c["state"] for c in s["components"]))
            for s in self.statuses
            if s["deploymentId"] == deployment_id
        ]

    # -- serving ---------------------------------------------------------------------------

    def manifest_body(self) -> bytes:
        base = f"/api/v1/clients/{self.client_id}"
        entries = [
            {"deploymentId": d, "digest": digest(b), "url": f"{base}/deployments/{d}/{digest(b)}"}
            for d, b in sorted(self.deployments.items())
        ]
        bundle = None
        if entries:
            fake = digest(b"".join(self.deployments[d] for d in sorted(self.deployments)))
            bundle = {"mediaType": BUNDLE_TYPE, "digest": fake, "url": f"{base}/bundles/{fake}"}
        document = {"manifestVersion": self.served_version or self.version, "bundle": bundle, "deployments": entries}
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    def handle(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        base = f"/api/v1/clients/{self.client_id}"
        path = request.path
        if request.method == "GET" and path == "/api/v1/onboarding/certificate":
            return 200, {}, json.dumps({"certificate": base64.b64encode(ROOT_CA_PEM).decode()}).encode()
        if request.method == "POST" and path == "/api/v1/onboarding":
            self.known_clients.add(self.client_id)
            return 201, {}, json.dumps({"clientId": self.client_id}).encode()
        if not path.startswith(base + "/") or self.client_id not in self.known_clients:
            return 404, {}, b'{"title": "unknown clientId"}'
        if request.method == "PUT" and path.startswith(f"{base}/capabilities/"):
            return 201, {}, b""
        if request.method == "POST" and path.endswith("/status"):
            return 200, {}, b""
        if request.method == "GET" and path == f"{base}/deployments":
            with self.lock:
                body = self.manifest_body()
            etag = f'"{digest(body)}"'
            if request.headers.get("if-none-match") == etag:
                return 304, {"ETag": etag}, b""
            return 200, {"ETag": etag, "Content-Type": MANIFEST_TYPE}, body
        if request.method == "GET" and path.startswith(f"{base}/deployments/"):
            _, deployment_id, wanted = path[len(base) + 1 :].split("/", 2)
            with self.lock:
                body = self.deployments.get(deployment_id)
            if body is None or digest(body) != wanted or deployment_id in self.withheld:
                return 404, {}, b'{"title": "no deployment with that digest"}'
            if deployment_id in self.corrupted:
                body += b"\n# bytes that do not match the digest\n"
            return 200, {"ETag": f'"{wanted}"', "Content-Type": "application/yaml"}, body
        return 404, {}, b'{"title": "Not Found"}'


@pytest.fixture
def pr1_wos() -> Iterator[FakePr1Wos]:
    wos = FakePr1Wos()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = Request(self.command, self.path, headers, self.rfile.read(length))
            status, reply_headers, body = wos.handle(request)
            request.status = status
            wos.record(request)
            self.send_response(status)
            for key, value in reply_headers.items():
                self.send_header(key, value)
            if "Content-Type" not in reply_headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    wos.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield wos
    finally:
        httpd.shutdown()
        httpd.server_close()


class RecordingRuntime:
    """Stands in for the Docker runtime: records installs and removals; can fail one."""

    def __init__(self, fail_component: str | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.environment: dict[str, dict[str, str]] = {}
        self._fail_component = fail_component

    def install(self, deployment: Any, component: Any) -> None:
        from margo_agent.workloads import WorkloadError, parameter_environment

        if deployment.profile_type != "docker-compose":
            raise WorkloadError("UNSUPPORTED_PROFILE", deployment.profile_type)
        if component.name == self._fail_component:
            raise WorkloadError("IMAGE_NOT_FOUND", f"image of {component.name} is not on the device")
        self.environment[component.name] = parameter_environment(deployment, component.name)
        self.calls.append(("install", deployment.id, component.name))

    def remove_deployment(self, deployment_id: str) -> int:
        self.calls.append(("remove", deployment_id, ""))
        return 1

    def installed(self, deployment_id: str) -> list[str]:
        return [c for kind, d, c in self.calls if kind == "install" and d == deployment_id]

    def removed(self, deployment_id: str) -> bool:
        return ("remove", deployment_id, "") in self.calls


def schema_validator(name: str) -> Any:
    """A validator for schemas/pr1/<name>.schema.json, or a skip outside the repository."""
    return suite_validator(f"pr1/{name}")
