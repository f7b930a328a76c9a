"""The CLI certifies a WOS in a real container; broken WOS variants fail with evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import REFERENCE_WOS_FILE, reference_wos_with_faults, run_cli

pytestmark = [pytest.mark.selftest, pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]


def test_reference_wos_is_certified(tmp_path: Path) -> None:
    run = run_cli("--sut", str(REFERENCE_WOS_FILE), report_dir=tmp_path)
    assert run.code == 0, run.stderr[-3000:]
    results = run.results
    assert results["verdict"] == "pass"
    assert len(results["scenarios"]) >= 20
    assert results["sut"]["role"] == "wos"
    roles = {t for s in results["scenarios"] for t in s["tags"] if t in ("agent", "wos")}
    assert roles == {"wos"}


def test_wos_accepting_capabilities_without_serial_number_fails_naming_the_field(tmp_path: Path) -> None:
    sut = reference_wos_with_faults(tmp_path, "accept-capabilities-without-serial")
    run = run_cli("--sut", str(sut), "-m", "capabilities", report_dir=tmp_path / "r")
    assert run.code == 1, run.stderr[-3000:]
    failed = [s for s in run.results["scenarios"] if s["outcome"] == "fail"]
    assert [s["name"] for s in failed] == [
        "Capabilities that break the schema are refused and change nothing [without a serial number]"
    ]
    assert "serialNumber" in failed[0]["message"] and "-> 201" in failed[0]["message"]


def test_wos_sharing_repositories_fails_the_isolation_scenario(tmp_path: Path) -> None:
    sut = reference_wos_with_faults(tmp_path, "shared-repositories")
    run = run_cli("--sut", str(sut), "-m", "gitops", report_dir=tmp_path / "r")
    assert run.code == 1, run.stderr[-3000:]
    scenario = run.scenario("cannot read another device's repository")
    assert scenario["outcome"] == "fail"
    assert "GIT-006" in scenario["message"]


@pytest.mark.parametrize("fault", ["status-500", "status-hang"])
def test_wos_failing_or_silent_on_status_fails_with_the_exchange(tmp_path: Path, fault: str) -> None:
    sut = reference_wos_with_faults(tmp_path, fault, request=3)
    run = run_cli("--sut", str(sut), "-m", "status", report_dir=tmp_path / "r")
    assert run.code in (1, 3), run.stderr[-3000:]
    scenario = run.scenario("accepts status reports and shows the latest state")
    assert scenario["outcome"] in ("fail", "error")
    expected = "-> 500" if fault == "status-500" else "no usable answer after 3"
    assert expected in scenario["message"]
    assert scenario["duration_s"] < 30
    events = json.loads((tmp_path / "r" / scenario["evidence"]).read_text())["events"]
    assert any(e["kind"] == "http" and "/status" in e["data"]["path"] for e in events)
