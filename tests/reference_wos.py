"""The reference WOS in this process, and a `WosUnderTest` wired to it, for Docker-free tests.

Usage::

    with wos_under_test(tmp_path, faults="status-crosstalk") as wos:
        wos.register_device()
        ...

Both servers of the reference WOS (`reference/wos/`: device API and control verbs) run on
loopback ports under uvicorn in background threads. The `WosUnderTest` gets a device client
and an HTTP control adapter pointing at them, exactly what `WosUnderTest.start` would set up
for a containerised WOS.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.config.run_config import RunConfig, load_sut_file
from margo_conformance.emulated_device.client import DeviceClient
from margo_conformance.emulated_device.control import HttpControl
from margo_conformance.scenario.wos import WosUnderTest

REFERENCE_WOS_DIR = Path(__file__).resolve().parents[1] / "reference" / "wos"
REFERENCE_WOS_FILE = FIXTURES_DIR / "sut" / "reference-wos.yaml"
TIMEOUT_S = 5.0


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # clients may connect at once: the kernel queues them until uvicorn accepts
    return sock


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _serve(app: Any, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(app, log_config=None, access_log=False, log_level="warning",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    return server, thread


@contextmanager
def wos_under_test(tmp_path: Path, faults: str = "") -> Iterator[WosUnderTest]:
    if str(REFERENCE_WOS_DIR) not in sys.path:
        sys.path.insert(0, str(REFERENCE_WOS_DIR))
    from margo_wos.config import Config
    from margo_wos.control import control_app
    from margo_wos.device_api import device_app
    from margo_wos.faults import Faults
    from margo_wos.service import open_wos

    api_socket, control_socket = _listening_socket(), _listening_socket()
    reference = open_wos(Config(public_url=_url(api_socket), data_dir=tmp_path / "wos-data",
                                faults=Faults.parse(faults)))
    servers = [_serve(device_app(reference), api_socket),
               _serve(control_app(reference), control_socket)]
    evidence = EvidenceLog()
    sut = load_sut_file(REFERENCE_WOS_FILE)
    run = RunConfig(sut=sut, report_dir=tmp_path / "report", run_id="unit")
    under_test = WosUnderTest(run, evidence, tmp_path)
    under_test._client = DeviceClient(_url(api_socket), evidence, TIMEOUT_S)
    under_test._control = HttpControl(_url(control_socket) + "/control", evidence, TIMEOUT_S)
    try:
        yield under_test
    finally:
        under_test._client.close()
        for server, thread in servers:
            server.should_exit = True
            thread.join(timeout=10)
