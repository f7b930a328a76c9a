"""The PR1 state manifest (DSA-001..DSA-016): its bytes, its digests and its bundle.

Everything here is a pure function of what the WOS holds for one client, so equal desired
state gives equal bytes, equal digests and equal ETags (DSA-005):

- a digest is `sha256:` and 64 lowercase hex digits over the exact bytes served (DSA-011);
- the manifest is JSON with sorted keys and no insignificant whitespace; its ETag is the
  quoted digest of those bytes (DSA-004);
- deployments are listed in deploymentId order, each at its content address
  `/api/v1/clients/{clientId}/deployments/{deploymentId}/{digest}` (DSA-010);
- the bundle is a tar (ustar) whose root holds `<deploymentId>.yaml` for each listed
  deployment, byte-identical to the individual documents, every member with mtime 0, mode
  0644, owner 0:0, gzip-compressed with mtime 0 (DSA-014). No deployments: bundle null (DSA-008).

URLs are relative: the schema admits absolute ones only on an https origin, and this WOS
speaks plain HTTP (docs/pr1-wire-contract.md); a client resolves them against the manifest's
own URL.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MANIFEST_MEDIA_TYPE = "application/vnd.margo.manifest.v1+json"
BUNDLE_MEDIA_TYPE = "application/vnd.margo.bundle.v1+tar+gzip"
#: The immutable content-addressed resources (DSA-012, DSA-014).
IMMUTABLE = "public, max-age=31536000, immutable"
#: The manifest: a cache may keep it but must revalidate it every time (DSA-006).
REVALIDATE = "no-cache"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def quoted(digest: str) -> str:
    """An entity tag: the digest in double quotes (a strong validator)."""
    return f'"{digest}"'


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def build_bundle(files: Mapping[str, bytes]) -> bytes:
    """A tar.gz of `files` at the archive root; identical input, identical bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


@dataclass(frozen=True)
class Listed:
    """One deployment as the manifest lists it: the digest in its URL and the bytes served."""

    digest: str
    body: bytes


@dataclass(frozen=True)
class Rendered:
    """One client's state manifest and the resources it references."""

    body: bytes
    documents: Mapping[str, Listed]  # by the deploymentId the manifest lists
    bundle: bytes | None
    bundle_digest: str | None  # as the manifest lists it (and the bundle route expects it)

    @property
    def etag(self) -> str:
        return quoted(digest_of(self.body))


@dataclass(frozen=True)
class Deviations:
    """How the PR1 fault switches (margo_wos/faults.py) bend a rendering; the default, not at all.

    tampered_digests: every listed deployment digest differs from its bytes (digest-mismatch).
    extra_bundle_member: the bundle holds one YAML more than listed (bundle-extra-member).
    omit_empty_bundle: no deployments, no `bundle` member at all (bundle-omitted-when-empty).
    bundle_media_type: the bundle's mediaType as listed (bundle-wrong-media-type).
    aliased_ids: each deployment is listed, served and bundled under an id other than its
        document's (deployment-id-mismatch).
    upper_case_digests: listed digests, and so their URLs and routes, use upper-case hex
        (digest-uppercase).
    """

    tampered_digests: bool = False
    extra_bundle_member: bool = False
    omit_empty_bundle: bool = False
    bundle_media_type: str = BUNDLE_MEDIA_TYPE
    aliased_ids: bool = False
    upper_case_digests: bool = False


def _alias(deployment_id: str) -> str:
    """A stable UUID other than `deployment_id` (deployment-id-mismatch)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"margo-wos:alias:{deployment_id}"))


def _spelled(digest: str, upper_case: bool) -> str:
    """`digest` as the manifest lists it: upper-case hex under digest-uppercase."""
    return "sha256:" + digest.removeprefix("sha256:").upper() if upper_case else digest


def render(
    client_id: str,
    version: int,
    documents: Mapping[str, bytes],
    deviations: Deviations = Deviations(),
) -> Rendered:
    """The manifest of `client_id` at `version` listing `documents` (deploymentId -> YAML)."""
    base = f"/api/v1/clients/{client_id}"

    def listed_digest(body: bytes) -> str:
        if deviations.tampered_digests:
            body += b"\n# not the bytes served\n"
        return _spelled(digest_of(body), deviations.upper_case_digests)

    if deviations.aliased_ids:
        documents = {_alias(deployment_id): body for deployment_id, body in documents.items()}
    listed = {
        deployment_id: Listed(listed_digest(body), body)
        for deployment_id, body in documents.items()
    }
    entries = [
        {
            "deploymentId": deployment_id,
            "digest": item.digest,
            "sizeBytes": len(item.body),
            "url": f"{base}/deployments/{deployment_id}/{item.digest}",
        }
        for deployment_id, item in sorted(listed.items())
    ]
    manifest: dict[str, Any] = {"manifestVersion": version, "deployments": entries}
    bundle: bytes | None = None
    bundle_digest: str | None = None
    if entries:
        members = {f"{deployment_id}.yaml": body for deployment_id, body in documents.items()}
        if deviations.extra_bundle_member:
            first = min(documents)
            stray = uuid.uuid5(uuid.NAMESPACE_URL, f"margo-wos:stray:{first}")
            members[f"{stray}.yaml"] = documents[first]
        bundle = build_bundle(members)
        # Only deployment digests are tampered with: the bundle's stays true (DSA-014).
        bundle_digest = _spelled(digest_of(bundle), deviations.upper_case_digests)
        manifest["bundle"] = {
            "mediaType": deviations.bundle_media_type,
            "digest": bundle_digest,
            "sizeBytes": len(bundle),
            "url": f"{base}/bundles/{bundle_digest}",
        }
    elif not deviations.omit_empty_bundle:
        manifest["bundle"] = None  # DSA-008: present and null, never an empty archive
    return Rendered(canonical_json(manifest), listed, bundle, bundle_digest)


# -- request headers ------------------------------------------------------------------------


def accepts_manifest(accept_headers: list[str]) -> bool:
    """DSA-002: does `Accept` admit the manifest media type?

    No header (or an empty one) admits it. Otherwise the most specific range that matches
    decides (the manifest type, then `application/*`, then `*/*`), and a range with `q=0`
    refuses; any other type, such as `application/json`, does not admit it.
    """
    ranges: list[tuple[str, float]] = []
    for header in accept_headers:
        for part in header.split(","):
            media, *parameters = part.split(";")
            media = media.strip().lower()
            if not media:
                continue
            q = 1.0
            for parameter in parameters:
                name, _, value = parameter.partition("=")
                if name.strip().lower() == "q":
                    try:
                        q = float(value.strip())
                    except ValueError:
                        q = 0.0
            ranges.append((media, q))
    if not ranges:
        return True
    specificity = {MANIFEST_MEDIA_TYPE: 3, "application/*": 2, "*/*": 1}
    matching = [(specificity[m], q) for m, q in ranges if m in specificity]
    if not matching:
        return False
    most_specific = max(s for s, _ in matching)
    return max(q for s, q in matching if s == most_specific) > 0


def matches_if_none_match(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 13.1.2: `*` or any listed entity tag equal to `etag` (weak comparison)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.removeprefix("W/") == etag:
            return True
    return False
