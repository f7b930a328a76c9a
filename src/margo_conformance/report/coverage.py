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

from margo_conformance.requirements import load_catalogue

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
        elif reported[0] == "skip":
            missing.append(NotRun(scenario.nodeid, scenario.name, SKIPPED, reported[1]))
    return missing
