"""An agent that does what the spec leaves open its own way certifies once its SUT file says so.

The reference agent, switched to choices of its own (it labels its workload containers with its
own labels and takes a downtime window only as `<epoch>+<seconds>`), with no wrapper image and no
code change: its SUT file declares both in `interop:`, and every scenario runs and passes,
including those that watch the workloads and the downtime window.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.integration.conftest import reference_agent_variant, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]

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
