"""The suite as a PR1 device: its certificate, and what it checks in a WOS's state manifest.

Checks are pure functions over what the WOS served (bytes and headers), each returning a list
of problems in words a reader can act on; the steps assert that the list is empty.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from margo_conformance.base import redaction
from margo_conformance.base.schemas import validation_errors
from margo_conformance.checks.shapes import json_document, read_member, read_object
from margo_conformance.emulated_device.client import Answer
from margo_conformance.emulated_wos.manifest import (
    BUNDLE_MEDIA_TYPE,
    DIGEST,
    MANIFEST_MEDIA_TYPE,
    digest_of,
    etag_of,
    read_bundle,
)

ONBOARDING_API_VERSION = "onboarding.margo.org/v1alpha1"
MANIFEST = "the state manifest"
_DEPLOYMENT_URL = re.compile(r"^(?:https?://[^/]+)?/api/v1/clients/(?P<client>[^/]+)/deployments/(?P<id>[^/]+)/(?P<digest>sha256:[0-9a-f]{64})$")
_BUNDLE_URL = re.compile(r"^(?:https?://[^/]+)?/api/v1/clients/(?P<client>[^/]+)/bundles/(?P<digest>sha256:[0-9a-f]{64})$")


def onboarding_request(certificate_der: bytes) -> dict[str, str]:
    """The OnboardingRequest presenting a device's certificate (ONB-011)."""
    return {
        "apiVersion": ONBOARDING_API_VERSION,
        "kind": "OnboardingRequest",
        "certificate": base64.b64encode(certificate_der).decode("ascii"),
    }


def manifest_document(answer: Answer) -> dict[str, Any] | None:
    document = answer.json()
    return document if isinstance(document, dict) else None


def manifest_of(answer: Answer) -> dict[str, Any]:
    """The state manifest a 200 answer carries (DSA-001), or a failed check: not JSON, not an object."""
    document = json_document(answer.body, requirement="DSA-001", what=MANIFEST)
    return read_object(document, requirement="DSA-001", what=MANIFEST)


def listed_entries(manifest: Any) -> list[dict[str, Any]]:
    """The manifest's deployments[] entries, each with its deploymentId, digest and url as strings
    (DSA-010); a wrong shape is a failed check naming the member."""
    deployments = read_member(manifest, "/deployments", list, requirement="DSA-010", what=MANIFEST)
    entries = []
    for index in range(len(deployments)):
        for member in ("deploymentId", "digest", "url"):
            read_member(manifest, f"/deployments/{index}/{member}", str, requirement="DSA-010", what=MANIFEST)
        entries.append(deployments[index])
    return entries


def manifest_problems(answer: Answer) -> list[str]:
    """DSA-001/004/006/008/009/011 and the schema: what is wrong with one 200 manifest answer."""
    if answer.status != 200:
        return [f"expected 200 with the manifest, got {answer.describe()}"]
    document = answer.json()
    problems = header_problems(answer)
    if isinstance(document, dict):
        problems += bundle_ref_problems(document) + digest_format_problems(document)
    return problems + [f"schema: {e}" for e in validation_errors(document, "pr1/state-manifest")]


def header_problems(answer: Answer) -> list[str]:
    """DSA-001 media type, DSA-004 strong ETag over the exact bytes, DSA-006 no immutable caching."""
    problems = []
    content_type = answer.headers.get("content-type", "").split(";")[0].strip()
    if content_type != MANIFEST_MEDIA_TYPE:
        problems.append(f"DSA-001: Content-Type is {content_type!r}, not {MANIFEST_MEDIA_TYPE}")
    etag = answer.headers.get("etag")
    if etag is not None and etag.startswith("W/"):
        problems.append(f"DSA-004: ETag {etag!r} is weak; it must be the strong {etag_of(answer.body)}")
    elif etag != etag_of(answer.body):
        problems.append(f"DSA-004: ETag {etag!r} is not the quoted digest of the body ({etag_of(answer.body)})")
    cache_control = answer.headers.get("cache-control", "")
    if "immutable" in cache_control.lower():
        problems.append(f"DSA-006: the manifest must not be cacheable as immutable; Cache-Control: {cache_control!r}")
    return problems


