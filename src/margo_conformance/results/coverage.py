"""Mandatory coverage: which scenarios a SUT must run, and which of them a run did not.

The mandatory set of a run is every collected scenario tagged `must` for the SUT's role and
one of its claimed profiles (a scenario with no profile tag applies to every profile). A
run that did not execute all of them, because `-m`/`-k`/`--rerun-failed` deselected some,
a scenario was skipped, or the run stopped early, cannot pass: it is at best `partial`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from margo_conformance.base.requirements import load_catalogue
from margo_conformance.config.interop import NOT_APPLICABLE

MANDATORY_LEVEL_TAG = "must"
DESELECTED = "deselected"
SKIPPED = "skipped"
NOT_REACHED = "not reached"


@dataclass(frozen=True)
class PlannedScenario:
    """A scenario as collected, before any selection: what the run could have executed."""

    nodeid: str
    name: str
    tags: frozenset[str]


@dataclass(frozen=True)
class NotRun:
    nodeid: str
    name: str
    why: str  # deselected | skipped | not reached
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "nodeid": self.nodeid, "why": self.why, "detail": self.detail}


@cache
def known_profiles() -> frozenset[str]:
    """Profile names the requirement catalogue knows (V24, PR1, PR2, ...)."""
    return frozenset(p for r in load_catalogue().values() for p in r.profiles)


def scenario_profiles(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(tags) & known_profiles()


def applies_to_profile(tags: Iterable[str], profile: str) -> bool:
    tagged = scenario_profiles(tags)
    return not tagged or profile in tagged


def is_mandatory(tags: Iterable[str], role: str, profiles: Sequence[str]) -> bool:
    tag_set = frozenset(tags)
    if role not in tag_set or MANDATORY_LEVEL_TAG not in tag_set:
        return False
    return any(applies_to_profile(tag_set, p) for p in profiles)


def mandatory_scenarios(
    planned: Iterable[PlannedScenario], role: str, profiles: Sequence[str]
) -> list[PlannedScenario]:
    return [p for p in planned if is_mandatory(p.tags, role, profiles)]


def not_run(
    mandatory: Iterable[PlannedScenario],
    selected: frozenset[str],
    outcomes: Mapping[str, tuple[str, str]],
) -> list[NotRun]:
    """Mandatory scenarios without a pass/fail/error verdict, each with why.

    `outcomes` maps node id to (outcome, message) for every scenario that reported.
    """
    missing: list[NotRun] = []
    for scenario in mandatory:
        if scenario.nodeid not in selected:
            missing.append(
                NotRun(scenario.nodeid, scenario.name, DESELECTED, "not selected for this run")
            )
            continue
        reported = outcomes.get(scenario.nodeid)
        if reported is None:
            missing.append(
                NotRun(scenario.nodeid, scenario.name, NOT_REACHED, "the run stopped before it")
            )
        elif reported[0] == "skip" and not reported[1].startswith(NOT_APPLICABLE):
            missing.append(NotRun(scenario.nodeid, scenario.name, SKIPPED, reported[1]))
    return missing


# -- the coverage statement: every MUST and SHOULD row of the catalogue, tested or not -------

#: Catalogue actors that bind each SUT role (a row for BOTH binds either).
ROLE_ACTORS = {"agent": ("CLIENT", "BOTH"), "wos": ("WFM", "BOTH")}
STATEMENT_LEVELS = ("must", "should")
#: A row's status in the statement. `no_verdict`: scenarios of this suite version trace it for
#: the profile, but none gave it a verdict in this run (error, skipped, deselected, not reached).
PASSED, FAILED, ADVISORY_ONLY, BLOCKED_ROW = "passed", "failed", "advisory", "blocked"
NO_VERDICT, NOT_COVERED, NOT_TESTABLE = "no_verdict", "not_covered", "not_testable"
STATUSES = (PASSED, FAILED, ADVISORY_ONLY, BLOCKED_ROW, NO_VERDICT, NOT_COVERED, NOT_TESTABLE)
_STATUS_OF_OUTCOME = {"pass": PASSED, "fail": FAILED, "advisory": ADVISORY_ONLY, "blocked": BLOCKED_ROW}


def binds_role(actor: str, role: str) -> bool:
    return any(a in actor for a in ROLE_ACTORS.get(role, ()))


def covering_scenarios(planned: Iterable[PlannedScenario], role: str, profile: str) -> dict[str, list[str]]:
    """Requirement id -> the scenarios of this suite version that trace it and run for `profile`."""
    from margo_conformance.base.requirements import tag_to_id

    covering: dict[str, list[str]] = {}
    for scenario in planned:
        if role not in scenario.tags or not applies_to_profile(scenario.tags, profile):
            continue
        for tag in sorted(scenario.tags):
            if tag.startswith("req_"):
                covering.setdefault(tag_to_id(tag), []).append(scenario.name)
    return covering


def row_status(outcome: str | None, covered: bool, not_testable: str) -> str:
    if outcome in _STATUS_OF_OUTCOME:
        return _STATUS_OF_OUTCOME[outcome]
    if covered:
        return NO_VERDICT
    return NOT_TESTABLE if not_testable else NOT_COVERED


@dataclass(frozen=True)
class CoverageStatement:
    """For one role and claimed profile: every MUST and SHOULD row binding them, with a status."""

    profile: str
    verdict: str
    rows: tuple[dict[str, Any], ...]

    def counts(self, level: str) -> dict[str, int]:
        statuses = [r["status"] for r in self.rows if r["level"] == level]
        return {s: statuses.count(s) for s in STATUSES}

    def sentence(self) -> str:
        """e.g. PASS for the 27 tested of 75 PR1 MUST requirements; 48 not covered by this suite version"""
        counts = self.counts("must")
        total = sum(counts.values())
        tested = counts[PASSED] + counts[FAILED]
        failed = f" ({counts[FAILED]} failed)" if counts[FAILED] else ""
        parts = [
            f"{self.verdict.upper()} for the {tested} tested of {total} {self.profile} MUST requirements{failed}",
            f"{counts[NOT_COVERED]} not covered by this suite version",
        ]
        extra = (
            (BLOCKED_ROW, "blocked"),
            (NO_VERDICT, "without a verdict in this run"),
            (ADVISORY_ONLY, "advisory only"),
            (NOT_TESTABLE, "not black-box testable"),
        )
        parts += [f"{counts[status]} {words}" for status, words in extra if counts[status]]
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "statement": self.sentence(),
            "must": self.counts("must"),
            "should": self.counts("should"),
            "requirements": list(self.rows),
        }


def coverage_statement(
    role: str,
    profile: str,
    verdict: str,
    planned: Iterable[PlannedScenario],
    outcomes: Mapping[str, str],
) -> CoverageStatement:
    """`outcomes`: requirement id -> its outcome from the scenarios that ran for `profile`."""
    covering = covering_scenarios(planned, role, profile)
    rows = []
    for requirement in load_catalogue().values():
        if requirement.level not in STATEMENT_LEVELS or profile not in requirement.profiles:
            continue
        if not binds_role(requirement.actor, role):
            continue
        status = row_status(outcomes.get(requirement.id), requirement.id in covering, requirement.not_testable)
        row: dict[str, Any] = {"id": requirement.id, "level": requirement.level, "status": status}
        if status == NOT_TESTABLE:
            row["reason"] = requirement.not_testable
        rows.append(row)
    return CoverageStatement(profile, verdict, tuple(rows))
