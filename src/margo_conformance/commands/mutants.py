"""The mutants file (fixtures/mutants/mutants.yaml): each role's reference and its mutants.

A mutant is a reference implementation with one fault switch on, violating the requirements
it names. This module reads the file, writes the SUT file a mutant runs from, says which
scenarios it runs in each scope, and counts the mutation coverage: which MUST requirements
the features trace, and which of those no mutant violates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from margo_conformance.base.errors import ConfigError
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.base.requirements import id_to_tag, load_catalogue
from margo_conformance.config.placeholders import CONTAINER, PROCESS

MUTANTS_FILE = FIXTURES_DIR / "mutants" / "mutants.yaml"
#: Which scenarios a mutant runs (see `mutant_selection` and `reached_scenarios`).
TRACED, REACHED, FULL = "traced", "reached", "full"
SCOPES = (TRACED, REACHED, FULL)
#: The variable that makes the reference implementations say which fault switches a scenario's
#: code asks about, and the line they say it with (reference/*/faults.py).
FAULT_POINTS_VARIABLE = "MARGO_FAULT_POINTS"
FAULT_POINT_LINE = "fault point reached: "
#: What a mutant's run must show (the mutants file's `outcome`): a failed check, every scenario
#: in ERROR (an agent that never starts), or only an advisory finding (a choice the spec leaves open).
FAIL_OUTCOME, ERROR_OUTCOME, ADVISORY_OUTCOME = "fail", "error", "advisory"
MUTANT_OUTCOMES = (FAIL_OUTCOME, ERROR_OUTCOME, ADVISORY_OUTCOME)


#: The unmutated implementations: run in a container, and as a local process where the role
#: has a process SUT file (the mutants that run as processes are judged against that one).
REFERENCE, PROCESS_REFERENCE = "reference", "reference-process"
REFERENCES = (REFERENCE, PROCESS_REFERENCE)


@dataclass(frozen=True)
class Mutant:
    role: str
    name: str  # the fault switch; REFERENCE or PROCESS_REFERENCE for the unmutated implementation
    sut: Path
    fault_variable: str
    violates: tuple[str, ...] = ()
    outcome: str = FAIL_OUTCOME
    select: str | None = None
    timeouts: dict[str, float] = field(default_factory=dict)
    launcher: str = CONTAINER

    @property
    def is_reference(self) -> bool:
        return self.name in REFERENCES

    @property
    def slug(self) -> str:
        """Its run's folder under the report's mutants/ and its SUT file's stem: role-name."""
        return f"{self.role}-{self.name}"



