"""The downtime window (CFG-001): a time in which the device expects to be offline.

Inside the window the agent does not contact the WOS or its Git server at all: no polls, no
retries, no reports. Whatever it has to say waits, and nothing it could not send counts as an
error. Every place that talks to the WOS calls `DowntimeGuard.wait_out()` first.

The window is configured as an ISO 8601 time interval, `<start>/<end>`, for example
`2025-06-01T02:00:00Z/2025-06-01T04:00:00Z` (a time without an offset is UTC).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DowntimeWindow:
    start: float  # seconds since the epoch
    end: float

    def remaining(self, now: float) -> float:
        """Seconds until the window closes, when `now` lies inside it; else 0."""
        return self.end - now if self.start <= now < self.end else 0.0

    def __str__(self) -> str:
        return f"{_iso(self.start)}/{_iso(self.end)}"


ISO_8601 = "iso8601"
EPOCH_DURATION = "epoch-duration"
FORMATS = (ISO_8601, EPOCH_DURATION)


def parse_window(text: str, form: str = ISO_8601) -> DowntimeWindow | None:
    """`<start>/<end>` in ISO 8601, or with `epoch-duration` `<seconds since the epoch>+<seconds>`
    (a product's own format: the suite must be told it); empty text means no window. Raises
    ValueError."""
    text = text.strip()
    if not text:
        return None
    if form == EPOCH_DURATION:
        return _epoch_duration(text)
    start_text, sep, end_text = text.partition("/")
    if not sep:
        raise ValueError(f"a downtime window is <start>/<end>, got {text!r}")
    start, end = _instant(start_text), _instant(end_text)
    if end <= start:
        raise ValueError(f"the downtime window {text!r} ends before it starts")
    return DowntimeWindow(start, end)


class DowntimeGuard:
    """Holds callers back while the window is open; shared by every thread of the agent."""

    def __init__(
        self,
        window: DowntimeWindow | None,
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
        disabled: bool = False,
    ) -> None:
        self._window = window
        self._stop = stop
        self._clock = clock
        self._disabled = disabled
        self._announced = False
        self._lock = threading.Lock()

    def wait_out(self, activity: str) -> bool:
        """Wait until the window has closed (at once when it is not open); True to go on,
        False when the agent is stopping."""
        if self._window is None or self._disabled:
            return not self._stop.is_set()
        remaining = self._window.remaining(self._clock())
        if remaining <= 0:
            return not self._stop.is_set()
        with self._lock:
            if not self._announced:
                self._announced = True
                log.info("downtime: window %s is open, not contacting the WOS for %.1f s", self._window, remaining)
        log.info("downtime: %s waits until the window closes", activity)
        return not self._stop.wait(remaining)


def _epoch_duration(text: str) -> DowntimeWindow:
    start_text, sep, duration_text = text.partition("+")
    if not sep or not start_text.isdigit() or not duration_text.isdigit():
        raise ValueError(f"a downtime window is <epoch seconds>+<seconds>, got {text!r}")
    if int(duration_text) <= 0:
        raise ValueError(f"the downtime window {text!r} lasts no time")
    return DowntimeWindow(float(start_text), float(start_text) + float(duration_text))


def _instant(text: str) -> float:
    value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.timestamp()


def _iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
