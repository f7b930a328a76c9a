"""Bad requests get a 4xx with a problem body, bodies over the limit get 413, and the WOS keeps
serving afterwards (docs/v24-wire-contract.md section 8)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from margo_wos.device_api import device_app
from margo_wos.web import MAX_BODY_BYTES

from wos_support import Harness, corpus, schema_errors, status_report

OVERSIZED = "x" * (2 * MAX_BODY_BYTES)


def capabilities(device_id: str, **extra: Any) -> dict[str, Any]:
    document = json.loads(corpus("device-capabilities", "valid")[0].read_text())
    document["properties"]["id"] = device_id
    return {**document, **extra}


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert not schema_errors(body, "problem-details")


def test_a_body_over_the_limit_is_refused_with_413_at_every_endpoint(harness: Harness, live) -> None:  # type: ignore[no-untyped-def]
    device = harness.onboard()
    deployment_id = harness.deploy(device.device_id)
    server = live(device_app(harness.wos))
    status_path = f"/device/{device.device_id}/deployment/{deployment_id}/status"
    capabilities_path = f"/device/{device.device_id}/capabilities"
    onboarding = {"apiVersion": "onboarding.margo/v1", "kind": "OnboardingRequest",
                  "deviceId": device.device_id, "onboardingKey": "k", "padding": OVERSIZED}
    # Over a real socket: the client must get the 413, not a reset while it is still sending.
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert_problem(client.post("/onboarding/", json=onboarding), 413)
        token = client.post("/oauth/token", data={"grant_type": "client_credentials", "padding": OVERSIZED})
        assert token.status_code == 413
        assert token.json()["error"] == "invalid_request"
        big = capabilities(device.device_id, padding=OVERSIZED)
        assert_problem(client.post(capabilities_path, json=big, headers=device.auth), 413)
        report = {**status_report(deployment_id, "Installed"), "padding": OVERSIZED}
        assert_problem(client.post(status_path, json=report, headers=device.auth), 413)
        # ...and goes on serving, on the same connection.
        ok = client.post(capabilities_path, json=capabilities(device.device_id), headers=device.auth)
        assert ok.status_code == 201
        ok = client.post(status_path, json=status_report(deployment_id, "Installed"), headers=device.auth)
        assert ok.status_code == 201
    assert harness.verb("device-capabilities", {"deviceId": device.device_id})["capabilities"] == (
        capabilities(device.device_id)
    )


def test_a_streamed_body_over_the_limit_is_refused_too(harness: Harness, live) -> None:  # type: ignore[no-untyped-def]
    device = harness.onboard()
    server = live(device_app(harness.wos))

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"padding": "'
        for _ in range(3):
            yield b"x" * MAX_BODY_BYTES
        yield b'"}'

    with httpx.Client(base_url=server.url, timeout=5) as client:
        response = client.post(f"/device/{device.device_id}/capabilities", content=chunks(),
                               headers={**device.auth, "Content-Type": "application/json"})
        assert_problem(response, 413)


def test_a_body_just_under_the_limit_is_read(harness: Harness) -> None:
    device = harness.onboard()
    document = capabilities(device.device_id, padding="")
    document["padding"] = "x" * (MAX_BODY_BYTES - len(json.dumps(document)) - 100)
    response = harness.api.post(f"/device/{device.device_id}/capabilities", json=document, headers=device.auth)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("where", ["onboarding", "capabilities", "status"])
def test_a_body_that_is_not_json_is_400_with_a_problem_body(harness: Harness, where: str) -> None:
    device = harness.onboard()
    deployment_id = harness.deploy(device.device_id)
    path = {"onboarding": "/onboarding/", "capabilities": f"/device/{device.device_id}/capabilities",
            "status": f"/device/{device.device_id}/deployment/{deployment_id}/status"}[where]
    response = harness.api.post(path, content=b'{"kind": "DeviceCap',
                                headers={**device.auth, "Content-Type": "application/json"})
    assert_problem(response, 400)


def test_unknown_device_and_deployment_are_404_with_a_problem_body(harness: Harness) -> None:
    device = harness.onboard()
    deployment_id = harness.deploy(device.device_id)
    unknown_device = harness.api.post(f"/device/dev-nobody/deployment/{deployment_id}/status",
                                      json=status_report(deployment_id, "Installed"), headers=device.auth)
    assert_problem(unknown_device, 404)
    other = "0b7e2a4c-2f1d-4a55-9d53-7f43c1e0a111"
    unknown_deployment = harness.api.post(f"/device/{device.device_id}/deployment/{other}/status",
                                          json=status_report(other, "Installed"), headers=device.auth)
    assert_problem(unknown_deployment, 404)
