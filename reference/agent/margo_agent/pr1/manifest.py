"""The state manifest and its content, as pure functions (DSA-001..DSA-016, DSA-030..DSA-036).

`parse_manifest` checks a manifest body; `parse_deployment` turns one verified
ApplicationDeployment YAML into the `gitops.Deployment` the V24 reconciler helpers and
Docker runtime understand (top-level id, `compose` profile, bare environment-name pointers
are translated here); `ManifestCursor` is the last accepted version and ETag, kept on disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from margo_agent.document_checks import UUID, Problems, check_metadata, check_spec
from margo_agent.gitops import Component, Deployment
from margo_agent.workloads import COMPOSE_PROFILE, ENV_POINTER_PREFIX

log = logging.getLogger(__name__)

MAX_VERSION = 2**64 - 1
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
#: What the accept-unknown-digest-algorithm fault also takes: sha512, which 1.0 does not name.
SHA512_DIGEST = re.compile(r"^sha512:[0-9a-f]{128}$")
PR1_COMPOSE = "compose"


class ManifestError(ValueError):
    """The manifest cannot be processed at all (DSA-033: also an unsupported digest)."""


@dataclass(frozen=True)
class DeploymentRef:
    deployment_id: str
    digest: str
    url: str


@dataclass(frozen=True)
class StateManifest:
    version: int
    deployments: tuple[DeploymentRef, ...]
    bundle_url: str | None = None
    bundle_digest: str | None = None

    def by_id(self) -> dict[str, DeploymentRef]:
        return {ref.deployment_id: ref for ref in self.deployments}


def digest_of(body: bytes, algorithm: str = "sha256") -> str:
    """The PR1 digest of exact bytes: lowercase `sha256:` and 64 hex digits (another
    hashlib algorithm only where a fault switch accepts one)."""
    return f"{algorithm}:" + hashlib.new(algorithm, body).hexdigest()


def etag_of(body: bytes) -> str:
    return f'"{digest_of(body)}"'


def parse_manifest(body: bytes, accept_sha512: bool = False) -> StateManifest:
    """The manifest, or ManifestError; `accept_sha512` is the accept-unknown-digest-algorithm fault."""
    digest_format = (DIGEST, SHA512_DIGEST) if accept_sha512 else (DIGEST,)
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"the manifest is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ManifestError("the manifest is not a JSON object")
    version = document.get("manifestVersion")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise ManifestError(f"manifestVersion {version!r} is not a whole number from 1 to 2^64-1")
    entries = document.get("deployments")
    if not isinstance(entries, list):
        raise ManifestError("deployments is not a list")
    refs: list[DeploymentRef] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ManifestError(f"deployments[{index}] is not an object")
        deployment_id, digest, url = entry.get("deploymentId"), entry.get("digest"), entry.get("url")
        if not isinstance(deployment_id, str) or not UUID.match(deployment_id):
            raise ManifestError(f"deployments[{index}].deploymentId {deployment_id!r} is not a UUID")
        _check_digest(digest, f"deployments[{index}].digest", digest_format)
        if not isinstance(url, str) or not url:
            raise ManifestError(f"deployments[{index}].url is missing")
        if any(ref.deployment_id == deployment_id for ref in refs):
            raise ManifestError(f"deployment {deployment_id} is listed twice")
        refs.append(DeploymentRef(deployment_id, str(digest), url))
    bundle = document.get("bundle")
    bundle_url = bundle_digest = None
    if isinstance(bundle, dict):
        _check_digest(bundle.get("digest"), "bundle.digest")
        bundle_url, bundle_digest = str(bundle.get("url") or ""), str(bundle["digest"])
    elif bundle is not None:
        raise ManifestError("bundle is neither an object nor null")
    return StateManifest(version, tuple(refs), bundle_url or None, bundle_digest)


def _check_digest(value: Any, where: str, formats: tuple[re.Pattern[str], ...] = (DIGEST,)) -> None:
    if not isinstance(value, str) or not any(f.match(value) for f in formats):
        raise ManifestError(f"{where} {value!r} is not a sha256:<64 lowercase hex> digest")


# -- ApplicationDeployment -----------------------------------------------------------------


def parse_deployment(body: bytes, ref: DeploymentRef, reject_extensions: bool = False) -> Deployment:
    """The V24-shaped view of a PR1 ApplicationDeployment. Raises ValueError when the bytes
    name no deployment with components at all; schema problems are kept in `problems`, so
    the deployment is reported Failed instead of being installed."""
    try:
        document = yaml.safe_load(body.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"not YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict) or document.get("kind") != "ApplicationDeployment":
        raise ValueError("not an ApplicationDeployment")
    spec = _map(document.get("spec"))
    profile = _map(spec.get("deploymentProfile"))
    raw_components = profile.get("components")
    if not isinstance(raw_components, list):
        raise ValueError("spec.deploymentProfile.components is not a list")
    components = tuple(
        Component(str(c["name"]), MappingProxyType(dict(c.get("properties") or {})))
        for c in raw_components
        if isinstance(c, dict)
        and isinstance(c.get("name"), str)
        and c["name"]
        and isinstance(c.get("properties") or {}, dict)
    )
    if not components:
        raise ValueError("the deployment has no usable components")
    problems = validate_document(document)
    if reject_extensions:
        problems += extension_members(document)
    if document.get("id") != ref.deployment_id:
        problems.append(f"id {document.get('id')!r} differs from the manifest's deploymentId")
    profile_type = str(profile.get("type", ""))
    parameters = _map(spec.get("parameters"))
    metadata = _map(document.get("metadata"))
    return Deployment(
        id=ref.deployment_id,
        name=str(metadata.get("name", "")),
        # The V24 runtime knows the compose profile as docker-compose; others stay unsupported.
        profile_type=COMPOSE_PROFILE if profile_type == PR1_COMPOSE else profile_type,
        components=components,
        parameters=MappingProxyType(env_parameters(parameters) if profile_type == PR1_COMPOSE else dict(parameters)),
        digest=ref.digest,
        source=ref.url,
        problems=tuple(problems),
    )


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def env_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """PR1 Compose pointers are bare environment names (GREETING); the V24 runtime reads
    ENV.<NAME>, so each pointer gets that prefix here."""
    translated: dict[str, Any] = {}
    for name, parameter in parameters.items():
        if not isinstance(parameter, dict) or not isinstance(parameter.get("targets"), list):
            translated[name] = parameter
            continue
        targets = [
            {**target, "pointer": ENV_POINTER_PREFIX + str(target.get("pointer", ""))}
            if isinstance(target, dict) else target
            for target in parameter["targets"]
        ]  # fmt: skip
        translated[name] = {**parameter, "targets": targets}
    return translated


def validate_document(document: dict[str, Any]) -> list[str]:
    """Where a PR1 ApplicationDeployment breaks schemas/pr1 in ways that matter to the agent
    (DSA-051, DSA-052). Unknown members and x-*-extensions are ignored (DSA-039); the profile
    type and packageLocation are the runtime's business (UNSUPPORTED_PROFILE, ...)."""
    problems = Problems()
    problems.text(document.get("id"), "id", UUID)
    check_metadata(problems, document)
    check_spec(problems, document)
    return list(problems)


