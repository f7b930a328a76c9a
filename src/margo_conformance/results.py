"""The results tree of a run: one entry per scenario, requirement outcomes and the verdict.

`ResultsCollector` listens to pytest and pytest-bdd hooks and builds the tree; writers (for
now `write_results_json`) serialise it. Outcomes: pass, fail (the SUT broke a requirement:
an assertion), error (the SUT could not be brought up, or the suite broke), skip (always
with a reason).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from margo_conformance import SUITE_NAME, __version__
from margo_conformance.requirements import load_catalogue, tag_to_id

PASS, FAIL, ERROR, SKIP = "pass", "fail", "error", "skip"
_SEVERITY = {PASS: 0, SKIP: 1, ERROR: 2, FAIL: 3}
SCENARIO_KEY = pytest.StashKey[dict[str, Any]]()
EVIDENCE_KEY = pytest.StashKey[Any]()


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

    @property
    def requirements(self) -> list[str]:
        return sorted(tag_to_id(t) for t in self.tags if t.startswith("req_"))

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
        }
        if self.evidence_file:
            entry["evidence"] = self.evidence_file
        return entry


def run_verdict(outcomes: list[str]) -> str:
    """fail beats error beats partial; a run that ran nothing cannot pass."""
    if not outcomes:
        return ERROR
    if FAIL in outcomes:
        return "fail"
    if ERROR in outcomes:
        return ERROR
    if SKIP in outcomes:
        return "partial"
    return PASS


def requirement_outcomes(scenarios: list[ScenarioResult]) -> list[dict[str, Any]]:
    catalogue = load_catalogue()
    by_requirement: dict[str, list[ScenarioResult]] = {}
    for scenario in scenarios:
        for requirement in scenario.requirements:
            by_requirement.setdefault(requirement, []).append(scenario)
    rows = []
    for requirement, covering in sorted(by_requirement.items()):
        worst = max((s.outcome for s in covering), key=_SEVERITY.__getitem__)
        entry = catalogue.get(requirement)
        rows.append(
            {
                "id": requirement,
                "level": entry.level if entry else "unknown",
                "outcome": worst,
                "scenarios": [s.name for s in covering],
            }
        )
    return rows


def _outcome_of(report: pytest.TestReport, call: pytest.CallInfo[Any] | None) -> tuple[str, str]:
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return SKIP, reason.removeprefix("Skipped: ")
    if report.passed:
        return PASS, ""
    excinfo = call.excinfo if call is not None else None
    message = str(excinfo.value) if excinfo is not None else str(report.longrepr)
    if excinfo is not None and report.when == "call" and excinfo.errisinstance(AssertionError):
        return FAIL, message
    prefix = "" if report.when == "call" else f"[{report.when}] "
    kind = f"{excinfo.typename}: " if excinfo is not None and not _is_own_error(excinfo.value) else ""
    return ERROR, f"{prefix}{kind}{message}"


def _is_own_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("margo_conformance")


def _display_name(item: pytest.Item, scenario_name: str) -> str:
    example = re.search(r"\[(.+)\]$", item.name)
    return f"{scenario_name} [{example.group(1)}]" if example else scenario_name


@dataclass
class ResultsCollector:
    report_dir: Path
    sut_description: dict[str, Any]
    run_id: str
    started: float = field(default_factory=time.time)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    _current: dict[str, ScenarioResult] = field(default_factory=dict)

    @pytest.hookimpl
    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
        request.node.stash[SCENARIO_KEY] = {
            "name": scenario.name,
            "feature": feature.name,
            "tags": sorted(set(feature.tags) | set(scenario.tags)),
        }

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
        report: pytest.TestReport = yield
        result = self._current.setdefault(item.nodeid, self._new_result(item))
        if item.stash.get(SCENARIO_KEY, None):  # set during call by pytest-bdd
            info = item.stash[SCENARIO_KEY]
            result.name = _display_name(item, info["name"])
            result.feature, result.tags = info["feature"], info["tags"]
        result.duration_s += report.duration
        outcome, message = _outcome_of(report, call)
        if _SEVERITY[outcome] > _SEVERITY[result.outcome] or (outcome == SKIP and result.outcome == PASS):
            result.outcome, result.message = outcome, message
        if report.when == "teardown":
            self._finish(item, result)
        return report

    def _new_result(self, item: pytest.Item) -> ScenarioResult:
        tags = sorted(m.name for m in item.iter_markers() if m.name not in ("parametrize", "usefixtures"))
        return ScenarioResult(name=item.name, feature=str(item.path.name), tags=tags, nodeid=item.nodeid)

    def _finish(self, item: pytest.Item, result: ScenarioResult) -> None:
        evidence = item.stash.get(EVIDENCE_KEY, None)
        if evidence is not None:
            result.evidence_file = write_evidence(self.report_dir, len(self.scenarios) + 1, result, evidence)
        self.scenarios.append(result)
        del self._current[item.nodeid]

    def results_tree(self) -> dict[str, Any]:
        outcomes = [s.outcome for s in self.scenarios]
        counts = {o: outcomes.count(o) for o in (PASS, FAIL, ERROR, SKIP)}
        return {
            "suite": {"name": SUITE_NAME, "version": __version__},
            "run": {
                "id": self.run_id,
                "started": _iso(self.started),
                "finished": _iso(time.time()),
                "duration_s": round(time.time() - self.started, 3),
            },
            "sut": self.sut_description,
            "verdict": run_verdict(outcomes),
            "counts": counts,
            "scenarios": [s.to_json() for s in self.scenarios],
            "requirements": requirement_outcomes(self.scenarios),
        }

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        write_results_json(self.report_dir, self.results_tree())


def write_evidence(report_dir: Path, index: int, result: ScenarioResult, evidence: Any) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", result.name.lower()).strip("-")[:80]
    relative = f"evidence/{index:03d}-{slug}.json"
    target = report_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"scenario": result.name, "events": evidence.to_json()}, indent=1))
    return relative


def write_results_json(report_dir: Path, tree: dict[str, Any]) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    target = report_dir / "results.json"
    target.write_text(json.dumps(tree, indent=2) + "\n")
    return target


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