def bundle_ref_problems(manifest: Mapping[str, Any]) -> list[str]:
    """DSA-008: `bundle` always present, null exactly when nothing is listed; DSA-009 its media type."""
    listed = manifest.get("deployments")
    if "bundle" not in manifest:
        count = len(listed) if isinstance(listed, list) else listed
        return [f"DSA-008: the manifest has no bundle member ({count} deployment(s) listed); "
                f"it must be present, null when nothing is listed"]
    bundle = manifest["bundle"]
    if listed == [] and bundle is not None:
        return [f"DSA-008: no deployments are listed, so bundle must be null; it is {shown(bundle)}"]
    if isinstance(bundle, dict) and bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
        return [f"DSA-009: bundle mediaType is {bundle.get('mediaType')!r}, not {BUNDLE_MEDIA_TYPE}"]
    return []


def digest_format_problems(manifest: Mapping[str, Any]) -> list[str]:
    """DSA-011: every digest the manifest lists is `sha256:` and 64 lowercase hex digits."""
    bundle = manifest.get("bundle")
    named = [("bundle", bundle.get("digest"))] if isinstance(bundle, dict) else []
    deployments = manifest.get("deployments")
    for entry in deployments if isinstance(deployments, list) else []:
        if isinstance(entry, dict):
            named.append((f"deployment {entry.get('deploymentId')}", entry.get("digest")))
    return [
        f"DSA-011: the {name} digest {digest!r} is not sha256: and 64 lowercase hex digits"
        for name, digest in named
        if not (isinstance(digest, str) and DIGEST.match(digest))
    ]


def document_problems(
    manifest: Any, client_id: str, fetch: Callable[[str], Answer]
) -> tuple[list[str], dict[str, bytes]]:
    """DSA-010..DSA-012: every listed digest matches the bytes at its content address.

    Returns the problems and the bytes served per listed document.
    """
    problems: list[str] = []
    served: dict[str, bytes] = {}
    for entry in listed_entries(manifest):
        url = entry["url"]
        match = _DEPLOYMENT_URL.match(url)
        expected = (client_id, entry.get("deploymentId"), entry.get("digest"))
        if not match or (match["client"], match["id"], match["digest"]) != expected:
            problems.append(f"DSA-010: {url!r} is not /api/v1/clients/{client_id}/deployments/"
                            f"{entry.get('deploymentId')}/{entry.get('digest')}")
            continue
        answer = fetch(url)
        if answer.status != 200:
            problems.append(f"DSA-012: {answer.describe()}")
            continue
        if digest_of(answer.body) != entry["digest"]:
            problems.append(f"DSA-012: {url} served bytes with digest {digest_of(answer.body)}, "
                            f"listed {entry['digest']}")
        if answer.headers.get("etag") != f'"{entry["digest"]}"':
            problems.append(f"DSA-012: {url} ETag {answer.headers.get('etag')!r} is not the quoted digest (I-2)")
        document_id = _document_id(answer.body)
        if document_id != entry["deploymentId"]:
            problems.append(f"DSA-010: deploymentId {entry['deploymentId']} is listed for a document whose id is "
                            f"{document_id!r} ({url})")
        served[f"{entry['deploymentId']}.yaml"] = answer.body
    return problems, served


def _document_id(body: bytes) -> object:
    """The id an ApplicationDeployment YAML carries: top-level `id`, else annotations.id (I-11)."""
    try:
        document = yaml.safe_load(body)
    except yaml.YAMLError:
        return None
    if not isinstance(document, dict):
        return None
    if "id" in document:
        return document["id"]
    metadata = document.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations.get("id") if isinstance(annotations, dict) else None


