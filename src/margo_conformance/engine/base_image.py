"""The base image every suite Dockerfile builds FROM (its `BASE_IMAGE` build argument).

`choose_base_image` takes one already on the engine when nothing has to be built from it,
else (`ensure_base_image`) the public Python image where it can be pulled, otherwise a
Debian bookworm root filesystem made with debootstrap from the host's own apt mirror and
imported as `margo-conformance/base:bookworm`. So a run whose images are all current tries no
pull. The images built FROM it are cached by margo_conformance.engine.images.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.utils import parse_repository_tag

from margo_conformance.base.errors import EnvironmentSetupError, ImageBuildError
from margo_conformance.engine.daemon import apt_install
from margo_conformance.engine.images import CACHE_LABEL, Log, image_exists, last_line, one_line, run_or_raise, silent

LOCAL_BASE_IMAGE = "margo-conformance/base:bookworm"
PUBLIC_BASE_IMAGE = "python:3.11-slim-bookworm"

DEBIAN_SUITE = "bookworm"
DEBOOTSTRAP_INCLUDE = ("python3", "python3-venv", "git", "ca-certificates")
APT_SOURCES_LIST = Path("/etc/apt/sources.list")
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")

PULL_DEADLINE_S = 300.0
# Once the local fallback exists, a pull has failed here before; do not let a hanging DNS
# lookup or a slow registry hold every later setup run for minutes.
PULL_DEADLINE_WITH_FALLBACK_S = 10.0


# --------------------------------------------------------------------------- pulls


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
        return one_line(getattr(exc, "explanation", None) or str(exc))
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
    log: Log = silent,
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
    client: docker.DockerClient, preferred: str | None, log: Log = silent
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
    client: docker.DockerClient, tag: str, log: Log = silent, mirror: str | None = None
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
    run_or_raise(argv, what="debootstrap")


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
            raise ImageBuildError(f"{tag}: docker import failed: {last_line(exc.stderr)}") from exc
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
