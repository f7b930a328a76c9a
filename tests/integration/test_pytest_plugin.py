"""The suite as a pytest plugin: `pytest --sut <SUT file>` from a checkout runs the features.

The pytest11 entry point loads margo_conformance.commands.plugin; --sut makes the session a conformance
run that collects steps/scenarios.py, not pyproject's testpaths (the harness's own tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from margo_conformance.base.paths import FIXTURES_DIR, SUITE_ROOT
from tests.integration.conftest import CLI_TIMEOUT_S, track_run

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]

QUICK_SCENARIO = "onboards_with_the_orchestrator_it_was_configured_with"


def test_bare_pytest_with_sut_certifies_the_reference_agent_on_one_scenario(tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    pytest_script = Path(sys.executable).parent / "pytest"  # the venv's own, as a developer types it
    completed = subprocess.run(
        [str(pytest_script), "--sut", str(FIXTURES_DIR / "sut" / "reference-agent.yaml"), "-k", QUICK_SCENARIO,
         "--report-dir", str(report_dir), "-p", "no:cacheprovider", "-q"],
        cwd=SUITE_ROOT,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    track_run(report_dir)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads((report_dir / "results.json").read_text())
    ran = [s for s in results["scenarios"] if s["outcome"] != "skip"]
    assert ran and all(s["outcome"] == "pass" for s in ran), [(s["name"], s["outcome"]) for s in ran]
    assert {s["name"].split(" [")[0] for s in results["scenarios"]} == {
        "The agent onboards with the orchestrator it was configured with"
    }
    assert "tests/unit" not in completed.stdout  # the features ran, not the harness's own tests