@dataclass(frozen=True)
class MutationCoverage:
    """Which MUST requirements the features trace, and which of those some mutant violates."""

    traced_must: tuple[str, ...]
    mutated: tuple[str, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(r for r in self.traced_must if r not in self.mutated)

    def summary(self) -> str:
        text = f"MUST requirements traced by the features: {len(self.traced_must)}; with a mutant: " \
               f"{len(self.traced_must) - len(self.missing)}"
        return text + (f"; without: {', '.join(self.missing)}" if self.missing else "")

    def to_json(self) -> dict[str, Any]:
        return {"traced_must": list(self.traced_must), "mutated": list(self.mutated), "missing": list(self.missing)}


def traced_must_requirements() -> tuple[str, ...]:
    """MUST-level catalogue requirements that at least one feature scenario is tagged with."""
    from margo_conformance.commands.listing import feature_scenarios

    catalogue = load_catalogue()
    traced = {r for s in feature_scenarios() for r in s.requirements}
    return tuple(r for r in catalogue if r in traced and catalogue[r].level == "must")


def mutation_coverage(mutants: Iterable[Mutant]) -> MutationCoverage:
    """An advisory mutant breaks a choice, not a requirement: it covers nothing."""
    traced = traced_must_requirements()
    violated = {r for m in mutants if m.outcome != ADVISORY_OUTCOME for r in m.violates}
    return MutationCoverage(traced, tuple(r for r in traced if r in violated))


def load_mutants(path: Path = MUTANTS_FILE, roles: Iterable[str] | None = None) -> list[Mutant]:
    """References first, then their mutants, for the roles asked for.

    A role with a `process_sut` runs its mutants as local processes (no container to start per
    scenario: several times less CPU), except those marked `launcher: container`: a fault that
    shows only in the workloads, which a process agent records instead of running."""
    document = yaml.safe_load(path.read_text())
    chosen: list[Mutant] = []
    for role, entry in document.items():
        if roles is not None and role not in roles:
            continue
        suts = {CONTAINER: FIXTURES_DIR / "sut" / entry["sut"]}
        if entry.get("process_sut"):
            suts[PROCESS] = FIXTURES_DIR / "sut" / entry["process_sut"]
        variable = entry["fault_variable"]
        chosen.append(Mutant(role, REFERENCE, suts[CONTAINER], variable, outcome="pass"))
        if PROCESS in suts:
            chosen.append(Mutant(role, PROCESS_REFERENCE, suts[PROCESS], variable, outcome="pass", launcher=PROCESS))
        for item in entry["mutants"]:
            if item.get("outcome", FAIL_OUTCOME) not in MUTANT_OUTCOMES:
                raise ConfigError(f"{path.name}: mutant {item['fault']}: outcome must be one of "
                                  f"{', '.join(MUTANT_OUTCOMES)}, not {item['outcome']!r}")
            launcher = item.get("launcher", PROCESS if PROCESS in suts else CONTAINER)
            if launcher not in suts:
                raise ConfigError(f"{path.name}: mutant {item['fault']}: launcher {launcher!r} needs the role's "
                                  f"{'process_sut' if launcher == PROCESS else 'sut'}")
            chosen.append(
                Mutant(
                    role=role,
                    name=item["fault"],
                    sut=suts[launcher],
                    fault_variable=variable,
                    violates=tuple(item["violates"]),
                    outcome=item.get("outcome", FAIL_OUTCOME),
                    select=item.get("select"),
                    timeouts=dict(item.get("timeouts", {})),
                    launcher=launcher,
                )
            )
    return chosen


def relocatable_sut_document(path: Path) -> dict[str, Any]:
    """A SUT file's document with its folder-relative paths (build context, process cwd) made
    absolute, so a changed copy can be written anywhere."""
    document = yaml.safe_load(path.read_text())
    if "build" in document:
        document["build"]["context"] = str((path.parent / document["build"]["context"]).resolve())
    if "process" in document:
        document["process"]["cwd"] = str((path.parent / document["process"].get("cwd", ".")).resolve())
    return document


def mutant_sut_file(mutant: Mutant, directory: Path, report_fault_points: bool = False) -> Path:
    """The reference SUT file with the fault switched on (and any timeouts tightened); for a
    reference in the `reached` scope, with the fault points reported."""
    document = relocatable_sut_document(mutant.sut)
    if report_fault_points:
        document.setdefault("env", {})[FAULT_POINTS_VARIABLE] = "1"
    if not mutant.is_reference:
        document.setdefault("env", {})[mutant.fault_variable] = mutant.name
    if mutant.timeouts:
        document.setdefault("timeouts", {}).update(mutant.timeouts)
    target = directory / f"{mutant.slug}.sut.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def mutant_selection(mutant: Mutant, scope: str = TRACED) -> str | None:
    """The scenarios a mutant runs: its own `select`, else those tracing to what it violates.

    References run everything. In the `traced` scope a mutant runs the scenarios of its
    requirements, where its kill shows, which keeps the matrix within the CI budget; the
    `full` scope runs every scenario of its role, so a fault that breaks more than it claims,
    or a scenario failing for a requirement it does not trace, shows as a false failure.
    """
    if scope in (FULL, REACHED):
        return None
    if mutant.select:
        return mutant.select
    if mutant.is_reference or mutant.outcome == ERROR_OUTCOME:
        return None
    return " or ".join(id_to_tag(r) for r in mutant.violates)
