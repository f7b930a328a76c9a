"""Desired state as the WOS publishes it, over either transport.

V24 (GIT-001, GIT-002): one bare repository per device, served by `wos.git_http`, and a private
working clone from which deployments are committed and pushed with GitPython. PR1 (DSA-007,
DSA-036): the device's state manifest, whose version increases with every change. Deployment
fixtures are templates per profile (fixtures/deployments/ for V24, fixtures/deployments/pr1/
for PR1): the WOS assigns each deployment a fresh UUID and points component packages at the
emulated WOS's artifact route.
"""

from __future__ import annotations

import os
import string
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import git
import yaml

from margo_conformance.base.errors import SuiteError
from margo_conformance.base.evidence import COMMIT, EvidenceLog
from margo_conformance.base.schemas import validation_errors
from margo_conformance.emulated_wos.manifest import ClientDesiredState

BRANCH = "main"
AUTHOR = git.Actor("margo-conformance WOS", "wos@margo-conformance.invalid")

# How many commits were published to each bare repository (by absolute path). The Git
# server's poll cache keys its answers on this count, so a publication invalidates them.
_publications: dict[str, int] = {}
_publications_lock = threading.Lock()


def publication_count(bare_path: Path) -> int:
    """Commits published to the repository at `bare_path` by this process so far."""
    return _publications.get(os.path.abspath(bare_path), 0)


def _count_publication(bare_path: Path) -> None:
    key = os.path.abspath(bare_path)
    with _publications_lock:
        _publications[key] = _publications.get(key, 0) + 1


@dataclass(frozen=True)
class Deployment:
    """A deployment as published: its id, file name in the repository and parsed document."""

    name: str
    deployment_id: str
    path_in_repo: str
    document: Mapping[str, Any]

    @property
    def component_names(self) -> list[str]:
        return [c["name"] for c in self.document["spec"]["deploymentProfile"]["components"]]


@dataclass(frozen=True)
class Commit:
    """One publication of desired state: a Git commit (sha) or a manifest version (`manifest-vN`)."""

    sha: str
    at: float
    message: str
    manifest_version: int | None = None


#: The schema a deployment fixture is checked against unless the caller's profile says otherwise.
V24_DEPLOYMENT_SCHEMA = "v24/application-deployment"


def render_deployment(
    template_path: Path, values: Mapping[str, str], schema: str = V24_DEPLOYMENT_SCHEMA,
    deployment_id: str | None = None,
) -> Deployment:
    """Instantiate a deployment fixture with a fresh WOS-assigned id (or, for a new revision of a
    deployment, the id it already has); it must be valid against `schema` (the profile's
    ApplicationDeployment, `Dialect.schema("application-deployment")`)."""
    deployment_id = deployment_id or str(uuid.uuid4())
    text = string.Template(template_path.read_text()).substitute(
        {**values, "DEPLOYMENT_ID": deployment_id}
    )
    document = yaml.safe_load(text)
    errors = validation_errors(document, schema)
    if errors:
        raise SuiteError(f"fixture {template_path.name} is not a valid ApplicationDeployment: {errors[0]}")
    name = template_path.name.removesuffix(".yaml")
    return Deployment(name, deployment_id, f"deployments/{name}.yaml", document)


class Publisher(Protocol):
    """How the suite, as the WOS, changes a device's desired state."""

    def publish(self, deployment: Deployment) -> Commit: ...

    def remove(self, deployment: Deployment) -> Commit: ...


class ManifestPublisher:
    """PR1: deployments served through the device's state manifest (one version per change)."""

    def __init__(self, desired: ClientDesiredState, evidence: EvidenceLog) -> None:
        self.desired = desired
        self.evidence = evidence

    def publish(self, deployment: Deployment) -> Commit:
        body = yaml.safe_dump(dict(deployment.document), sort_keys=False).encode()
        self.desired.deployments[deployment.deployment_id] = body
        return self._changed(f"deploy {deployment.name}")

    def remove(self, deployment: Deployment) -> Commit:
        self.desired.deployments.pop(deployment.deployment_id, None)
        return self._changed(f"remove {deployment.name}")

    def _changed(self, message: str) -> Commit:
        self.desired.change()
        version = self.desired.version
        self.evidence.record(COMMIT, f"manifest v{version}: {message}", manifest_version=version, message=message)
        return Commit(sha=f"manifest-v{version}", at=time.time(), message=message, manifest_version=version)


class DeviceRepository:
    """One device's desired-state repository and the WOS's working clone of it."""

    def __init__(self, bare_path: Path, workdir: Path, evidence: EvidenceLog) -> None:
        self.bare_path = bare_path
        self.evidence = evidence
        bare = git.Repo.init(bare_path, bare=True, initial_branch=BRANCH)
        # git http-backend serves only repositories marked for export or with export-all set;
        # we set export-all in the CGI environment, and allow shallow/filtered fetches here.
        with bare.config_writer() as cfg:
            cfg.set_value("uploadpack", "allowFilter", "true")
            cfg.set_value("http", "receivepack", "false")
        self.clone = git.Repo.clone_from(str(bare_path), workdir, branch=None)
        with self.clone.config_writer() as cfg:
            cfg.set_value("user", "name", AUTHOR.name)
            cfg.set_value("user", "email", AUTHOR.email)
        self._commit_file("README.md", "Desired state of this device, written by its WOS.\n", "initialise")

    def publish(self, deployment: Deployment) -> Commit:
        body = yaml.safe_dump(dict(deployment.document), sort_keys=False)
        return self._commit_file(deployment.path_in_repo, body, f"deploy {deployment.name}")

    def remove(self, deployment: Deployment) -> Commit:
        self.clone.index.remove([deployment.path_in_repo], working_tree=True)
        return self._finish_commit(f"remove {deployment.name}")

    def commit_files(self, changes: Mapping[str, str | None], message: str) -> Commit:
        """One commit writing several files (None deletes one): desired state changed at once,
        including documents the suite publishes raw because they are deliberately broken."""
        root = Path(self.clone.working_tree_dir or ".")
        for relative, content in changes.items():
            if content is None:
                self.clone.index.remove([relative], working_tree=True)
                continue
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(content)
            self.clone.index.add([relative])
        return self._finish_commit(message)

    def _commit_file(self, relative: str, content: str, message: str) -> Commit:
        target = Path(self.clone.working_tree_dir or ".") / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        self.clone.index.add([relative])
        return self._finish_commit(message)

    def _finish_commit(self, message: str) -> Commit:
        commit = self.clone.index.commit(message, author=AUTHOR, committer=AUTHOR)
        self.clone.git.push("origin", f"HEAD:refs/heads/{BRANCH}")
        _count_publication(self.bare_path)  # after the push: cached ref answers are now stale
        pushed = Commit(sha=commit.hexsha, at=time.time(), message=message)
        self.evidence.record(COMMIT, f"{commit.hexsha[:7]} {message}", sha=commit.hexsha, message=message)
        return pushed
