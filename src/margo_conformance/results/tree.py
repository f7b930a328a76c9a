"""The results tree, as results.json holds it (`schemas/results.schema.json`): assembled from
what a collector judged and planned, or, for a run stopped before any scenario, from the reason.

Writers (`write_results_json` here; HTML and the bundle in `margo_conformance.report`) serialise it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from margo_conformance.base import redaction
from margo_conformance.results.coverage import (
    CoverageStatement,
    PlannedScenario,
    applies_to_profile,
    coverage_statement,
    mandatory_scenarios,
    not_run,
)
from margo_conformance.results.identity import suite_identity
from margo_conformance.results.model import ERROR, RunContext, ScenarioResult, outcome_counts
from margo_conformance.results.verdict import apply_waivers, decide_verdict, profile_verdicts, requirement_outcomes
from margo_conformance.results.waivers import UNUSED

RESULTS_FORMAT = "margo-conformance-results/2"


class CollectedRun(Protocol):
    """What a collector gathered during a run (collector.ResultsCollector)."""

    sut_description: dict[str, Any]
    run_id: str
    started: float
    effective_config: Mapping[str, Any]
    scenarios: list[ScenarioResult]
    planned: list[PlannedScenario]
    selected: frozenset[str]


def assemble_tree(run: CollectedRun, context: RunContext | None = None, interrupted: bool = False) -> dict[str, Any]:
    """The tree of a run that reached pytest: waivers applied, verdicts decided, coverage stated."""
    context = context or RunContext()
    waiver_rows = apply_waivers(run.scenarios, context.waivers)
    role = str(run.sut_description.get("role", ""))
    profiles = list(run.sut_description.get("profiles", []))
    mandatory = mandatory_scenarios(run.planned, role, profiles)
    reported = {s.nodeid: (s.outcome, s.message) for s in run.scenarios}
    missing = not_run(mandatory, run.selected, reported)
    verdict = decide_verdict(run.scenarios, missing, interrupted)
    profile_rows = profile_verdicts(run.scenarios, run.planned, run.selected, role, profiles, interrupted)
    finished = time.time()
    return {
        "format": RESULTS_FORMAT,
        "suite": suite_identity(),
        "run": {
            "id": run.run_id,
            "started": _iso(run.started),
            "finished": _iso(finished),
            "duration_s": round(finished - run.started, 3),
            "mode": "certification" if context.certification else "development",
            "selection": context.selection_json(),
            "waivers_file": context.waivers_file,
        },
        "sut": {**run.sut_description, **context.image},
        **({"config": dict(run.effective_config)} if run.effective_config else {}),
        "verdict": verdict.verdict,
        "verdict_reasons": list(verdict.reasons),
        "counts": outcome_counts(run.scenarios),
        "profiles": profile_rows,
        "coverage": {
            "mandatory": len(mandatory),
            "executed": len(mandatory) - len(missing),
            "not_run": [m.to_json() for m in missing],
            "statements": [
                profile_coverage(run.scenarios, run.planned, role, str(p["profile"]), str(p["verdict"])).to_json()
                for p in profile_rows
            ],
        },
        "waivers": waiver_rows,
        "scenarios": [s.to_json() for s in run.scenarios],
        "requirements": requirement_outcomes(
            run.scenarios, [p for p in mandatory if p.nodeid in {m.nodeid for m in missing}]
        ),
    }


def profile_coverage(
    scenarios: Sequence[ScenarioResult], planned: Sequence[PlannedScenario], role: str, profile: str, verdict: str
) -> CoverageStatement:
    """Every MUST and SHOULD row binding the role and `profile`, judged only by the
    scenarios that ran for that profile."""
    mine = [s for s in scenarios if applies_to_profile(s.tags, profile)]
    outcomes = {row["id"]: row["outcome"] for row in requirement_outcomes(mine)}
    return coverage_statement(role, profile, verdict, planned, outcomes)


def preflight_tree(
    sut_description: Mapping[str, Any], run_id: str, message: str, context: RunContext | None = None
) -> dict[str, Any]:
    """results.json for a run that stopped before any scenario: verdict error, reason kept."""
    context = context or RunContext()
    now = _iso(time.time())
    return {
        "format": RESULTS_FORMAT,
        "suite": suite_identity(),
        "run": {
            "id": run_id,
            "started": now,
            "finished": now,
            "duration_s": 0.0,
            "mode": "certification" if context.certification else "development",
            "selection": context.selection_json(),
            "waivers_file": context.waivers_file,
        },
        "sut": {**sut_description, **context.image},
        "verdict": ERROR,
        "verdict_reasons": [message],
        "message": message,
        "counts": outcome_counts([]),
        "profiles": [],
        "coverage": {"mandatory": 0, "executed": 0, "not_run": [], "statements": []},
        "waivers": [{**w.to_json(), "status": UNUSED, "matched": []} for w in context.waivers],
        "scenarios": [],
        "requirements": [],
    }

def write_results_json(report_dir: Path, tree: dict[str, Any]) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    target = report_dir / "results.json"
    target.write_text(redaction.redact_text(json.dumps(tree, indent=2)) + "\n")
    return target


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
