"""Images built from a context, cached by a hash of that context, without a container registry.

`ensure_built_image` builds a context into a tag and caches it by a hash of the context (files
as `.dockerignore` leaves them, build arguments, the IDs of local parent images), so an
unchanged context costs milliseconds. The base image they build FROM comes from
margo_conformance.engine.base_image.

Containers here cannot reach the package registries, so a context with a `requirements.txt`
gets its wheels downloaded on the host into `wheelhouse/` first; its Dockerfile installs from
there with `pip install --no-index --find-links=wheelhouse`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.utils.build import exclude_paths

from margo_conformance.base.errors import EnvironmentSetupError, ImageBuildError

Log = Callable[[str], None]

CACHE_LABEL = "org.margo.conformance.cache"
CONTEXT_HASH_LABEL = "org.margo.conformance.context-hash"

BUILD_TIMEOUT_S = 600

WHEELHOUSE = "wheelhouse"
REQUIREMENTS = "requirements.txt"
# Byproducts of running code in place; they change without changing what the image does.
IGNORED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"})
IGNORED_SUFFIXES = (".pyc", ".pyo")
# Lines the legacy builder itself prints around each step; the step's own output is the clue.
_BUILDER_CHATTER = (" ---> ", "Step ", "Removing intermediate container", "Successfully ")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def silent(_: str) -> None:
    pass


# --------------------------------------------------------------------------- lookups


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


# --------------------------------------------------------------------------- built images


@dataclass(frozen=True)
class BuildOutcome:
    tag: str
    built: bool  # False: an image with the same context hash was already there
    seconds: float


def ensure_built_image(
    client: docker.DockerClient,
    tag: str,
    context: Path,
    dockerfile: str = "Dockerfile",
    build_args: dict[str, str] | None = None,
    log: Log = silent,
) -> str:
    """Build `context` into `tag` unless the image there was built from the same inputs."""
    return build_if_stale(client, tag, context, dockerfile, build_args, log).tag


def content_tag(tag: str, context_digest: str) -> str:
    """The tag that names exactly one build input: `name:dev` -> `name:dev-<hash12>`.

    Runs use it, so two checkouts (or a run and a rebuild) on one engine never pull an image
    out from under each other by re-tagging the shared name.
    """
    name, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
    return f"{name}:{version}-{context_digest.rpartition(':')[2][:12]}"


def build_if_stale(
    client: docker.DockerClient,
    tag: str,
    context: Path,
    dockerfile: str = "Dockerfile",
    build_args: dict[str, str] | None = None,
    log: Log = silent,
) -> BuildOutcome:
    """`ensure_built_image`, also telling whether it built and how long it took.

    The returned tag is the content tag; the plain `tag` is moved to the same image for people
    who run it by hand. Superseded images are left alone: another run may still be using them.
    """
    started = time.monotonic()
    args = dict(build_args or {})
    wanted, stable = _wanted_build(client, tag, context, dockerfile, args)
    if _label_of(client, stable, CONTEXT_HASH_LABEL) == wanted:
        if _image_id(client, tag) != _image_id(client, stable):
            _retag(client, stable, tag)
        return BuildOutcome(stable, built=False, seconds=time.monotonic() - started)
    log(f"building {tag} from {context}")
    labels = {CONTEXT_HASH_LABEL: wanted, CACHE_LABEL: "true"}
    if (context / REQUIREMENTS).is_file():
        with tempfile.TemporaryDirectory(prefix="margo-context-") as tmp:
            staged = Path(tmp) / "context"
            stage_context_with_wheelhouse(context, staged, log)
            _docker_build(client, stable, staged, dockerfile, args, labels)
    else:
        _docker_build(client, stable, context, dockerfile, args, labels)
    _retag(client, stable, tag)
    seconds = time.monotonic() - started
    log(f"built {stable} in {seconds:.1f} s")
    return BuildOutcome(stable, built=True, seconds=seconds)


def needs_build(
    client: docker.DockerClient,
    tag: str,
    context: Path,
    dockerfile: str = "Dockerfile",
    build_args: Mapping[str, str] | None = None,
) -> bool:
    """Would `build_if_stale` build? (No image was built from exactly these inputs.)"""
    wanted, stable = _wanted_build(client, tag, context, dockerfile, dict(build_args or {}))
    return _label_of(client, stable, CONTEXT_HASH_LABEL) != wanted


def _wanted_build(
    client: docker.DockerClient, tag: str, context: Path, dockerfile: str, args: Mapping[str, str]
) -> tuple[str, str]:
    """(context hash, content tag) of a build from these inputs."""
    wanted = context_hash(context, dockerfile, args, _parent_image_ids(client, args))
    return wanted, content_tag(tag, wanted)


def _retag(client: docker.DockerClient, source: str, target: str) -> None:
    repository, _, version = target.rpartition(":") if ":" in target.rsplit("/", 1)[-1] else (target, "", "latest")
    client.api.tag(source, repository, version, force=True)


def context_hash(
    context: Path,
    dockerfile: str,
    build_args: Mapping[str, str],
    parent_ids: Mapping[str, str] | None = None,
) -> str:
    """sha256 over the context files the build sees (path, exec bit, bytes), the args and more.

    `parent_ids` maps build-arg values that name local images to their image IDs, so
    rebuilding the base image under the same tag also rebuilds what is built FROM it.
    """
    digest = hashlib.sha256()
    header = {
        "dockerfile": dockerfile,
        "build_args": dict(sorted(build_args.items())),
        "parents": dict(sorted((parent_ids or {}).items())),
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for path in _context_files(context, dockerfile):
        relative = path.relative_to(context).as_posix()
        executable = os.access(path, os.X_OK)
        digest.update(f"\0{relative}\0{int(executable)}\0".encode())
        digest.update(path.read_bytes())
    # The Dockerfile may live outside the context (dockerfile="../x/Dockerfile").
    dockerfile_path = (context / dockerfile).resolve()
    if dockerfile_path.is_file() and not dockerfile_path.is_relative_to(context.resolve()):
        digest.update(b"\0dockerfile\0" + dockerfile_path.read_bytes())
    return "sha256:" + digest.hexdigest()


def stage_context_with_wheelhouse(context: Path, staged: Path, log: Log = silent) -> None:
    """Copy `context` to `staged` and download its requirements as wheels into wheelhouse/."""
    shutil.copytree(context, staged, ignore=_ignore_byproducts, symlinks=True)
    log(f"pip wheel -r {REQUIREMENTS} -w {WHEELHOUSE} (on the host: containers reach no registry)")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet"]
    argv = [*pip_wheel, "-r", REQUIREMENTS, "-w", str(staged / WHEELHOUSE)]
    run_or_raise(argv, what=f"pip wheel for {context}", cwd=staged, error=ImageBuildError)


def _docker_build(
    client: docker.DockerClient,
    tag: str,
    context: Path,
    dockerfile: str,
    build_args: dict[str, str],
    labels: dict[str, str],
) -> None:
    try:
        client.images.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            buildargs=build_args,
            labels=labels,
            rm=True,
            forcerm=True,
            timeout=BUILD_TIMEOUT_S,
        )
    except docker.errors.BuildError as exc:
        raise ImageBuildError(f"{tag}: {build_failure_line(exc.msg, exc.build_log)}") from exc
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"{tag}: {one_line(exc.explanation or str(exc))}") from exc


def build_failure_line(reason: Any, build_log: Iterable[Mapping[str, Any]]) -> str:
    """The build's error, with the last line the failing step printed when there was one."""
    last_output = ""
    for event in build_log:
        text = event.get("stream")
        if isinstance(text, str):
            for line in _ANSI_ESCAPE.sub("", text).splitlines():
                if line.strip() and not line.startswith(_BUILDER_CHATTER):
                    last_output = line.strip()
    error = one_line(reason if isinstance(reason, str) else json.dumps(reason))
    return f"{error} (last output: {last_output})" if last_output else error


