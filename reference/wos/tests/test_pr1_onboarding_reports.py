"""PR1: root CA, onboarding by certificate, capabilities and status reports (CRT-010,
ONB-011..013, CAP-010..013, STS-010..016), and the agreement of the PR1 checks with the
suite's schemas/pr1 on the whole payload corpus."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from margo_wos import validate_pr1

from wos_support import (
    Harness,
    client_certificate,
    corpus,
    pr1_onboarding_request,
    schema_errors,
)

ONBOARDING = "/api/v1/onboarding"


def pr1_corpus(kind: str, verdict: str, pattern: str = "*.json") -> list[Path]:
    return corpus(kind, verdict, pattern, profile="pr1")


def pr1_status(deployment_id: str, state: str, components: tuple[str, ...] = ("hello",)) -> dict[str, Any]:
    return {
        "apiVersion": "deployment.margo.org/v1alpha1",
        "kind": "DeploymentStatusManifest",
        "deploymentId": deployment_id,
        "status": {"state": state},
        "components": [{"name": name, "state": state} for name in components],
    }


def assert_problem(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert schema_errors(response.json(), "problem-details", profile="pr1") == []
    assert response.json()["status"] == status


# -- root certificate and onboarding -----------------------------------------------------------


def test_root_certificate_is_the_v24_one(harness: Harness) -> None:
    response = harness.api.get("/api/v1/onboarding/certificate")
    assert response.status_code == 200
    assert schema_errors(response.json(), "root-certificate-response", profile="pr1") == []
    assert response.json() == harness.api.get("/onboarding/certificate").json()
    assert base64.b64decode(response.json()["certificate"]).startswith(b"-----BEGIN CERTIFICATE")


def test_onboarding_is_first_come_first_served_among_waiting_devices(harness: Harness) -> None:
    for device_id in ("dev-a", "dev-b", "dev-c"):
        assert harness.verb("register-device", {"deviceId": device_id, "profile": "PR1"}) == {
            "profile": "PR1"
        }
    # A V24 device waiting for its own onboarding is never taken by a PR1 one.
    harness.verb("register-device", {"deviceId": "dev-v24"})
    client_ids = []
    for form in ("DER", "PEM", "DER"):
        response = harness.api.post(
            ONBOARDING, json=pr1_onboarding_request(client_certificate("c", form))
        )
        assert response.status_code == 201, response.text
        assert schema_errors(response.json(), "onboarding-response", profile="pr1") == []
        client_ids.append(response.json()["clientId"])
    held = {d: harness.wos.store.device(d) for d in ("dev-a", "dev-b", "dev-c")}
    assert [held[d].client_id for d in ("dev-a", "dev-b", "dev-c")] == client_ids  # type: ignore[union-attr]
    assert len(set(client_ids)) == 3
    refused = harness.api.post(ONBOARDING, json=pr1_onboarding_request(client_certificate("d")))
    assert_problem(refused, 403)
    assert not harness.wos.store.device("dev-v24").onboarded  # type: ignore[union-attr]


def test_the_same_certificate_onboarding_again_gets_the_same_client_id(harness: Harness) -> None:
    client = harness.onboard_pr1("dev-1")
    harness.verb("register-device", {"deviceId": "dev-2", "profile": "PR1"})
    # The same certificate, sent as Base64 of PEM this time: the same client, not a new one.
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(client.certificate) + (
        b"-----END CERTIFICATE-----\n"
    )
    again = harness.api.post(ONBOARDING, json=pr1_onboarding_request(pem))
    assert again.status_code == 201 and again.json() == {"clientId": client.client_id}
    assert not harness.wos.store.device("dev-2").onboarded  # type: ignore[union-attr]


@pytest.mark.parametrize("path", pr1_corpus("onboarding-request", "invalid"), ids=lambda p: p.stem)
def test_onboarding_requests_breaking_the_schema_are_bad_requests(harness: Harness, path: Path) -> None:
    harness.verb("register-device", {"deviceId": "dev-1", "profile": "PR1"})
    response = harness.api.post(ONBOARDING, json=json.loads(path.read_text()))
    assert_problem(response, 400)
    assert not harness.wos.store.device("dev-1").onboarded  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "certificate",
    [
        base64.b64encode(b"\x30\x82\x01\x00 not a certificate").decode(),
        base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").decode(),
        "AAAA",
    ],
    ids=["garbage-der", "garbage-pem", "three-zero-bytes"],
)
def test_a_certificate_that_does_not_parse_is_a_bad_request(harness: Harness, certificate: str) -> None:
    harness.verb("register-device", {"deviceId": "dev-1", "profile": "PR1"})
    body = {"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest",
            "certificate": certificate}
    response = harness.api.post(ONBOARDING, json=body)
    assert_problem(response, 400)
    assert "certificate" in response.json()["detail"]
    assert not harness.wos.store.device("dev-1").onboarded  # type: ignore[union-attr]
    # The WOS keeps serving: the next valid request onboards the device.
    assert harness.api.post(ONBOARDING, json=pr1_onboarding_request(client_certificate("ok"))).status_code == 201


def test_onboarding_bodies_that_are_not_json_or_too_large(harness: Harness) -> None:
    harness.verb("register-device", {"deviceId": "dev-1", "profile": "PR1"})
    assert_problem(harness.api.post(ONBOARDING, content=b'{"apiVersion": "x", "ki'), 400)
    padded = {**pr1_onboarding_request(client_certificate("x")), "padding": "x" * (2 * 1024 * 1024)}
    assert_problem(harness.api.post(ONBOARDING, json=padded), 413)
    assert not harness.wos.store.device("dev-1").onboarded  # type: ignore[union-attr]


def test_register_device_with_profile(harness: Harness) -> None:
    assert harness.verb("register-device", {"deviceId": "dev-1", "profile": "PR1"}) == {"profile": "PR1"}
    # Repeating it before onboarding keeps the device's place; it has no repository.
    assert harness.verb("register-device", {"deviceId": "dev-1", "profile": "PR1"}) == {"profile": "PR1"}
    assert not harness.wos.repos.bare("dev-1").exists()
    conflict = harness.control.post("/control/register-device", json={"deviceId": "dev-1"})
    assert conflict.status_code == 409 and "PR1" in conflict.json()["detail"]
    unknown = harness.control.post("/control/register-device", json={"deviceId": "d", "profile": "PR2"})
    assert unknown.status_code == 400
    harness.api.post(ONBOARDING, json=pr1_onboarding_request(client_certificate("x")))
    again = harness.control.post("/control/register-device", json={"deviceId": "dev-1", "profile": "PR1"})
    assert again.status_code == 409
    # V24 registration without a profile is unchanged, and an explicit V24 is the same.
    key = harness.verb("register-device", {"deviceId": "dev-2"})["onboardingKey"]
    assert harness.verb("register-device", {"deviceId": "dev-2", "profile": "V24"}) == {"onboardingKey": key}


def test_v24_onboarding_and_tokens_do_not_reach_pr1_devices(harness: Harness) -> None:
    client = harness.onboard_pr1("dev-1")
    v24 = {"apiVersion": "onboarding.margo/v1", "kind": "OnboardingRequest", "deviceId": "dev-1",
           "onboardingKey": "k"}
    assert harness.api.post("/onboarding/", json=v24).status_code == 403
    device = harness.wos.store.device("dev-1")
    form = {"grant_type": "client_credentials", "client_id": client.client_id,
            "client_secret": device.client_secret}  # type: ignore[union-attr]
    assert harness.api.post("/oauth/token", data=form).status_code == 401
    # ...and a V24 client id is not a PR1 client.
    v24_client = harness.onboard("dev-v24").onboarding["clientId"]
    assert_problem(harness.api.get(f"/api/v1/clients/{v24_client}/deployments"), 404)


# -- capabilities ------------------------------------------------------------------------------


def held(harness: Harness, device_id: str) -> Any:
    return harness.verb("device-capabilities", {"deviceId": device_id})["capabilities"]


@pytest.mark.parametrize("path", pr1_corpus("device-capabilities", "valid"), ids=lambda p: p.stem)
def test_valid_capabilities_are_accepted_on_both_routes(harness: Harness, path: Path) -> None:
    client = harness.onboard_pr1()
    document = json.loads(path.read_text())
    reported_id = document["properties"]["id"]  # may be gateway/child: the route takes slashes
    for method in ("PUT", "POST"):
        for url in (f"{client.base}/capabilities/{reported_id}", f"{client.base}/capabilities"):
            response = harness.api.request(method, url, json=document)
            assert response.status_code == 201, response.text
    assert held(harness, client.device_id) == document


@pytest.mark.parametrize("path", pr1_corpus("device-capabilities", "invalid"), ids=lambda p: p.stem)
def test_invalid_capabilities_are_refused_and_change_nothing(harness: Harness, path: Path) -> None:
    client = harness.onboard_pr1()
    accepted = json.loads(pr1_corpus("device-capabilities", "valid")[0].read_text())
    harness.api.put(f"{client.base}/capabilities", json=accepted)
    response = harness.api.put(f"{client.base}/capabilities", json=json.loads(path.read_text()))
    assert_problem(response, 422)
    assert response.json()["errors"]
    assert held(harness, client.device_id) == accepted


def test_capabilities_refusals(harness: Harness) -> None:
    client = harness.onboard_pr1()
    document = json.loads(pr1_corpus("device-capabilities", "valid")[0].read_text())
    assert_problem(harness.api.put("/api/v1/clients/client-nobody/capabilities", json=document), 404)
    assert_problem(harness.api.put(f"{client.base}/capabilities", content=b"{not json"), 400)
    other = harness.api.put(f"{client.base}/capabilities/someone-else", json=document)
    assert_problem(other, 422)
    assert other.json()["errors"][0]["field"] == "properties.id"
    big = {**document, "x-pad-extensions": {"pad": "x" * (2 * 1024 * 1024)}}
    assert_problem(harness.api.put(f"{client.base}/capabilities", json=big), 413)
    assert held(harness, client.device_id) is None


# -- deployment status -------------------------------------------------------------------------


def test_status_reports_are_accepted_and_shown_as_reported(harness: Harness) -> None:
    client = harness.onboard_pr1()
    deployment_id = harness.deploy(client.device_id)
    request = {"deviceId": client.device_id, "deploymentId": deployment_id}
    assert harness.verb("deployment-status", request) == {"state": None, "components": []}
    url = f"{client.base}/deployments/{deployment_id}/status"
    for state in ("pending", "installing", "installed"):
        response = harness.api.post(url, json=pr1_status(deployment_id, state))
        assert response.status_code == 200, response.text  # the first report and later ones
    assert harness.verb("deployment-status", request) == {
        "state": "installed", "components": [{"name": "hello", "state": "installed"}]
    }
    failed = pr1_status(deployment_id, "failed")
    failed["status"]["error"] = {"code": "E1", "message": "no", "source": "hello-compose-deployment"}
    assert harness.api.post(url, json=failed).status_code == 200
    shown = harness.verb("deployment-status", request)
    assert shown["state"] == "failed" and shown["error"]["source"] == "hello-compose-deployment"


def test_a_removed_deployment_still_takes_removing_and_removed(harness: Harness) -> None:
    client = harness.onboard_pr1()
    deployment_id = harness.deploy(client.device_id)
    harness.verb("remove", {"deviceId": client.device_id, "deploymentId": deployment_id})
    url = f"{client.base}/deployments/{deployment_id}/status"
    for state in ("removing", "removed"):
        assert harness.api.post(url, json=pr1_status(deployment_id, state)).status_code == 200
    shown = harness.verb("deployment-status", {"deviceId": client.device_id, "deploymentId": deployment_id})
    assert shown["state"] == "removed"


@pytest.mark.parametrize("path", pr1_corpus("deployment-status", "valid"), ids=lambda p: p.stem)
def test_valid_status_corpus_is_accepted(harness: Harness, path: Path) -> None:
    client = harness.onboard_pr1()
    deployment_id = harness.deploy(client.device_id)
    document = {**json.loads(path.read_text()), "deploymentId": deployment_id}
    response = harness.api.post(f"{client.base}/deployments/{deployment_id}/status", json=document)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", pr1_corpus("deployment-status", "invalid"), ids=lambda p: p.stem)
def test_invalid_status_reports_are_refused_and_change_nothing(harness: Harness, path: Path) -> None:
    client = harness.onboard_pr1()
    deployment_id = harness.deploy(client.device_id)
    url = f"{client.base}/deployments/{deployment_id}/status"
    harness.api.post(url, json=pr1_status(deployment_id, "installing"))
    document = json.loads(path.read_text())
    if path.stem != "deploymentId-not-uuid":
        document["deploymentId"] = deployment_id  # break only what the file is about
    response = harness.api.post(url, json=document)
    assert_problem(response, 422)
    shown = harness.verb("deployment-status", {"deviceId": client.device_id, "deploymentId": deployment_id})
    assert shown["state"] == "installing"


def test_status_refusals(harness: Harness) -> None:
    client, other = harness.onboard_pr1("dev-1"), harness.onboard_pr1("dev-2")
    mine, theirs = harness.deploy(client.device_id), harness.deploy(other.device_id)
    stranger = "0b0c2f8e-5b7f-4c55-9f5e-0e3c8f0b8d1a"
    for deployment_id in (stranger, theirs):
        response = harness.api.post(
            f"{client.base}/deployments/{deployment_id}/status", json=pr1_status(deployment_id, "installed")
        )
        assert_problem(response, 404)
    assert_problem(
        harness.api.post(f"/api/v1/clients/nobody/deployments/{mine}/status", json=pr1_status(mine, "installed")),
        404,
    )
    url = f"{client.base}/deployments/{mine}/status"
    assert_problem(harness.api.post(url, content=b"[1, NaN]"), 400)
    wrong_route = harness.api.post(url, json=pr1_status(theirs, "installed"))
    assert_problem(wrong_route, 422)
    assert wrong_route.json()["errors"][0]["field"] == "deploymentId"
    v24_spelling = harness.api.post(url, json=pr1_status(mine, "Installed"))
    assert_problem(v24_spelling, 422)


# -- the PR1 checks agree with the suite's schemas on the whole corpus -------------------------


def _agreement_cases() -> list[tuple[str, Path]]:
    kinds = {
        "device-capabilities": "*.json",
        "deployment-status": "*.json",
        "application-deployment": "*.yaml",
        "onboarding-request": "*.json",
    }
    return [
        (kind, path)
        for kind, pattern in kinds.items()
        for verdict in ("valid", "invalid")
        for path in pr1_corpus(kind, verdict, pattern)
    ]


@pytest.mark.parametrize("kind,path", _agreement_cases(), ids=lambda c: c.stem if isinstance(c, Path) else c)
def test_pr1_checks_agree_with_the_suite_schemas(kind: str, path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    ours = {
        "device-capabilities": validate_pr1.device_capabilities,
        "deployment-status": lambda d: validate_pr1.deployment_status(d, str(d.get("deploymentId"))),
        "application-deployment": validate_pr1.application_deployment,
        "onboarding-request": validate_pr1.onboarding_request,
    }[kind](document)
    theirs = schema_errors(document, kind, profile="pr1")
    assert bool(ours) == bool(theirs), f"ours: {ours}; schema: {theirs}"
    assert bool(ours) == (path.parent.name == "invalid")


def test_the_corpus_covers_every_pr1_kind_checked() -> None:
    cases = _agreement_cases()
    if not cases:
        pytest.skip("the payload corpus is not here (tests run outside the repository)")
    kinds = {kind for kind, _ in cases}
    assert kinds == {"device-capabilities", "deployment-status", "application-deployment", "onboarding-request"}


def test_pr1_checks_go_beyond_the_corpus_where_the_schema_does() -> None:
    """Cases the corpus does not hold, each checked against the schema as well."""
    base_capabilities = {"apiVersion": "v", "kind": "DeviceCapabilitiesManifest",
                         "properties": {"id": "d", "vendor": "v", "modelNumber": "m", "serialNumber": "s"}}
    hosting = {"cpu": [{"cores": 1}], "memory": "1Gi", "storage": "1Gi", "otelCollector": True,
               "supportedRuntimes": ["oci"], "supportedDeploymentTypes": ["helm"]}
    capabilities_cases = [
        base_capabilities,
        {**base_capabilities, "properties": {**base_capabilities["properties"], **hosting}},
        {**base_capabilities, "properties": {**base_capabilities["properties"], "memory": "1Gi"}},
        {**base_capabilities, "properties": {**base_capabilities["properties"], **hosting,
                                             "cpu": [{"cores": True}]}},
        {**base_capabilities, "properties": {**base_capabilities["properties"], **hosting,
                                             "otelCollector": 1}},
        {**base_capabilities, "extra": 1},
        {**base_capabilities, "x-a-extensions": "not an object"},
    ]
    for document in capabilities_cases:
        ours = validate_pr1.device_capabilities(document)
        assert bool(ours) == bool(schema_errors(document, "device-capabilities", profile="pr1")), document
    deployment = yaml.safe_load(pr1_corpus("application-deployment", "valid", "*.yaml")[0].read_text())
    variants: list[Any] = [
        {**deployment, "spec": {**deployment["spec"], "deploymentProfile": {
            **deployment["spec"]["deploymentProfile"], "type": ["compose"]}}},
        {**deployment, "spec": {**deployment["spec"], "parameters": {"p": {"value": None, "targets": []}}}},
        {**deployment, "spec": {**deployment["spec"], "deploymentProfile": {
            "type": "helm", "components": [{"name": "c", "properties": {"wait": 1, "repository": "r"}}]}}},
    ]
    for document in variants:
        ours = validate_pr1.application_deployment(document)
        assert bool(ours) == bool(schema_errors(document, "application-deployment", profile="pr1")), document

