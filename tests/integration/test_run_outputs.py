"""What a run writes, against the real reference SUTs: the outputs and the verdict rules.

Every run against a reference SUT writes results.json (valid against its schema), JUnit XML,
Allure results and report.html, plus the signed bundle and the Allure page when asked.
A selection that leaves out mandatory scenarios and a stale waiver each turn the reference's
pass into a non-pass; --rerun-failed runs exactly the scenarios that failed before.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.base.schemas import validation_errors
from margo_conformance.report.allure import NODEID_LABEL
from margo_conformance.report.bundle import verify_bundle
from tests.integration.conftest import reference_agent_variant, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]

PROGRESS_LINE = re.compile(
    r"^\[\s*(\d+)/(\d+)\s+\+\d+\.\ds\] (PASS|FAIL|ERROR|SKIP|WAIVED|STALE)\s+\S", re.M
)
REFERENCE_SUTS = {"agent": "reference-agent.yaml", "wos": "reference-wos.yaml"}


@pytest.mark.parametrize("role", sorted(REFERENCE_SUTS))
def test_a_reference_sut_run_writes_every_output(tmp_path: Path, role: str) -> None:
    sut = FIXTURES_DIR / "sut" / REFERENCE_SUTS[role]
    run = run_cli("--sut", str(sut), "--bundle", "--allure", report_dir=tmp_path)
    assert run.code == 0, run.stderr[-3000:]
    results = run.results
    assert validation_errors(results, "results") == []
    assert results["verdict"] == "pass" and results["sut"]["role"] == role
    # Every mandatory scenario ran; should-level scenarios ran too but are not mandatory.
    assert results["coverage"]["executed"] == results["coverage"]["mandatory"] > 0
    assert len(results["scenarios"]) >= results["coverage"]["mandatory"]
    assert results["sut"]["image_id"].startswith("sha256:")

    junit = ET.parse(tmp_path / "junit.xml").getroot()
    nodeids = {p.get("value") for p in junit.iterfind(".//testcase/properties/property[@name='margo.nodeid']")}
    assert nodeids == {s["nodeid"] for s in results["scenarios"]}
    assert junit.get("failures") == junit.get("errors") == "0"
    # Every scenario has its Allure result, labelled with its node id (skips before the start too).
    labelled = {
        label["value"]
        for path in (tmp_path / "allure-results").glob("*-result.json")
        for label in json.loads(path.read_text())["labels"]
        if label["name"] == NODEID_LABEL
    }
    assert labelled == nodeids
    page = (tmp_path / "report.html").read_text()
    assert 'class="banner verdict-pass"' in page and results["run"]["id"] in page

    verification = verify_bundle(tmp_path / "bundle.tar.gz")
    assert verification.ok, verification.lines()
    if shutil.which("npx"):
        assert (tmp_path / "allure-report.html").is_file(), run.stderr[-2000:]
    else:
        assert "Allure HTML not generated: Node.js (npx) is not installed" in run.stderr

    progress = PROGRESS_LINE.findall(run.stderr)
    assert [int(n) for n, _, _ in progress] == list(range(1, len(results["scenarios"]) + 1))
    # A reference claiming fewer profiles than a scenario is written for shows those runs as
    # skipped: not claimed; nothing else may be other than a pass.
    assert {o for _, _, o in progress} <= {"PASS", "SKIP"}
    skipped = [s for s in results["scenarios"] if s["outcome"] == "skip"]
    assert all(s["message"].startswith("not claimed:") for s in skipped), skipped
    # One count at the end, the verdict's; pytest's own summary line is not printed.
    assert re.search(rf"verdict: PASS  \({results['counts']['pass']} pass\b", run.stderr)
    assert f"{len(results['scenarios'])} passed" not in run.stdout + run.stderr
    assert "PASS" in (tmp_path / "run.log").read_text()


def test_a_selection_that_leaves_out_mandatory_scenarios_is_partial(tmp_path: Path) -> None:
    run = run_cli("-m", "onboarding", report_dir=tmp_path)
    assert run.code == 1, run.stderr[-3000:]
    results = run.results
    assert results["counts"]["pass"] == len(results["scenarios"]) > 0
    assert results["verdict"] == "partial"
    assert {m["why"] for m in results["coverage"]["not_run"]} == {"deselected"}
    assert "mandatory scenario(s) were not run" in run.stderr


def test_a_stale_waiver_fails_a_passing_run(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "- scenario: onboards with the orchestrator\n  reason: URL set at the factory\n"
    )
    run = run_cli("-m", "onboarding", "--waivers", str(waivers), report_dir=tmp_path / "report")
    assert run.code == 1, run.stderr[-3000:]
    assert run.results["verdict"] == "fail"
    assert run.results["waivers"][0]["status"] == "stale"
    assert re.search(r"\] STALE\s+The agent onboards", run.stderr)
    # junit.xml reads it as the verdict does: the passing scenario's test case fails.
    stale = [
        case for case in ET.parse(tmp_path / "report" / "junit.xml").getroot().iter("testcase")
        if (case.find("failure") is not None and case.find("failure").get("message", "").startswith("stale waiver"))
    ]
    assert stale


def test_rerun_failed_runs_exactly_the_scenarios_that_failed(tmp_path: Path) -> None:
    first = run_cli("-m", "onboarding", report_dir=tmp_path / "first")
    previous = first.results
    failed = previous["scenarios"][:2]
    for scenario in failed:
        scenario["outcome"] = "fail"
    (tmp_path / "previous.json").write_text(json.dumps(previous))

    run = run_cli("--rerun-failed", str(tmp_path / "previous.json"), report_dir=tmp_path / "rerun")
    assert run.code == 1, run.stderr[-3000:]  # partial: the other mandatory scenarios did not run
    results = run.results
    # Exactly those, once each; in the order they finished (the rerun runs in the run's workers).
    assert sorted(s["nodeid"] for s in results["scenarios"]) == sorted(s["nodeid"] for s in failed)
    assert results["verdict"] == "partial" and results["run"]["selection"]["rerun_of"].endswith(
        "previous.json"
    )


def test_a_preflight_error_still_writes_the_report(tmp_path: Path) -> None:
    sut = reference_agent_variant(
        tmp_path, "missing", drop=("build",), image="margo-conformance/no-such-agent:0"
    )
    run = run_cli("--sut", str(sut), report_dir=tmp_path / "report")
    assert run.code == 3
    assert validation_errors(run.results, "results") == []
    page = (tmp_path / "report" / "report.html").read_text()
    assert 'class="banner verdict-error"' in page and "no-such-agent" in page
