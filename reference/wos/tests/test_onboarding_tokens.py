"""Root CA download, onboarding and the token endpoint (CRT-001, ONB-003/004, TOK-003/005)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from margo_wos.config import ConfigError, load_config

from wos_support import PUBLIC_URL, Harness, corpus, schema_errors


def onboarding_request(device_id: str, key: str) -> dict[str, str]:
    return {
        "apiVersion": "onboarding.margo/v1",
        "kind": "OnboardingRequest",
        "deviceId": device_id,
        "onboardingKey": key,
    }


def test_root_certificate_is_base64_of_a_ca_certificate(harness: Harness) -> None:
    x509 = pytest.importorskip("cryptography.x509")
    response = harness.api.get("/onboarding/certificate")
    assert response.status_code == 200
    assert schema_errors(response.json(), "root-certificate-response") == []
    certificate = x509.load_pem_x509_certificate(base64.b64decode(response.json()["certificate"]))
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_onboarding_hands_out_credentials_repository_and_public_urls(harness: Harness) -> None:
    key = harness.verb("register-device", {"deviceId": "dev-1"})["onboardingKey"]
    response = harness.api.post("/onboarding/", json=onboarding_request("dev-1", key))
    assert response.status_code == 201
    body = response.json()
    assert schema_errors(body, "onboarding-response") == []
    assert body["tokenEndpoint"] == f"{PUBLIC_URL}/oauth/token"
    assert body["desiredState"] | {"accessToken": "x"} == {
        "type": "git",
        "url": f"{PUBLIC_URL}/git/dev-1.git",
        "branch": "main",
        "accessToken": "x",
    }
    again = harness.api.post(
        "/onboarding", json=onboarding_request("dev-1", key)
    )  # no trailing slash
    assert again.status_code == 201 and again.json() == body


@pytest.mark.parametrize("device_id,key", [("dev-1", "wrong"), ("dev-unknown", "k")])
def test_onboarding_with_a_wrong_key_or_unknown_device_is_forbidden(
    harness: Harness, device_id: str, key: str
) -> None:
    harness.verb("register-device", {"deviceId": "dev-1"})
    response = harness.api.post("/onboarding/", json=onboarding_request(device_id, key))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert schema_errors(response.json(), "problem-details") == []


@pytest.mark.parametrize("path", corpus("onboarding-request", "invalid"), ids=lambda p: p.stem)
def test_invalid_onboarding_requests_are_bad_requests(harness: Harness, path: Path) -> None:
    response = harness.api.post("/onboarding/", content=path.read_bytes())
    assert response.status_code == 400
    assert response.json()["errors"]


def test_onboarding_body_that_is_not_json_is_a_bad_request(harness: Harness) -> None:
    assert harness.api.post("/onboarding/", content=b"{nope").status_code == 400


def test_token_endpoint_issues_bearer_tokens_by_form_and_by_basic_auth(harness: Harness) -> None:
    device = harness.onboard()
    client_id, secret = device.onboarding["clientId"], device.onboarding["clientSecret"]
    by_form = harness.api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    by_basic = harness.api.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    for response in (by_form, by_basic):
        assert response.status_code == 200
        assert schema_errors(response.json(), "token-response") == []
        assert (
            response.json()["expires_in"] == 3600
            and response.headers["cache-control"] == "no-store"
        )


def test_token_endpoint_refuses_wrong_secret_grant_and_encoding(harness: Harness) -> None:
    client_id = harness.onboard().onboarding["clientId"]
    wrong_secret = harness.api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "nope"},
    )
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    wrong_grant = harness.api.post(
        "/oauth/token", data={"grant_type": "password", "client_id": client_id}
    )
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")
    as_json = harness.api.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")


def test_credentials_and_tokens_survive_a_restart(make_harness) -> None:  # type: ignore[no-untyped-def]
    before = make_harness()
    device = before.onboard()
    after = make_harness()  # same data directory
    assert (
        after.api.put(
            f"/device/{device.device_id}/capabilities", json={}, headers=device.auth
        ).status_code
        == 422
    )
    assert (
        after.api.get("/onboarding/certificate").json()
        == before.api.get("/onboarding/certificate").json()
    )


def test_config_requires_public_url_and_known_faults() -> None:
    with pytest.raises(ConfigError, match="MARGO_WOS_PUBLIC_URL"):
        load_config({})
    with pytest.raises(ConfigError, match="unknown fault"):
        load_config({"MARGO_WOS_PUBLIC_URL": "http://x:1", "MARGO_WOS_FAULTS": "status-500,nope"})
    config = load_config(
        {"MARGO_WOS_PUBLIC_URL": "http://x:1/", "MARGO_WOS_FAULTS": " status-500 "}
    )
    assert (config.public_url, config.port, config.control_port) == ("http://x:1", 8080, 8081)
    assert "status-500" in config.faults
    assert json.dumps(sorted(config.faults.active)) == '["status-500"]'



def test_the_vendor_onboarding_style_takes_no_key_and_answers_in_its_own_layout(make_harness) -> None:
    harness = make_harness(onboarding_style="vendor")
    assert "onboardingKey" not in harness.verb("register-device", {"deviceId": "dev-v1"})
    assert harness.api.post("/onboarding/", json={"deviceId": "dev-v1"}).status_code in (404, 405)
    assert harness.api.post("/api/devices/onboard", json={"device": "dev-unknown"}).status_code == 403
    assert harness.api.post("/api/devices/onboard", json={"id": "dev-v1"}).status_code == 400
    answer = harness.api.post("/api/devices/onboard", json={"device": "dev-v1"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["credentials"]["id"] and body["credentials"]["secret"] and body["gitops"]["token"]
    assert body["gitops"]["repository"].endswith("/git/dev-v1.git")
    token = harness.api.post(body["oauthTokenUrl"].removeprefix(PUBLIC_URL), data={
        "grant_type": "client_credentials", "client_id": body["credentials"]["id"],
        "client_secret": body["credentials"]["secret"]})
    assert token.status_code == 200
