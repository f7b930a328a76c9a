"""Shared fixtures for the agent's unit tests: the package on sys.path and a tiny HTTP
server that plays just enough of the WOS for one test."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from agent_fakes import FakeServer, Recorded, Reply  # noqa: E402


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    server_state = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            server_state.requests.append(recorded)
            handler = server_state.routes.get(f"{self.command} {self.path}")
            reply = handler(recorded) if handler else Reply(404, {"title": "Not Found"})
            payload = reply.encoded()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: object) -> None:  # keep pytest output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


DeploymentFactory = Callable[..., object]


@pytest.fixture
def make_deployment() -> DeploymentFactory:
    """Build a parsed V24 docker-compose ApplicationDeployment with the given components."""
    from margo_agent.gitops import parse_deployment

    def factory(
        *components: str,
        deployment_id: str = "ad9b614e-8912-45f4-a523-372358765def",
        parameters: dict[str, object] | None = None,
        package_url: str = "http://wos.invalid/artifacts/app.yaml",
        profile: str = "docker-compose",
    ) -> object:
        document = {
            "apiVersion": "application.margo.org/v1alpha1",
            "kind": "ApplicationDeployment",
            "metadata": {
                "annotations": {"id": deployment_id, "applicationId": "com-example-app"},
                "name": "com-example-app-deployment",
                "namespace": "margo",
            },
            "spec": {
                "deploymentProfile": {
                    "type": profile,
                    "components": [
                        {"name": name, "properties": {"packageLocation": package_url}}
                        for name in components
                    ],
                },
                "parameters": parameters or {},
            },
        }
        return parse_deployment(document, "deployments/app.yaml")

    return factory
