"""The agent role under pytest-xdist (`run --workers 2`): one results.json from the
controller, every scenario in it exactly once, each with the evidence file its worker wrote."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from margo_conformance.base.schemas import validation_errors
from tests.integration.conftest import run_cli

pytestmark = [pytest.mark.selftest, pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]


def test_the_agent_role_in_two_workers_reports_every_scenario_once(tmp_path: Path) -> None:
    run = run_cli("--workers", "2", report_dir=tmp_path)
    assert run.code in (0, 1), run.stderr[-3000:]  # the aggregation is under test, not the agent
    results = run.results
    assert validation_errors(results, "results") == []
    scenarios = results["scenarios"]
    nodeids = [s["nodeid"] for s in scenarios]
    assert len(nodeids) == len(set(nodeids)) > 0
    coverage = results["coverage"]
    assert coverage["executed"] == coverage["mandatory"] > 0 and coverage["not_run"] == []
    assert sum(results["counts"].values()) == len(scenarios)
    ran = [s for s in scenarios if s["outcome"] != "skip"]  # a skip may end before any evidence
    assert ran
    for scenario in ran:
        evidence = json.loads((tmp_path / scenario["evidence"]).read_text())
        assert evidence["scenario"] == scenario["name"] and evidence["events"]
        assert 0 <= scenario["waiting_s"] <= scenario["duration_s"]
    files = [s["evidence"] for s in scenarios if "evidence" in s]
    assert len(set(files)) == len(files) == len(list((tmp_path / "evidence").iterdir()))
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert len(junit.findall(".//testcase")) == len(scenarios)
    assert not junit.findall(".//property[@name='margo.scenario']")
    assert "in parallel worker processes" in run.stderr
