"""Evidence: every exchange, git operation, commit and SUT log line of a scenario, timestamped.

Steps assert on evidence and waits wake on it: recording an event notifies every waiter, so a
verdict follows the awaited event without polling delay. The same record is what a failing
scenario shows a reader, and what the report writers serialise.

The log also measures the run's own speed (benchmarks/): how long the scenario spent waiting
on the SUT (`waiting_s`: event waits, and whatever the harness wraps in `waiting()`, such as
container start and stop or an exchange with a WOS), and, for each wait that ended on an
event, the delay from the event to the wake-up (`wake_delays_ms`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# Kinds of event. Kept as plain strings so the JSON evidence reads naturally.
HTTP = "http"
GIT = "git"
COMMIT = "commit"
LOG = "log"
CONTAINER = "container"
NOTE = "note"
LINK = "link"  # a connection the device opened while its link to the WOS was cut
WORKLOAD = "workload"  # a container of the device's workloads started or stopped


@dataclass(frozen=True)
class Event:
    at: float
    kind: str
    summary: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self, origin: float) -> dict[str, Any]:
        return {
            "t": round(self.at - origin, 3),
            "kind": self.kind,
            "summary": self.summary,
            "data": dict(self.data),
        }


class EvidenceLog:
    """An append-only, thread-safe event list with waits that wake on each new event."""

    def __init__(self, origin: float | None = None) -> None:
        self.origin = time.time() if origin is None else origin
        self._events: list[Event] = []
        self._changed = threading.Condition()
        self._waiting_lock = threading.Lock()
        self._waiting_s = 0.0
        self._wake_delays_ms: list[float] = []

    def record(self, kind: str, summary: str, **data: Any) -> Event:
        event = Event(at=time.time(), kind=kind, summary=summary, data=data)
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()
        return event

    def events(self, kind: str | None = None, since: float | None = None) -> list[Event]:
        with self._changed:
            snapshot = list(self._events)
        return [
            e
            for e in snapshot
            if (kind is None or e.kind == kind) and (since is None or e.at >= since)
        ]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def wait_for(self, probe: Callable[[list[Event]], T | None], timeout: float) -> T | None:
        """Return the first non-None value of `probe(events)`, or None after `timeout` seconds.

        `probe` runs once now and again after every new event; there is no polling interval.
        The time spent here counts as waiting on the SUT; when the value found is (or lists)
        an event recorded during the wait, the delay from that event to the wake-up is kept.
        """
        started_at = time.time()
        with self.waiting():
            found = self._wait(probe, timeout)
        happened_at = event_time(found)
        if happened_at is not None and happened_at >= started_at:
            self._note_wake_delay(time.time() - happened_at)
        return found

    def _wait(self, probe: Callable[[list[Event]], T | None], timeout: float) -> T | None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = probe(list(self._events))
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Count the enclosed time as waiting on the SUT (not the suite's own overhead)."""
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            with self._waiting_lock:
                self._waiting_s += elapsed

    def _note_wake_delay(self, seconds: float) -> None:
        with self._waiting_lock:
            self._wake_delays_ms.append(round(seconds * 1000, 3))

    @property
    def waiting_s(self) -> float:
        """Seconds spent waiting on the SUT so far (nested `waiting()` blocks count twice)."""
        with self._waiting_lock:
            return self._waiting_s

    @property
    def wake_delays_ms(self) -> list[float]:
        """For each wait that ended on an event: milliseconds from the event to the wake-up."""
        with self._waiting_lock:
            return list(self._wake_delays_ms)

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json(self.origin) for e in self.events()]

    def excerpt(self, kinds: tuple[str, ...] = (HTTP, GIT, COMMIT), last: int = 12) -> str:
        """A short, readable tail of the evidence for failure messages."""
        chosen = [e for e in self.events() if e.kind in kinds][-last:]
        if not chosen:
            return "  (no such events recorded)"
        return "\n".join(f"  +{e.at - self.origin:7.2f}s {e.kind:<6} {e.summary}" for e in chosen)


def event_time(found: object) -> float | None:
    """When the thing a wait found happened: an `Event`'s or a record's `at` (epoch seconds);
    for a list, its latest. None when it carries no time."""
    if isinstance(found, list | tuple):
        times = [t for t in (event_time(item) for item in found) if t is not None]
        return max(times) if times else None
    at = getattr(found, "at", None)
    return float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None
