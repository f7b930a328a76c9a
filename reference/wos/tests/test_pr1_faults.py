"""Each PR1 fault switch changes exactly the behaviour it names, and only on PR1 routes."""

from __future__ import annotations

import hashlib
import io
import tarfile
from typing import Any

import pytest
import yaml

from wos_support import Client, Harness, two_components

MANIFEST_TYPE = "application/vnd.margo.manifest.v1+json"
BUNDLE_TYPE = "application/vnd.margo.bundle.v1+tar+gzip"


def digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def onboarded(make_harness: Any, faults: str) -> tuple[Harness, Client]:
    harness: Harness = make_harness(faults)
    return harness, harness.onboard_pr1("dev-1")


@pytest.mark.parametrize("faults", ["", "etag-stale"])
def test_etag_stale(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    first = harness.api.get(f"{client.base}/deployments")
    harness.deploy(client.device_id)
    revalidated = harness.api.get(f"{client.base}/deployments",
                                  headers={"If-None-Match": first.headers["etag"]})
    if faults:
        assert revalidated.status_code == 304  # the change never reaches a revalidating client
        fresh = harness.api.get(f"{client.base}/deployments")
        assert fresh.json()["manifestVersion"] == 2
        assert fresh.headers["etag"] == first.headers["etag"] != f'"{digest(fresh.content)}"'
    else:
        assert revalidated.status_code == 200
        assert revalidated.headers["etag"] == f'"{digest(revalidated.content)}"'
        assert revalidated.json()["manifestVersion"] == 2


@pytest.mark.parametrize("faults", ["", "manifest-version-stuck"])
def test_manifest_version_stuck(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    versions = [harness.api.get(f"{client.base}/deployments").json()["manifestVersion"]]
    deployment_id = harness.deploy(client.device_id)
    after_deploy = harness.api.get(f"{client.base}/deployments")
    versions.append(after_deploy.json()["manifestVersion"])
    harness.verb("remove", {"deviceId": client.device_id, "deploymentId": deployment_id})
    versions.append(harness.api.get(f"{client.base}/deployments").json()["manifestVersion"])
    assert versions == ([1, 1, 1] if faults else [1, 2, 3])
    # Only the version: the content still changes, with a correct ETag.
    assert len(after_deploy.json()["deployments"]) == 1
    assert after_deploy.headers["etag"] == f'"{digest(after_deploy.content)}"'


@pytest.mark.parametrize("faults", ["", "digest-mismatch"])
def test_digest_mismatch(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    harness.deploy(client.device_id)
    listed = harness.api.get(f"{client.base}/deployments").json()
    entry = listed["deployments"][0]
    served = harness.api.get(entry["url"])
    assert served.status_code == 200
    assert served.headers["etag"] == f'"{entry["digest"]}"'
    assert (digest(served.content) == entry["digest"]) is not bool(faults)
    # The bundle still holds exactly the bytes served at the listed URL (DSA-014 holds).
    bundle = harness.api.get(listed["bundle"]["url"])
    assert digest(bundle.content) == listed["bundle"]["digest"]
    with tarfile.open(fileobj=io.BytesIO(bundle.content), mode="r:gz") as tar:
        assert [tar.extractfile(m).read() for m in tar.getmembers()] == [served.content]  # type: ignore[union-attr]


@pytest.mark.parametrize("faults", ["", "bundle-extra-member"])
def test_bundle_extra_member(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    harness.deploy(client.device_id)
    harness.deploy(client.device_id, two_components())
    listed = harness.api.get(f"{client.base}/deployments").json()
    bundle = harness.api.get(listed["bundle"]["url"])
    assert bundle.status_code == 200 and digest(bundle.content) == listed["bundle"]["digest"]
    with tarfile.open(fileobj=io.BytesIO(bundle.content), mode="r:gz") as tar:
        names = sorted(m.name for m in tar.getmembers())
    expected = sorted(f"{e['deploymentId']}.yaml" for e in listed["deployments"])
    if faults:
        assert len(names) == 3 and set(expected) < set(names)
    else:
        assert names == expected
    for entry in listed["deployments"]:  # the individual documents are untouched
        assert digest(harness.api.get(entry["url"]).content) == entry["digest"]


@pytest.mark.parametrize("faults", ["", "ignore-accept"])
def test_ignore_accept(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    response = harness.api.get(f"{client.base}/deployments", headers={"Accept": "text/html"})
    assert response.status_code == (200 if faults else 406)
    if faults:
        assert response.headers["content-type"] == "application/vnd.margo.manifest.v1+json"


def members(bundle: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def spoiled_headers(faults: str, etag: str) -> dict[str, str]:
    """The one manifest header each header switch spoils, as it spoils it."""
    return {
        "": {},
        "manifest-plain-json": {"content-type": "application/json"},
        "weak-etag": {"etag": f"W/{etag}"},
        "manifest-cache-immutable": {"cache-control": "public, max-age=31536000, immutable"},
    }[faults]


@pytest.mark.parametrize(
    "faults", ["", "manifest-plain-json", "weak-etag", "manifest-cache-immutable"]
)
def test_manifest_header_faults(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    response = harness.api.get(f"{client.base}/deployments")
    etag = f'"{digest(response.content)}"'
    expected = {"content-type": MANIFEST_TYPE, "etag": etag, "cache-control": "no-cache"}
    assert {name: response.headers[name] for name in expected} == {
        **expected,
        **spoiled_headers(faults, etag),
    }
    assert response.json() == {"manifestVersion": 1, "bundle": None, "deployments": []}
    revalidated = harness.api.get(
        f"{client.base}/deployments", headers={"If-None-Match": response.headers["etag"]}
    )
    assert revalidated.status_code == 304  # revalidating still works, even with a weak tag


@pytest.mark.parametrize("faults", ["", "bundle-omitted-when-empty"])
def test_bundle_omitted_when_empty(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    empty = harness.api.get(f"{client.base}/deployments").json()
    assert empty == {"manifestVersion": 1, "deployments": [], **({} if faults else {"bundle": None})}
    harness.deploy(client.device_id)
    listed = harness.api.get(f"{client.base}/deployments").json()
    assert harness.api.get(listed["bundle"]["url"]).status_code == 200  # with deployments, as ever


@pytest.mark.parametrize("faults", ["", "bundle-wrong-media-type"])
def test_bundle_wrong_media_type(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    harness.deploy(client.device_id)
    bundle_ref = harness.api.get(f"{client.base}/deployments").json()["bundle"]
    assert bundle_ref["mediaType"] == ("application/gzip" if faults else BUNDLE_TYPE)
    served = harness.api.get(bundle_ref["url"])  # the bundle itself is served as before
    assert served.headers["content-type"] == BUNDLE_TYPE
    assert digest(served.content) == bundle_ref["digest"]


@pytest.mark.parametrize("faults", ["", "deployment-id-mismatch"])
def test_deployment_id_mismatch(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    deployment_id = harness.deploy(client.device_id)
    listed = harness.api.get(f"{client.base}/deployments").json()
    (entry,) = listed["deployments"]
    served = harness.api.get(entry["url"])
    assert served.status_code == 200 and digest(served.content) == entry["digest"]
    assert yaml.safe_load(served.content)["id"] == deployment_id
    assert (entry["deploymentId"] == deployment_id) is not bool(faults)
    # Listed, served and bundled consistently under that id: only the YAML's id disagrees.
    bundle = harness.api.get(listed["bundle"]["url"]).content
    assert members(bundle) == {f"{entry['deploymentId']}.yaml": served.content}


@pytest.mark.parametrize("faults", ["", "digest-uppercase"])
def test_digest_uppercase(make_harness, faults: str) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(make_harness, faults)
    harness.deploy(client.device_id)
    response = harness.api.get(f"{client.base}/deployments")
    assert response.headers["etag"] == f'"{digest(response.content)}"'  # the manifest's own
    listed = response.json()
    (entry,) = listed["deployments"]
    for ref in (entry, listed["bundle"]):
        hex_digits = ref["digest"].removeprefix("sha256:")
        assert hex_digits == (hex_digits.upper() if faults else hex_digits.lower())
        assert ref["url"].endswith(f"/{ref['digest']}")
        served = harness.api.get(ref["url"])  # served at the URL as listed, ETag alike
        assert served.status_code == 200 and served.headers["etag"] == f'"{ref["digest"]}"'
        assert digest(served.content) == ref["digest"].lower()


def test_v24_faults_leave_pr1_routes_alone(make_harness) -> None:  # type: ignore[no-untyped-def]
    harness, client = onboarded(
        make_harness, "no-problem-body,crash-on-malformed-json,oversized-500,status-500"
    )
    refused = harness.api.put(f"{client.base}/capabilities", json={"kind": "x"})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert harness.api.put(f"{client.base}/capabilities", content=b"{").status_code == 400
    big = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert harness.api.put(f"{client.base}/capabilities", content=big).status_code == 413
    deployment_id = harness.deploy(client.device_id)
    report = {"apiVersion": "v", "kind": "DeploymentStatusManifest", "deploymentId": deployment_id,
              "status": {"state": "installed"}, "components": [{"name": "hello", "state": "installed"}]}
    url = f"{client.base}/deployments/{deployment_id}/status"
    assert harness.api.post(url, json=report).status_code == 200
