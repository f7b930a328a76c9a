"""Each fault switch changes exactly the behaviour it names."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import yaml
from margo_wos import device_api
from margo_wos.device_api import device_app
from margo_wos.faults import KNOWN_FAULTS, Faults
from wos_support import PUBLIC_URL, Harness, corpus, repository_files, status_report


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


def _capabilities(device_id: str) -> dict[str, object]:
    document = json.loads(corpus("device-capabilities", "valid")[0].read_text())
    document["properties"]["id"] = device_id
    return document


@pytest.mark.parametrize("faults,status", [("", 400), ("crash-on-malformed-json", 500)])
def test_crash_on_malformed_json(make_harness, faults: str, status: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    device = harness.onboard()
    url = f"/device/{device.device_id}/capabilities"
    headers = {**device.auth, "Content-Type": "application/json"}
    assert harness.api.post(url, content=b"{not json", headers=headers).status_code == status
    assert harness.api.post("/onboarding/", content=b"{not json", headers=headers).status_code == status
    # Only bodies that are not JSON: schema violations and valid reports are untouched.
    kind_wrong = {**_capabilities(device.device_id), "kind": "Other"}
    assert harness.api.post(url, json=kind_wrong, headers=device.auth).status_code == 422
    assert harness.api.post(url, json=_capabilities(device.device_id), headers=device.auth).status_code == 201


@pytest.mark.parametrize("faults", ["", "no-problem-body"])
def test_no_problem_body(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    device = harness.onboard()
    refused = harness.api.post(f"/device/{device.device_id}/capabilities", json={"kind": "x"},
                               headers=device.auth)
    token = harness.api.post("/oauth/token", data={"grant_type": "password"})
    assert (refused.status_code, token.status_code) == (422, 400)  # statuses are kept
    if faults:
        assert refused.headers["content-type"].startswith("text/plain")
        assert refused.text == "Unprocessable Entity"
        assert token.text == "Bad Request"
    else:
        assert refused.headers["content-type"] == "application/problem+json"
        assert token.json()["error"] == "unsupported_grant_type"
    # Successful answers and the Git endpoint are untouched.
    ok = harness.api.post(f"/device/{device.device_id}/capabilities", json=_capabilities(device.device_id),
                          headers=device.auth)
    assert ok.status_code == 201
    assert harness.api.get("/onboarding/certificate").json()["certificate"]
    git = harness.api.get(f"/git/{device.device_id}.git/info/refs?service=git-upload-pack")
    assert git.status_code == 401 and "margo-desired-state" in git.headers["www-authenticate"]


@pytest.mark.parametrize("faults,status", [("", 413), ("oversized-500", 500)])
def test_oversized_500(make_harness, faults: str, status: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    device = harness.onboard()
    url = f"/device/{device.device_id}/capabilities"
    big = {**_capabilities(device.device_id), "padding": "x" * (2 * 1024 * 1024)}
    assert harness.api.post(url, json=big, headers=device.auth).status_code == status
    token = harness.api.post("/oauth/token", data={"grant_type": "x", "padding": "x" * (2 * 1024 * 1024)})
    assert token.status_code == status
    assert harness.api.post(url, json=_capabilities(device.device_id), headers=device.auth).status_code == 201


@pytest.mark.parametrize("faults,second", [("", 201), ("refusal-locks-device", 503)])
def test_refusal_locks_device(make_harness, faults: str, second: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    device = harness.onboard()
    deployment_id = harness.deploy(device.device_id)
    url = f"/device/{device.device_id}/capabilities"
    valid = _capabilities(device.device_id)
    # Accepted reports leave nothing behind...
    for _ in range(2):
        assert harness.api.put(url, json=valid, headers=device.auth).status_code == 201
    # ...a refused one leaves the device busy under the fault, for every kind of report.
    assert harness.api.put(url, json={"kind": "x"}, headers=device.auth).status_code == 422
    assert harness.api.put(url, json=valid, headers=device.auth).status_code == second
    status_url = f"/device/{device.device_id}/deployment/{deployment_id}/status"
    assert harness.api.post(status_url, json=status_report(deployment_id, "Installed"),
                            headers=device.auth).status_code == second
    # Another device is not affected.
    other = harness.onboard("dev-2")
    assert harness.api.put("/device/dev-2/capabilities", json=_capabilities("dev-2"),
                           headers=other.auth).status_code == 201


@pytest.mark.parametrize("faults,status", [("", 422), ("status-any-state", 201)])
def test_status_any_state(make_harness, faults: str, status: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    device = harness.onboard()
    deployment_id = harness.deploy(device.device_id)
    url = f"/device/{device.device_id}/deployment/{deployment_id}/status"
    sleeping = status_report(deployment_id, "Installing")
    sleeping["components"][0]["state"] = "Sleeping"
    assert harness.api.post(url, json=sleeping, headers=device.auth).status_code == status
    updating = status_report(deployment_id, "Updating")
    assert harness.api.post(url, json=updating, headers=device.auth).status_code == status
    shown = harness.verb("deployment-status", {"deviceId": device.device_id, "deploymentId": deployment_id})
    assert shown["state"] == ("Updating" if faults else None)
    # Only the states are let through: other defects are still refused.
    wrong_kind = {**status_report(deployment_id, "Installed"), "kind": "DeploymentStatusManifest"}
    assert harness.api.post(url, json=wrong_kind, headers=device.auth).status_code == 422


@pytest.mark.parametrize("faults,status", [("", 403), ("capabilities-cross-device", 201)])
def test_capabilities_cross_device(make_harness, faults: str, status: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    harness.onboard("dev-1")
    other = harness.onboard("dev-2")
    deployment_id = harness.deploy("dev-1")
    assert harness.api.post("/device/dev-1/capabilities", json=_capabilities("dev-1"),
                            headers=other.auth).status_code == status
    held = harness.verb("device-capabilities", {"deviceId": "dev-1"})["capabilities"]
    assert held == (_capabilities("dev-1") if faults else None)
    # Only capabilities: status reports and missing or forged tokens are still refused.
    report = status_report(deployment_id, "Installed")
    status_url = f"/device/dev-1/deployment/{deployment_id}/status"
    assert harness.api.post(status_url, json=report, headers=other.auth).status_code == 403
    forged = {"Authorization": "Bearer forged"}
    assert harness.api.post("/device/dev-1/capabilities", json=_capabilities("dev-1"),
                            headers=forged).status_code == 401


@pytest.mark.parametrize("faults", ["", "status-crosstalk"])
def test_status_crosstalk(make_harness, live, faults: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The fault's window is 50 ms; on a loaded machine two threads' requests can arrive
    # further apart than that, and the test would see no crosstalk. Widen it here.
    monkeypatch.setattr(device_api, "CROSSTALK_WINDOW_S", 2.0)
    harness: Harness = make_harness(faults)
    devices = [harness.onboard("dev-1"), harness.onboard("dev-2")]
    deployments = [harness.deploy(d.device_id) for d in devices]
    server = live(device_app(harness.wos))
    states = ["Installing", "Failed"]

    def report(index: int) -> int:
        device, deployment_id = devices[index], deployments[index]
        with httpx.Client(base_url=server.url, timeout=5) as client:
            url = f"/device/{device.device_id}/deployment/{deployment_id}/status"
            return client.post(url, json=status_report(deployment_id, states[index]),
                               headers=device.auth).status_code

    # One after the other, every report lands where it belongs, fault or not.
    assert [report(0), report(1)] == [201, 201]
    shown = [harness.verb("deployment-status", {"deviceId": d.device_id, "deploymentId": i})["state"]
             for d, i in zip(devices, deployments, strict=True)]
    assert shown == states
    # At the same time, the fault files one device's report under the other.
    states = ["Installed", "Pending"]
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(report, [0, 1])) == [201, 201]
    shown = [harness.verb("deployment-status", {"deviceId": d.device_id, "deploymentId": i})["state"]
             for d, i in zip(devices, deployments, strict=True)]
    if faults:
        assert shown[0] == shown[1]  # both show the report that arrived last
    else:
        assert shown == states


@pytest.mark.parametrize("faults,status", [("", 200), ("repository-unreachable", 404)])
def test_repository_unreachable(make_harness, faults: str, status: int) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    device = harness.onboard("dev-1")
    assert device.onboarding["desiredState"]["url"] == f"{PUBLIC_URL}/git/dev-1.git"
    refs = "/git/dev-1.git/info/refs?service=git-upload-pack"
    assert harness.api.get(refs, auth=("device", device.git_token)).status_code == status
    assert harness.api.get(refs).status_code == 401  # a missing token is still refused as such


@pytest.mark.parametrize("faults", ["", "document-without-namespace"])
def test_document_without_namespace(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    harness.verb("register-device", {"deviceId": "dev-1"})
    harness.deploy("dev-1")
    (text,) = repository_files(harness, "dev-1").values()
    metadata = yaml.safe_load(text)["metadata"]
    assert ("namespace" in metadata) is not bool(faults)
    assert metadata["name"] == "hello-compose-deployment"  # only the namespace goes missing


@pytest.mark.parametrize("faults", ["", "application-id-uppercase"])
def test_application_id_uppercase(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(faults)
    harness.verb("register-device", {"deviceId": "dev-1"})
    deployment_id = harness.deploy("dev-1")
    (text,) = repository_files(harness, "dev-1").values()
    annotations = yaml.safe_load(text)["metadata"]["annotations"]
    assert annotations["id"] == deployment_id and str(uuid.UUID(deployment_id)) == deployment_id
    assert annotations["applicationId"] == ("HELLO-COMPOSE" if faults else "hello-compose")
