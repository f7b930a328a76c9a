"""Timing judgements over evidence: the polling cadence (CFG-003) and retries during an outage
(CFG-004). Pure functions over event times, unit-tested without Docker.

The rules, as the polling and downtime features state them in words:

- **Cadence.** Between two consecutive polls of its repository the agent waits about the
  configured interval: no gap may exceed the interval plus the SUT file's tolerance (it must not
  fall behind), and the median gap must be at least `EARLY_FRACTION` of the interval (it must
  not poll more often than its owner configured). The median, not the shortest gap, so one
  early poll (after a wake-up, say) is no failure.
- **Retries.** While the orchestrator is unreachable the agent keeps trying (at least one
  attempt), but not in a tight loop: at most `RETRIES_PER_INTERVAL` attempts per polling
  interval over the outage, plus `RETRY_ALLOWANCE` for the quick first retries a backoff
  starts with, summed over everything the agent retries (fetches, reports, tokens).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from margo_conformance.config import interop

EARLY_FRACTION = 0.9
RETRIES_PER_INTERVAL = 4
RETRY_ALLOWANCE = 8


@dataclass(frozen=True)
class Finding:
    ok: bool
    problem: str = ""
    detail: str = ""


def gaps(times: Sequence[float]) -> list[float]:
    ordered = sorted(times)
    return [round(later - earlier, 3) for earlier, later in zip(ordered, ordered[1:], strict=False)]


def shown_gaps(values: Sequence[float]) -> str:
    return ", ".join(f"{g:.2f}s" for g in values) if values else "(none)"


def judge_cadence(times: Sequence[float], interval: float, tolerance: float) -> Finding:
    """Do polls at `times` keep the configured `interval` (within `tolerance` late)?"""
    between = gaps(times)
    if not between:
        return Finding(False, f"only {len(times)} poll(s) seen, at least two are needed to measure a cadence")
    detail = f"gaps between polls: {shown_gaps(between)}"
    latest = interval + tolerance
    late = [g for g in between if g > latest]
    if late:
        return Finding(False, f"{len(late)} gap(s) longer than the interval {interval:g}s plus the tolerance "
                              f"{tolerance:g}s (longest {max(late):.2f}s)", detail)
    median = statistics.median(between)
    earliest = EARLY_FRACTION * interval
    if median < earliest:
        return Finding(False, f"polls every {median:.2f}s (median) although the configured interval is {interval:g}s; "
                              f"at least {earliest:.2f}s expected", detail)
    return Finding(True, "", detail)


def retry_allowance(outage_s: float, interval: float) -> int:
    """How many attempts to reach the orchestrator an outage of `outage_s` may see."""
    return RETRIES_PER_INTERVAL * math.ceil(outage_s / interval) + RETRY_ALLOWANCE


def judge_retries(
    attempt_times: Sequence[float], outage_s: float, interval: float, repository_attempts: int | None = None
) -> Finding:
    """Did the agent keep trying during the outage, and back off while doing so? With
    `repository_attempts`, one of the attempts must also have been a read of its repository."""
    count = len(attempt_times)
    allowed = retry_allowance(outage_s, interval)
    between = gaps(attempt_times)
    detail = f"{count} attempt(s) in {outage_s:.1f}s; shortest gaps {shown_gaps(sorted(between)[:5])}"
    if count == 0 or repository_attempts == 0:
        what = "the orchestrator or its repository" if count == 0 else "its repository"
        return Finding(False, f"the agent made no attempt to reach {what} during the {outage_s:.1f}s outage "
                              f"(polling interval {interval:g}s): it stopped watching", detail)
    if count > allowed:
        return Finding(False, f"{count} attempts in {outage_s:.1f}s is a tight loop: at most {allowed} are allowed "
                              f"({RETRIES_PER_INTERVAL} per polling interval of {interval:g}s plus {RETRY_ALLOWANCE})",
                       detail)
    return Finding(True, "", detail)


#: An outage (and a downtime window) lasts this many polling intervals, and OUTAGE_MIN_S at least.
OUTAGE_INTERVALS = 3
OUTAGE_MIN_S = 4.0

#: How the features quote the tolerances above in words (tests/unit/test_feature_tolerances.py
#: holds the feature text to these values).
QUOTED_IN_FEATURES: dict[str, float] = {
    "at most {} attempts per polling interval": RETRIES_PER_INTERVAL,
    "plus {} for the quick first retries": RETRY_ALLOWANCE,
    "at least {} polling intervals": OUTAGE_INTERVALS,
    "at least {} tenths of the configured interval": EARLY_FRACTION * 10,
}


def outage_duration(interval: float) -> float:
    """How long the suite keeps the orchestrator away: a few seconds, and three polling intervals
    at least, so that retries can be told from a tight loop."""
    return max(OUTAGE_MIN_S, OUTAGE_INTERVALS * interval)


# -- the downtime window the suite configures (CFG-001) -----------------------------------

#: How long after the agent is started its downtime window opens: time to start and onboard.
WINDOW_LEAD_S = 5.0


def window_duration(interval: float) -> float:
    """A downtime window long enough that an agent ignoring it would poll several times."""
    return outage_duration(interval)


def format_window(opens: int, closes: int) -> str:
    """A downtime window as messages show it: the ISO 8601 interval `<start>/<end>` in UTC."""
    return interop.format_window(interop.ISO_INTERVAL, opens, closes)
