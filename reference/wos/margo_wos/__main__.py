"""`python -m margo_wos`: both servers (device API and control verbs) in one process, one loop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from margo_wos.config import ConfigError, load_config
from margo_wos.control import control_app
from margo_wos.device_api import device_app
from margo_wos.faults import KNOWN_FAULTS
from margo_wos.service import open_wos
from margo_wos.web import log


class _Server(uvicorn.Server):
    """A uvicorn server that says when it listens and leaves signals to `serve_both`."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Two servers each installing handlers would undo each other; serve_both owns them.
        yield


def server_for(app: ASGIApp, port: int, host: str = "0.0.0.0") -> _Server:
    # The request log middleware writes access lines; uvicorn's own logging stays quiet.
    # The grace period bounds shutdown when a request hangs (the status-hang fault).
    return _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )


async def serve_both(api: _Server, control: _Server, ready_line: str) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # As PID 1 in a container, an unhandled SIGTERM would be ignored.
        loop.add_signal_handler(signum, _stop, api, control)

    async def announce() -> None:
        await api.listening.wait()
        await control.listening.wait()
        log("wos", ready_line)

    announcer = asyncio.create_task(announce())
    try:
        await asyncio.gather(api.serve(), control.serve())
    finally:
        announcer.cancel()


def _stop(*servers: _Server) -> None:
    log("wos", "stopping")
    for server in servers:
        server.should_exit = True


def main() -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"margo-reference-wos: {exc}", file=sys.stderr)
        return 2
    wos = open_wos(config)
    for name in sorted(config.faults.active):
        log("fault", f"{name} is ON: {KNOWN_FAULTS[name]}")
    log(
        "wos",
        f"public URL {config.public_url}, data in {config.data_dir}, "
        f"{len(wos.store.devices)} device(s) known",
    )
    api, control = (
        server_for(device_app(wos), config.port),
        server_for(control_app(wos), config.control_port),
    )
    ready = (
        f"margo-reference-wos ready: device API on :{config.port}, "
        f"control on :{config.control_port}"
    )
    asyncio.run(serve_both(api, control, ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
