"""Who judged and what was judged: the suite's identity and the SUT image's identity.

A certification body must be able to tell which suite produced a verdict. The version says
little while the suite is developed from a checkout, so the results also carry the Git
commit (and whether the working tree differed from it) and a SHA-256 over the files that
define conformance: the Gherkin features and the JSON Schemas.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from margo_conformance import SUITE_NAME, __version__
from margo_conformance.base.paths import SUITE_ROOT

CONTENT_DIRS = ("features", "schemas")
# What counts as the suite's behaviour for the "dirty" flag (reports/ and docs do not).
BEHAVIOUR_PATHS = ("features", "schemas", "steps", "src", "conformance.ini")
GIT_TIMEOUT_S = 5


def content_digest(root: Path, directories: Sequence[str] = CONTENT_DIRS) -> str:
    """SHA-256 over (relative path, file SHA-256) of every file under `directories`, sorted.

    Hashing per-file digests with their paths makes a rename count as a change and keeps
    the result independent of file-system order.
    """
    outer = hashlib.sha256()
    files = sorted(
        p
        for d in directories
        if (root / d).is_dir()
        for p in (root / d).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    for path in files:
        inner = hashlib.sha256(path.read_bytes()).hexdigest()
        outer.update(f"{path.relative_to(root).as_posix()}\0{inner}\n".encode())
    return outer.hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the suite's checkout; (None, None) outside a Git work tree."""
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = _git(root, "status", "--porcelain", "--", *BEHAVIOUR_PATHS)
    return commit, None if status is None else bool(status)


def suite_identity(root: Path = SUITE_ROOT) -> dict[str, Any]:
    commit, dirty = git_state(root)
    return {
        "name": SUITE_NAME,
        "version": __version__,
        "commit": commit,
        "dirty": dirty,
        "content_sha256": content_digest(root),
        "content_paths": list(CONTENT_DIRS),
    }


def image_identity(client: Any, image: str) -> dict[str, Any]:
    """The image id (a SHA-256 of its configuration) and any registry digests of `image`.

    Locally built images have no registry digest; the id still pins the exact image.
    """
    try:
        attrs = client.images.get(image).attrs
    except Exception:  # docker.errors.* or a transport error: identity is informative only
        return {}
    return {"image_id": attrs.get("Id"), "repo_digests": list(attrs.get("RepoDigests") or [])}
