"""PR1 request signatures (SEC-011..SEC-016) and the PR1 device-API fault switches: each
refusal the WOS makes, and each switch breaking exactly what it names."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from wos_support import CLIENT_KEYS, Client, Harness, SigningAuth, client_certificate, pr1_onboarding_request

CAPABILITIES = {
    "apiVersion": "device.margo.org/v1alpha1",
    "kind": "DeviceCapabilitiesManifest",
    "properties": {"id": "dev-1", "vendor": "Acme", "modelNumber": "M1", "serialNumber": "S1"},
}


def unsigned(harness: Harness) -> httpx.Client:
    """The same app without the signing auth: requests go as they are written."""
    harness.api.auth = None
    return harness.api


def put_capabilities(harness: Harness, client: Client, document: Any = None, **kwargs: Any) -> httpx.Response:
    return harness.api.put(f"{client.base}/capabilities/dev-1", json=document or CAPABILITIES, **kwargs)


def test_a_signed_request_is_accepted_and_an_unsigned_one_refused(harness: Harness) -> None:
    client = harness.onboard_pr1("dev-1")
    assert put_capabilities(harness, client).status_code == 201
    refused = unsigned(harness).put(f"{client.base}/capabilities/dev-1", json=CAPABILITIES)
    assert refused.status_code == 401 and "not signed" in refused.json()["detail"]
    assert unsigned(harness).get(f"{client.base}/deployments").status_code == 401


def test_a_signature_by_another_key_is_refused(harness: Harness) -> None:
    client = harness.onboard_pr1("dev-1")
    # The test client now signs this client's requests with another certificate's key.
    bound = base64.b64decode(harness.wos.store.device("dev-1").client_certificate or "")
    CLIENT_KEYS[bound] = CLIENT_KEYS[client_certificate("other")]
    assert put_capabilities(harness, client).status_code == 401


def test_a_body_changed_after_signing_is_a_bad_request(harness: Harness) -> None:
    client = harness.onboard_pr1("dev-1")
    request = harness.api.build_request("PUT", f"http://testserver{client.base}/capabilities/dev-1",
                                        json=CAPABILITIES)
    signed = next(SigningAuth(harness.wos).auth_flow(request))
    tampered = json.dumps({**CAPABILITIES, "x-late-extensions": {}}).encode()
    headers = {k: v for k, v in signed.headers.items() if k.lower() != "content-length"}
    response = unsigned(harness).put(f"{client.base}/capabilities/dev-1", content=tampered, headers=headers)
    assert response.status_code == 400 and "Content-Digest" in response.json()["detail"]


def test_an_unsigned_onboarding_is_refused_with_an_error_member(harness: Harness) -> None:
    harness.verb("register-device", {"deviceId": "dev-1", "profile": "PR1"})
    refused = unsigned(harness).post("/api/v1/onboarding", json=pr1_onboarding_request(client_certificate("d")))
    assert refused.status_code == 401 and refused.json()["error"]


@pytest.mark.parametrize("fault", ["pr1-accept-unsigned", "pr1-signature-not-verified"])
def test_faults_that_let_a_request_through_unverified(make_harness: Any, fault: str) -> None:
    harness: Harness = make_harness(fault)
    client = harness.onboard_pr1("dev-1")
    document = CAPABILITIES if fault == "pr1-accept-unsigned" else None
    if fault == "pr1-accept-unsigned":
        assert unsigned(harness).put(f"{client.base}/capabilities/dev-1", json=document).status_code == 201
    else:
        CLIENT_KEYS[base64.b64decode(harness.wos.store.device("dev-1").client_certificate or "")] = (
            CLIENT_KEYS[client_certificate("someone-else")]
        )
        assert put_capabilities(harness, client).status_code == 201


def test_pr1_refusal_faults(make_harness: Any) -> None:
    harness: Harness = make_harness("pr1-crash-on-malformed-json,pr1-onboarding-refusal-without-error")
    refused = harness.api.post("/api/v1/onboarding", content=b"{not json",
                               headers={"Content-Type": "application/json"})
    assert refused.status_code == 500
    bad_certificate = harness.api.post("/api/v1/onboarding", json={**pr1_onboarding_request(b"x")})
    assert bad_certificate.status_code == 400 and "error" not in bad_certificate.json()


def test_reused_client_id_and_onboarding_200(make_harness: Any) -> None:
    harness: Harness = make_harness("pr1-reused-client-id")
    first, second = harness.onboard_pr1("dev-1"), harness.onboard_pr1("dev-2")
    assert first.client_id == second.client_id
    harness = make_harness("pr1-onboarding-answers-200")
    harness.verb("register-device", {"deviceId": "dev-9", "profile": "PR1"})
    answer = harness.api.post("/api/v1/onboarding", json=pr1_onboarding_request(client_certificate("dev-9")))
    assert answer.status_code == 200 and answer.json()["clientId"]


def test_capability_faults(make_harness: Any) -> None:
    harness: Harness = make_harness("pr1-capabilities-without-serial,pr1-reject-capability-extensions")
    client = harness.onboard_pr1("dev-1")
    properties = {k: v for k, v in CAPABILITIES["properties"].items() if k != "serialNumber"}
    assert put_capabilities(harness, client, {**CAPABILITIES, "properties": properties}).status_code == 201
    extended = {**CAPABILITIES, "x-acme-extensions": {"a": 1}}
    assert put_capabilities(harness, client, extended).status_code == 422


def test_a_certificate_entered_at_registration_onboards_as_that_device_only(harness: Harness) -> None:
    first, second = client_certificate("first"), client_certificate("second")
    for device_id, certificate in (("dev-1", first), ("dev-2", second)):
        harness.verb("register-device", {"deviceId": device_id, "profile": "PR1",
                                          "certificate": base64.b64encode(certificate).decode("ascii")})
    # The second device's certificate onboards first, and still takes the second device.
    onboarded = harness.api.post("/api/v1/onboarding", json=pr1_onboarding_request(second))
    assert onboarded.status_code == 201
    assert harness.wos.store.device("dev-2").client_id == onboarded.json()["clientId"]  # type: ignore[union-attr]
    stranger = harness.api.post("/api/v1/onboarding", json=pr1_onboarding_request(client_certificate("x")))
    assert stranger.status_code == 403  # dev-1 waits for its own certificate only
