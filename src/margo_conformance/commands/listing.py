"""`margo-conformance list`: the requirements and scenarios of the suite, without running anything.

Scenarios come straight from the Gherkin features (no Docker, no SUT); `-m` and `-k` go
through the selection engine `run` uses (margo_conformance.config.selection), so a listing shows
exactly the scenarios `run` with the same options would take. A scenario marked `*` is
mandatory for the given role and profiles: a run that leaves it out cannot pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from margo_conformance.base.paths import FEATURES_DIR
from margo_conformance.base.requirements import load_catalogue, tag_to_id
from margo_conformance.config.selection import ScenarioRef, Selection, scenario_ref
from margo_conformance.results.coverage import ROLE_ACTORS, applies_to_profile, is_mandatory, known_profiles


@dataclass(frozen=True)
class ListedScenario:
    feature_file: str
    feature: str
    name: str
    tags: frozenset[str]
    examples: int  # rows of a Scenario Outline (each is one scenario run); 0 for a Scenario
    variants: frozenset[str] = frozenset()  # the values of those rows, for -k

    @property
    def requirements(self) -> list[str]:
        return sorted(tag_to_id(t) for t in self.tags if t.startswith("req_"))

    @property
    def ref(self) -> ScenarioRef:
        return ScenarioRef(self.name, self.tags, self.variants)


def feature_scenarios(features_dir: Path = FEATURES_DIR) -> list[ListedScenario]:
    from pytest_bdd.parser import FeatureParser

    listed = []
    for path in sorted(features_dir.rglob("*.feature")):
        feature = FeatureParser(str(features_dir), str(path.relative_to(features_dir))).parse()
        for template in feature.scenarios.values():
            rows = sum(len(e.examples) for e in template.examples)
            listed.append(
                ListedScenario(
                    feature_file=path.relative_to(features_dir.parent).as_posix(),
                    feature=feature.name,
                    name=template.name,
                    tags=scenario_ref(template).tags,
                    examples=rows,
                    variants=scenario_ref(template).variants,
                )
            )
    return listed


def selected_scenarios(role: str | None, selection: Selection) -> list[ListedScenario]:
    """The scenarios of a role (all roles: None) that `run` with this selection would take."""
    return [
        s for s in feature_scenarios() if (not role or role in s.tags) and selection.selects(s.ref)
    ]


def scenario_lines(
    role: str | None, profiles: Sequence[str], select: str | None, keyword: str | None
) -> list[str]:
    selection = Selection(select, keyword)
    lines = []
    for scenario in selected_scenarios(role, selection):
        claimed = list(profiles) or sorted(known_profiles())  # no profile given: any profile
        mark = "*" if role and is_mandatory(scenario.tags, role, claimed) else " "
        outline = f" [{scenario.examples} examples]" if scenario.examples else ""
        tags = " ".join(sorted(t for t in scenario.tags if not t.startswith("req_")))
        lines.append(
            f"{mark} {scenario.name}{outline}\n"
            f"    {scenario.feature_file}  tags: {tags}  "
            f"requirements: {', '.join(scenario.requirements) or '-'}"
        )
    return lines


def requirement_lines(role: str | None, profiles: Sequence[str]) -> list[str]:
    """Catalogue rows for the role (by actor) and profiles, with the scenarios tracing to each.

    With profiles given, a scenario covers a row only for a profile it runs for and the row
    binds: a V24-only scenario does not cover a V24+PR1 row for PR1.
    """
    catalogue = load_catalogue()
    tracing: dict[str, list[str]] = {}
    for scenario in feature_scenarios():
        if role and role not in scenario.tags:
            continue
        for requirement_id in scenario.requirements:
            bound = catalogue[requirement_id].profiles if requirement_id in catalogue else tuple(profiles)
            if profiles and not any(p in bound and applies_to_profile(scenario.tags, p) for p in profiles):
                continue
            tracing.setdefault(requirement_id, []).append(scenario.name)
    actors = ROLE_ACTORS.get(role or "", ())
    lines = []
    for requirement in catalogue.values():
        if (
            actors
            and not any(a in requirement.actor for a in actors)
            and requirement.id not in tracing
        ):
            continue
        if profiles and not set(profiles) & set(requirement.profiles):
            continue
        covered = tracing.get(requirement.id, [])
        status = f"{len(covered)} scenario(s)" if covered else "not covered by a scenario"
        if not covered and requirement.not_testable:
            status = "not black-box testable"
        lines.append(
            f"{requirement.id}  {requirement.level:<8} "
            f"{','.join(requirement.profiles):<12} {status}\n"
            f"    {requirement.summary}"
        )
    return lines
