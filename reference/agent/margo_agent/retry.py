"""Retrying a startup step: exponential backoff whose waits end early when the agent stops."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from margo_agent.transport import TransportError
from margo_agent.wos_client import WosError

if TYPE_CHECKING:
    from margo_agent.downtime import DowntimeGuard

log = logging.getLogger(__name__)


class Backoff:
    """Delays 0.5 s, 1 s, 2 s, ... capped at `cap_s` (the poll interval), so a failing
    peer is retried promptly at first and never in a tight loop."""

    def __init__(self, stop: threading.Event, cap_s: float, initial_s: float = 0.5) -> None:
        self._stop = stop
        self._cap_s = cap_s
        self._initial_s = min(initial_s, cap_s)
        self._next_s = self._initial_s

    def next_delay(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self._cap_s)
        return delay

    def wait(self) -> bool:
        """Wait the next delay; True when the agent should keep going."""
        return not self._stop.wait(self.next_delay())

    def reset(self) -> None:
        self._next_s = self._initial_s


def until_done(
    step: str,
    action: Callable[[], None],
    stop: threading.Event,
    downtime: DowntimeGuard,
    cap_s: float,
    accept_rejection: bool = False,
    handle: Callable[[Exception], bool] | None = None,
) -> bool:
    """Run `action` until it succeeds or the agent is stopped; False when stopped.

    With `accept_rejection`, a WOS answer that a retry cannot change ends the step. `handle`
    lets a profile deal with errors of its own first (True: handled, retry after backoff).
    """
    backoff = Backoff(stop, cap_s)
    while not stop.is_set():
        if not downtime.wait_out(step):
            return False
        try:
            action()
            return True
        except Exception as exc:  # noqa: BLE001 - classified below, unknown ones re-raised
            if handle is not None and handle(exc):
                pass
            elif isinstance(exc, WosError):
                if exc.permanent and accept_rejection:
                    log.error("%s: rejected by the WOS: %s", step, exc)
                    return True
                log.warning("%s: %s; retrying", step, exc)
            elif isinstance(exc, TransportError):
                log.warning("%s: WOS not reachable (%s); retrying", step, exc)
            else:
                raise
        backoff.wait()
    return False
