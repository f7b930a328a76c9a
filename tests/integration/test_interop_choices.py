"""Products that do what the spec leaves open their own way certify once their SUT file says so.

Agent: the reference agent, switched to choices of its own (it labels its workload containers
with its own labels and takes a downtime window only as `<epoch>+<seconds>`). WOS: the reference
WOS with its own V24 onboarding route, body and answer layout and no onboarding keys. No wrapper
image and no code change: each SUT file declares its choices in `interop:`, and every scenario
runs and passes, including those that watch the workloads and the downtime window; the one
about a wrong onboarding key does not apply to a WOS without keys, and says so.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.integration.conftest import REFERENCE_WOS_FILE, reference_agent_variant, run_cli, vendor_onboarding_wos

pytestmark = [pytest.mark.selftest, pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]

WATCHING_WORKLOADS = ("removed from the device", "keeps its workloads")
OWN_LABELS = "vendor.example/device={device_id},vendor.example/run={run_id}"


def _containers_labelled(run_id: str) -> list[str]:
    client = docker.from_env()
    try:
        found = client.containers.list(all=True, filters={"label": f"vendor.example/run={run_id}"})
        return [c.name for c in found]
    finally:
        client.close()


def test_an_agent_with_its_own_labels_and_window_format_certifies_after_declaring_them(tmp_path: Path) -> None:
    sut = reference_agent_variant(
        tmp_path,
        "own-choices",
        env={
            "MARGO_WORKLOAD_LABELS": OWN_LABELS,
            "MARGO_DOWNTIME_FORMAT": "epoch-duration",
            "MARGO_DOWNTIME_WINDOW": "{downtime_window}",
        },
        interop={
            "workloads": {"labels": {"vendor.example/device": "{device_id}"}},
            "downtime_window": {"format": "{start_epoch}+{duration_s}"},
        },
    )
    run = run_cli("--sut", str(sut), report_dir=tmp_path / "report")
    assert run.code == 0, run.stderr[-3000:]
    results = run.results
    assert results["verdict"] == "pass"
    skipped = [s for s in results["scenarios"] if s["outcome"] == "skip"]
    assert all(s["message"].startswith("not claimed:") for s in skipped), skipped
    assert results["sut"]["interop"]["downtime_window"] == "{start_epoch}+{duration_s}"
    # The workload checks ran on the containers found by the declared labels.
    watched = [s for s in results["scenarios"] if any(p in s["name"] for p in WATCHING_WORKLOADS)]
    assert watched and {s["outcome"] for s in watched} <= {"pass", "skip"}, watched
    assert any(s["outcome"] == "pass" for s in watched)
    # Containers found by the agent's own labels carry no run label: the suite removed them itself.
    assert _containers_labelled(results["run"]["id"]) == []


def test_a_wos_with_its_own_onboarding_layout_and_no_keys_certifies_after_declaring_it(tmp_path: Path) -> None:
    sut = vendor_onboarding_wos(REFERENCE_WOS_FILE, tmp_path)
    run = run_cli("--sut", str(sut), report_dir=tmp_path / "report")
    assert run.code == 0, run.stderr[-3000:]
    results = run.results
    assert results["verdict"] == "pass"
    assert "without one-time onboarding keys" in results["sut"]["interop"]["onboarding"]
    # The wrong-key scenario does not apply to a WOS without keys, and says so.
    wrong_key = run.scenario("wrong onboarding key")
    assert wrong_key["outcome"] == "skip" and "not applicable" in wrong_key["message"], wrong_key
