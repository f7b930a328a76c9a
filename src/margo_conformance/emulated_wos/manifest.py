"""The Margo 1.0 state manifest (profile PR1): desired state served over HTTP, content addressed.

Pure functions and a small model, shared by the emulated WOS (which serves manifests) and the
device side (which checks what a WOS under test serves). Digests are `sha256:<64 hex>` over
the exact bytes served (DSA-011); the manifest's ETag is the quoted digest of its body
(DSA-004, I-2); the bundle is a gzip-compressed tar whose root holds exactly the referenced
ApplicationDeployment YAMLs (DSA-014), built deterministically so equal content gives equal
digests (DSA-005).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MANIFEST_MEDIA_TYPE = "application/vnd.margo.manifest.v1+json"
BUNDLE_MEDIA_TYPE = "application/vnd.margo.bundle.v1+tar+gzip"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def etag_of(body: bytes) -> str:
    return f'"{digest_of(body)}"'


def canonical_json(document: Any) -> bytes:
    """Deterministic serialisation (sorted keys, no spaces): equal manifests, equal ETags."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def build_bundle(files: Mapping[str, bytes]) -> bytes:
    """A tar.gz of `files` at the archive root, byte-identical for identical input."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 0
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(raw.getvalue(), mtime=0)


def read_bundle(body: bytes) -> dict[str, bytes]:
    """Members of a bundle by name (regular files only)."""
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


@dataclass
class ClientDesiredState:
    """What a WOS holds for one client: deployments (id -> YAML bytes) and the version counter."""

    client_id: str
    deployments: dict[str, bytes] = field(default_factory=dict)
    version: int = 1  # DSA-007: the first manifest a client sees is version 1
    #: Test hooks of the emulated WOS (never set by a conforming WOS).
    served_version_override: int | None = None
    corrupted: set[str] = field(default_factory=set)  # deployment ids served with wrong bytes
    withheld: set[str] = field(default_factory=set)  # deployment ids whose YAML answers 404
    #: Deployment ids listed (and served) under a sha512 digest, an algorithm 1.0 does not name.
    unsupported_digests: set[str] = field(default_factory=set)

    def change(self) -> None:
        self.version += 1

    def routes(self) -> tuple[str, str]:
        base = f"/api/v1/clients/{self.client_id}"
        return f"{base}/deployments", f"{base}/bundles"

    def manifest(self) -> dict[str, Any]:
        deployments_route, bundles_route = self.routes()
        entries = [
            {
                "deploymentId": deployment_id,
                "digest": self.listed_digest(deployment_id, body),
                "sizeBytes": len(body),
                "url": f"{deployments_route}/{deployment_id}/{self.listed_digest(deployment_id, body)}",
            }
            for deployment_id, body in sorted(self.deployments.items())
        ]
        bundle = None
        if entries:
            archive = self.bundle()
            bundle = {
                "mediaType": BUNDLE_MEDIA_TYPE,
                "digest": digest_of(archive),
                "sizeBytes": len(archive),
                "url": f"{bundles_route}/{digest_of(archive)}",
            }
        version = self.served_version_override or self.version
        return {"manifestVersion": version, "bundle": bundle, "deployments": entries}

    def manifest_body(self) -> bytes:
        return canonical_json(self.manifest())

    def bundle(self) -> bytes:
        return build_bundle({f"{d}.yaml": body for d, body in self.deployments.items()})

    def served_bundle(self) -> bytes:
        """The bundle as served: with corrupted members when a test hook asks for them."""
        return build_bundle({f"{d}.yaml": self._served(d, body) for d, body in self.deployments.items()})

    def _served(self, deployment_id: str, body: bytes) -> bytes:
        return body + b"\n# bytes that do not match the digest\n" if deployment_id in self.corrupted else body

    def listed_digest(self, deployment_id: str, body: bytes) -> str:
        """The digest the manifest lists a deployment under: sha256, or sha512 by a test hook (DSA-033)."""
        if deployment_id in self.unsupported_digests:
            return "sha512:" + hashlib.sha512(body).hexdigest()
        return digest_of(body)

    def deployment_body(self, deployment_id: str, digest: str) -> bytes | None:
        body = self.deployments.get(deployment_id)
        if body is None or self.listed_digest(deployment_id, body) != digest or deployment_id in self.withheld:
            return None
        return self._served(deployment_id, body)
