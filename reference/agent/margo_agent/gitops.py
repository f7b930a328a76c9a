"""Desired state from the device's Git repository (GIT-003..GIT-005), via the git CLI.

The access token travels as an `http.extraHeader` set through GIT_CONFIG_* environment
variables: it reaches the server on every request but never lands in .git/config or in
the process list. The checkout is force-reset to the remote branch each cycle, so the
working tree always equals the desired state, including deleted files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from margo_agent.document_checks import UUID, Problems, check_metadata, check_spec
from margo_agent.wos_client import DesiredStateRepo

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 120.0


class GitError(Exception):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr.strip()
        last_line = self.stderr.splitlines()[-1] if self.stderr else "no message"
        super().__init__(f"git {args[0]} exited {returncode}: {last_line}")

    @property
    def refused(self) -> bool:
        """The server turned our credentials down (401/403) rather than being unreachable."""
        # git's own wording only: a bare "403" also matches paths and hosts in the message
        # (a pytest temp dir "pytest-403" once made an unreachable repository look refused).
        text = self.stderr.lower()
        return any(
            marker in text
            for marker in (
                "returned error: 401",
                "returned error: 403",
                "authentication failed",
                "could not read username",
            )
        )


@dataclass(frozen=True)
class Component:
    name: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class Deployment:
    id: str
    name: str
    profile_type: str
    components: tuple[Component, ...]
    parameters: Mapping[str, Any]
    #: Hash of the whole document: any edit by the WOS counts as a change to apply.
    digest: str
    source: str = field(compare=False)
    #: Why the document cannot be applied (it breaks the ApplicationDeployment schema); a
    #: deployment with problems is reported Failed, never installed.
    problems: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class DesiredState:
    """What the repository asks for: the deployments it names (some perhaps refused for their
    problems) and the files that name none because they cannot be read at all."""

    deployments: Mapping[str, Deployment]
    unreadable: tuple[str, ...] = ()

    @property
    def broken(self) -> list[str]:
        """Every document that cannot be applied as written: unreadable or with problems."""
        refused = [f"{d.source} ({'; '.join(d.problems)})" for d in self.deployments.values() if d.problems]
        return [*self.unreadable, *refused]


class GitCheckout:
    def __init__(self, path: Path, ca_file: Path | None = None) -> None:
        self.path = path
        self._ca_file = ca_file

    def sync(self, repo: DesiredStateRepo) -> str | None:
        """Clone on first use, fetch afterwards; return the commit now checked out, or None
        while the branch does not exist yet (an empty repository is no desired state)."""
        if (self.path / ".git").is_dir():
            self._git(repo, "remote", "set-url", "origin", repo.url)
            self._git(repo, "fetch", "--quiet", "--prune", "origin")
        else:
            self._clone(repo)
        ref = f"refs/remotes/origin/{repo.branch}"
        commit = self._git(repo, "rev-parse", "--verify", "--quiet", ref, check=False)
        if not commit:
            return None
        self._git(repo, "checkout", "--quiet", "--force", "-B", repo.branch, ref)
        self._git(repo, "clean", "--quiet", "-d", "--force", "-x")
        return commit

    def list_remote(self, repo: DesiredStateRepo) -> str:
        """The refs of a repository, without touching the checkout (`git ls-remote`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._git(repo, "ls-remote", repo.url, cwd=self.path.parent)

    def _clone(self, repo: DesiredStateRepo) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._git(
                repo,
                "clone",
                "--quiet",
                "--no-checkout",
                repo.url,
                str(self.path),
                cwd=self.path.parent,
            )
        except GitError:
            shutil.rmtree(self.path, ignore_errors=True)  # a half clone would block the next
            raise

    def _git(
        self, repo: DesiredStateRepo, *args: str, check: bool = True, cwd: Path | None = None
    ) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd or self.path,
            env=self._environment(repo),
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
        if check and result.returncode != 0:
            raise GitError(list(args), result.returncode, result.stderr)
        return result.stdout.strip() if result.returncode == 0 else ""

    def _environment(self, repo: DesiredStateRepo) -> dict[str, str]:
        config = {
            "http.extraHeader": f"Authorization: Bearer {repo.access_token}",
            "credential.helper": "",
        }
        if self._ca_file is not None:
            config["http.sslCAInfo"] = str(self._ca_file)
        env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
        env.update(
            GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_COUNT=str(len(config))
        )
        for index, (key, value) in enumerate(config.items()):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env


def load_deployments(checkout: Path) -> dict[str, Deployment]:
    """Every ApplicationDeployment in every *.yaml file of the checkout, by deployment id."""
    return dict(read_desired_state(checkout).deployments)


def read_desired_state(checkout: Path) -> DesiredState:
    """Every ApplicationDeployment in every *.yaml file of the checkout, by deployment id.
    A document that breaks the schema but names its id and components is kept, with its
    problems, so it can be reported Failed; one that cannot be read as a deployment at all
    is logged and listed as unreadable."""
    deployments: dict[str, Deployment] = {}
    unreadable: list[str] = []
    for path in sorted(checkout.rglob("*.yaml")):
        relative = path.relative_to(checkout).as_posix()
        if relative.startswith(".git/"):
            continue
        try:
            documents = [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc]
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            log.warning("desired-state: %s skipped, not readable YAML: %s", relative, _one_line(exc))
            unreadable.append(f"{relative} (not YAML)")
            continue
        for document in documents:
            try:
                deployment = parse_deployment(document, relative)
            except ValueError as exc:
                log.warning("desired-state: %s skipped: %s", relative, exc)
                unreadable.append(f"{relative} ({exc})")
                continue
            problems = tuple(validate_document(document))
            if problems:
                log.warning("desired-state: %s breaks the schema: %s", relative, "; ".join(problems))
                deployment = replace(deployment, problems=problems)
            if deployment.id in deployments:
                log.warning(
                    "desired-state: %s repeats deployment %s, ignored", relative, deployment.id
                )
                continue
            deployments[deployment.id] = deployment
    return DesiredState(deployments, tuple(unreadable))


def validate_document(document: Any) -> list[str]:
    """Where the document breaks the V24 ApplicationDeployment tables (GIT-008, GIT-009).
    The profile type is the runtime's business (UNSUPPORTED_PROFILE), not checked here."""
    problems = Problems()
    if not isinstance(document, dict):
        return ["the document must be a map"]
    annotations = check_metadata(problems, document)
    problems.text(annotations.get("id"), "metadata.annotations.id", UUID)
    check_spec(problems, document)
    return list(problems)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def parse_deployment(document: Any, source: str) -> Deployment:
    if not isinstance(document, dict) or document.get("kind") != "ApplicationDeployment":
        raise ValueError("not an ApplicationDeployment")
    try:
        metadata, spec = document["metadata"], document["spec"]
        deployment_id = str(metadata["annotations"]["id"])
        profile = spec["deploymentProfile"]
        components = tuple(
            Component(
                name=str(c["name"]), properties=MappingProxyType(dict(c.get("properties") or {}))
            )
            for c in profile["components"]
        )
        parameters = spec.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise TypeError("spec.parameters is not a map")
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed ApplicationDeployment ({exc!r})") from None
    if not components:
        raise ValueError("deployment has no components")
    canonical = json.dumps(document, sort_keys=True, default=str).encode("utf-8")
    return Deployment(
        id=deployment_id,
        name=str(metadata.get("name", "")),
        profile_type=str(profile.get("type", "")),
        components=components,
        parameters=MappingProxyType(parameters),
        digest=hashlib.sha256(canonical).hexdigest(),
        source=source,
    )
