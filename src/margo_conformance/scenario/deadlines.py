"""Every deadline an agent scenario waits for, named and computed in one place.

A step asks `agent.deadlines.poll` instead of adding the SUT file's numbers itself, so a rule
such as "a poll may come one interval plus the tolerance late" is written once, and the
messages that quote a deadline quote the same number the wait used. The inputs are the SUT
file's `polling` and `timeouts` and the interval this scenario's agent runs with (a scenario
may set another one before the agent starts, CFG-003).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from margo_conformance.checks import cadence
from margo_conformance.config.run_config import SutConfig

#: Added where the suite waits for its own note of something it scheduled (the link going
#: down or up at a planned time): the note is written by another thread a little after.
NOTE_SLACK_S = 2.0


@dataclass(frozen=True)
class Deadlines:
    interval: float
    """The polling interval the scenario's agent runs with."""
    tolerance: float
    """How late a poll may come (SUT file `polling.tolerance`)."""
    onboarding: float
    """From the agent's start to its onboarding (SUT file `timeouts.onboarding`)."""
    deployment: float
    """From a fetched change to its final status report (SUT file `timeouts.deployment`)."""

    @classmethod
    def for_agent(cls, sut: SutConfig, interval: float | None = None) -> Deadlines:
        return cls(
            interval=interval or sut.polling.interval,
            tolerance=sut.polling.tolerance,
            onboarding=sut.timeouts.onboarding,
            deployment=sut.timeouts.deployment,
        )

    @property
    def poll(self) -> float:
        """The next poll, and so the fetch of a change: one interval plus the tolerance."""
        return self.interval + self.tolerance

    @property
    def absence(self) -> float:
        """How long something that should not happen is watched for: two intervals plus the
        tolerance, so at least one whole poll falls inside even when the first comes late."""
        return 2 * self.interval + self.tolerance

    def polls(self, count: int) -> float:
        """`count` consecutive polls, each allowed to come late, after a first interval."""
        return count * self.poll + self.interval

    @property
    def reporting(self) -> float:
        """From a change published to the agent's first accepted report about it."""
        return self.poll + self.deployment

    @property
    def outage_over(self) -> float:
        """From the longest outage the suite makes starting to the link's note that it ended."""
        return cadence.outage_duration(self.interval) + self.deployment + NOTE_SLACK_S

    @staticmethod
    def until(at: float) -> float:
        """From now to the suite's own note of something it scheduled for `at` (epoch s)."""
        return max(0.0, at - time.time()) + NOTE_SLACK_S
