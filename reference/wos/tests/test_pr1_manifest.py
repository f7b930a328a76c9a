"""PR1 desired state: the state manifest, its documents and its bundle (DSA-001..DSA-016), and
the deploy and remove verbs that change it (DSA-007, DSA-036, DSA-050..DSA-052)."""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import tarfile
from typing import Any

import pytest
import yaml
from margo_wos import validate_pr1
from margo_wos.manifest import accepts_manifest, matches_if_none_match

from wos_support import (
    Client,
    Harness,
    client_certificate,
    hello_application,
    pr1_onboarding_request,
    schema_errors,
    two_components,
)

MANIFEST_TYPE = "application/vnd.margo.manifest.v1+json"
BUNDLE_TYPE = "application/vnd.margo.bundle.v1+tar+gzip"
IMMUTABLE = "public, max-age=31536000, immutable"


def digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def fetch(harness: Harness, client: Client, **headers: str) -> Any:
    return harness.api.get(f"{client.base}/deployments", headers=headers)


def manifest(harness: Harness, client: Client) -> dict[str, Any]:
    response = fetch(harness, client)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


@pytest.fixture
def client(harness: Harness) -> Client:
    return harness.onboard_pr1("dev-1")


# -- the manifest itself -----------------------------------------------------------------------


def test_a_new_client_gets_version_1_with_no_bundle(harness: Harness, client: Client) -> None:
    response = fetch(harness, client, Accept=MANIFEST_TYPE)
    assert response.status_code == 200
    assert response.headers["content-type"] == MANIFEST_TYPE
    assert response.headers["etag"] == f'"{digest(response.content)}"'
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == b'{"bundle":null,"deployments":[],"manifestVersion":1}'
    assert schema_errors(response.json(), "state-manifest", profile="pr1") == []


def test_the_manifest_is_deterministic_and_revalidates_with_304(harness: Harness, client: Client) -> None:
    harness.deploy(client.device_id)
    first, second = fetch(harness, client), fetch(harness, client)
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    body = first.content
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    assert "immutable" not in first.headers["cache-control"]
    etag = first.headers["etag"]
    for presented in (etag, f"W/{etag}", f'"sha256:{"0" * 64}", {etag}', "*"):
        unchanged = fetch(harness, client, **{"If-None-Match": presented})
        assert unchanged.status_code == 304, presented
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
    other = fetch(harness, client, **{"If-None-Match": f'"sha256:{"0" * 64}"'})
    assert other.status_code == 200 and other.content == body


@pytest.mark.parametrize(
    "accept,status",
    [
        (MANIFEST_TYPE, 200),
        ("*/*", 200),
        ("application/*", 200),
        (f"text/html, {MANIFEST_TYPE};q=0.5", 200),
        ("text/html, */*;q=0.1", 200),
        ("text/html", 406),
        ("application/json", 406),
        (f"{MANIFEST_TYPE};q=0, */*", 406),
    ],
)
def test_accept(harness: Harness, client: Client, accept: str, status: int) -> None:
    response = fetch(harness, client, Accept=accept)
    assert response.status_code == status
    if status == 406:
        assert response.headers["content-type"] == "application/problem+json"
        assert schema_errors(response.json(), "problem-details", profile="pr1") == []


def test_no_accept_header_gets_the_manifest(harness: Harness, client: Client) -> None:
    response = harness.api.get(f"{client.base}/deployments", headers={"Accept": ""})
    assert response.status_code == 200 and response.headers["content-type"] == MANIFEST_TYPE
    assert accepts_manifest([]) and accepts_manifest([""])
    assert not matches_if_none_match(None, '"x"') and not matches_if_none_match("", '"x"')


def test_unknown_clients_get_404_everywhere(harness: Harness, client: Client) -> None:
    zero = f"sha256:{'0' * 64}"
    for url in (
        "/api/v1/clients/nobody/deployments",
        f"/api/v1/clients/nobody/deployments/0b0c2f8e-5b7f-4c55-9f5e-0e3c8f0b8d1a/{zero}",
        f"/api/v1/clients/nobody/bundles/{zero}",
    ):
        response = harness.api.get(url)
        assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


# -- documents and the bundle ------------------------------------------------------------------


