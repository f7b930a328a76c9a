"""Each fault switch changes exactly the behaviour it names."""

from __future__ import annotations

import json

import httpx
import pytest
from margo_wos.device_api import device_app
from margo_wos.faults import KNOWN_FAULTS, Faults

from conftest import Harness, corpus, status_report


def test_unknown_fault_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.parse("status-500,no-such-fault")
    assert Faults.parse(",".join(KNOWN_FAULTS)).active == frozenset(KNOWN_FAULTS)


@pytest.mark.parametrize("faults,status", [("", 422), ("accept-capabilities-without-serial", 201)])
def test_accept_capabilities_without_serial(make_harness, faults: str, status: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    device = harness.onboard("dev-3f2a")
    without_serial = json.loads(
        (
            corpus("device-capabilities", "invalid")[0].parent / "missing-serialNumber.json"
        ).read_text()
    )
    response = harness.api.post(
        "/device/dev-3f2a/capabilities", json=without_serial, headers=device.auth
    )
    assert response.status_code == status
    stored = harness.verb("device-capabilities", {"deviceId": "dev-3f2a"})["capabilities"]
    assert stored == (without_serial if status == 201 else None)
    # Only the serial number is let through: other defects are still refused.
    memory_text = json.loads(
        (corpus("device-capabilities", "invalid")[0].parent / "memory-as-string.json").read_text()
    )
    assert (
        harness.api.put(
            "/device/dev-3f2a/capabilities", json=memory_text, headers=device.auth
        ).status_code
        == 422
    )


@pytest.mark.parametrize("faults,status", [("", 403), ("shared-repositories", 200)])
def test_shared_repositories(make_harness, faults: str, status: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    harness.onboard("dev-1")
    other = harness.onboard("dev-2")
    refs = "/git/dev-1.git/info/refs?service=git-upload-pack"
    assert (
        harness.api.get(refs, headers={"Authorization": f"Bearer {other.git_token}"}).status_code
        == status
    )
    assert harness.api.get(refs, headers={"Authorization": "Bearer forged"}).status_code == 401


@pytest.mark.parametrize("faults,status", [("", 201), ("status-500", 500)])
def test_status_500(make_harness, faults: str, status: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    device = harness.onboard()
    deployment_id = harness.deploy(device.device_id)
    response = harness.api.post(
        f"/device/{device.device_id}/deployment/{deployment_id}/status",
        json=status_report(deployment_id, "Installed"),
        headers=device.auth,
    )
    assert response.status_code == status
    # Only reports it would accept are hit; a malformed one is still refused as the client's fault.
    malformed = {**status_report(deployment_id, "Installed"), "status": {"state": "Done"}}
    assert (
        harness.api.post(
            f"/device/{device.device_id}/deployment/{deployment_id}/status",
            json=malformed,
            headers=device.auth,
        ).status_code
        == 422
    )
    capabilities = json.loads(corpus("device-capabilities", "valid")[0].read_text())
    capabilities["properties"]["id"] = device.device_id
    assert (
        harness.api.post(
            f"/device/{device.device_id}/capabilities", json=capabilities, headers=device.auth
        ).status_code
        == 201
    )


@pytest.mark.parametrize("faults", ["", "status-hang"])
def test_status_hang(make_harness, live, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    device = harness.onboard()
    deployment_id = harness.deploy(device.device_id)
    server = live(device_app(harness.wos))
    with httpx.Client(base_url=server.url, timeout=1.0) as client:
        assert client.get("/onboarding/certificate").status_code == 200
        url = f"/device/{device.device_id}/deployment/{deployment_id}/status"
        report = status_report(deployment_id, "Installed")
        malformed = {**report, "status": {"state": "Done"}}
        assert client.post(url, json=malformed, headers=device.auth).status_code == 422
        if faults:
            with pytest.raises(httpx.ReadTimeout):
                client.post(url, json=report, headers=device.auth)
        else:
            assert client.post(url, json=report, headers=device.auth).status_code == 201


@pytest.mark.parametrize("faults,status", [("", 401), ("token-accepts-bad-secret", 200)])
def test_token_accepts_bad_secret(make_harness, faults: str, status: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    client_id = harness.onboard().onboarding["clientId"]
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"}
    assert harness.api.post("/oauth/token", data=form).status_code == status
    unknown = {
        "grant_type": "client_credentials",
        "client_id": "client-nobody",
        "client_secret": "wrong",
    }
    assert harness.api.post("/oauth/token", data=unknown).status_code == 401
