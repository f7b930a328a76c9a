"""The results tree of a run: one entry per scenario, requirement outcomes and the verdict.

`ResultsCollector` listens to pytest and pytest-bdd hooks and builds the tree; writers
(`write_results_json` here, HTML and the bundle in `margo_conformance.report`) serialise it.
The tree's shape is `schemas/results.schema.json`.

Scenario outcomes: pass; fail (the SUT broke a requirement: a failed check); error (the SUT
could not be brought up, a prerequisite was refused (*blocked*), or the suite or its
infrastructure broke); skip (always with a reason). A failing scenario may be *waived* (an
expected failure, with its reason); a waived scenario that passes is a *stale waiver*.

Each scenario runs inside its own `CheckLedger` (checks.py): its checks travel with its result,
and requirement outcomes are read from them (outcomes.py), so a failing example fails only what
its failed check names.

Run verdict, worst first: fail (an unwaived failure, a blocked scenario whose prerequisite the
SUT broke a requirement on, or a stale waiver); error (a scenario errored, nothing ran, or the
run was interrupted); partial (something was skipped or waived, or a mandatory scenario of
the SUT's role and profiles was not executed); pass. Advisory checks never count.

Parallel runs (pytest-xdist, `margo-conformance run --workers N`): every worker runs its own
collector, which judges its scenarios, writes their evidence files (named by collection
position, so workers never collide) and hands each finished scenario to the controller in
the teardown report's `user_properties`; what the worker collected travels in its
`workeroutput`. Only the controller's collector builds the tree and writes results.json.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from margo_conformance.base import redaction
from margo_conformance.base.requirements import load_catalogue, tag_to_id
from margo_conformance.checks.expect import ADVISORY, Blocked, Check, CheckLedger, scenario_ledger
from margo_conformance.config.interop import NOT_APPLICABLE
from margo_conformance.results.coverage import (
    SKIPPED,
    CoverageStatement,
    NotRun,
    PlannedScenario,
    applies_to_profile,
    coverage_statement,
    mandatory_scenarios,
    not_run,
)
from margo_conformance.results.identity import suite_identity
from margo_conformance.results.outcomes import (
    BY_CHECKS,
    failed_requirements,
    first_in_precedence,
    scenario_requirement_verdicts,
)
from margo_conformance.results.waivers import (
    STALE,
    UNUSED,
    WAIVED,
    Waiver,
    first_match,
    waiver_status,
)

#: Skip reasons of scenarios for a profile the SUT does not claim: shown, but not held against it.
NOT_CLAIMED = "not claimed:"
ALL_PROFILES = frozenset({"V24", "PR1", "PR2"})
PASS, FAIL, ERROR, SKIP = "pass", "fail", "error", "skip"
PARTIAL = "partial"
NOT_RUN = "not_run"  # a requirement whose scenarios were all left out of the run
OUTCOMES = (PASS, FAIL, ERROR, SKIP)
RESULTS_FORMAT = "margo-conformance-results/2"
_SEVERITY = {PASS: 0, SKIP: 1, ERROR: 2, FAIL: 3}
SCENARIO_KEY = pytest.StashKey[dict[str, Any]]()
LEDGER_KEY = pytest.StashKey[CheckLedger]()
EVIDENCE_KEY = pytest.StashKey[Any]()
#: user_properties key of a scenario result a pytest-xdist worker hands to the controller.
SCENARIO_PROPERTY = "margo.scenario"
#: workeroutput key of what a pytest-xdist worker collected (before any deselection).
PLANNED_OUTPUT = "margo.planned"
SINGLE, WORKER, CONTROLLER = "single", "worker", "controller"


@dataclass(frozen=True)
class RunContext:
    """What the command line adds to a run beyond the SUT file; `runner` stashes it.

    The collector reads it from `config.stash[RUN_CONTEXT_KEY]` when the run ends; a plain
    `pytest -c conformance.ini` run has none and gets the defaults.
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


RUN_CONTEXT_KEY = pytest.StashKey[RunContext]()


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reasons: tuple[str, ...] = ()


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


def _note_ending(result: ScenarioResult, ledger: CheckLedger | None, call: pytest.CallInfo[Any] | None) -> None:
    """Keep what the exception that ended a phase says: the requirement a hand-made
    CheckFailed or a Blocked names goes into the ledger; a Blocked marks the scenario blocked."""
    excinfo = call.excinfo if call is not None else None
    if excinfo is None:
        return
    if ledger is not None:
        ledger.record_ending(excinfo.value)
    if isinstance(excinfo.value, Blocked) and result.blocked is None:
        result.blocked = excinfo.value.prerequisite


