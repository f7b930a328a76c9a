"""Requirement outcomes read from per-check results: what one scenario says about each
requirement it touches, and what a set of scenarios (a run, or one profile of it) says.

Within one scenario a requirement is:
- *fail* when a requirement check naming it failed (`expect`, or the requirement a `blocked`
  step blamed). A scenario that failed on a plain assertion (a step not yet written with
  `expect`) names none: then every requirement tag of the scenario fails, traced by *tags*;
- *pass* when a requirement check named it and none failed it; in a passing scenario, a tag
  no check named passes too, traced by tags;
- *blocked* when the scenario was blocked (the SUT refused a prerequisite) before reaching it;
- *error* when the scenario ended in error before a check of it (no verdict);
- *not_reached* when the scenario failed on another requirement first (no verdict);
- *advisory* when only advisory checks named it: shown, never counted in a verdict;
- *skip* when the scenario was skipped.

Across scenarios a requirement takes the first of: fail, pass, blocked, error, advisory,
not_reached, skip, not_run. So one failed check fails it, a pass needs a check (or a tag of a
passing scenario) and no failure, and outcomes without a verdict never hide a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from margo_conformance.checks.expect import ADVISORY, REQUIREMENT, Check

PASS, FAIL, ERROR, SKIP = "pass", "fail", "error", "skip"
BLOCKED, ADVISORY_OUTCOME, NOT_REACHED, NOT_RUN = "blocked", "advisory", "not_reached", "not_run"
#: How a requirement's outcome was traced: a check naming it, or the scenario's requirement tags.
BY_CHECKS, BY_TAGS = "checks", "tags"
#: Which outcome of a requirement wins across scenarios, first wins.
PRECEDENCE = (FAIL, PASS, BLOCKED, ERROR, ADVISORY_OUTCOME, NOT_REACHED, SKIP, NOT_RUN)
#: Outcomes that are a verdict on the requirement (it was tested).
TESTED = (PASS, FAIL)


class JudgedScenario(Protocol):
    """What a scenario result offers to the outcome rules (see results.model.ScenarioResult)."""

    outcome: str
    checks: list[Check]
    blocked: str | None

    @property
    def requirements(self) -> list[str]: ...


@dataclass(frozen=True)
class RequirementVerdict:
    outcome: str
    traced_by: str  # checks | tags


def named_by_checks(checks: Iterable[Check], kind: str, passed: bool | None = None) -> set[str]:
    return {
        r for c in checks if c.kind == kind and (passed is None or c.passed == passed) for r in c.requirements
    }


def failed_requirements(scenario: JudgedScenario) -> tuple[list[str], str | None]:
    """The requirements a scenario failed and how they were traced (None when it failed none)."""
    named = named_by_checks(scenario.checks, REQUIREMENT, passed=False)
    if named:
        return sorted(named), BY_CHECKS
    if scenario.outcome == FAIL and not scenario.blocked:
        return list(scenario.requirements), BY_TAGS
    return [], None


def scenario_requirement_verdicts(scenario: JudgedScenario) -> dict[str, RequirementVerdict]:
    """Each requirement the scenario traces (tags) or a check of it names, with its outcome."""
    tags = list(scenario.requirements)
    if scenario.outcome == SKIP:
        return {r: RequirementVerdict(SKIP, BY_TAGS) for r in tags}
    failed, traced_by = failed_requirements(scenario)
    verdicts = {r: RequirementVerdict(FAIL, traced_by or BY_TAGS) for r in failed}
    for requirement in sorted(named_by_checks(scenario.checks, REQUIREMENT, passed=True)):
        verdicts.setdefault(requirement, RequirementVerdict(PASS, BY_CHECKS))
    for requirement in sorted(named_by_checks(scenario.checks, ADVISORY)):
        verdicts.setdefault(requirement, RequirementVerdict(ADVISORY_OUTCOME, BY_CHECKS))
    unchecked = _unchecked_outcome(scenario)
    for requirement in tags:
        verdicts.setdefault(requirement, RequirementVerdict(unchecked, BY_TAGS))
    return verdicts


def _unchecked_outcome(scenario: JudgedScenario) -> str:
    """The outcome of a requirement tag that no check of the scenario named."""
    if scenario.blocked:
        return BLOCKED
    if scenario.outcome == PASS:
        return PASS
    if scenario.outcome == ERROR:
        return ERROR
    return NOT_REACHED


def first_in_precedence(outcomes: Sequence[str]) -> str:
    return min(outcomes, key=PRECEDENCE.index) if outcomes else NOT_RUN
