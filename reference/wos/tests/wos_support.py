"""Shared test support (imported by conftest.py and the tests): the package on sys.path, a WOS in a temporary data directory, clients for
both apps, a real uvicorn server on loopback, and the suite's schemas and payload corpus."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import uvicorn  # noqa: E402
from margo_wos.config import Config  # noqa: E402
from margo_wos.control import control_app  # noqa: E402
from margo_wos.device_api import device_app  # noqa: E402
from margo_wos.faults import Faults  # noqa: E402
from margo_wos.service import Wos, open_wos  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from starlette.types import ASGIApp  # noqa: E402

REPO_ROOT = HERE.parents[2]
SCHEMAS = REPO_ROOT / "schemas" / "v24"
PAYLOADS = REPO_ROOT / "fixtures" / "payloads" / "v24"
PUBLIC_URL = "http://wos.example:18080"


def schema_errors(document: Any, name: str, profile: str = "v24") -> list[str]:
    """Violations of the suite's schema `name`; skips the test outside this repository."""
    jsonschema = pytest.importorskip("jsonschema")
    path = SCHEMAS.parent / profile / f"{name}.schema.json"
    if not path.exists():
        pytest.skip(f"{path} is not here (tests run outside the margo-conformance repository)")
    validator = jsonschema.Draft202012Validator(json.loads(path.read_text()))
    return [e.message for e in validator.iter_errors(document)]


def corpus(kind: str, verdict: str, pattern: str = "*.json", profile: str = "v24") -> list[Path]:
    return sorted((PAYLOADS.parent / profile / kind / verdict).glob(pattern))


#: The private key of every client certificate made here, by the certificate's DER: the
#: signing auth finds the key of the client a request is for (SigningAuth).
CLIENT_KEYS: dict[bytes, Any] = {}


def client_certificate(name: str, form: str = "DER") -> bytes:
    """A fresh self-signed P-256 certificate, as a PR1 client makes its own; its key is kept."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=7))
        .sign(key, hashes.SHA256())
    )
    CLIENT_KEYS[certificate.public_bytes(serialization.Encoding.DER)] = key
    encoding = serialization.Encoding.DER if form == "DER" else serialization.Encoding.PEM
    return certificate.public_bytes(encoding)


class _Key(HTTPSignatureKeyResolver):  # type: ignore[misc]
    def __init__(self, key: Any) -> None:
        self.key = key

    def resolve_private_key(self, key_id: str) -> Any:
        return self.key


class SigningAuth(httpx.Auth):
    """Signs every PR1 request (RFC 9421, as a PR1 client does) with the key of the client it
    is for: the clientId in the path, or the certificate an onboarding request carries. Other
    requests, and those with signature headers already, go as they are."""

    def __init__(self, wos: Wos) -> None:
        self.wos = wos

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        key = self._key_for(request)
        if key is not None and "signature" not in request.headers:
            signer = HTTPMessageSigner(signature_algorithm=algorithms.ECDSA_P256_SHA256,
                                       key_resolver=_Key(key))
            signer.sign(request, key_id="test-client", label="sig1",
                        covered_component_ids=("@method", "@target-uri"), body=request.content)
        yield request

    def _key_for(self, request: httpx.Request) -> Any:
        path = request.url.path
        if path == "/api/v1/onboarding":
            try:
                field = json.loads(request.content)["certificate"]
                return CLIENT_KEYS.get(_der(base64.b64decode(field)))
            except (ValueError, KeyError, TypeError):
                return None
        if not path.startswith("/api/v1/clients/"):
            return None
        client_id = path.split("/")[4]
        device = self.wos.store.device_by_client_id(client_id, profile="PR1")
        if device is None or not device.client_certificate:
            return None
        return CLIENT_KEYS.get(base64.b64decode(device.client_certificate))


def _der(certificate: bytes) -> bytes:
    if certificate.startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(certificate).public_bytes(serialization.Encoding.DER)
    return certificate


def pr1_onboarding_request(certificate: bytes) -> dict[str, str]:
    return {
        "apiVersion": "onboarding.margo.org/v1alpha1",
        "kind": "OnboardingRequest",
        "certificate": base64.b64encode(certificate).decode("ascii"),
    }


@dataclass
class Client:
    """A PR1 device as the WOS knows it: the operator's device id and the clientId it got."""

    device_id: str
    client_id: str
    certificate: bytes

    @property
    def base(self) -> str:
        return f"/api/v1/clients/{self.client_id}"


@dataclass
class Onboarded:
    device_id: str
    onboarding: dict[str, Any]
    access_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def git_token(self) -> str:
        return str(self.onboarding["desiredState"]["accessToken"])