#: junit.xml <property> names: what a CI reader sees of the per-check outcome of a test case.
JUNIT_FAILED, JUNIT_TRACED, JUNIT_BLOCKED, JUNIT_ADVISORY = (
    "margo.failed_requirements", "margo.traced_by", "margo.blocked", "margo.advisory")


def junit_properties(result: ScenarioResult) -> list[tuple[str, str]]:
    """The failed requirements, the prerequisite a blocked scenario stopped at and each advisory
    check (its outcome and message), as junit.xml properties of the scenario's test case."""
    properties = []
    if result.failed_requirements:
        properties.append((JUNIT_FAILED, ", ".join(result.failed_requirements)))
        properties.append((JUNIT_TRACED, str(result.traced_by)))
    if result.blocked:
        properties.append((JUNIT_BLOCKED, result.blocked))
    for check in result.advisory:
        word = "holds" if check.passed else "does not hold"
        properties.append((JUNIT_ADVISORY, f"{', '.join(check.requirements)} ({word}): {check.message}"))
    return properties


def _outcome_of(report: pytest.TestReport, call: pytest.CallInfo[Any] | None) -> tuple[str, str]:
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return SKIP, reason.removeprefix("Skipped: ")
    if report.passed:
        return PASS, ""
    excinfo = call.excinfo if call is not None else None
    message = _without_rewritten_assert(str(excinfo.value)) if excinfo is not None else str(report.longrepr)
    if excinfo is not None and report.when == "call" and excinfo.errisinstance(AssertionError):
        return FAIL, message
    prefix = "" if report.when == "call" else f"[{report.when}] "
    kind = (
        f"{excinfo.typename}: " if excinfo is not None and not _is_own_error(excinfo.value) else ""
    )
    return ERROR, f"{prefix}{kind}{message}"


def _without_rewritten_assert(message: str) -> str:
    """Drop pytest's `assert ...` explanation: the step's own message already says what was seen."""
    return re.split(r"\n(?:assert |where |\+  where )", message, maxsplit=1)[0].rstrip()


def _is_own_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("margo_conformance")


def _display_name(item: pytest.Item, scenario_name: str) -> str:
    example = re.search(r"\[(.+)\]$", item.name)
    return f"{scenario_name} [{example.group(1)}]" if example else scenario_name


def _marker_tags(item: pytest.Item) -> list[str]:
    return narrow_to_item_profile(
        item, {m.name for m in item.iter_markers() if m.name not in ("parametrize", "usefixtures")}
    )


def narrow_to_item_profile(item: pytest.Item, tags: set[str]) -> list[str]:
    """A scenario run once per profile carries only the profile of this run among its tags,
    and only the requirements of that profile: a transport-neutral scenario lists each
    profile's own wording of a rule (V24 STS-004, PR1 STS-013), and each run claims its own."""
    callspec = getattr(item, "callspec", None)
    profile = callspec.params.get("profile") if callspec is not None else None
    if profile is not None:
        tags = {t for t in tags if t not in ALL_PROFILES and applies_to(t, profile)} | {profile}
    return sorted(tags)


def applies_to(tag: str, profile: str) -> bool:
    """False only for a requirement tag whose requirement belongs to other profiles."""
    if not tag.startswith("req_"):
        return True
    requirement = load_catalogue().get(tag_to_id(tag))
    return requirement is None or profile in requirement.profiles


