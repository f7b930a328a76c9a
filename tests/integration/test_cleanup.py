"""No container outlives a run: not after a pass, a fail, SIGINT or SIGTERM.

The interrupted runs are stopped while an agent container is running: the test waits for the
Docker engine's own `start` event of a container carrying the run label (no sleeps), then
signals the suite and checks that it exits, writes its results and leaves nothing behind.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import docker
import pytest

from margo_conformance.engine.sut import RUN_LABEL
from tests.integration.conftest import suite_containers, track_run, with_faults

pytestmark = [pytest.mark.selftest, pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]

START_TIMEOUT_S = 120
EXIT_TIMEOUT_S = 60


def _wait_for_suite_container_start(events: docker.types.daemon.CancellableStream, run_id: str) -> str:
    for event in events:
        attributes = event.get("Actor", {}).get("Attributes", {})
        # Only this test's run: other runs may share the engine.
        if event.get("status") == "start" and attributes.get(RUN_LABEL) == run_id:
            return str(event["id"])
    raise AssertionError("the event stream ended before a suite container started")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_removes_its_containers_and_still_reports(tmp_path: Path, signum: int) -> None:
    client = docker.from_env()
    events = client.events(decode=True, filters={"type": "container", "event": "start"})
    run_id = f"cleanup-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "margo_conformance", "run", "--report-dir", str(tmp_path), "-m", "status",
         "--run-id", run_id],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # As from a terminal: a shell that starts the tests in the background (`&`) makes them
        # and their children ignore SIGINT, and the suite would never see the signal.
        preexec_fn=_default_sigint,
    )
    try:
        timer = _deadline(events, START_TIMEOUT_S)
        _wait_for_suite_container_start(events, run_id)
        timer.cancel()
        process.send_signal(signum)
        output, _ = process.communicate(timeout=EXIT_TIMEOUT_S)
    finally:
        events.close()
        if process.poll() is None:
            process.kill()
        client.close()
    assert process.returncode == 3, output[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert not suite_containers(results["run"]["id"]), "suite containers left after the interrupted run"
    track_run(tmp_path)
    assert results["verdict"] in ("error", "fail")


def test_failing_run_leaves_no_container(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "margo_conformance", "run", "--sut", str(with_faults(tmp_path, "skip-installing")),
         "--report-dir", str(tmp_path / "r"), "-k", "hello-compose"],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 1, completed.stderr[-2000:]
    track_run(tmp_path / "r")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _deadline(events: docker.types.daemon.CancellableStream, seconds: float) -> threading.Timer:
    """Close the event stream after `seconds` so a run that never starts a container fails the test."""
    timer = threading.Timer(seconds, events.close)
    timer.daemon = True
    timer.start()
    return timer