def _parent_image_ids(client: docker.DockerClient, build_args: Mapping[str, str]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for value in build_args.values():
        if _looks_like_image_ref(value):
            with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
                ids[value] = client.images.get(value).id
    return ids


def _looks_like_image_ref(value: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9][a-z0-9._/-]*(:[\w][\w.-]*)?(@sha256:[0-9a-f]{64})?", value))


def _image_id(client: docker.DockerClient, ref: str) -> str | None:
    try:
        return str(client.images.get(ref).id)
    except docker.errors.ImageNotFound:
        return None


def _label_of(client: docker.DockerClient, ref: str, label: str) -> str | None:
    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None
    return (image.labels or {}).get(label)


def _context_files(context: Path, dockerfile: str) -> list[Path]:
    """The files the build would send, as `.dockerignore` decides, minus Python byproducts."""
    # docker-py's own matcher, so the hash sees exactly what the engine is sent.
    included = exclude_paths(str(context), _dockerignore_patterns(context), dockerfile)
    files = [context / relative for relative in included]
    return sorted(
        (f for f in files if f.is_file() and not _is_byproduct(f.relative_to(context))),
        key=lambda f: f.relative_to(context).as_posix(),
    )


def _dockerignore_patterns(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _is_byproduct(relative: Path) -> bool:
    return relative.name.endswith(IGNORED_SUFFIXES) or any(
        part in IGNORED_NAMES for part in relative.parts
    )


def _ignore_byproducts(_folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in IGNORED_NAMES or n.endswith(IGNORED_SUFFIXES)}


# --------------------------------------------------------------------------- helpers


def run_or_raise(
    argv: list[str],
    what: str,
    cwd: Path | None = None,
    error: type[Exception] = EnvironmentSetupError,
) -> None:
    try:
        subprocess.run(argv, cwd=cwd, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    except subprocess.CalledProcessError as exc:
        detail = last_line(exc.stderr) if exc.stderr else last_line(exc.stdout)
        raise error(f"{what} failed (exit {exc.returncode}): {detail}") from exc


def last_line(output: bytes | None) -> str:
    lines = [ln.strip() for ln in (output or b"").decode(errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    return lines[-1] if lines else "(no output)"


def one_line(text: str) -> str:
    return " ".join(str(text).split())
