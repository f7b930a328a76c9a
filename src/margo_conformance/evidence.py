"""Evidence: every exchange, git operation, commit and SUT log line of a scenario, timestamped.

Steps assert on evidence and waits wake on it: recording an event notifies every waiter, so a
verdict follows the awaited event without polling delay. The same record is what a failing
scenario shows a reader, and what the report writers serialise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
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
        """
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

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json(self.origin) for e in self.events()]

    def excerpt(self, kinds: tuple[str, ...] = (HTTP, GIT, COMMIT), last: int = 12) -> str:
        """A short, readable tail of the evidence for failure messages."""
        chosen = [e for e in self.events() if e.kind in kinds][-last:]
        if not chosen:
            return "  (no such events recorded)"
        return "\n".join(f"  +{e.at - self.origin:7.2f}s {e.kind:<6} {e.summary}" for e in chosen)
