"""How long agents have taken, in this test process, from their start to onboarded.

A downtime window (CFG-001) is handed to the agent when it starts, so the suite picks its
opening before it knows when the agent will have onboarded; an agent still onboarding when
its window opens cannot be judged on it. The window therefore opens after the slowest start
this process has seen (a loaded machine starts containers slowly: 2 s quiet, 12 s when a CI
machine runs four suites at once), and the scenario checks afterwards that it did.
"""

from __future__ import annotations

import threading

from margo_conformance.checks import cadence

#: The lead over the slowest start seen: that start again, half of it more, and a second.
SLOWEST_FACTOR = 1.5
SLOWEST_MARGIN_S = 1.0

_lock = threading.Lock()
_slowest_s: float | None = None


def record_onboarding(seconds: float) -> None:
    """An agent of this process onboarded `seconds` after it was started."""
    global _slowest_s
    with _lock:
        _slowest_s = seconds if _slowest_s is None else max(_slowest_s, seconds)


def slowest_onboarding() -> float | None:
    with _lock:
        return _slowest_s


def window_lead() -> float:
    """How long after the agent's start its downtime window opens: WINDOW_LEAD_S, or longer
    when an agent of this process took longer than that to onboard."""
    slowest = slowest_onboarding()
    if slowest is None:
        return cadence.WINDOW_LEAD_S
    return max(cadence.WINDOW_LEAD_S, SLOWEST_FACTOR * slowest + SLOWEST_MARGIN_S)


def forget() -> None:
    """For the harness's own tests: as if no agent had started in this process."""
    global _slowest_s
    with _lock:
        _slowest_s = None
