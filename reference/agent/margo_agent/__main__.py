"""Entry point: `python -m margo_agent`. Exit codes: 0 stopped by signal, 2 bad
configuration, 3 the exit-at-start fault switch."""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import threading
from types import FrameType

from margo_agent import __version__
from margo_agent.agent import Agent
from margo_agent.config import ConfigError, load_config
from margo_agent.pr1.agent import Pr1Agent

READY_MESSAGE = "margo-reference-agent ready"
EXIT_CONFIG = 2
EXIT_FAULT = 3

log = logging.getLogger("margo_agent")


def configure_logging() -> None:
    """One line per event on stdout, flushed at once: the suite reads it as evidence."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main() -> int:
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"margo-agent: configuration error: {exc}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    configure_logging()
    if config.faults.exit_at_start:
        log.error("fault: exit-at-start is active, exiting with status %d", EXIT_FAULT)
        return EXIT_FAULT

    stop = threading.Event()
    # MARGO_PROFILE=PR1 runs the state-manifest agent (margo_agent/pr1) instead of V24's.
    agent: Agent | Pr1Agent = Pr1Agent(config, stop) if config.profile == "PR1" else Agent(config, stop)

    def stop_agent() -> None:
        stop.set()
        agent.wake()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("agent: %s received, stopping", signal.Signals(signum).name)
        # The handler runs on the main thread, which may be holding the very lock that
        # Event.set() needs; setting it from another thread cannot deadlock.
        threading.Thread(target=stop_agent, name="stop").start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info(
        "agent: %s (version %s, device %s, WOS %s, poll every %g s)",
        READY_MESSAGE,
        __version__,
        config.device_id,
        config.wos_url,
        config.poll_interval_s,
    )
    agent.run()
    log.info("agent: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
