"""Exponential backoff whose waits end early when the agent is told to stop."""

from __future__ import annotations

import threading


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
