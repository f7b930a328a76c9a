"""The verdict rules: the run's verdict and each claimed profile's, waivers applied to the
judged scenarios, and one traceability row per requirement.

Run verdict, worst first: fail (an unwaived failure, a blocked scenario whose prerequisite the
SUT broke a requirement on, or a stale waiver); error (a scenario errored, nothing ran, or the
run was interrupted); partial (something was skipped or waived, or a mandatory scenario of
the SUT's role and profiles was not executed); pass. Advisory checks never count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from margo_conformance.base.requirements import load_catalogue, tag_to_id
from margo_conformance.checks.expect import ADVISORY
from margo_conformance.config.interop import NOT_APPLICABLE
from margo_conformance.results.coverage import (
    SKIPPED,
    NotRun,
    PlannedScenario,
    applies_to_profile,
    mandatory_scenarios,
    not_run,
)
from margo_conformance.results.model import (
    ERROR,
    FAIL,
    NOT_CLAIMED,
    PARTIAL,
    PASS,
    SKIP,
    ScenarioResult,
    outcome_counts,
)
from margo_conformance.results.outcomes import BY_CHECKS, first_in_precedence, scenario_requirement_verdicts
from margo_conformance.results.waivers import STALE, UNUSED, WAIVED, Waiver, first_match, waiver_status


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reasons: tuple[str, ...] = ()


def run_verdict(outcomes: list[str]) -> str:
    """fail beats error beats partial; a run that ran nothing cannot pass."""
    if not outcomes:
        return ERROR
    if FAIL in outcomes:
        return FAIL
    if ERROR in outcomes:
        return ERROR
    if SKIP in outcomes:
        return PARTIAL
    return PASS


def _names(scenarios: Sequence[ScenarioResult], limit: int = 5) -> str:
    shown = "; ".join(s.name for s in scenarios[:limit])
    return shown + (f"; and {len(scenarios) - limit} more" if len(scenarios) > limit else "")


def _blocked_names(scenarios: Sequence[ScenarioResult], limit: int = 5) -> str:
    def one(s: ScenarioResult) -> str:
        blame = f", {', '.join(s.failed_requirements)} failed there" if s.failed_requirements else ""
        return f"{s.name} (blocked at: {s.blocked}{blame})"

    shown = "; ".join(one(s) for s in scenarios[:limit])
    return shown + (f"; and {len(scenarios) - limit} more" if len(scenarios) > limit else "")


def binds_profile(scenario: ScenarioResult, profile: str) -> bool:
    """Whether a failure of `scenario` is one of `profile`: a check failed naming a requirement
    of that profile (or one the catalogue does not know), or the failure was traced by tags."""
    if scenario.traced_by != BY_CHECKS:
        return True
    catalogue = load_catalogue()
    return any(r not in catalogue or profile in catalogue[r].profiles for r in scenario.failed_requirements)


def decide_verdict(
    scenarios: Sequence[ScenarioResult],
    missing: Sequence[NotRun] = (),
    interrupted: bool = False,
    profile: str | None = None,
) -> Verdict:
    """The run verdict (or, with `profile`, that profile's) and, unless it is pass, the reasons
    a reader needs, worst first.

    Waived failures do not fail the run but keep it from passing; a stale waiver fails it.
    Any mandatory scenario not executed (`missing`) keeps the run from passing. For a profile,
    a scenario whose failed checks name only other profiles' requirements does not fail it, but
    keeps it from passing: its checks for the profile were not all reached.
    """
    foreign = [s for s in scenarios if profile and s.counts_as_failure and not binds_profile(s, profile)]
    failed = [s for s in scenarios if s.outcome == FAIL and not s.waived and s not in foreign]
    blamed = [s for s in scenarios if s.outcome == ERROR and s.counts_as_failure and s not in foreign]
    stale = [s for s in scenarios if s.stale_waiver]
    # Blocked at a requirement of another profile: still blocked (error) for this one.
    blocked = [
        s for s in scenarios if s.outcome == ERROR and s.blocked and (not s.counts_as_failure or s in foreign)
    ]
    foreign = [s for s in foreign if s.outcome == FAIL]
    errored = [s for s in scenarios if s.outcome == ERROR and not s.blocked]
    waived = [s for s in scenarios if s.waived]
    mandatory_ids = {m.nodeid for m in missing}
    skipped = [
        s
        for s in scenarios
        if s.outcome == SKIP
        and s.nodeid not in mandatory_ids
        and not s.message.startswith((NOT_CLAIMED, NOT_APPLICABLE))
    ]
    reasons: list[str] = []
    if interrupted:
        reasons.append("the run was interrupted before it finished")
    if not scenarios:
        reasons.append("no scenario ran: the selection matched none of the SUT's role")
    if failed:
        reasons.append(f"{len(failed)} scenario(s) failed: {_names(failed)}")
    if blamed:
        reasons.append(
            f"{len(blamed)} scenario(s) blocked where the SUT broke a requirement: {_blocked_names(blamed)}"
        )
    for scenario in stale:
        reason = scenario.waiver.reason if scenario.waiver else ""
        reasons.append(
            f"stale waiver: {scenario.name!r} passed, so its waiver must be removed "
            f"(it said: {reason})"
        )
    if blocked:
        reasons.append(f"{len(blocked)} scenario(s) blocked (a prerequisite was refused): {_blocked_names(blocked)}")
    if errored:
        reasons.append(
            f"{len(errored)} scenario(s) ended in error (the SUT could not be brought up, or the "
            f"suite broke): {_names(errored)}"
        )
    if foreign:
        reasons.append(
            f"{len(foreign)} scenario(s) failed only on requirements of other profiles, before all "
            f"their checks for {profile} ran: {_names(foreign)}"
        )
    if missing:
        listed = "; ".join(
            f"{m.name} ({m.why}{': ' + m.detail if m.why == SKIPPED and m.detail else ''})"
            for m in missing[:8]
        )
        more = f"; and {len(missing) - 8} more" if len(missing) > 8 else ""
        reasons.append(f"{len(missing)} mandatory scenario(s) were not run: {listed}{more}")
    if skipped:
        reasons.append(f"{len(skipped)} scenario(s) skipped: {_names(skipped)}")
    for scenario in waived:
        reason = scenario.waiver.reason if scenario.waiver else ""
        reasons.append(f"waived failure: {scenario.name} (waiver: {reason})")
    if interrupted or not scenarios:
        return Verdict(ERROR, tuple(reasons))
    if failed or blamed or stale:
        return Verdict(FAIL, tuple(reasons))
    if errored or blocked:
        return Verdict(ERROR, tuple(reasons))
    if missing or skipped or waived or foreign:
        return Verdict(PARTIAL, tuple(reasons))
    return Verdict(PASS, ())


def profile_verdicts(
    scenarios: Sequence[ScenarioResult],
    planned: Sequence[PlannedScenario],
    selected: frozenset[str],
    role: str,
    profiles: Sequence[str],
    interrupted: bool,
) -> list[dict[str, Any]]:
    """The verdict rules applied to each claimed profile's scenarios on their own."""
    reported = {s.nodeid: (s.outcome, s.message) for s in scenarios}
    rows = []
    for profile in profiles:
        mine = [s for s in scenarios if applies_to_profile(s.tags, profile)]
        missing = not_run(mandatory_scenarios(planned, role, [profile]), selected, reported)
        verdict = decide_verdict(mine, missing, interrupted, profile)
        rows.append(
            {
                "profile": profile,
                "verdict": verdict.verdict,
                "counts": outcome_counts(mine),
                "not_run": len(missing),
            }
        )
    return rows

def apply_waivers(
    scenarios: Sequence[ScenarioResult], waivers: Sequence[Waiver]
) -> list[dict[str, Any]]:
    """Mark each scenario a waiver covers; one row per waiver with its status and matches.

    A waiver's status is the worst of what it did: stale (a covered scenario passed) beats
    waived (a covered scenario failed) beats unused (nothing it covers reached a verdict).
    """
    matched: dict[int, list[ScenarioResult]] = {i: [] for i in range(len(waivers))}
    for scenario in scenarios:
        waiver = first_match(waivers, scenario.name, scenario.nodeid, scenario.requirements)
        status = waiver_status(scenario.outcome) if waiver is not None else None
        scenario.waiver, scenario.waiver_status = (waiver, status) if status else (None, None)
        if waiver is not None and status is not None:
            matched[waivers.index(waiver)].append(scenario)
    rows = []
    for index, waiver in enumerate(waivers):
        statuses = {s.waiver_status for s in matched[index]}
        status = STALE if STALE in statuses else WAIVED if WAIVED in statuses else UNUSED
        rows.append(
            {**waiver.to_json(), "status": status, "matched": [s.name for s in matched[index]]}
        )
    return rows


def requirement_outcomes(
    scenarios: Sequence[ScenarioResult], not_run_scenarios: Sequence[PlannedScenario] = ()
) -> list[dict[str, Any]]:
    """One traceability row per requirement a reported scenario traces to or a check of it
    names, or a left-out scenario traces to; its outcome read from the checks (outcomes.py)."""
    catalogue = load_catalogue()
    judged: dict[str, list[tuple[ScenarioResult, str, str]]] = {}
    for scenario in scenarios:
        for requirement, verdict in scenario_requirement_verdicts(scenario).items():
            judged.setdefault(requirement, []).append((scenario, verdict.outcome, verdict.traced_by))
    reported = {s.nodeid for s in scenarios}
    left_out: dict[str, list[str]] = {}
    for planned in not_run_scenarios:
        if planned.nodeid in reported:
            continue
        for tag in planned.tags:
            if tag.startswith("req_"):
                left_out.setdefault(tag_to_id(tag), []).append(planned.name)
    rows = []
    for requirement in sorted(set(judged) | set(left_out)):
        covering = judged.get(requirement, [])
        failing = [s for s, outcome, _ in covering if outcome == FAIL]
        entry = catalogue.get(requirement)
        rows.append(
            {
                "id": requirement,
                "level": entry.level if entry else "unknown",
                "summary": entry.summary if entry else "",
                "outcome": first_in_precedence([outcome for _, outcome, _ in covering]),
                "traced_by": BY_CHECKS if any(by == BY_CHECKS for _, _, by in covering) else "tags",
                "waived": bool(failing) and all(s.waived for s in failing),
                "scenarios": [s.name for s, _, _ in covering],
                "scenario_outcomes": [outcome for _, outcome, _ in covering],
                "failed_checks": _checks_naming(requirement, covering, failed=True),
                "advisory": _checks_naming(requirement, covering, advisory=True),
                "blocked": [{"scenario": s.name, "prerequisite": s.blocked or ""}
                            for s, outcome, _ in covering if outcome == "blocked"],
                "not_run": left_out.get(requirement, []),
            }
        )
    return rows


def _checks_naming(
    requirement: str,
    covering: Sequence[tuple[ScenarioResult, str, str]],
    failed: bool = False,
    advisory: bool = False,
) -> list[dict[str, Any]]:
    """The failed requirement checks (or all advisory checks) that name `requirement`."""
    found = []
    for scenario, _, _ in covering:
        for check in scenario.checks:
            if requirement not in check.requirements or (check.kind == ADVISORY) != advisory:
                continue
            if failed and check.passed:
                continue
            found.append({"scenario": scenario.name, **check.to_json()})
    if failed and not found:  # failed through its tags: the scenario's message is the check
        found = [
            {"scenario": s.name, "requirements": s.requirements, "passed": False, "message": s.message,
             "kind": "requirement", "traced_by": "tags"}
            for s, outcome, by in covering if outcome == FAIL and by == "tags"
        ]
    return found