def _planned(item: pytest.Item) -> PlannedScenario:
    """The scenario an item will run, named as the report names it, from collection alone."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "function", None)
    template = scenario_wrapper_template_registry.get(function) if function is not None else None
    name = _display_name(item, template.name) if template is not None else item.name
    return PlannedScenario(nodeid=item.nodeid, name=name, tags=frozenset(_marker_tags(item)))


@dataclass(eq=False)  # a pytest plugin: hashable, compared by identity
class ResultsCollector:
    report_dir: Path
    sut_description: dict[str, Any]
    run_id: str
    started: float = field(default_factory=time.time)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    planned: list[PlannedScenario] = field(default_factory=list)
    selected: frozenset[str] = frozenset()
    _current: dict[str, ScenarioResult] = field(default_factory=dict)
    _positions: dict[str, int] = field(default_factory=dict)  # nodeid -> 1-based, as collected
    mode: str = SINGLE  # single | worker | controller (pytest-xdist)
    effective_config: Mapping[str, Any] = field(default_factory=dict)  # RunConfig.effective()

    @pytest.hookimpl
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # Decided here, not at configure: xdist registers its controller plugin after us.
        self.mode = xdist_mode(session.config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # tryfirst: see every scenario before the role filter, -m, -k or --rerun-failed
        # deselect any, so the mandatory set does not shrink with the selection.
        self.planned = [_planned(item) for item in items]

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.selected = frozenset(item.nodeid for item in session.items)
        self._positions = {item.nodeid: i for i, item in enumerate(session.items, 1)}
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[PLANNED_OUTPUT] = [planned_to_json(p) for p in self.planned]

    # -- pytest-xdist: the controller assembles what the workers judged ----------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        self.selected = frozenset(ids)  # every worker collects the same items

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        planned = getattr(node, "workeroutput", {}).get(PLANNED_OUTPUT)
        if planned and not self.planned:
            self.planned = [planned_from_json(p) for p in planned]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.mode != CONTROLLER:
            return
        entry = take_scenario_property(report)
        if entry is not None:
            self.scenarios.append(ScenarioResult.from_json(entry))
        elif report.failed and report.when not in ("setup", "call", "teardown"):
            # xdist reports a worker that died mid-scenario with a report of its own.
            self.scenarios.append(crashed_worker_result(report))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        """Each scenario (each example of an outline) runs inside its own ledger of checks."""
        with scenario_ledger() as ledger:
            item.stash[LEDGER_KEY] = ledger
            return (yield)

    @pytest.hookimpl
    def pytest_bdd_before_scenario(
        self, request: pytest.FixtureRequest, feature: Any, scenario: Any
    ) -> None:
        request.node.stash[SCENARIO_KEY] = {
            "name": scenario.name,
            "feature": feature.name,
            "tags": narrow_to_item_profile(request.node, set(feature.tags) | set(scenario.tags)),
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
        ledger = item.stash.get(LEDGER_KEY, None)
        _note_ending(result, ledger, call)
        outcome, message = _outcome_of(report, call)
        if _SEVERITY[outcome] > _SEVERITY[result.outcome] or (
            outcome == SKIP and result.outcome == PASS
        ):
            result.outcome, result.message = outcome, message
        if report.when == "teardown":
            result.checks = list(ledger.checks) if ledger is not None else []
            self._finish(item, result)
            report.user_properties.extend(junit_properties(result))
            if self.mode == WORKER:
                report.user_properties.append((SCENARIO_PROPERTY, result.to_json()))
        return report

    def _new_result(self, item: pytest.Item) -> ScenarioResult:
        planned = _planned(item)
        return ScenarioResult(
            name=planned.name,
            feature=str(item.path.name),
            tags=_marker_tags(item),
            nodeid=item.nodeid,
        )

    def _finish(self, item: pytest.Item, result: ScenarioResult) -> None:
        evidence = item.stash.get(EVIDENCE_KEY, None)
        if evidence is not None:
            # By collection position: the same in every pytest-xdist worker, so never shared.
            index = self._positions.get(item.nodeid, len(self.scenarios) + 1)
            result.evidence_file = write_evidence(self.report_dir, index, result, evidence)
            result.waiting_s = evidence.waiting_s
            result.wake_delays_ms = evidence.wake_delays_ms
        self.scenarios.append(result)
        del self._current[item.nodeid]

    def last_finished(self, nodeid: str) -> ScenarioResult | None:
        """The latest result of `nodeid` (for live progress). Not merely the last result: under
        pytest-xdist another worker's report can reach the controller between a scenario's
        report and its logfinish."""
        return next((s for s in reversed(self.scenarios) if s.nodeid == nodeid), None)

    def results_tree(
        self, context: RunContext | None = None, interrupted: bool = False
    ) -> dict[str, Any]:
        context = context or RunContext()
        waiver_rows = apply_waivers(self.scenarios, context.waivers)
        role = str(self.sut_description.get("role", ""))
        profiles = list(self.sut_description.get("profiles", []))
        mandatory = mandatory_scenarios(self.planned, role, profiles)
        reported = {s.nodeid: (s.outcome, s.message) for s in self.scenarios}
        missing = not_run(mandatory, self.selected, reported)
        verdict = decide_verdict(self.scenarios, missing, interrupted)
        profile_rows = self._profile_verdicts(role, profiles, reported, interrupted)
        finished = time.time()
        return {
            "format": RESULTS_FORMAT,
            "suite": suite_identity(),
            "run": {
                "id": self.run_id,
                "started": _iso(self.started),
                "finished": _iso(finished),
                "duration_s": round(finished - self.started, 3),
                "mode": "certification" if context.certification else "development",
                "selection": context.selection_json(),
                "waivers_file": context.waivers_file,
            },
            "sut": {**self.sut_description, **context.image},
            **({"config": dict(self.effective_config)} if self.effective_config else {}),
            "verdict": verdict.verdict,
            "verdict_reasons": list(verdict.reasons),
            "counts": outcome_counts(self.scenarios),
            "profiles": profile_rows,
            "coverage": {
                "mandatory": len(mandatory),
                "executed": len(mandatory) - len(missing),
                "not_run": [m.to_json() for m in missing],
                "statements": [
                    self._coverage_statement(role, str(p["profile"]), str(p["verdict"])).to_json()
                    for p in profile_rows
                ],
            },
            "waivers": waiver_rows,
            "scenarios": [s.to_json() for s in self.scenarios],
            "requirements": requirement_outcomes(
                self.scenarios, [p for p in mandatory if p.nodeid in {m.nodeid for m in missing}]
            ),
        }

    def _coverage_statement(self, role: str, profile: str, verdict: str) -> CoverageStatement:
        """Every MUST and SHOULD row binding the role and `profile`, judged only by the
        scenarios that ran for that profile."""
        mine = [s for s in self.scenarios if applies_to_profile(s.tags, profile)]
        outcomes = {row["id"]: row["outcome"] for row in requirement_outcomes(mine)}
        return coverage_statement(role, profile, verdict, self.planned, outcomes)

    def _profile_verdicts(
        self,
        role: str,
        profiles: list[str],
        reported: dict[str, tuple[str, str]],
        interrupted: bool,
    ) -> list[dict[str, Any]]:
        """The verdict rules applied to each claimed profile's scenarios on their own."""
        rows = []
        for profile in profiles:
            mine = [s for s in self.scenarios if applies_to_profile(s.tags, profile)]
            missing = not_run(
                mandatory_scenarios(self.planned, role, [profile]), self.selected, reported
            )
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

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if session.config.option.collectonly or self.mode == WORKER:
            return  # a worker's scenarios reach the controller in their reports
        context = session.config.stash.get(RUN_CONTEXT_KEY, None)
        interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        write_results_json(self.report_dir, self.results_tree(context, interrupted))


