"""The CLI certifies agents in real containers: the reference passes, broken agents do not.

Each mutant is the reference agent with one fault switch on; it must fail the scenario written
for the requirement it breaks, with a message naming what was missing and the evidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import reference_agent_variant, run_agent_with_fault, run_cli, with_faults

pytestmark = [pytest.mark.selftest, pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]


def test_reference_agent_is_certified_with_real_git_fetches(tmp_path: Path) -> None:
    run = run_cli(report_dir=tmp_path)
    assert run.code == 0, run.stderr[-3000:]
    results = run.results
    assert results["verdict"] == "pass"
    ran = [s for s in results["scenarios"] if s["outcome"] != "skip"]
    assert results["counts"]["pass"] == len(ran) >= 9
    # The reference agent claims V24 only: PR1 runs of transport-neutral scenarios say so.
    assert all(s["message"].startswith("not claimed:") for s in results["scenarios"] if s["outcome"] == "skip")
    assert {r["outcome"] for r in results["requirements"]} == {"pass"}
    assert (tmp_path / "junit.xml").is_file()
    assert any((tmp_path / "allure-results").glob("*-result.json"))
    fetch = run.scenario("fetched within the polling interval")
    events = json.loads((tmp_path / fetch["evidence"]).read_text())["events"]
    fetched = [e for e in events if e["kind"] == "git" and e["data"]["phase"] == "fetch"]
    committed = [e for e in events if e["kind"] == "commit" and e["summary"].endswith("hello-compose")]
    assert committed and any(committed[0]["data"]["sha"] in e["data"]["wants"] for e in fetched)
    assert results["sut"]["sut_file"]["env"]["MARGO_ONBOARDING_KEY"] == "{onboarding_key}"


def test_agent_that_skips_installing_fails_the_status_scenarios(tmp_path: Path) -> None:
    run = run_agent_with_fault(tmp_path, "skip-installing", "-m", "status")
    for profile in ("V24", "PR1"):  # the status scenarios run once per claimed profile
        scenario = run.failed(f"every step of applying a new deployment [{profile}-hello-compose]")
        assert "never reported Installing" in scenario["message"]
        assert "STS-001" in scenario["message"]


def test_agent_that_never_fetches_fails_the_gitops_scenarios_with_the_fetch_log(tmp_path: Path) -> None:
    run = run_agent_with_fault(tmp_path, "never-fetch", "-m", "gitops")
    scenario = run.failed("fetched within the polling interval")
    assert "was not fetched within" in scenario["message"]
    assert "Exchanges seen" in scenario["message"] and "commit" in scenario["message"]
    run.failed("watches its assigned repository")


def test_agent_that_exits_at_start_is_an_error_with_its_last_words(tmp_path: Path) -> None:
    run = run_cli("--sut", str(with_faults(tmp_path, "exit-at-start")), "-m", "onboarding",
                  report_dir=tmp_path / "report")
    assert run.code == 3, run.stderr[-3000:]
    results = run.results
    assert results["verdict"] == "error"
    for scenario in (s for s in results["scenarios"] if s["outcome"] != "skip"):
        assert scenario["outcome"] == "error"
        assert "SUT did not become ready" in scenario["message"]
        assert "exit code: 3" in scenario["message"] or "exited" in scenario["message"]


def test_missing_image_is_one_line_and_an_error_verdict(tmp_path: Path) -> None:
    sut = reference_agent_variant(
        tmp_path, "missing", drop=("build",), image="margo-conformance/no-such-agent:0"
    )
    run = run_cli("--sut", str(sut), report_dir=tmp_path / "report")
    assert run.code == 3
    assert "no-such-agent" in run.stderr and "not on the Docker engine" in run.stderr
    assert run.results["verdict"] == "error"