def extension_members(document: dict[str, Any]) -> list[str]:
    """The reject-deployment-extensions fault's problems: every x-*-extensions member at the top
    level and in spec, as if it were not allowed there (DSA-039 says to ignore them)."""
    places = (("", document), ("spec.", _map(document.get("spec"))))
    return [f"{where}{name} is not an ApplicationDeployment member" for where, members in places
            for name in members if name.startswith("x-") and name.endswith("-extensions")]


# -- the last accepted manifest (DSA-034) --------------------------------------------------


@dataclass(frozen=True)
class ManifestCursor:
    """The last manifest accepted after a successful reconciliation: its version (the
    rollback floor, DSA-031), its ETag (for If-None-Match, DSA-030) and the client id it was
    served to (versions count per client, so a new onboarding starts a new sequence)."""

    version: int = 0
    etag: str | None = None
    client_id: str | None = None

    @classmethod
    def load(cls, path: Path) -> ManifestCursor:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            version, etag = document["manifestVersion"], document.get("etag")
            if isinstance(version, bool) or not isinstance(version, int) or version < 0:
                raise ValueError(f"manifestVersion {version!r}")
            client_id = document.get("clientId")
            return cls(
                version,
                etag if isinstance(etag, str) and etag else None,
                client_id if isinstance(client_id, str) and client_id else None,
            )
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # Starting from 0 accepts any manifest: the safest reading of a broken file is
            # still better than refusing every manifest forever.
            log.warning("desired-state: ignoring unreadable %s (%s)", path, exc)
            return cls()

    def save(self, path: Path) -> None:
        """Durably: written to a temporary file, flushed to disk, then renamed over the old."""
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump({"manifestVersion": self.version, "etag": self.etag, "clientId": self.client_id}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
