"""The whole kill matrix in CI: references pass, every mutant is killed, no false failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from margo_conformance.selftest import load_mutants

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]


def test_every_mutant_is_killed_and_references_pass(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "margo_conformance.cli", "selftest", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=3000,
    )
    rows = json.loads((tmp_path / "kill-matrix.json").read_text())["rows"]
    bad = [r for r in rows if not r["ok"]]
    assert not bad, "\n".join(f"{r['role']} {r['mutant']}: {r['note']} {r['false_failures']}" for r in bad)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert len(rows) == len(load_mutants())
    assert (tmp_path / "kill-matrix.md").read_text().startswith("Mutants killed:")
