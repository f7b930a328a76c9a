"""Beyond the happy path, in real containers: what the reference agent does to its workloads, and
what the failures of broken agents say.

The removal and update scenarios judge workloads from the Docker engine's events; here the
engine itself is asked as well: the reference agent labels its containers with the deployment id
(`org.margo.deployment`), so the test can tell whether a removed deployment's containers are
really gone rather than merely stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.integration.conftest import run_agent_with_fault, run_cli

pytestmark = [pytest.mark.selftest, pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]

DEPLOYMENT_LABEL = "org.margo.deployment"


def events(run_dir: Path, scenario: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads((run_dir / scenario["evidence"]).read_text())["events"]


def test_a_removed_deployment_leaves_no_container_on_the_engine(tmp_path: Path) -> None:
    run = run_cli("-k", "removed_from_the_device", report_dir=tmp_path)
    scenario = run.scenario("removed from the device")
    assert scenario["outcome"] == "pass", scenario["message"]
    recorded = events(tmp_path, scenario)
    started = [e for e in recorded if e["kind"] == "workload" and e["data"]["action"] == "start"]
    assert len(started) == 1
    deployment = started[0]["data"]["deployment"]
    removed = [e for e in recorded if e["kind"] == "workload" and e["data"]["action"] == "remove"]
    assert [e["data"]["container"] for e in removed] == [started[0]["data"]["container"]]
    client = docker.from_env()
    try:
        left = client.containers.list(all=True, filters={"label": f"{DEPLOYMENT_LABEL}={deployment}"})
    finally:
        client.close()
    assert not left, f"containers of the removed deployment {deployment}: {[c.name for c in left]}"


def test_an_update_replaces_the_container_with_one_carrying_the_new_value(tmp_path: Path) -> None:
    run = run_cli("-k", "applied_again_and_reported and new-greeting", report_dir=tmp_path)
    scenario = run.scenario("new-greeting")
    assert scenario["outcome"] == "pass", scenario["message"]
    started = [e["data"] for e in events(tmp_path, scenario)
               if e["kind"] == "workload" and e["data"]["action"] == "start"]
    assert [s["environment"]["GREETING"] for s in started] == [
        "hello from margo-conformance", "hello again, with a new greeting"]


def test_an_agent_that_ignores_removals_fails_with_its_running_workloads_named(tmp_path: Path) -> None:
    run = run_agent_with_fault(tmp_path, "ignore-removals", "-k", "removed_from_the_device")
    scenario = run.failed("removed from the device")
    assert "was removed from the desired state, but its workloads still run" in scenario["message"]


def test_an_agent_that_retries_in_a_tight_loop_fails_with_the_count(tmp_path: Path) -> None:
    run = run_agent_with_fault(tmp_path, "tight-retry", "-m", "downtime")
    scenario = run.failed("through an outage")
    assert "is a tight loop: at most" in scenario["message"]
    assert run.scenario("downtime window")["outcome"] == "pass"


def test_an_agent_that_ignores_the_polling_interval_fails_only_where_it_differs(tmp_path: Path) -> None:
    run = run_agent_with_fault(tmp_path, "fixed-poll-interval", "-m", "polling")
    assert run.scenario("[the usual interval]")["outcome"] == "pass"
    tripled = run.failed("[three times the usual interval]")
    assert "although the configured interval is 3s" in tripled["message"]


def test_a_failure_without_code_and_message_is_named(tmp_path: Path) -> None:
    run = run_agent_with_fault(tmp_path, "no-error-details", "-k", "package_cannot_be_fetched")
    scenario = run.failed("package cannot be fetched")
    assert "STS-006" in scenario["message"] and "no error (code and message) was given" in scenario["message"]
