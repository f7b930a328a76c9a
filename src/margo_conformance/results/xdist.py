"""pytest-xdist transport (`margo-conformance run --workers N`): what a worker hands the
controller and how the controller reads it.

Every worker runs its own collector, which judges its scenarios, writes their evidence files
(named by collection position, so workers never collide) and hands each finished scenario to
the controller in the teardown report's `user_properties`; what the worker collected travels
in its `workeroutput`. Only the controller's collector builds the tree and writes results.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from margo_conformance.results.coverage import PlannedScenario
from margo_conformance.results.model import ERROR, ScenarioResult

#: user_properties key of a scenario result a pytest-xdist worker hands to the controller.
SCENARIO_PROPERTY = "margo.scenario"
#: workeroutput key of what a pytest-xdist worker collected (before any deselection).
PLANNED_OUTPUT = "margo.planned"
SINGLE, WORKER, CONTROLLER = "single", "worker", "controller"


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
