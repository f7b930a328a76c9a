"""Images the suite runs, made available without a container registry.

Two jobs. `choose_base_image` picks the image every suite Dockerfile builds FROM (its
`BASE_IMAGE` build argument): one already on the engine when nothing has to be built from it,
else (`ensure_base_image`) the public Python image where it can be pulled, otherwise a
Debian bookworm root filesystem made with debootstrap from the host's own apt mirror and
imported as `margo-conformance/base:bookworm`. So a run whose images are all current tries no
pull. `ensure_built_image` builds a context into a tag and caches it by a hash of the
context, so an unchanged context costs milliseconds.

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.utils import parse_repository_tag
from docker.utils.build import exclude_paths

from margo_conformance.base.errors import EnvironmentSetupError, ImageBuildError
from margo_conformance.engine.daemon import apt_install

Log = Callable[[str], None]

LOCAL_BASE_IMAGE = "margo-conformance/base:bookworm"
PUBLIC_BASE_IMAGE = "python:3.11-slim-bookworm"

CACHE_LABEL = "org.margo.conformance.cache"
CONTEXT_HASH_LABEL = "org.margo.conformance.context-hash"

DEBIAN_SUITE = "bookworm"
DEBOOTSTRAP_INCLUDE = ("python3", "python3-venv", "git", "ca-certificates")
APT_SOURCES_LIST = Path("/etc/apt/sources.list")
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")

PULL_DEADLINE_S = 300.0
# Once the local fallback exists, a pull has failed here before; do not let a hanging DNS
# lookup or a slow registry hold every later setup run for minutes.
PULL_DEADLINE_WITH_FALLBACK_S = 10.0
BUILD_TIMEOUT_S = 600

WHEELHOUSE = "wheelhouse"
REQUIREMENTS = "requirements.txt"
# Byproducts of running code in place; they change without changing what the image does.
IGNORED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"})
IGNORED_SUFFIXES = (".pyc", ".pyo")
# Lines the legacy builder itself prints around each step; the step's own output is the clue.
_BUILDER_CHATTER = (" ---> ", "Step ", "Removing intermediate container", "Successfully ")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _silent(_: str) -> None:
    pass


# --------------------------------------------------------------------------- lookups


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def pull_image(client: docker.DockerClient, ref: str, deadline_s: float) -> str | None:
    """Pull `ref`; None on success, else the reason in one line. Never waits past the deadline."""
    repository, tag = parse_repository_tag(ref)
    deadline = time.monotonic() + deadline_s
    saved_timeout = client.api.timeout
    # The HTTP timeout bounds each read, so a daemon stuck resolving a host cannot outlast us.
    client.api.timeout = deadline_s
    try:
        for event in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if "error" in event:
                return str(event["error"]).strip()
            if time.monotonic() > deadline:
                return f"pull did not finish within {deadline_s:.0f} s"
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        return _one_line(getattr(exc, "explanation", None) or str(exc))
    finally:
        client.api.timeout = saved_timeout
    return None if image_exists(client, ref) else "pull finished without the image"


# --------------------------------------------------------------------------- base image


def present_base_image(client: docker.DockerClient, preferred: str | None) -> str | None:
    """The base image already on the engine, looked up without pulling: the preferred one
    (--base-image), else the public Python image, else the local Debian build; None if none is."""
    candidates = (preferred,) if preferred else (PUBLIC_BASE_IMAGE, LOCAL_BASE_IMAGE)
    return next((ref for ref in candidates if image_exists(client, ref)), None)


def choose_base_image(
    client: docker.DockerClient,
    preferred: str | None,
    builds_needed: Callable[[str], bool],
    log: Log = _silent,
) -> str:
    """The base image for this command; a pull (or the debootstrap fallback) only when needed.

    `builds_needed(base)` tells whether an image would have to be built from `base`. The base
    image on the engine is used as it is unless something has to be built: only then is the
    public image worth trying to pull (with the local build as the fallback). With no base
    image at all, one is made: the suite's workloads and build arguments need it.
    """
    present = present_base_image(client, preferred)
    if present is not None and not builds_needed(present):
        return present
    return ensure_base_image(client, preferred, log)


def ensure_base_image(
    client: docker.DockerClient, preferred: str | None, log: Log = _silent
) -> str:
    """The image reference to use as BASE_IMAGE, pulling or building it when needed."""
    if preferred:
        return _require_image(client, preferred, log)
    if image_exists(client, PUBLIC_BASE_IMAGE):
        return PUBLIC_BASE_IMAGE
    have_fallback = image_exists(client, LOCAL_BASE_IMAGE)
    deadline = PULL_DEADLINE_WITH_FALLBACK_S if have_fallback else PULL_DEADLINE_S
    reason = pull_image(client, PUBLIC_BASE_IMAGE, deadline)
    if reason is None:
        log(f"pulled {PUBLIC_BASE_IMAGE}")
        return PUBLIC_BASE_IMAGE
    log(f"cannot pull {PUBLIC_BASE_IMAGE} ({reason}); using the local Debian base image")
    if have_fallback:
        return LOCAL_BASE_IMAGE
    return build_local_base_image(client, LOCAL_BASE_IMAGE, log)


def _require_image(client: docker.DockerClient, ref: str, log: Log) -> str:
    if image_exists(client, ref):
        return ref
    log(f"pulling {ref}")
    reason = pull_image(client, ref, PULL_DEADLINE_S)
    if reason is not None:
        raise EnvironmentSetupError(f"Base image {ref} is not here and cannot be pulled: {reason}")
    return ref


def build_local_base_image(
    client: docker.DockerClient, tag: str, log: Log = _silent, mirror: str | None = None
) -> str:
    """debootstrap a minimal bookworm with Python and git, and import it as `tag`."""
    if shutil.which("docker") is None:
        raise EnvironmentSetupError("The docker command is missing: install docker.io and rerun.")
    if shutil.which("debootstrap") is None:
        log("debootstrap is not installed; installing it with apt")
        apt_install(["debootstrap"], log)
    mirror = mirror or find_debian_mirror()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="margo-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        try:
            log(f"debootstrap {DEBIAN_SUITE} from {mirror} (about 40 s)")
            _debootstrap(rootfs, mirror)
            _drop_apt_caches(rootfs)
            log(f"importing the root filesystem as {tag}")
            _import_rootfs(rootfs, tag)
        finally:
            # A debootstrap killed midway can leave /proc or /dev mounted in the tree; deleting
            # through such a mount would delete the host's files.
            _unmount_below(rootfs)
    if not image_exists(client, tag):
        raise ImageBuildError(f"{tag}: docker import finished but the engine has no such image")
    log(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


def _debootstrap(rootfs: Path, mirror: str) -> None:
    argv = [
        "debootstrap",
        "--variant=minbase",
        "--include=" + ",".join(DEBOOTSTRAP_INCLUDE),
        DEBIAN_SUITE,
        str(rootfs),
        mirror,
    ]
    _run_or_raise(argv, what="debootstrap")


def _drop_apt_caches(rootfs: Path) -> None:
    # The downloaded .debs and package lists are a third of the image and useless in it:
    # like Debian's own images, a Dockerfile that needs apt runs `apt-get update` itself.
    for folder in (rootfs / "var/cache/apt/archives", rootfs / "var/lib/apt/lists"):
        for entry in folder.glob("*"):
            if entry.is_file() and entry.name != "lock":
                entry.unlink()


def _import_rootfs(rootfs: Path, tag: str) -> None:
    changes = [
        'CMD ["/bin/bash"]',
        f"LABEL {CACHE_LABEL}=true",
    ]
    import_argv = ["docker", "import"]
    for change in changes:
        import_argv += ["--change", change]
    import_argv += ["-", tag]
    with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
        assert tar.stdout is not None
        try:
            subprocess.run(import_argv, stdin=tar.stdout, check=True, capture_output=True)
        except subprocess.CalledProcessError as exc:
            tar.kill()
            raise ImageBuildError(f"{tag}: docker import failed: {_last_line(exc.stderr)}") from exc
        finally:
            tar.stdout.close()
    if tar.returncode != 0:
        raise ImageBuildError(f"{tag}: tar of the root filesystem exited with {tar.returncode}")


def _unmount_below(root: Path) -> None:
    prefix = str(root) + "/"
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    points = [line.split()[1] for line in mounts if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


# --------------------------------------------------------------------------- apt mirror


def find_debian_mirror(
    sources_list: Path = APT_SOURCES_LIST, sources_dir: Path = APT_SOURCES_DIR
) -> str:
    """The first http(s) mirror the host's apt sources use for the bookworm suite."""
    texts: list[tuple[str, str]] = []
    if sources_list.is_file():
        texts.append(("list", sources_list.read_text()))
    for path in sorted(sources_dir.glob("*.list")):
        texts.append(("list", path.read_text()))
    for path in sorted(sources_dir.glob("*.sources")):
        texts.append(("sources", path.read_text()))
    for kind, text in texts:
        parse = mirrors_from_one_line_format if kind == "list" else mirrors_from_deb822
        for uri in parse(text, DEBIAN_SUITE):
            return uri
    raise EnvironmentSetupError(
        f"No apt source for Debian {DEBIAN_SUITE} found in {sources_list} or {sources_dir}: "
        "pass a base image (--base-image) instead."
    )