def xdist_mode(config: pytest.Config) -> str:
    """single (no pytest-xdist), worker, or controller (runs no scenario, assembles results)."""
    if hasattr(config, "workerinput"):
        return WORKER
    if config.pluginmanager.hasplugin("dsession"):
        return CONTROLLER
    return SINGLE


def take_scenario_property(report: pytest.TestReport) -> dict[str, Any] | None:
    """Remove and return the scenario a worker attached (junit.xml must not show it)."""
    for index, (name, value) in enumerate(report.user_properties):
        if name == SCENARIO_PROPERTY and isinstance(value, dict):
            del report.user_properties[index]
            return value
    return None


def crashed_worker_result(report: pytest.TestReport) -> ScenarioResult:
    message = str(report.longrepr).strip().splitlines()
    return ScenarioResult(
        name=report.nodeid.rsplit("::", 1)[-1],
        feature=report.nodeid.split("::", 1)[0],
        tags=[],
        nodeid=report.nodeid,
        outcome=ERROR,
        message=f"the worker running this scenario died: {message[0] if message else 'no detail'}",
    )


def planned_to_json(planned: PlannedScenario) -> dict[str, Any]:
    return {"nodeid": planned.nodeid, "name": planned.name, "tags": sorted(planned.tags)}


def planned_from_json(entry: Mapping[str, Any]) -> PlannedScenario:
    return PlannedScenario(
        nodeid=str(entry["nodeid"]), name=str(entry["name"]), tags=frozenset(entry["tags"])
    )


def outcome_counts(scenarios: Sequence[ScenarioResult]) -> dict[str, int]:
    outcomes = [s.outcome for s in scenarios]
    return {o: outcomes.count(o) for o in OUTCOMES}


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


def write_evidence(report_dir: Path, index: int, result: ScenarioResult, evidence: Any) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", result.name.lower()).strip("-")[:80]
    relative = f"evidence/{index:03d}-{slug}.json"
    target = report_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    document = json.dumps({"scenario": result.name, "events": evidence.to_json()}, indent=1)
    target.write_text(redaction.redact_text(document))  # SUT log lines included
    return relative


def write_results_json(report_dir: Path, tree: dict[str, Any]) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    target = report_dir / "results.json"
    target.write_text(redaction.redact_text(json.dumps(tree, indent=2)) + "\n")
    return target


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
