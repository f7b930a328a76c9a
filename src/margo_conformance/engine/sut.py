"""Starting the SUT: one container per scenario from the vendor's image, via testcontainers.

The container gets the SUT file's environment with the scenario's values filled in, reaches
the suite's servers through `host.docker.internal`, and carries the run's label so cleanup can
find it. Its log lines stream into the scenario's evidence, and its exit is recorded too, so a
wait on any event also notices a crashed SUT at once.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.docker_client import DockerClient as TcDockerClient
from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy

from margo_conformance.base import credentials, redaction
from margo_conformance.base.errors import SutError
from margo_conformance.base.evidence import CONTAINER, LOG, EvidenceLog
from margo_conformance.config.placeholders import render
from margo_conformance.config.run_config import SutConfig

RUN_LABEL = "org.margo.conformance.run"
ROLE_LABEL = "org.margo.conformance.role"
POLL_INTERVAL_S = 0.1

# The Ryuk reaper image cannot be pulled here; the suite removes what it labelled itself.
testcontainers_config.ryuk_disabled = True


def free_host_port() -> int:
    """A port the kernel just handed out; published container ports use it (tiny race accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


def docker_host_address() -> str:
    """Where published container ports are reached from here (testcontainers knows the cases)."""
    return TcDockerClient().host()


def run_labels(run_id: str) -> dict[str, str]:
    return {RUN_LABEL: run_id}


def workload_label_string(run_id: str) -> str:
    """The `{workload_labels}` placeholder: lets a SUT label the containers it starts for us."""
    return ",".join(f"{k}={v}" for k, v in run_labels(run_id).items())


class SutContainer:
    """One running instance of the SUT, with its logs flowing into the evidence."""

    def __init__(
        self,
        config: SutConfig,
        values: Mapping[str, str],
        evidence: EvidenceLog,
        run_id: str,
        published: Mapping[int, int] | None = None,
    ) -> None:
        self.config = config
        self.evidence = evidence
        self.container = self._describe(config, values, run_id)
        for container_port, host_port in (published or {}).items():
            self.container.with_bind_ports(container_port, host_port)
        self._follower: threading.Thread | None = None
        self.exit_code: int | None = None

    @staticmethod
    def _describe(config: SutConfig, values: Mapping[str, str], run_id: str) -> DockerContainer:
        container = DockerContainer(config.image)
        for name, template in config.env.items():
            value = render(template, values)
            # Listed under `secrets:`: the filled value too (a name that merely looks secret may
            # hold a URL template; its literal values are learned from the SUT file).
            if name in config.secrets:
                redaction.learn(credentials.SUT_SECRET, value)
            container.with_env(name, value)
        if config.command:
            container.with_command([render(part, values) for part in config.command])
        for mount in config.mounts:
            container.with_volume_mapping(mount.source, mount.target, "ro" if mount.read_only else "rw")
        container.with_kwargs(
            extra_hosts={"host.docker.internal": "host-gateway"},
            labels={**run_labels(run_id), ROLE_LABEL: config.role},
        )
        if config.ready.log:
            strategy = LogMessageWaitStrategy(re.compile(config.ready.log))
        elif config.ready.http_port:
            strategy = HttpWaitStrategy(config.ready.http_port, config.ready.http_path).for_status_code(
                config.ready.http_status
            )
            container.with_exposed_ports(config.ready.http_port)
        else:
            strategy = None
        if strategy is not None:
            container.waiting_for(
                strategy.with_startup_timeout(int(max(1, config.timeouts.ready))).with_poll_interval(
                    POLL_INTERVAL_S
                )
            )
        return container

    def start(self) -> None:
        """Start and wait until ready; any failure is a one-line `SutError` and no container remains."""
        self.evidence.record(CONTAINER, f"starting {self.config.image}", image=self.config.image)
        try:
            with self.evidence.waiting():  # container start to ready is the SUT's time
                self.container.start()
        except (ImageNotFound, NotFound) as exc:
            self._remove_quietly()
            raise SutError(f"SUT image {self.config.image!r} not found on the Docker engine") from exc
        except (RuntimeError, TimeoutError) as exc:
            tail = self._log_tail()
            self._remove_quietly()
            raise SutError(f"SUT did not become ready: {_first_line(exc)}{tail}") from exc
        except APIError as exc:
            self._remove_quietly()
            raise SutError(f"Docker refused to start the SUT: {exc.explanation or exc}") from exc
        wrapped = self.container.get_wrapped_container()
        self.evidence.record(CONTAINER, f"ready: {wrapped.short_id}", container_id=wrapped.id)
        self._follower = threading.Thread(target=self._follow_logs, name="sut-logs", daemon=True)
        self._follower.start()

    def _follow_logs(self) -> None:
        wrapped = self.container.get_wrapped_container()
        try:
            for raw in wrapped.logs(stream=True, follow=True, stdout=True, stderr=True):
                for line in raw.decode("utf-8", errors="replace").splitlines():
                    if line.strip():
                        self.evidence.record(LOG, line.rstrip())
            self.exit_code = int(wrapped.wait(timeout=5).get("StatusCode", -1))
        except (APIError, NotFound, docker.errors.DockerException, OSError):
            return  # removed while we followed it: stop() records the end
        self.evidence.record(CONTAINER, f"exited with code {self.exit_code}", exit_code=self.exit_code)

    def exec(self, command: list[str], timeout_s: float) -> tuple[int, str]:
        """Run a command in the container; (exit code, combined output). Bounded by `timeout_s`."""
        wrapped = self.container.get_wrapped_container()
        result: dict[str, tuple[int, str]] = {}

        def run() -> None:
            code, output = wrapped.exec_run(command, demux=False)
            result["done"] = (int(code), (output or b"").decode("utf-8", errors="replace"))

        worker = threading.Thread(target=run, name="sut-exec", daemon=True)
        worker.start()
        worker.join(timeout_s)
        if "done" not in result:
            return -1, f"no result within {timeout_s:g}s"
        return result["done"]

    def is_running(self) -> bool:
        try:
            wrapped = self.container.get_wrapped_container()
            wrapped.reload()
            return wrapped.status in ("created", "running", "restarting")
        except (NotFound, APIError):
            return False

    def stop(self) -> None:
        with self.evidence.waiting():  # the SUT's shutdown and its removal by the engine
            try:
                wrapped = self.container.get_wrapped_container()
                wrapped.stop(timeout=int(max(1, self.config.timeouts.stop)))
            except (NotFound, APIError, AttributeError):
                pass
            if self._follower is not None:
                self._follower.join(timeout=self.config.timeouts.stop)
            self._remove_quietly()

    def _remove_quietly(self) -> None:
        with contextlib.suppress(NotFound, APIError, AttributeError, docker.errors.DockerException):
            self.container.stop()

    def _log_tail(self, lines: int = 3) -> str:
        try:
            out, err = self.container.get_logs()
        except (NotFound, APIError, AttributeError):
            return ""
        text = (out + err).decode("utf-8", errors="replace").strip().splitlines()
        return f"; last log: {' | '.join(text[-lines:])}" if text else "; no log output"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    # testcontainers appends long hints; keep the sentence that says what happened.
    return first.split(". Hint:")[0].split(" Container error:")[0]


def remove_run_resources(run_id: str, late_creates_s: float = 0.0) -> int:
    """Remove every container and network labelled with this run; returns how many were removed.

    Passes repeat until one finds nothing. An interrupted run may have had a create in flight
    (an agent starting a workload, a worker starting a SUT) that the engine registers after the
    passes; `late_creates_s` > 0 then watches the engine's create events that long and removes
    what they name (CI found such "created" containers after interrupted runs).
    """
    client = docker.from_env()
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    started = int(time.time())
    removed = 0
    try:
        for _ in range(REMOVAL_PASSES):
            found = _remove_labelled(client, selector)
            removed += found
            if not found:
                break
        if late_creates_s > 0:
            removed += _remove_late_creates(client, run_id, started, late_creates_s)
    finally:
        client.close()
    return removed


def _remove_late_creates(client: docker.DockerClient, run_id: str, since: int, seconds: float) -> int:
    """Containers of the run created since `since`, seen by the engine's events until `seconds`
    from now (the stream ends then), removed as they are seen."""
    events = client.events(
        decode=True, since=since, until=int(time.time() + seconds) + 1,
        filters={"type": "container", "event": "create", "label": f"{RUN_LABEL}={run_id}"},
    )
    removed = 0
    for event in events:
        with contextlib.suppress(NotFound, APIError):
            client.containers.get(event["id"]).remove(force=True, v=True)
            removed += 1
    return removed


#: At most this many removal passes (each after the previous one removed something).
REMOVAL_PASSES = 4


#: Containers removed at once: the engine removes them in parallel, one by one took 0.15 s each.
REMOVAL_THREADS = 8


def _remove_labelled(client: docker.DockerClient, selector: dict[str, str]) -> int:
    def remove(container: Container) -> bool:
        try:
            container.remove(force=True, v=True)
            return True
        except (NotFound, APIError):
            return False

    containers = client.containers.list(all=True, filters=selector)
    with ThreadPoolExecutor(max_workers=REMOVAL_THREADS) as pool:
        removed = sum(pool.map(remove, containers))
    for network in client.networks.list(filters=selector):
        try:
            network.remove()
            removed += 1
        except (NotFound, APIError):
            pass
    return removed


def remove_all_suite_resources() -> int:
    """Remove what any run left behind (after a crash or kill -9): everything with a run label."""
    client = docker.from_env()
    run_ids = {c.labels.get(RUN_LABEL) for c in client.containers.list(all=True, filters={"label": RUN_LABEL})}
    client.close()
    return sum(remove_run_resources(run_id) for run_id in run_ids if run_id)
