"""The fleet profile against the reference WOS: a small fleet completes, its figures are in
performance.json (valid against its schema) and in the report's Performance section, and a
threshold that does not hold fails the run with exit code 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from margo_conformance.base.schemas import validation_errors
from tests.integration.conftest import CLI_TIMEOUT_S, REFERENCE_WOS_FILE, suite_containers

# alone: 20 devices polling each second late under other runs' load fail the `sustained` rule.
pytestmark = [pytest.mark.selftest, pytest.mark.docker, pytest.mark.alone]

DEVICES = 20
ENDPOINTS = {
    "POST /onboarding/",
    "POST token endpoint",
    "POST /device/{id}/capabilities",
    "GET git info/refs",
    "POST git ls-refs",
    "POST /device/{id}/deployment/{id}/status",
}


def test_a_small_fleet_is_measured_and_judged_against_thresholds(tmp_path: Path) -> None:
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text(yaml.safe_dump({
        "error_rate": {"max": 0.01},
        "devices_sustained": {"min": DEVICES},
        "endpoints": {"POST git ls-refs": {"p50_ms": {"max": 0.001}}},  # cannot hold
    }))
    report_dir = tmp_path / "fleet"
    completed = subprocess.run(
        [sys.executable, "-m", "margo_conformance", "fleet", "--sut", str(REFERENCE_WOS_FILE),
         "--devices", str(DEVICES), "--duration", "15", "--thresholds", str(thresholds),
         "--report-dir", str(report_dir)],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
    )
    assert completed.returncode == 1, completed.stderr[-3000:]  # the impossible bound failed
    performance = json.loads((report_dir / "performance.json").read_text())
    assert validation_errors(performance, "performance") == []
    devices = performance["devices"]
    assert devices == {**devices, "requested": DEVICES, "onboarded": DEVICES, "sustained": DEVICES}
    by_name = {e["name"]: e for e in performance["endpoints"]}
    assert set(by_name) == ENDPOINTS
    assert all(e["requests"] > 0 and e["failures"] == 0 for e in by_name.values())
    assert by_name["POST git ls-refs"]["requests"] >= DEVICES * 10  # polled for 15 s at 1/s
    assert performance["verdict"] == "fail"
    assert [r["check"] for r in performance["thresholds"] if not r["passed"]] == [
        "POST git ls-refs p50_ms <= 0.001"
    ]
    page = (report_dir / "report.html").read_text()
    assert 'id="performance"' in page and "POST git ls-refs" in page and "devices sustained" in page
    assert not suite_containers(performance["run"]["id"])