def bundle_problems(manifest: Any, client_id: str, served: Mapping[str, bytes],
                    fetch: Callable[[str], Answer]) -> list[str]:
    """DSA-009/DSA-014: the bundle is at its content address and holds exactly `served`."""
    bundle = read_member(manifest, "/bundle", (dict, type(None)), requirement="DSA-008", what=MANIFEST)
    if bundle is None:
        return [] if not served else ["DSA-008: deployments are listed but the bundle is null"]
    url = read_member(manifest, "/bundle/url", str, requirement="DSA-009", what=MANIFEST)
    read_member(manifest, "/bundle/digest", str, requirement="DSA-009", what=MANIFEST)
    match = _BUNDLE_URL.match(url)
    if not match or match["client"] != client_id or match["digest"] != bundle.get("digest"):
        return [f"DSA-009: bundle url {url!r} is not /api/v1/clients/{client_id}/bundles/{bundle.get('digest')}"]
    answer = fetch(url)
    if answer.status != 200:
        return [f"DSA-014: {answer.describe()}"]
    problems = []
    if digest_of(answer.body) != bundle.get("digest"):
        problems.append(f"DSA-014: the bundle's bytes have digest {digest_of(answer.body)}, "
                        f"listed {bundle.get('digest')}")
    if answer.headers.get("content-type", "").split(";")[0].strip() != BUNDLE_MEDIA_TYPE:
        problems.append(f"DSA-014: bundle Content-Type {answer.headers.get('content-type')!r}")
    try:
        members = read_bundle(answer.body)
    except Exception as exc:  # noqa: BLE001 - any unreadable archive is the finding
        return problems + [f"DSA-014: the bundle is not a readable tar.gz ({type(exc).__name__}: {exc})"]
    by_content = sorted(members.values())
    if by_content != sorted(served.values()):
        problems.append(
            f"DSA-014: the bundle must hold exactly the listed YAMLs, byte for byte; it holds "
            f"{sorted(members)} and {len(served)} YAML(s) are listed"
        )
    return problems


def manifest_version(answer: Answer) -> int:
    """The manifestVersion of a 200 manifest answer (DSA-007), or a failed check naming it."""
    return read_member(manifest_of(answer), "/manifestVersion", int, requirement="DSA-007", what=MANIFEST)


def listed_ids(answer: Answer) -> list[str]:
    return [entry["deploymentId"] for entry in listed_entries(manifest_of(answer))]


def shown(document: Any) -> str:
    return redaction.redact_text(json.dumps(document))[:300]  # redacted before it is cut


def application_deployment_problems(name: str, body: bytes, application_id: str) -> list[str]:
    """DSA-050..DSA-052: one served ApplicationDeployment against the PR1 schema, the application
    the operator deployed, and its own components. Each line opens with the row it breaks."""
    try:
        document = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        return [f"DSA-050: {name} is not YAML: {exc}"]
    problems = [f"{_deployment_row(e)}: {name}: {e}" for e in validation_errors(document, "pr1/application-deployment")]
    if not isinstance(document, dict):
        return problems
    served_id = value_at_path(document, ("metadata", "annotations", "applicationId"))
    if served_id != application_id:
        problems.append(f"DSA-051: {name} names application {served_id!r}; the operator deployed {application_id!r}")
    return problems + _target_problems(name, document)


def _deployment_row(error: str) -> str:
    """The row a schema error of an ApplicationDeployment breaks."""
    path = error.split(":", 1)[0]
    if "applicationId" in path:
        return "DSA-051"
    return "DSA-052" if path.startswith("spec.parameters") else "DSA-050"


def _target_problems(name: str, document: Mapping[str, Any]) -> list[str]:
    """DSA-052: every parameter target names components of the deployment profile."""
    components = value_at_path(document, ("spec", "deploymentProfile", "components"))
    known = {c.get("name") for c in components if isinstance(c, dict)} if isinstance(components, list) else set()
    parameters = value_at_path(document, ("spec", "parameters"))
    problems = []
    for key, parameter in (parameters.items() if isinstance(parameters, dict) else ()):
        for target in (parameter.get("targets") or []) if isinstance(parameter, dict) else []:
            named = target.get("components") if isinstance(target, dict) else None
            unknown = [c for c in named if c not in known] if isinstance(named, list) else []
            if unknown:
                problems.append(f"DSA-052: {name}: parameter {key} targets {unknown}, not components of the profile")
    return problems


def value_at_path(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document
