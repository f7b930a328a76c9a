"""Verdicts do not wobble: repeated certification of the reference agent gives the same outcomes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from margo_conformance.commands.stability import ScenarioSpread, spreads
from tests.integration.conftest import kept_report_dir

pytestmark = [pytest.mark.selftest, pytest.mark.docker]


#: Runs per reference in CI (the command's default is 10): each run of both references takes
#: about 110 s with two workers, and the kill matrix certifies each reference once more.
CI_RUNS = 5


def test_repeated_runs_of_both_references_agree() -> None:
    report_dir = kept_report_dir("stability")
    completed = subprocess.run(
        [sys.executable, "-m", "margo_conformance", "stability", "--runs", str(CI_RUNS), "--workers", "2",
         "--report-dir", str(report_dir)],
        capture_output=True, text=True, timeout=CI_RUNS * 600,
    )
    table = json.loads((report_dir / "stability.json").read_text())["scenarios"]
    unstable = [f"{row['sut']} {row['scenario']}: {row['outcomes']}" for row in table if not row["stable"]]
    assert not unstable, "outcomes changed between runs: " + "; ".join(unstable)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert {row["sut"] for row in table} == {"reference-agent", "reference-wos"}
    assert all(row["outcomes"] == ["pass"] * CI_RUNS for row in table), "a reference did not pass every run"
    assert (report_dir / "stability.md").read_text().startswith(f"Runs per SUT: {CI_RUNS}")


def test_a_changed_outcome_is_unstable() -> None:
    runs = [
        {"scenarios": [{"name": "a", "outcome": "pass", "duration_s": 1.0}]},
        {"scenarios": [{"name": "a", "outcome": "fail", "duration_s": 1.5}]},
        {"scenarios": []},
    ]
    (row,) = spreads("agent", runs)
    assert row == ScenarioSpread("agent", "a", ["pass", "fail", "absent"], [1.0, 1.5, 0.0])
    assert not row.stable and row.row()["spread_s"] == 1.5