def test_documents_and_bundle_at_their_content_addresses(harness: Harness, client: Client) -> None:
    hello = harness.deploy(client.device_id, hello_application())
    pair = harness.deploy(client.device_id, two_components())
    listed = manifest(harness, client)
    assert schema_errors(listed, "state-manifest", profile="pr1") == []
    assert [e["deploymentId"] for e in listed["deployments"]] == sorted([hello, pair])
    served: dict[str, bytes] = {}
    for entry in listed["deployments"]:
        assert entry["url"] == f"{client.base}/deployments/{entry['deploymentId']}/{entry['digest']}"
        response = harness.api.get(entry["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/yaml"
        assert response.headers["etag"] == f'"{entry["digest"]}"'
        assert response.headers["cache-control"] == IMMUTABLE
        assert digest(response.content) == entry["digest"]
        assert entry["sizeBytes"] == len(response.content)
        document = yaml.safe_load(response.content)
        assert document["id"] == entry["deploymentId"]
        assert schema_errors(document, "application-deployment", profile="pr1") == []
        assert validate_pr1.application_deployment(document) == []
        served[f"{entry['deploymentId']}.yaml"] = response.content
        revalidated = harness.api.get(entry["url"], headers={"If-None-Match": response.headers["etag"]})
        assert revalidated.status_code == 304  # DSA-016 allows it
    bundle = harness.api.get(listed["bundle"]["url"])
    assert bundle.status_code == 200
    assert bundle.headers["content-type"] == BUNDLE_TYPE
    assert bundle.headers["etag"] == f'"{listed["bundle"]["digest"]}"'
    assert bundle.headers["cache-control"] == IMMUTABLE
    assert digest(bundle.content) == listed["bundle"]["digest"]
    assert listed["bundle"]["url"] == f"{client.base}/bundles/{listed['bundle']['digest']}"
    assert members(bundle.content) == served
    # Deterministic: gzip mtime 0, every member mtime 0 and owned by 0:0; the same bytes twice.
    assert bundle.content[4:8] == b"\0\0\0\0"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(bundle.content))) as tar:
        assert all(m.mtime == 0 and m.uid == 0 and m.isfile() for m in tar.getmembers())
    assert harness.api.get(listed["bundle"]["url"]).content == bundle.content


def test_pr1_documents_map_the_v24_names(harness: Harness, client: Client) -> None:
    compose = harness.deploy(client.device_id, hello_application())
    helm_application = copy.deepcopy(hello_application())
    helm_application["deploymentProfile"] = {
        "type": "helm.v3",
        "components": [{"name": "hello", "properties": {"repository": "oci://charts.example/hello",
                                                        "revision": "1.0.0"}}],
    }
    helm_application["parameters"]["greeting"]["targets"][0]["pointer"] = "ENV.greeting"
    helm = harness.deploy(client.device_id, helm_application)
    documents = {}
    for entry in manifest(harness, client)["deployments"]:
        documents[entry["deploymentId"]] = yaml.safe_load(harness.api.get(entry["url"]).content)
    assert documents[compose]["spec"]["deploymentProfile"]["type"] == "compose"
    assert documents[compose]["spec"]["parameters"]["greeting"]["targets"][0]["pointer"] == "GREETING"
    assert documents[compose]["metadata"]["annotations"] == {"applicationId": "hello-compose"}
    assert documents[compose]["id"] == compose
    assert documents[helm]["spec"]["deploymentProfile"]["type"] == "helm"
    # A Helm pointer is a values path, not an environment variable: left as it is.
    assert documents[helm]["spec"]["parameters"]["greeting"]["targets"][0]["pointer"] == "ENV.greeting"


def test_deploy_refuses_an_application_that_makes_no_valid_pr1_document(harness: Harness, client: Client) -> None:
    application = hello_application()
    application["deploymentProfile"]["components"][0]["properties"] = {}  # compose: no packageLocation
    response = harness.control.post("/control/deploy", json={"deviceId": client.device_id,
                                                              "application": application})
    assert response.status_code == 422 and "packageLocation" in response.json()["detail"]
    assert manifest(harness, client)["manifestVersion"] == 1


