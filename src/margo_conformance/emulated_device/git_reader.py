"""Reading a device's desired-state repository the way an agent would: git over HTTP.

Uses GitPython with the token in an `http.extraHeader`, `GIT_TERMINAL_PROMPT=0` so git never
waits for a password, and a timeout. Each operation is recorded with its outcome.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import yaml

from margo_conformance.base import credentials, redaction
from margo_conformance.base.evidence import GIT, EvidenceLog


@dataclass(frozen=True)
class GitRead:
    ok: bool
    detail: str
    checkout: Path | None = None
    documents: dict[str, Any] = field(default_factory=dict)  # path in repo -> parsed YAML (or error text)


def _env(token: str | None) -> dict[str, str]:
    redaction.learn(credentials.GIT_TOKEN, token)  # git may echo it (GIT_TRACE, error text)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    if token is not None:
        # Passed as environment config, so the token is neither on a command line nor on disk.
        env |= {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}"}
    return env


def read_repository(
    url: str, token: str | None, destination: Path, evidence: EvidenceLog, timeout_s: float
) -> GitRead:
    """Clone `url` fresh into `destination` and parse every YAML file on the default branch."""
    redaction.current().learn_url(url)
    started = time.monotonic()
    try:
        with evidence.waiting():  # a git client talking to the WOS: the WOS's time, mostly
            git.Git().execute(
                ["git", "clone", "--quiet", "--", url, str(destination)],
                env=_env(token),
                kill_after_timeout=timeout_s,
                with_extended_output=True,
            )
    except git.GitCommandError as exc:
        detail = _git_error(exc, time.monotonic() - started, timeout_s)
        evidence.record(GIT, f"clone {url} -> refused: {detail}", url=url, ok=False, detail=detail,
                        with_token=token is not None, seconds=round(time.monotonic() - started, 2))
        return GitRead(False, detail)
    repo = git.Repo(destination)
    head = repo.head.commit.hexsha if repo.head.is_valid() else None
    documents = parse_yaml_files(destination)
    evidence.record(GIT, f"clone {url} -> ok at {head[:7] if head else '(empty)'}, {len(documents)} YAML file(s)",
                    url=url, ok=True, head=head, files=sorted(documents), with_token=token is not None,
                    seconds=round(time.monotonic() - started, 2))
    return GitRead(True, head or "", destination, documents)


def parse_yaml_files(checkout: Path) -> dict[str, Any]:
    """Every YAML file of the checkout, parsed; one that does not parse is kept as text saying why
    (a step judging it fails naming the file, the suite does not stop on it)."""
    documents: dict[str, Any] = {}
    for path in sorted(checkout.rglob("*.y*ml")):
        if ".git" in path.parts or path.is_symlink() or not path.is_file():
            continue  # a directory named *.yaml, or a link out of the repository, holds no document
        relative = path.relative_to(checkout).as_posix()
        try:
            documents[relative] = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            documents[relative] = "not YAML: the file is not UTF-8 text"
        except yaml.YAMLError as exc:
            documents[relative] = f"not YAML: {exc}"
    return documents


def _git_error(exc: git.GitCommandError, elapsed_s: float, timeout_s: float) -> str:
    if elapsed_s >= timeout_s:
        return f"no answer within {timeout_s:g}s"
    lines = [line.strip() for line in str(exc.stderr or exc).splitlines() if line.strip()]
    fatal = [line for line in lines if "fatal" in line or "error" in line]
    return (fatal or lines or ["git failed"])[-1].strip("'\" ")
