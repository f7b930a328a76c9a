"""Making sure a Docker engine answers before the suite starts anything in it.

A running engine (Docker Desktop, a system service, one started by an earlier run) is left
alone. On a bare Debian machine where we are root, which is what CI gives us, the engine is
installed from apt and `dockerd` is started in a session of its own so it outlives this
process. Anywhere else we stop with one line telling the user what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from margo_conformance.base.errors import EnvironmentSetupError

Log = Callable[[str], None]

DOCKERD_LOG = Path("/var/log/margo-conformance-dockerd.log")
ENGINE_PACKAGES = ("docker.io", "iptables")
PING_TIMEOUT_S = 2.0
START_DEADLINE_S = 60.0
POLL_INTERVAL_S = 0.1

_NOT_ROOT_ON_DEBIAN = (
    "No Docker engine answers: start Docker (Docker Desktop or the docker service) and rerun, "
    "or run `margo-conformance setup` as root on Debian to have it installed and started."
)


def engine_answers(timeout: float = PING_TIMEOUT_S) -> bool:
    """True when the engine that DOCKER_HOST (or the default socket) points at answers a ping."""
    try:
        client = docker.from_env(timeout=timeout)
    except docker.errors.DockerException:
        return False  # no socket, or the version handshake failed: nothing answers
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return False
    finally:
        client.close()


def ensure_engine(log: Log) -> None:
    """Leave a running engine alone; otherwise install and start one, or say what to do."""
    if engine_answers():
        return
    _require_root_on_debian()
    _require_local_engine()
    if shutil.which("dockerd") is None:
        log("dockerd is not installed; installing " + " ".join(ENGINE_PACKAGES) + " with apt")
        apt_install(ENGINE_PACKAGES, log)
    log(f"starting dockerd (log: {DOCKERD_LOG})")
    started = time.monotonic()
    process = start_dockerd(DOCKERD_LOG)
    wait_for_engine(process, DOCKERD_LOG, START_DEADLINE_S)
    log(f"dockerd answers after {time.monotonic() - started:.1f} s")


def is_root_on_debian() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_install(packages: Sequence[str], log: Log) -> None:
    """Install Debian packages non-interactively; the package lists are refreshed first."""
    if not is_root_on_debian():
        raise EnvironmentSetupError(
            f"Installing {' '.join(packages)} needs root on Debian: install them and rerun."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log("apt-get update")
    _run_apt(["apt-get", "update"], env)
    log("apt-get install -y " + " ".join(packages))
    _run_apt(["apt-get", "install", "-y", *packages], env)


def start_dockerd(log_path: Path) -> subprocess.Popen[bytes]:
    """Start dockerd detached: its own session, so it survives us and our Ctrl-C."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            ["dockerd"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def wait_for_engine(process: subprocess.Popen[bytes], log_path: Path, deadline_s: float) -> None:
    """Poll until the engine answers; a dockerd that exits early fails at once with its reason."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if engine_answers(timeout=POLL_INTERVAL_S * 5):
            return
        try:
            # Wakes at once if dockerd dies; otherwise the next look at the socket.
            process.wait(timeout=POLL_INTERVAL_S)
        except subprocess.TimeoutExpired:
            continue
        raise EnvironmentSetupError(
            f"dockerd exited with code {process.returncode}: {_last_line(log_path)}"
        )
    raise EnvironmentSetupError(
        f"dockerd did not answer within {deadline_s:.0f} s; see {log_path}: {_last_line(log_path)}"
    )


def _require_root_on_debian() -> None:
    if not is_root_on_debian():
        raise EnvironmentSetupError(_NOT_ROOT_ON_DEBIAN)


def _require_local_engine() -> None:
    # Starting a local dockerd cannot help when DOCKER_HOST names another engine.
    host = os.environ.get("DOCKER_HOST", "")
    if host and host != "unix:///var/run/docker.sock":
        raise EnvironmentSetupError(
            f"DOCKER_HOST={host} does not answer: start that engine, or unset DOCKER_HOST."
        )


def _run_apt(argv: list[str], env: dict[str, str]) -> None:
    try:
        subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    except subprocess.CalledProcessError as exc:
        output = (exc.stderr or exc.stdout or b"").decode(errors="replace")
        raise EnvironmentSetupError(
            f"`{' '.join(argv)}` failed (exit {exc.returncode}): {_last_nonempty(output)}"
        ) from exc


def _last_line(path: Path) -> str:
    try:
        return _last_nonempty(path.read_text(errors="replace")[-4096:])
    except OSError:
        return "(no log)"


def _last_nonempty(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
