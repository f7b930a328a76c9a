"""Onboarding, root CA and the OAuth2 token cache against a tiny fake WOS."""

from __future__ import annotations

import base64
import ssl
import urllib.parse
from pathlib import Path

import pytest
from agent_fakes import FakeServer, Recorded, Reply
from margo_agent.wos_client import WosClient, WosError, decode_certificate

PEM = """-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIUEXAMPLEEXAMPLEEXAMPLEEXAMPLEwCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
"""


def onboarding_reply(server: FakeServer) -> Reply:
    return Reply(
        201,
        {
            "apiVersion": "onboarding.margo/v1",
            "kind": "OnboardingResponse",
            "deviceId": "dev-1",
            "clientId": "client-1",
            "clientSecret": "s3cret",
            "tokenEndpoint": f"{server.url}/oauth/token",
            "desiredState": {
                "type": "git",
                "url": f"{server.url}/git/dev-1.git",
                "branch": "main",
                "accessToken": "git-token",
            },
        },
    )


class TokenIssuer:
    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self, request: Recorded) -> Reply:
        form = urllib.parse.parse_qs(request.body.decode())
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert form == {
            "grant_type": ["client_credentials"],
            "client_id": ["client-1"],
            "client_secret": ["s3cret"],
        }
        self.issued.append(f"token-{len(self.issued) + 1}")
        return Reply(
            200, {"access_token": self.issued[-1], "token_type": "Bearer", "expires_in": 3600}
        )


@pytest.fixture
def onboarded(fake_server: FakeServer) -> tuple[WosClient, TokenIssuer]:
    issuer = TokenIssuer()
    fake_server.route("POST /onboarding/", lambda _: onboarding_reply(fake_server))
    fake_server.route("POST /oauth/token", issuer)
    client = WosClient(fake_server.url, "dev-1")
    client.onboard("k-1")
    return client, issuer


def test_onboarding_request_and_response(onboarded, fake_server: FakeServer) -> None:
    (request,) = fake_server.requests
    assert request.json() == {
        "apiVersion": "onboarding.margo/v1",
        "kind": "OnboardingRequest",
        "deviceId": "dev-1",
        "onboardingKey": "k-1",
    }


def test_token_is_reused_until_the_wos_answers_401(onboarded, fake_server: FakeServer) -> None:
    client, issuer = onboarded
    expired: set[str] = set()

    def capabilities(request: Recorded) -> Reply:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        if token in expired or token not in issuer.issued:
            return Reply(401, {"title": "Unauthorized"}, "application/problem+json")
        return Reply(201)

    fake_server.route("POST /device/dev-1/capabilities", capabilities)
    fake_server.route("PUT /device/dev-1/capabilities", capabilities)
    client.report_capabilities({"kind": "DeviceCapabilities"}, first=True)
    client.report_capabilities({"kind": "DeviceCapabilities"}, first=False)
    assert issuer.issued == ["token-1"]

    expired.add("token-1")  # the WOS revokes the token: the client must get a new one
    client.report_capabilities({"kind": "DeviceCapabilities"}, first=False)
    assert issuer.issued == ["token-1", "token-2"]
    puts = [r for r in fake_server.requests if r.method == "PUT"]
    assert [r.headers["Authorization"] for r in puts] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_persistent_401_is_an_error_after_one_renewal(onboarded, fake_server: FakeServer) -> None:
    client, issuer = onboarded
    fake_server.route("POST /device/dev-1/capabilities", lambda _: Reply(401))
    with pytest.raises(WosError) as caught:
        client.report_capabilities({}, first=True)
    assert caught.value.response is not None and caught.value.response.status == 401
    assert not caught.value.permanent
    assert len(issuer.issued) == 2


def test_status_is_posted_to_the_deployment_route(onboarded, fake_server: FakeServer) -> None:
    client, _ = onboarded
    route = "POST /device/dev-1/deployment/dep-1/status"
    fake_server.route(route, lambda _: Reply(201))
    client.post_status("dep-1", {"kind": "DeploymentStatus"})
    assert fake_server.requests[-1].json() == {"kind": "DeploymentStatus"}


def test_a_rejected_document_is_a_permanent_error(onboarded, fake_server: FakeServer) -> None:
    client, _ = onboarded
    fake_server.route("POST /device/dev-1/deployment/dep-1/status", lambda _: Reply(422))
    with pytest.raises(WosError) as caught:
        client.post_status("dep-1", {})
    assert caught.value.permanent


def test_root_ca_is_saved_as_pem(fake_server: FakeServer, tmp_path: Path) -> None:
    encoded = base64.b64encode(PEM.encode()).decode()
    fake_server.route("GET /onboarding/certificate", lambda _: Reply(200, {"certificate": encoded}))
    WosClient(fake_server.url, "dev-1").fetch_root_ca(tmp_path / "ca.pem")
    assert (tmp_path / "ca.pem").read_text() == PEM


def test_der_certificates_are_converted_to_pem() -> None:
    der = b"\x30\x82\x01\x00fake-der"
    pem = decode_certificate(base64.b64encode(der).decode())
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert ssl.PEM_cert_to_DER_cert(pem) == der


def test_unknown_device_is_refused_with_a_permanent_error(fake_server: FakeServer) -> None:
    fake_server.route("POST /onboarding/", lambda _: Reply(403, {"title": "Forbidden"}))
    with pytest.raises(WosError, match="onboarding: HTTP 403"):
        WosClient(fake_server.url, "dev-1").onboard("wrong")
