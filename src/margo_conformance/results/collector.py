"""The pytest plugin that judges each scenario: it listens to pytest and pytest-bdd hooks,
keeps one `ScenarioResult` (model.py) per scenario and, when the run ends, writes the results
tree (tree.py) that the verdict rules (verdict.py) decide.

Each scenario (each example of an outline) runs inside its own `CheckLedger` (checks/expect.py),
whose checks travel with its result. Under pytest-xdist (xdist.py) every worker judges its own
scenarios and only the controller assembles and writes results.json.
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
from margo_conformance.checks.expect import Blocked, CheckLedger, scenario_ledger
from margo_conformance.results.coverage import PlannedScenario
from margo_conformance.results.model import ERROR, FAIL, PASS, SKIP, RunContext, ScenarioResult
from margo_conformance.results.tree import assemble_tree, write_results_json
from margo_conformance.results.xdist import (
    CONTROLLER,
    PLANNED_OUTPUT,
    SCENARIO_PROPERTY,
    SINGLE,
    WORKER,
    crashed_worker_result,
    planned_from_json,
    planned_to_json,
    take_scenario_property,
    xdist_mode,
)

ALL_PROFILES = frozenset({"V24", "PR1", "PR2"})
_SEVERITY = {PASS: 0, SKIP: 1, ERROR: 2, FAIL: 3}
SCENARIO_KEY = pytest.StashKey[dict[str, Any]]()
LEDGER_KEY = pytest.StashKey[CheckLedger]()
EVIDENCE_KEY = pytest.StashKey[Any]()
#: The run's command-line context (model.RunContext), stashed by the runner.
RUN_CONTEXT_KEY = pytest.StashKey[RunContext]()


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

    def results_tree(self, context: RunContext | None = None, interrupted: bool = False) -> dict[str, Any]:
        return assemble_tree(self, context, interrupted)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if session.config.option.collectonly or self.mode == WORKER:
            return  # a worker's scenarios reach the controller in their reports
        context = session.config.stash.get(RUN_CONTEXT_KEY, None)
        interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        write_results_json(self.report_dir, self.results_tree(context, interrupted))


def write_evidence(report_dir: Path, index: int, result: ScenarioResult, evidence: Any) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", result.name.lower()).strip("-")[:80]
    relative = f"evidence/{index:03d}-{slug}.json"
    target = report_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    document = json.dumps({"scenario": result.name, "events": evidence.to_json()}, indent=1)
    target.write_text(redaction.redact_text(document))  # SUT log lines included
    return relative
