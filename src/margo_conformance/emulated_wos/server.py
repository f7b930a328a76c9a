"""The emulated WOS as a running server: uvicorn in a background thread on an ephemeral port.

Usage::

    with EmulatedWos(workdir, artifacts_dir, {"WORKLOAD_IMAGE": "..."}) as wos:
        device = wos.state.register_device(evidence)
        sut_url = wos.url_for_sut     # http://host.docker.internal:PORT (a SUT in a container)
        host_url = wos.url_for_host   # http://127.0.0.1:PORT

It binds 0.0.0.0 so containers reach it through `host.docker.internal` (host-gateway); a SUT
started as a local process (`sut_host="127.0.0.1"`) reaches it on the loopback.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import uvicorn

from margo_conformance.base.errors import SuiteError
from margo_conformance.emulated_wos.api import WosApi
from margo_conformance.emulated_wos.app import build_app
from margo_conformance.emulated_wos.pki import generate_root_ca
from margo_conformance.emulated_wos.state import WosState

CONTAINER_HOSTNAME = "host.docker.internal"
START_TIMEOUT_S = 10.0


class EmulatedWos:
    def __init__(
        self, workdir: Path, artifacts_dir: Path, artifact_values: Mapping[str, str],
        sut_host: str = CONTAINER_HOSTNAME,
    ) -> None:
        self.sut_host = sut_host  # the name the SUT reaches this machine by
        repos = workdir / "repos"
        repos.mkdir(parents=True, exist_ok=True)
        self.state = WosState(repos)
        self.ca_pem = generate_root_ca()
        self.api = WosApi(self.state, self.ca_pem, artifacts_dir, artifact_values)
        self._socket = _bind_ephemeral()
        self.port: int = self._socket.getsockname()[1]
        self.api.public_url = self.url_for_sut
        config = uvicorn.Config(
            build_app(self.api), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="emulated-wos", daemon=True)

    @property
    def url_for_sut(self) -> str:
        return f"http://{self.sut_host}:{self.port}"

    @property
    def url_for_host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> EmulatedWos:
        self._thread.start()
        started = threading.Event()
        # uvicorn exposes readiness only as a flag; watch it from a helper so the wait stays bounded.
        watcher = threading.Thread(target=self._await_started, args=(started,), daemon=True)
        watcher.start()
        if not started.wait(START_TIMEOUT_S):
            raise SuiteError(f"emulated WOS did not start within {START_TIMEOUT_S:.0f}s on port {self.port}")
        return self

    def _await_started(self, started: threading.Event) -> None:
        while not self._server.started and self._thread.is_alive():
            threading.Event().wait(0.01)
        if self._server.started:
            started.set()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> EmulatedWos:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _bind_ephemeral() -> socket.socket:
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # sockets whose proto says TCP, and with it on, every answer on a kept-alive connection
    # waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 0))
    # uvicorn's own default: a fleet opening a connection per poll overflows a short accept
    # queue in bursts, and a dropped SYN costs the client a one-second retransmit.
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
