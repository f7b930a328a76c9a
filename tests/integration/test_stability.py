"""Verdicts do not wobble: repeated certification of the reference agent gives the same outcomes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from margo_conformance.stability import ScenarioSpread, spreads

pytestmark = pytest.mark.docker


def test_repeated_runs_of_the_reference_agent_agree(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "margo_conformance.cli", "stability", "--runs", "2",
         "--sut", "fixtures/sut/reference-agent.yaml", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )
    table = json.loads((tmp_path / "stability.json").read_text())["scenarios"]
    unstable = [f"{row['scenario']}: {row['outcomes']}" for row in table if not row["stable"]]
    assert not unstable, "outcomes changed between runs: " + "; ".join(unstable)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert table and all(len(row["outcomes"]) == 2 for row in table)
    assert (tmp_path / "stability.md").read_text().startswith("Runs per SUT: 2")


def test_a_changed_outcome_is_unstable() -> None:
    runs = [
        {"scenarios": [{"name": "a", "outcome": "pass", "duration_s": 1.0}]},
        {"scenarios": [{"name": "a", "outcome": "fail", "duration_s": 1.5}]},
        {"scenarios": []},
    ]
    (row,) = spreads("agent", runs)
    assert row == ScenarioSpread("agent", "a", ["pass", "fail", "absent"], [1.0, 1.5, 0.0])
    assert not row.stable and row.row()["spread_s"] == 1.5
