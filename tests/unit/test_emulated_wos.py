"""The emulated WOS over real HTTP on loopback: onboarding, tokens, documents, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from margo_conformance.base.evidence import HTTP, EvidenceLog
from margo_conformance.base.exchanges import Exchange, Operation, is_operation
from margo_conformance.emulated_wos.pki import parse_certificate_field
from margo_conformance.emulated_wos.server import EmulatedWos
from margo_conformance.emulated_wos.state import DeviceRecord

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "payloads" / "v24"


def _valid(kind: str) -> dict:
    return json.loads(sorted((FIXTURES / kind / "valid").glob("*.json"))[0].read_text())


@pytest.fixture
def device(wos: EmulatedWos, evidence: EvidenceLog) -> DeviceRecord:
    return wos.state.register_device(evidence)


@pytest.fixture
def client(wos: EmulatedWos) -> httpx.Client:
    with httpx.Client(base_url=wos.url_for_host, timeout=5) as c:
        yield c


def _onboard(client: httpx.Client, device: DeviceRecord) -> dict:
    body = {"apiVersion": "onboarding.margo/v1", "kind": "OnboardingRequest",
            "deviceId": device.device_id, "onboardingKey": device.onboarding_key}
    response = client.post("/onboarding/", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _token(client: httpx.Client, onboarding: dict) -> str:
    response = client.post("/oauth/token", data={
        "grant_type": "client_credentials",
        "client_id": onboarding["clientId"],
        "client_secret": onboarding["clientSecret"],
    })
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_root_certificate_is_a_parseable_ca(client: httpx.Client) -> None:
    cert = parse_certificate_field(client.get("/onboarding/certificate").json()["certificate"])
    assert cert.extensions.get_extension_for_class(type(cert.extensions[0].value)).value.ca


def test_onboarding_hands_out_credentials_and_repository(
    client: httpx.Client, device: DeviceRecord, wos: EmulatedWos
) -> None:
    onboarding = _onboard(client, device)
    assert onboarding["clientId"] == device.client_id
    assert onboarding["desiredState"]["url"] == f"{wos.url_for_sut}/git/{device.device_id}.git"
    assert onboarding["tokenEndpoint"].endswith("/oauth/token")


def test_onboarding_with_a_wrong_key_is_refused(client: httpx.Client, device: DeviceRecord) -> None:
    body = {"apiVersion": "onboarding.margo/v1", "kind": "OnboardingRequest",
            "deviceId": device.device_id, "onboardingKey": "wrong"}
    response = client.post("/onboarding/", json=body)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_token_requires_form_encoding_and_valid_secret(client: httpx.Client, device: DeviceRecord) -> None:
    onboarding = _onboard(client, device)
    as_json = client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert as_json.status_code == 400
    wrong = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                              "client_id": onboarding["clientId"], "client_secret": "x"})
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "invalid_client"}


def test_capabilities_need_the_devices_own_token(
    client: httpx.Client, device: DeviceRecord, wos: EmulatedWos, evidence: EvidenceLog
) -> None:
    token = _token(client, _onboard(client, device))
    other = wos.state.register_device(EvidenceLog())
    other_token = _token(client, _onboard(client, other))
    path = f"/device/{device.device_id}/capabilities"
    document = _valid("device-capabilities")
    assert client.post(path, json=document).status_code == 401
    assert client.post(path, json=document, headers={"Authorization": f"Bearer {other_token}"}).status_code == 403
    assert client.post(path, json=document, headers={"Authorization": f"Bearer {token}"}).status_code == 201
    assert client.put(path, json=document, headers={"Authorization": f"Bearer {token}"}).status_code == 201
    assert [r.method for r in device.capabilities] == ["POST", "PUT"]
    recorded = [e.data["status"] for e in evidence.events(HTTP) if e.data["path"] == path]
    assert recorded == [401, 201, 201]  # the 403 is attributed to the device the token belongs to


def test_invalid_capabilities_are_kept_with_their_errors_and_refused(
    client: httpx.Client, device: DeviceRecord
) -> None:
    token = _token(client, _onboard(client, device))
    document = _valid("device-capabilities")
    del document["properties"]["serialNumber"]
    response = client.post(f"/device/{device.device_id}/capabilities", json=document,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert any("serialNumber" in e for e in device.capabilities[-1].errors)


def test_status_reports_are_filed_by_deployment(client: httpx.Client, device: DeviceRecord) -> None:
    token = _token(client, _onboard(client, device))
    document = _valid("deployment-status")
    deployment_id = document["deploymentId"]
    device.assign(deployment_id)
    response = client.post(f"/device/{device.device_id}/deployment/{deployment_id}/status",
                           json=document, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    assert len(device.statuses[deployment_id]) == 1
    assert device.refusals == []


def test_a_status_report_for_a_deployment_never_assigned_is_refused_and_recorded(
    client: httpx.Client, device: DeviceRecord, evidence: EvidenceLog
) -> None:
    token = _token(client, _onboard(client, device))
    document = _valid("deployment-status")
    deployment_id = document["deploymentId"]
    response = client.post(f"/device/{device.device_id}/deployment/{deployment_id}/status",
                           json=document, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404 and deployment_id in response.json()["detail"]
    assert deployment_id not in device.statuses
    (refusal,) = device.refusals
    assert (refusal.requirement, refusal.status) == ("STS-003", 404)
    assert "{deploymentId}" in refusal.member
    assert any(e.data.get("requirement") == "STS-003" for e in evidence.events())


@pytest.mark.parametrize("body", [b"", b"{not json", b"\xff\xfe"], ids=["empty", "not-json", "not-utf8"])
def test_a_report_that_is_not_json_is_refused_with_400_and_kept_with_its_error(
    client: httpx.Client, device: DeviceRecord, body: bytes
) -> None:
    token = _token(client, _onboard(client, device))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    response = client.post(f"/device/{device.device_id}/capabilities", content=body, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    (received,) = device.capabilities
    assert received.document is None and not received.parsed
    assert received.errors[0].startswith("(root): the body is")


def test_artifacts_are_served_with_the_workload_image_filled_in(client: httpx.Client) -> None:
    response = client.get("/artifacts/hello.compose.yaml")
    assert response.status_code == 200
    assert "image: img:test" in response.text
    assert client.get("/artifacts/..%2Fsut%2Freference-agent.yaml").status_code == 404


def test_unknown_routes_get_a_problem_body(client: httpx.Client) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_each_exchange_is_recorded_as_the_operation_its_route_performs(
    client: httpx.Client, device: DeviceRecord, evidence: EvidenceLog
) -> None:
    token = _token(client, _onboard(client, device))
    client.get("/onboarding/certificate")
    client.post(f"/device/{device.device_id}/deployment/d-1/status", json={},
                headers={"Authorization": f"Bearer {token}"})
    client.get("/no/such/route")
    recorded = [Exchange.of(e) for e in evidence.events(HTTP)] + [
        Exchange.of(e) for e in device.evidence.events(HTTP) if e not in evidence.events(HTTP)]
    by_operation = {x.operation: x for x in recorded}
    expected = {Operation.ONBOARDING, Operation.TOKEN, Operation.ROOT_CERTIFICATE, Operation.STATUS_REPORT}
    assert expected <= set(by_operation) and None in by_operation  # the unknown route: no operation
    status = by_operation[Operation.STATUS_REPORT]
    assert status.params == {"device_id": device.device_id, "deployment_id": "d-1"} and status.method == "POST"
    assert is_operation(status.event, Operation.STATUS_REPORT, "POST", deployment_id="d-1")
    assert not is_operation(status.event, Operation.STATUS_REPORT, deployment_id="d-2")
