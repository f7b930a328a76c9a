"""The device-side PR1 manifest checks name the requirement and the value they saw."""

from __future__ import annotations

from typing import Any

import yaml

from margo_conformance.emulated_device.client import Answer
from margo_conformance.emulated_device.pr1 import application_deployment_problems, document_problems, manifest_problems
from margo_conformance.emulated_wos.manifest import (
    BUNDLE_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    canonical_json,
    digest_of,
    etag_of,
)

CLIENT = "client-1"
DEPLOYMENT_ID = "0b7e2a4c-2f1d-4a55-9d53-7f43c1e0a111"
YAML = f"apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\nid: {DEPLOYMENT_ID}\n".encode()


def _answer(document: dict[str, Any], **headers: str) -> Answer:
    body = canonical_json(document)
    sent = {"content-type": MANIFEST_MEDIA_TYPE, "etag": etag_of(body), "cache-control": "no-cache", **headers}
    return Answer("GET", f"/api/v1/clients/{CLIENT}/deployments", 200, sent, body, 0.0)


def _listing(deployment_id: str = DEPLOYMENT_ID) -> dict[str, Any]:
    digest, bundle = digest_of(YAML), "sha256:" + "b" * 64
    bundle_url = f"/api/v1/clients/{CLIENT}/bundles/{bundle}"
    return {
        "manifestVersion": 2,
        "bundle": {"mediaType": BUNDLE_MEDIA_TYPE, "digest": bundle, "url": bundle_url},
        "deployments": [{"deploymentId": deployment_id, "digest": digest,
                         "url": f"/api/v1/clients/{CLIENT}/deployments/{deployment_id}/{digest}"}],
    }


def test_a_correct_manifest_has_no_problems() -> None:
    assert manifest_problems(_answer({"manifestVersion": 1, "bundle": None, "deployments": []})) == []
    assert manifest_problems(_answer(_listing())) == []


def test_header_problems_name_the_requirement_and_the_header() -> None:
    empty: dict[str, Any] = {"manifestVersion": 1, "bundle": None, "deployments": []}
    weak = "W/" + etag_of(canonical_json(empty))
    cases = {
        "DSA-001: Content-Type is 'application/json'": {"content-type": "application/json"},
        f"DSA-004: ETag {weak!r} is weak": {"etag": weak},
        "DSA-006: the manifest must not be cacheable as immutable; Cache-Control: 'max-age=9, immutable'": {
            "cache-control": "max-age=9, immutable"
        },
    }
    for expected, headers in cases.items():
        (problem,) = manifest_problems(_answer(empty, **headers))
        assert problem.startswith(expected), problem


def test_bundle_and_digest_problems_name_the_requirement() -> None:
    omitted = manifest_problems(_answer({"manifestVersion": 1, "deployments": []}))
    assert omitted[0].startswith("DSA-008: the manifest has no bundle member")
    gzip = _listing()
    gzip["bundle"]["mediaType"] = "application/gzip"
    assert manifest_problems(_answer(gzip))[0] == (
        f"DSA-009: bundle mediaType is 'application/gzip', not {BUNDLE_MEDIA_TYPE}"
    )
    upper = _listing()
    upper["deployments"][0]["digest"] = upper["deployments"][0]["digest"].upper().replace("SHA256", "sha256")
    assert manifest_problems(_answer(upper))[0].startswith(f"DSA-011: the deployment {DEPLOYMENT_ID} digest 'sha256:")


def test_a_listed_id_other_than_the_documents_is_a_dsa_010_problem() -> None:
    other = "9f3e2a4c-2f1d-4a55-9d53-7f43c1e0a999"

    def fetch(url: str) -> Answer:
        return Answer("GET", url, 200, {"etag": etag_of(YAML)}, YAML, 0.0)

    assert document_problems(_listing(), CLIENT, fetch)[0] == []
    problems, _ = document_problems(_listing(other), CLIENT, fetch)
    assert problems == [
        f"DSA-010: deploymentId {other} is listed for a document whose id is {DEPLOYMENT_ID!r} "
        f"({_listing(other)['deployments'][0]['url']})"
    ]


def _served_deployment(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "application.margo.org/v1alpha1",
        "kind": "ApplicationDeployment",
        "id": "a3e2f5dc-912e-494f-8395-52cf3769bc06",
        "metadata": {"annotations": {"applicationId": "two-components"}, "name": "d", "namespace": "n"},
        "spec": {
            "deploymentProfile": {"type": "compose", "components": [
                {"name": "database", "properties": {"packageLocation": "http://x/db.yaml"}}]},
            "parameters": {"siteId": {"value": "S", "targets": [{"pointer": "SITE", "components": ["database"]}]}},
        },
    }
    document.update(changes)
    return document


def _deployment_rows(document: dict[str, Any], application_id: str = "two-components") -> list[str]:
    body = yaml.safe_dump(document).encode()
    return sorted({p.split(":")[0] for p in application_deployment_problems("d.yaml", body, application_id)})


def test_a_served_deployment_is_judged_by_the_row_its_fault_breaks() -> None:
    assert _deployment_rows(_served_deployment()) == []
    no_kind = _served_deployment()
    del no_kind["kind"]
    assert _deployment_rows(no_kind) == ["DSA-050"]
    assert _deployment_rows(_served_deployment(), application_id="other-app") == ["DSA-051"]
    upper = _served_deployment(metadata={"annotations": {"applicationId": "TWO"}, "name": "d", "namespace": "n"})
    assert _deployment_rows(upper) == ["DSA-051"]
    stray = _served_deployment()
    stray["spec"]["parameters"]["siteId"]["targets"][0]["components"] = ["frontend"]
    assert _deployment_rows(stray) == ["DSA-052"]
    untargeted = _served_deployment()
    del untargeted["spec"]["parameters"]["siteId"]["targets"]
    assert _deployment_rows(untargeted) == ["DSA-052"]
