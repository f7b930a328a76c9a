"""Capabilities and deployment status reports (CAP-002/003, STS-002..006, TOK-005), and the
agreement of the Python checks with the suite's JSON Schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from margo_wos import validate

from wos_support import Harness, corpus, schema_errors, status_report

CAPABILITIES = "/device/{}/capabilities"


def fixture_json(path: Path, device_id: str = "dev-1") -> Any:
    """A corpus document; capabilities are made to name `device_id`, as a device's own would."""
    document = json.loads(path.read_text())
    if isinstance(document.get("properties"), dict):
        document["properties"]["id"] = device_id
    return document


@pytest.fixture
def device(harness: Harness):  # type: ignore[no-untyped-def]
    return harness.onboard("dev-1")


def held(harness: Harness, device_id: str) -> Any:
    return harness.verb("device-capabilities", {"deviceId": device_id})["capabilities"]


@pytest.mark.parametrize("path", corpus("device-capabilities", "valid"), ids=lambda p: p.stem)
def test_valid_capabilities_are_accepted_by_post_and_put(
    harness: Harness, device, path: Path
) -> None:  # type: ignore[no-untyped-def]
    for method in ("POST", "PUT"):
        response = harness.api.request(
            method,
            CAPABILITIES.format(device.device_id),
            json=fixture_json(path),
            headers=device.auth,
        )
        assert response.status_code == 201, response.text
    assert held(harness, device.device_id) == fixture_json(path)


@pytest.mark.parametrize("path", corpus("device-capabilities", "invalid"), ids=lambda p: p.stem)
def test_invalid_capabilities_are_refused_and_change_nothing(
    harness: Harness, device, path: Path
) -> None:  # type: ignore[no-untyped-def]
    accepted = fixture_json(corpus("device-capabilities", "valid")[0])
    harness.api.post(CAPABILITIES.format(device.device_id), json=accepted, headers=device.auth)
    response = harness.api.put(
        CAPABILITIES.format(device.device_id), json=fixture_json(path), headers=device.auth
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert schema_errors(response.json(), "problem-details") == []
    assert held(harness, device.device_id) == accepted


def test_capabilities_refusals_by_token_device_and_body(harness: Harness, device) -> None:  # type: ignore[no-untyped-def]
    other = harness.onboard("dev-other")
    document = fixture_json(corpus("device-capabilities", "valid")[0])
    url = CAPABILITIES.format(device.device_id)
    no_token = harness.api.post(url, json=document)
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"].startswith("Bearer")
    assert (
        harness.api.post(url, json=document, headers={"Authorization": "Bearer forged"}).status_code
        == 401
    )
    assert harness.api.post(url, json=document, headers=other.auth).status_code == 403
    assert (
        harness.api.post(
            CAPABILITIES.format("dev-nobody"), json=document, headers=device.auth
        ).status_code
        == 404
    )
    assert harness.api.post(url, content=b"not json", headers=device.auth).status_code == 400
    assert harness.api.post(url, content=b"[1, NaN]", headers=device.auth).status_code == 400
    someone_else = {**document, "properties": {**document["properties"], "id": "dev-other"}}
    refused = harness.api.post(url, json=someone_else, headers=device.auth)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "properties.id"
    assert held(harness, device.device_id) is None


def test_status_reports_are_accepted_and_shown_to_the_operator(harness: Harness) -> None:
    device = harness.onboard()
    deployment_id = harness.deploy(device.device_id)
    shown = harness.verb(
        "deployment-status", {"deviceId": device.device_id, "deploymentId": deployment_id}
    )
    assert shown == {"state": None, "components": []}
    url = f"/device/{device.device_id}/deployment/{deployment_id}/status"
    for state in ("Pending", "installing", "Installed"):
        assert (
            harness.api.post(
                url, json=status_report(deployment_id, state), headers=device.auth
            ).status_code
            == 201
        )
    shown = harness.verb(
        "deployment-status", {"deviceId": device.device_id, "deploymentId": deployment_id}
    )
    assert shown == {"state": "Installed", "components": [{"name": "hello", "state": "Installed"}]}


def test_status_for_a_deployment_never_assigned_is_not_found(harness: Harness) -> None:
    device = harness.onboard()
    stranger = "0b0c2f8e-5b7f-4c55-9f5e-0e3c8f0b8d1a"
    response = harness.api.post(
        f"/device/{device.device_id}/deployment/{stranger}/status",
        json=status_report(stranger, "Installed"),
        headers=device.auth,
    )
    assert response.status_code == 404
    assert schema_errors(response.json(), "problem-details") == []


def test_status_of_another_devices_deployment_is_not_found(harness: Harness) -> None:
    device, other = harness.onboard("dev-1"), harness.onboard("dev-2")
    foreign = harness.deploy(other.device_id)
    response = harness.api.post(
        f"/device/{device.device_id}/deployment/{foreign}/status",
        json=status_report(foreign, "Installed"),
        headers=device.auth,
    )
    assert response.status_code == 404


@pytest.mark.parametrize("path", corpus("deployment-status", "invalid"), ids=lambda p: p.stem)
def test_invalid_status_reports_are_refused_and_change_nothing(
    harness: Harness, path: Path
) -> None:
    device = harness.onboard()
    deployment_id = harness.deploy(device.device_id)
    url = f"/device/{device.device_id}/deployment/{deployment_id}/status"
    harness.api.post(url, json=status_report(deployment_id, "Installing"), headers=device.auth)
    document = fixture_json(path)
    if path.stem != "deploymentId-not-uuid":
        document["deploymentId"] = deployment_id  # break only what the file is about
    response = harness.api.post(url, json=document, headers=device.auth)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]
    shown = harness.verb(
        "deployment-status", {"deviceId": device.device_id, "deploymentId": deployment_id}
    )
    assert shown["state"] == "Installing"


def test_status_must_name_the_deployment_of_its_route(harness: Harness) -> None:
    device = harness.onboard()
    first, second = harness.deploy(device.device_id), harness.deploy(device.device_id)
    response = harness.api.post(
        f"/device/{device.device_id}/deployment/{first}/status",
        json=status_report(second, "Installed"),
        headers=device.auth,
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "deploymentId"


# -- the Python checks agree with the suite's schemas on the whole corpus ----------------------


def _agreement_cases() -> list[tuple[str, Path]]:
    cases = [
        ("device-capabilities", p)
        for v in ("valid", "invalid")
        for p in corpus("device-capabilities", v)
    ]
    cases += [
        ("deployment-status", p)
        for v in ("valid", "invalid")
        for p in corpus("deployment-status", v)
    ]
    cases += [
        ("application-deployment", p)
        for v in ("valid", "invalid")
        for p in corpus("application-deployment", v, "*.yaml")
    ]
    cases += [
        ("onboarding-request", p)
        for v in ("valid", "invalid")
        for p in corpus("onboarding-request", v)
    ]
    return cases


@pytest.mark.parametrize(
    "kind,path", _agreement_cases(), ids=lambda c: c.stem if isinstance(c, Path) else c
)
def test_checks_agree_with_the_suite_schemas(kind: str, path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    ours = {
        "device-capabilities": lambda d: validate.device_capabilities(
            d, d["properties"].get("id", "")
        ),
        "deployment-status": lambda d: validate.deployment_status(d, str(d.get("deploymentId"))),
        "application-deployment": validate.application_deployment,
        "onboarding-request": validate.onboarding_request,
    }[kind](document)
    theirs = schema_errors(document, kind)
    assert bool(ours) == bool(theirs), f"ours: {ours}; schema: {theirs}"
    assert bool(ours) == (path.parent.name == "invalid")
