"""Results under pytest-xdist: workers hand each judged scenario to the controller, which
alone writes results.json; evidence files are named by collection position; waits measure
time on the SUT and the delay from the awaited event to the wake-up."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

from margo_conformance.base.evidence import HTTP, EvidenceLog, event_time
from margo_conformance.results.collector import ResultsCollector
from margo_conformance.results.coverage import PlannedScenario
from margo_conformance.results.model import ScenarioResult
from margo_conformance.results.xdist import (
    CONTROLLER,
    PLANNED_OUTPUT,
    SCENARIO_PROPERTY,
    planned_from_json,
    planned_to_json,
    take_scenario_property,
)

SUT = {"name": "x", "role": "agent", "profiles": ["V24"], "image": "img", "sut_file": {}}


def _report(nodeid: str, when: str, properties: list[tuple[str, object]], failed: bool = False,
            longrepr: str = "") -> SimpleNamespace:
    return SimpleNamespace(nodeid=nodeid, when=when, user_properties=properties, failed=failed,
                           longrepr=longrepr)


def _judged(nodeid: str, index: int, outcome: str = "pass") -> dict[str, object]:
    result = ScenarioResult(f"scenario {index}", "f.feature", ["agent", "must", "V24", "req_ONB_001"],
                            nodeid, outcome=outcome, duration_s=1.5,
                            evidence_file=f"evidence/{index:03d}-scenario-{index}.json",
                            waiting_s=1.25, wake_delays_ms=[0.4, 2.0])
    return result.to_json()


def test_a_scenario_survives_the_trip_from_worker_to_controller() -> None:
    entry = _judged("t::a", 1)
    back = ScenarioResult.from_json(json.loads(json.dumps(entry)))  # execnet sends plain data
    assert back.to_json() == entry
    assert entry["waiting_s"] == 1.25 and entry["wake_delays_ms"] == [0.4, 2.0]


def test_the_controller_assembles_every_worker_scenario_once(tmp_path: Path) -> None:
    collector = ResultsCollector(tmp_path, SUT, "run-1", mode=CONTROLLER)
    planned = [PlannedScenario(f"t::{n}", f"scenario {i}", frozenset({"agent", "must", "V24"}))
               for i, n in enumerate("abc", 1)]
    worker = SimpleNamespace(workeroutput={PLANNED_OUTPUT: [planned_to_json(p) for p in planned]})
    collector.pytest_xdist_node_collection_finished(worker, ["t::a", "t::b", "t::c"])
    reports = [
        _report("t::a", "call", []),  # call reports carry nothing: the teardown one does
        _report("t::a", "teardown", [("other", 1), (SCENARIO_PROPERTY, _judged("t::a", 1))]),
        _report("t::b", "teardown", [(SCENARIO_PROPERTY, _judged("t::b", 2, "fail"))]),
        _report("t::c", "???", [], failed=True, longrepr="worker 'gw1' crashed while running 't::c'"),
    ]
    for report in reports:
        collector.pytest_runtest_logreport(report)
    collector.pytest_testnodedown(worker, None)
    tree = collector.results_tree()
    assert [s["nodeid"] for s in tree["scenarios"]] == ["t::a", "t::b", "t::c"]
    assert [s["outcome"] for s in tree["scenarios"]] == ["pass", "fail", "error"]
    assert "crashed" in tree["scenarios"][2]["message"]
    assert tree["verdict"] == "fail" and tree["coverage"]["executed"] == tree["coverage"]["mandatory"] == 3
    assert reports[1].user_properties == [("other", 1)]  # junit.xml does not get the entry


def test_take_scenario_property_leaves_other_reports_alone() -> None:
    report = _report("t::a", "teardown", [("k", "v")])
    assert take_scenario_property(report) is None and report.user_properties == [("k", "v")]


def test_planned_scenarios_round_trip() -> None:
    planned = PlannedScenario("t::a", "A", frozenset({"must", "agent"}))
    assert planned_from_json(json.loads(json.dumps(planned_to_json(planned)))) == planned


def test_waits_count_time_on_the_sut_and_the_delay_to_the_wake_up() -> None:
    log = EvidenceLog()
    threading.Timer(0.05, lambda: log.record(HTTP, "GET /x -> 200", path="/x")).start()
    found = log.wait_for(lambda events: next(iter(events), None), 5)
    assert found is not None and event_time(found) == found.at
    assert log.waiting_s >= 0.04
    assert len(log.wake_delays_ms) == 1 and 0 <= log.wake_delays_ms[0] < 100
    log.wait_for(lambda events: next(iter(events), None), 5)  # recorded before the wait began
    assert len(log.wake_delays_ms) == 1
    with log.waiting():
        pass
    assert event_time([found, SimpleNamespace(at=found.at + 1)]) == found.at + 1
    assert event_time("nothing") is None


def test_progress_finds_a_scenario_whose_logfinish_comes_after_another_workers_report(tmp_path: Path) -> None:
    # Worker 1 reports t::a, worker 2 reports t::b, then t::a's logfinish reaches the controller.
    collector = ResultsCollector(tmp_path, SUT, "run-1", mode=CONTROLLER)
    collector.pytest_runtest_logreport(_report("t::a", "teardown", [(SCENARIO_PROPERTY, _judged("t::a", 1))]))
    collector.pytest_runtest_logreport(_report("t::b", "teardown", [(SCENARIO_PROPERTY, _judged("t::b", 2))]))
    found = collector.last_finished("t::a")
    assert found is not None and found.name == "scenario 1"
    assert collector.last_finished("t::c") is None
