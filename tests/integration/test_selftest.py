"""The whole kill matrix in CI: references pass, every mutant is killed, no false failures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from margo_conformance.commands.mutants import load_mutants
from tests.integration.conftest import kept_report_dir

pytestmark = [pytest.mark.selftest, pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]


def test_every_mutant_is_killed_and_references_pass() -> None:
    report_dir = kept_report_dir("selftest")
    completed = subprocess.run(
        # Every mutant against every scenario whose code reaches its fault switch (where its
        # outcome can differ from the reference's), so a failure pinned on the wrong requirement
        # shows; the full scope runs about three times as many scenarios for the same verdicts.
        [sys.executable, "-m", "margo_conformance", "selftest", "--scope", "reached", "--jobs", "4",
         "--report-dir", str(report_dir)],
        capture_output=True, text=True, timeout=3000,
    )
    matrix = json.loads((report_dir / "kill-matrix.json").read_text())
    rows = matrix["rows"]
    bad = [r for r in rows if not r["ok"]]
    assert not bad, "\n".join(
        f"{r['role']} {r['mutant']}: {r['note']} {r.get('reasons') or r['false_failures']}" for r in bad
    )
    assert matrix["scope"] == "reached"
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert len(rows) == len(load_mutants())
    assert matrix["coverage"]["traced_must"] and not matrix["coverage"]["missing"], matrix["coverage"]
    assert (report_dir / "kill-matrix.md").read_text().startswith("Mutants killed:")