def mirrors_from_one_line_format(text: str, suite: str) -> Iterator[str]:
    """Mirror URIs of `deb URI SUITE COMPONENTS...` lines (options in [...] allowed)."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        line = re.sub(r"\[[^\]]*\]", " ", line)  # drop [arch=... signed-by=...]
        fields = line.split()
        is_deb = len(fields) >= 3 and fields[0] == "deb"
        if is_deb and fields[2] == suite and _is_http(fields[1]):
            yield fields[1].rstrip("/")


def mirrors_from_deb822(text: str, suite: str) -> Iterator[str]:
    """Mirror URIs of deb822 stanzas (`Types: deb`, `URIs:`, `Suites:`), skipping disabled ones."""
    for stanza in _deb822_stanzas(text):
        if stanza.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in stanza.get("types", "").split():
            continue
        if suite not in stanza.get("suites", "").split():
            continue
        for uri in stanza.get("uris", "").split():
            if _is_http(uri):
                yield uri.rstrip("/")


def _deb822_stanzas(text: str) -> Iterator[dict[str, str]]:
    stanza: dict[str, str] = {}
    key = ""
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if stanza:
                yield stanza
            stanza, key = {}, ""
        elif raw[0] in " \t" and key:  # a continuation line of a multi-line field
            stanza[key] += " " + raw.strip()
        elif ":" in raw:
            key, value = raw.split(":", 1)
            key = key.strip().lower()
            stanza[key] = value.strip()
    if stanza:
        yield stanza


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


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
    log: Log = _silent,
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
    log: Log = _silent,
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


def stage_context_with_wheelhouse(context: Path, staged: Path, log: Log = _silent) -> None:
    """Copy `context` to `staged` and download its requirements as wheels into wheelhouse/."""
    shutil.copytree(context, staged, ignore=_ignore_byproducts, symlinks=True)
    log(f"pip wheel -r {REQUIREMENTS} -w {WHEELHOUSE} (on the host: containers reach no registry)")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet"]
    argv = [*pip_wheel, "-r", REQUIREMENTS, "-w", str(staged / WHEELHOUSE)]
    _run_or_raise(argv, what=f"pip wheel for {context}", cwd=staged, error=ImageBuildError)


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
        raise ImageBuildError(f"{tag}: {_one_line(exc.explanation or str(exc))}") from exc


def build_failure_line(reason: Any, build_log: Iterable[Mapping[str, Any]]) -> str:
    """The build's error, with the last line the failing step printed when there was one."""
    last_output = ""
    for event in build_log:
        text = event.get("stream")
        if isinstance(text, str):
            for line in _ANSI_ESCAPE.sub("", text).splitlines():
                if line.strip() and not line.startswith(_BUILDER_CHATTER):
                    last_output = line.strip()
    error = _one_line(reason if isinstance(reason, str) else json.dumps(reason))
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


def _run_or_raise(
    argv: list[str],
    what: str,
    cwd: Path | None = None,
    error: type[Exception] = EnvironmentSetupError,
) -> None:
    try:
        subprocess.run(argv, cwd=cwd, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    except subprocess.CalledProcessError as exc:
        detail = _last_line(exc.stderr) if exc.stderr else _last_line(exc.stdout)
        raise error(f"{what} failed (exit {exc.returncode}): {detail}") from exc


def _last_line(output: bytes | None) -> str:
    lines = [ln.strip() for ln in (output or b"").decode(errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    return lines[-1] if lines else "(no output)"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