def test_unknown_digests_and_old_bundles_are_404(harness: Harness, client: Client) -> None:
    deployment_id = harness.deploy(client.device_id)
    before = manifest(harness, client)
    entry = before["deployments"][0]
    zero = f"sha256:{'0' * 64}"
    for url in (
        f"{client.base}/deployments/{deployment_id}/{zero}",
        f"{client.base}/deployments/0b0c2f8e-5b7f-4c55-9f5e-0e3c8f0b8d1a/{entry['digest']}",
        f"{client.base}/bundles/{zero}",
        f"{client.base}/bundles/{entry['digest']}",
    ):
        response = harness.api.get(url)
        assert response.status_code == 404, url
        assert schema_errors(response.json(), "problem-details", profile="pr1") == []
    harness.deploy(client.device_id, two_components())
    assert harness.api.get(before["bundle"]["url"]).status_code == 404  # only the current bundle
    assert harness.api.get(entry["url"]).status_code == 200  # a still-listed document stays


def test_clients_see_only_their_own_deployments(harness: Harness, client: Client) -> None:
    other = harness.onboard_pr1("dev-2")
    harness.deploy(other.device_id)
    assert manifest(harness, client)["deployments"] == []
    entry = manifest(harness, other)["deployments"][0]
    foreign = entry["url"].replace(other.client_id, client.client_id)
    assert harness.api.get(foreign).status_code == 404


# -- versions ----------------------------------------------------------------------------------


def test_the_version_increases_by_one_on_deploy_and_remove(harness: Harness, client: Client) -> None:
    assert manifest(harness, client)["manifestVersion"] == 1
    first = harness.deploy(client.device_id)
    assert manifest(harness, client)["manifestVersion"] == 2
    second = harness.deploy(client.device_id, two_components())
    assert manifest(harness, client)["manifestVersion"] == 3
    etag = fetch(harness, client).headers["etag"]
    assert harness.verb("remove", {"deviceId": client.device_id, "deploymentId": first}) == {}
    changed = fetch(harness, client, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["manifestVersion"] == 4
    assert [e["deploymentId"] for e in changed.json()["deployments"]] == [second]
    assert harness.verb("remove", {"deviceId": client.device_id, "deploymentId": first}) == {}
    assert manifest(harness, client)["manifestVersion"] == 4  # removing again changes nothing
    harness.verb("remove", {"deviceId": client.device_id, "deploymentId": second})
    empty = manifest(harness, client)
    assert empty == {"manifestVersion": 5, "bundle": None, "deployments": []}
    assert schema_errors(empty, "state-manifest", profile="pr1") == []


def test_versions_and_bytes_survive_a_restart(make_harness) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness()
    client = harness.onboard_pr1()
    harness.deploy(client.device_id)
    harness.deploy(client.device_id, two_components())
    before = fetch(harness, client)
    assert before.json()["manifestVersion"] == 3
    restarted: Harness = make_harness()
    after = fetch(restarted, client)
    assert after.content == before.content and after.headers["etag"] == before.headers["etag"]
    assert fetch(restarted, client, **{"If-None-Match": before.headers["etag"]}).status_code == 304
    for entry in after.json()["deployments"]:
        assert digest(restarted.api.get(entry["url"]).content) == entry["digest"]
    assert restarted.api.get(after.json()["bundle"]["url"]).content == (
        harness.api.get(before.json()["bundle"]["url"]).content
    )
    restarted.deploy(client.device_id)
    assert manifest(restarted, client)["manifestVersion"] == 4


def test_deployments_made_before_onboarding_are_in_version_1(harness: Harness) -> None:
    harness.verb("register-device", {"deviceId": "dev-early", "profile": "PR1"})
    deployment_id = harness.deploy("dev-early")
    response = harness.api.post("/api/v1/onboarding", json=pr1_onboarding_request(client_certificate("e")))
    client = Client("dev-early", response.json()["clientId"], b"")
    first = manifest(harness, client)
    assert first["manifestVersion"] == 1
    assert [e["deploymentId"] for e in first["deployments"]] == [deployment_id]


def test_v24_devices_still_get_git_and_no_manifest(harness: Harness) -> None:
    device = harness.onboard("dev-v24")
    harness.deploy(device.device_id)
    work = harness.wos.config.data_dir / "work" / device.device_id / "deployments"
    assert len(list(work.glob("*.yaml"))) == 1
    record = harness.wos.store.device(device.device_id)
    assert record is not None and all(d.document is None for d in record.deployments.values())
