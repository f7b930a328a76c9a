"""The results data model: a scenario's result as judged, the run's command-line context, and
the outcome words every verdict uses.

Scenario outcomes: pass; fail (the SUT broke a requirement: a failed check); error (the SUT
could not be brought up, a prerequisite was refused (*blocked*), or the suite or its
infrastructure broke); skip (always with a reason). A failing scenario may be *waived* (an
expected failure, with its reason); a waived scenario that passes is a *stale waiver*.

Each scenario runs inside its own `CheckLedger` (checks/expect.py): its checks travel with its
result, and requirement outcomes are read from them (outcomes.py), so a failing example fails
only what its failed check names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from margo_conformance.base.requirements import tag_to_id
from margo_conformance.checks.expect import ADVISORY, Check
from margo_conformance.results.outcomes import failed_requirements
from margo_conformance.results.waivers import STALE, WAIVED, Waiver

#: Skip reasons of scenarios for a profile the SUT does not claim: shown, but not held against it.
NOT_CLAIMED = "not claimed:"
PASS, FAIL, ERROR, SKIP = "pass", "fail", "error", "skip"
PARTIAL = "partial"
OUTCOMES = (PASS, FAIL, ERROR, SKIP)


@dataclass(frozen=True)
class RunContext:
    """What the command line adds to a run beyond the SUT file; `runner` stashes it.

    The collector reads it from `config.stash[RUN_CONTEXT_KEY]` (collector.py) when the run
    ends; a plain `pytest -c conformance.ini` run has none and gets the defaults.
    """

    waivers: tuple[Waiver, ...] = ()
    waivers_file: str | None = None
    certification: bool = False
    select: str | None = None
    keyword: str | None = None
    rerun_of: str | None = None
    image: Mapping[str, Any] = field(default_factory=dict)

    def selection_json(self) -> dict[str, Any]:
        return {"markers": self.select, "keyword": self.keyword, "rerun_of": self.rerun_of}


@dataclass
class ScenarioResult:
    name: str
    feature: str
    tags: list[str]
    nodeid: str
    outcome: str = PASS
    message: str = ""
    duration_s: float = 0.0
    evidence_file: str | None = None
    waiver: Waiver | None = None
    waiver_status: str | None = None  # waived | stale, when a waiver matched
    waiting_s: float | None = None  # time spent waiting on the SUT (benchmarks/)
    wake_delays_ms: list[float] = field(default_factory=list)  # event -> wake-up, per wait
    checks: list[Check] = field(default_factory=list)  # in the order the steps made them
    blocked: str | None = None  # the prerequisite the SUT refused, when the scenario was blocked

    @property
    def requirements(self) -> list[str]:
        return sorted(tag_to_id(t) for t in self.tags if t.startswith("req_"))

    @property
    def failed_requirements(self) -> list[str]:
        """What the scenario failed: its failed checks' requirements (a blocked scenario's: the
        one broken at the prerequisite), or its requirement tags after a plain assertion."""
        return failed_requirements(self)[0]

    @property
    def traced_by(self) -> str | None:
        """checks, or tags when a failure named no requirement (a step not yet using expect)."""
        return failed_requirements(self)[1]

    @property
    def advisory(self) -> list[Check]:
        return [c for c in self.checks if c.kind == ADVISORY]

    @property
    def counts_as_failure(self) -> bool:
        """A failed scenario, or a blocked one whose prerequisite the SUT broke a requirement on."""
        return self.outcome == FAIL or (self.outcome == ERROR and bool(self.blocked) and bool(self.failed_requirements))

    @property
    def waived(self) -> bool:
        return self.waiver_status == WAIVED

    @property
    def stale_waiver(self) -> bool:
        return self.waiver_status == STALE

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "feature": self.feature,
            "tags": sorted(self.tags),
            "requirements": self.requirements,
            "outcome": self.outcome,
            "duration_s": round(self.duration_s, 3),
            "message": self.message,
            "nodeid": self.nodeid,
            "waived": self.waived,
        }
        if self.waiver is not None and self.waiver_status is not None:
            entry["waiver"] = {"status": self.waiver_status, "reason": self.waiver.reason}
        if self.evidence_file:
            entry["evidence"] = self.evidence_file
        entry["checks"] = [c.to_json() for c in self.checks]
        failed, traced_by = failed_requirements(self)
        entry["failed_requirements"] = failed
        if traced_by:
            entry["traced_by"] = traced_by
        if self.blocked:
            entry["blocked"] = self.blocked
        if self.waiting_s is not None:
            entry["waiting_s"] = round(self.waiting_s, 3)
            entry["wake_delays_ms"] = [round(d, 1) for d in self.wake_delays_ms]
        return entry

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> ScenarioResult:
        """A scenario judged elsewhere (a pytest-xdist worker), waivers not yet applied."""
        waiting = entry.get("waiting_s")
        return cls(
            name=str(entry["name"]),
            feature=str(entry["feature"]),
            tags=list(entry["tags"]),
            nodeid=str(entry["nodeid"]),
            outcome=str(entry["outcome"]),
            message=str(entry.get("message", "")),
            duration_s=float(entry.get("duration_s", 0.0)),
            evidence_file=entry.get("evidence"),
            waiting_s=float(waiting) if waiting is not None else None,
            wake_delays_ms=[float(d) for d in entry.get("wake_delays_ms", [])],
            checks=[Check.from_json(c) for c in entry.get("checks", [])],
            blocked=entry.get("blocked"),
        )


def outcome_counts(scenarios: Sequence[ScenarioResult]) -> dict[str, int]:
    outcomes = [s.outcome for s in scenarios]
    return {o: outcomes.count(o) for o in OUTCOMES}