@dataclass
class Harness:
    wos: Wos
    api: TestClient
    control: TestClient

    def verb(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        response = self.control.post(f"/control/{name}", json=request)
        assert response.status_code == 200, response.text
        return response.json()

    def onboard(self, device_id: str = "dev-1") -> Onboarded:
        key = self.verb("register-device", {"deviceId": device_id})["onboardingKey"]
        body = {
            "apiVersion": "onboarding.margo/v1",
            "kind": "OnboardingRequest",
            "deviceId": device_id,
            "onboardingKey": key,
        }
        onboarding = self.api.post("/onboarding/", json=body).json()
        form = {
            "grant_type": "client_credentials",
            "client_id": onboarding["clientId"],
            "client_secret": onboarding["clientSecret"],
        }
        token = self.api.post("/oauth/token", data=form).json()["access_token"]
        return Onboarded(device_id, onboarding, token)

    def onboard_pr1(self, device_id: str = "dev-1") -> Client:
        """Register `device_id` for PR1 and onboard a fresh certificate, which takes it."""
        self.verb("register-device", {"deviceId": device_id, "profile": "PR1"})
        certificate = client_certificate(device_id)
        response = self.api.post("/api/v1/onboarding", json=pr1_onboarding_request(certificate))
        assert response.status_code == 201, response.text
        return Client(device_id, response.json()["clientId"], certificate)

    def deploy(self, device_id: str, application: dict[str, Any] | None = None) -> str:
        request = {"deviceId": device_id, "application": application or hello_application()}
        return str(self.verb("deploy", request)["deploymentId"])


def repository_files(harness: Harness, device_id: str) -> dict[str, str]:
    """Every file on main of the device's bare repository, read with the git CLI."""
    bare = harness.wos.repos.bare(device_id)
    names = subprocess.run(
        ["git", "--git-dir", str(bare), "ls-tree", "-r", "--name-only", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {
        name: subprocess.run(
            ["git", "--git-dir", str(bare), "show", f"main:{name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for name in names
    }


def hello_application() -> dict[str, Any]:
    return {
        "applicationId": "hello-compose",
        "name": "hello-compose-deployment",
        "namespace": "margo-conformance",
        "deploymentProfile": {
            "type": "docker-compose",
            "components": [
                {
                    "name": "hello",
                    "properties": {
                        "packageLocation": "http://artifacts.example/hello.compose.yaml"
                    },
                }
            ],
        },
        "parameters": {
            "greeting": {
                "value": "hi",
                "targets": [{"pointer": "ENV.GREETING", "components": ["hello"]}],
            }
        },
    }


def two_components() -> dict[str, Any]:
    return {
        "applicationId": "two-components",
        "name": "two-components-deployment",
        "namespace": "margo-conformance",
        "deploymentProfile": {
            "type": "docker-compose",
            "components": [
                {"name": "database", "properties": {"packageLocation": "http://a.example/db.yaml"}},
                {"name": "frontend", "properties": {"packageLocation": "http://a.example/fe.yaml"}},
            ],
        },
        "parameters": {
            "siteId": {
                "value": "SITE-42",
                "targets": [{"pointer": "ENV.SITE_ID", "components": ["database", "frontend"]}],
            }
        },
    }


def status_report(
    deployment_id: str, state: str, components: tuple[str, ...] = ("hello",)
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "apiVersion": "deployment.margo/v1",
        "kind": "DeploymentStatus",
        "deploymentId": deployment_id,
        "status": {"state": state},
        "components": [{"name": name, "state": state} for name in components],
    }
    if state.lower() == "failed":
        report["status"]["error"] = {"code": "E1", "message": "failed on purpose"}
    return report


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Build a WOS on tmp_path; a second call with the same data reopens it (a restart)."""
    opened: list[TestClient] = []

    def build(faults: str = "", onboarding_style: str = "suite") -> Harness:
        wos = open_wos(
            Config(
                public_url=PUBLIC_URL,
                data_dir=tmp_path / "data",
                faults=Faults.parse(faults),
                onboarding_style=onboarding_style,
            )
        )
        api, control = TestClient(device_app(wos)), TestClient(control_app(wos))
        api.auth = SigningAuth(wos)  # PR1 requests are signed as a PR1 client signs them
        for client in (api, control):
            client.__enter__()
            opened.append(client)
        return Harness(wos, api, control)

    yield build
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def start_live_server(app: ASGIApp) -> LiveServer:
    """uvicorn on a loopback port in a thread. The socket listens before the thread starts,
    so clients can connect at once: the kernel queues them until uvicorn accepts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    return LiveServer(f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread)


@pytest.fixture
def live() -> Iterator[Callable[[ASGIApp], LiveServer]]:
    servers: list[LiveServer] = []

    def start(app: ASGIApp) -> LiveServer:
        servers.append(start_live_server(app))
        return servers[-1]

    yield start
    for running in servers:
        running.server.should_exit = True
        running.thread.join(timeout=10)
