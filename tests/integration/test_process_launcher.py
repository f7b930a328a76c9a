"""Every feature against both reference implementations started as local processes: no Docker
engine is asked anything (the README's quick tier runs it on a machine without one too).

The agent records its workloads instead of running them, so its workload checks are not tested
(each with the reason its SUT file gives); every other check runs as in a container run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from margo_conformance.base.paths import FIXTURES_DIR, SUITE_ROOT
from margo_conformance.engine.sut import free_host_port
from tests.integration.conftest import CLI_TIMEOUT_S, run_cli, vendor_onboarding_wos

AGENT = FIXTURES_DIR / "sut" / "reference-agent-process.yaml"
WOS = FIXTURES_DIR / "sut" / "reference-wos-process.yaml"


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Docker client pointed nowhere: a run that asked the engine anything would fail."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")


@pytest.mark.parametrize("sut_file", [AGENT, WOS], ids=["agent", "wos"])
def test_every_feature_passes_against_the_reference_run_as_a_process(
    tmp_path: Path, sut_file: Path, no_docker: None
) -> None:
    run = run_cli("--sut", str(sut_file), "--workers", "auto", report_dir=tmp_path)
    assert run.code == 0, run.stderr[-3000:]
    results = run.results
    assert results["verdict"] == "pass"
    ran = [s for s in results["scenarios"] if s["outcome"] != "skip"]
    assert len(ran) >= 30 and results["counts"]["pass"] == len(ran)
    assert results["config"]["sut"]["launcher"] == "process"


def test_the_process_agent_says_which_workload_checks_it_could_not_have(tmp_path: Path, no_docker: None) -> None:
    run = run_cli("--sut", str(AGENT), "-k", "keeps its workloads", report_dir=tmp_path)
    scenario = run.scenario("keeps its workloads")  # one scenario of many: the run is partial
    assert scenario["outcome"] == "pass", scenario["message"]
    not_tested = [c for c in scenario["checks"] if c["kind"] == "not_tested"]
    assert not_tested and all("records its workloads instead of running them" in c["message"] for c in not_tested)


def test_a_fleet_onboards_the_way_the_wos_declares(tmp_path: Path, no_docker: None) -> None:
    """The fleet's devices onboard with the exchange the SUT file declares (interop.onboarding:
    the vendor's path, body and answer layout, no keys), as the scenarios' devices do."""
    sut = vendor_onboarding_wos(WOS, tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "margo_conformance", "fleet", "--sut", str(sut), "--devices", "3",
         "--duration", "3", "--report-dir", str(tmp_path / "fleet")],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    performance = json.loads((tmp_path / "fleet" / "performance.json").read_text())
    assert performance["devices"]["onboarded"] == 3, performance["devices"]
    onboarding = next(e for e in performance["endpoints"] if e["name"] == "POST /onboarding/")
    assert onboarding["requests"] == 3 and onboarding["failures"] == 0


@pytest.fixture
def running_wos(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The reference WOS started outside the suite (as a lab's would be): (API URL, control URL)."""
    api_port, control_port = free_host_port(), free_host_port()
    api = f"http://127.0.0.1:{api_port}"
    env = {**os.environ, "MARGO_WOS_PUBLIC_URL": api, "MARGO_WOS_PORT": str(api_port),
           "MARGO_WOS_CONTROL_PORT": str(control_port), "MARGO_WOS_DATA_DIR": str(tmp_path / "wos-data"),
           "PYTHONUNBUFFERED": "1"}
    wos = subprocess.Popen([sys.executable, "-m", "margo_wos"], cwd=SUITE_ROOT / "reference" / "wos",
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wos.stdout is not None
        for line in wos.stdout:  # ends when the process does: no ready line then
            if "margo-reference-wos ready" in line:
                break
        assert wos.poll() is None, "the reference WOS did not start"
        yield api, f"http://127.0.0.1:{control_port}/control"
    finally:
        wos.terminate()
        wos.wait(timeout=10)


def test_every_wos_feature_passes_against_a_wos_that_already_runs(
    tmp_path: Path, running_wos: tuple[str, str], no_docker: None
) -> None:
    """launcher: url: one WOS the suite neither starts nor stops, shared by every scenario."""
    api, control = running_wos
    sut = tmp_path / "lab-wos.yaml"
    sut.write_text(yaml.safe_dump({
        "name": "reference WOS in a lab", "role": "wos", "profiles": ["V24", "PR1"],
        "launcher": "url", "url": {"api": api, "control": control},
    }))
    run = run_cli("--sut", str(sut), "--workers", "auto", report_dir=tmp_path / "report")
    assert run.code == 0, run.stderr[-3000:]
    results = run.results
    assert results["verdict"] == "pass" and results["counts"]["pass"] >= 40
    assert results["config"]["sut"]["url"] == {"api": api, "control": control}
    assert httpx.get(api).status_code < 500  # still up: the suite did not stop it


def test_a_wos_url_nothing_answers_at_is_one_line_and_exit_3(tmp_path: Path, no_docker: None) -> None:
    sut = tmp_path / "lab-wos.yaml"
    api = f"http://127.0.0.1:{free_host_port()}"
    sut.write_text(yaml.safe_dump({"name": "down", "role": "wos", "launcher": "url",
                                   "url": {"api": api, "control": api + "/control"}}))
    run = run_cli("--sut", str(sut), report_dir=tmp_path / "report")
    assert run.code == 3, run.stderr[-2000:]
    assert f"the WOS at {api} does not answer" in run.stderr
    assert run.results["verdict"] == "error"
