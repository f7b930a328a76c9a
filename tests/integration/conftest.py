"""Helpers for tests that run the real CLI against real containers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from margo_conformance.base.paths import DEFAULT_SUT_FILE, FIXTURES_DIR, SUITE_ROOT
from margo_conformance.commands.mutants import relocatable_sut_document
from margo_conformance.engine.sut import RUN_LABEL

CLI_TIMEOUT_S = 600
REFERENCE_WOS_FILE = FIXTURES_DIR / "sut" / "reference-wos.yaml"


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str
    report_dir: Path

    @property
    def results(self) -> dict[str, Any]:
        return json.loads((self.report_dir / "results.json").read_text())

    def scenario(self, fragment: str) -> dict[str, Any]:
        matches = [s for s in self.results["scenarios"] if fragment in s["name"]]
        assert len(matches) == 1, f"{fragment!r} matched {[s['name'] for s in matches]}"
        return matches[0]

    def failed(self, fragment: str) -> dict[str, Any]:
        """The one scenario named by `fragment`, which must have failed."""
        scenario = self.scenario(fragment)
        assert scenario["outcome"] == "fail", (scenario["outcome"], scenario["message"])
        return scenario


#: Report directories of the runs made by the current test, checked for leftovers afterwards.
_RUNS: list[Path] = []


def run_cli(*args: str, report_dir: Path) -> CliRun:
    completed = subprocess.run(
        [sys.executable, "-m", "margo_conformance", "run", "--report-dir", str(report_dir), *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    _RUNS.append(report_dir)
    return CliRun(completed.returncode, completed.stdout, completed.stderr, report_dir)


def track_run(report_dir: Path) -> None:
    """Check this run's containers too (for runs not started through run_cli)."""
    _RUNS.append(report_dir)


def reference_agent_variant(
    tmp_path: Path, name: str, drop: tuple[str, ...] = (), **changes: Any
) -> Path:
    """A copy of the reference agent's SUT file with keys replaced or dropped (env is merged)."""
    document = relocatable_sut_document(DEFAULT_SUT_FILE)
    env = changes.pop("env", {})
    document.update(changes)
    document["env"].update(env)
    for key in drop:
        document.pop(key, None)
    target = tmp_path / f"{name}.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def with_faults(tmp_path: Path, *faults: str) -> Path:
    return reference_agent_variant(tmp_path, "-".join(faults), env={"MARGO_AGENT_FAULTS": ",".join(faults)})


def run_agent_with_fault(tmp_path: Path, fault: str, *selection: str) -> CliRun:
    """The reference agent with one fault switch on, over `selection` (-k/-m); the run fails."""
    run = run_cli("--sut", str(with_faults(tmp_path, fault)), *selection, report_dir=tmp_path / "report")
    assert run.code == 1, run.stderr[-3000:]
    return run


def reference_wos_with_faults(tmp_path: Path, *faults: str, **timeouts: float) -> Path:
    document = relocatable_sut_document(REFERENCE_WOS_FILE)
    document["env"]["MARGO_WOS_FAULTS"] = ",".join(faults)
    document.setdefault("timeouts", {}).update(timeouts)
    target = tmp_path / f"wos-{'-'.join(faults)}.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def suite_containers(run_id: str | None = None) -> list[str]:
    """Containers labelled by the suite: by one run, or by any run."""
    selector = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL
    client = docker.from_env()
    try:
        return [c.name for c in client.containers.list(all=True, filters={"label": selector})]
    finally:
        client.close()


def _run_id(report_dir: Path) -> str | None:
    try:
        return json.loads((report_dir / "results.json").read_text())["run"]["id"]
    except (OSError, KeyError, json.JSONDecodeError):
        return None


@pytest.fixture
def no_leftover_containers() -> Any:
    """Every run the test made left no container behind (scoped by run id: other runs may be live)."""
    _RUNS.clear()
    yield
    for report_dir in _RUNS:
        run_id = _run_id(report_dir)
        assert run_id, f"no run id in {report_dir}/results.json"
        leaked = suite_containers(run_id)
        assert not leaked, f"containers left behind by run {run_id}: {sorted(leaked)}"


#: Where the matrix and stability tests keep their reports, so `.ci/run` can print them.
CI_REPORTS = SUITE_ROOT / "reports" / "ci"


def kept_report_dir(name: str) -> Path:
    """A fresh reports/ci/<name> directory that outlives the test (reports/ is not committed)."""
    directory = CI_REPORTS / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


#: The slow tier's two longest tests. `tox -e selftest` runs in two processes with pytest-xdist's
#: worksteal scheduling, which first hands each process one half of the collection, in order:
#: the kill matrix goes first in the first half and the stability runs first in the second, so
#: both start at once, each on its own process, and the shorter tests fill in beside them.
LONGEST_FIRST = ("test_every_mutant_is_killed_and_references_pass", "test_repeated_runs_of_both_references_agree")


@pytest.hookimpl(trylast=True)  # after -m/-k deselected: the halves are of what runs
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    longest = [next((i for i in items if i.name == name), None) for name in LONGEST_FIRST]
    if None in longest:
        return
    matrix, stability = longest
    rest = [i for i in items if i is not matrix and i is not stability]
    half = len(items) // 2  # worksteal: the first process gets len // 2, the second the rest
    items[:] = [matrix, *rest[: half - 1], stability, *rest[half - 1:]]


#: A V24 onboarding exchange of the vendor's own (the reference WOS's MARGO_WOS_ONBOARDING_STYLE=vendor),
#: as a SUT file declares it.
VENDOR_ONBOARDING = {
    "path": "/api/devices/onboard",
    "request": {"device": "{device_id}"},
    "keys": False,
    "answer": {
        "client_id": "/credentials/id",
        "client_secret": "/credentials/secret",
        "token_endpoint": "/oauthTokenUrl",
        "repository_url": "/gitops/repository",
        "git_token": "/gitops/token",
    },
}


def vendor_onboarding_wos(base: Path, tmp_path: Path) -> Path:
    """The reference WOS of `base` (container or process SUT file) switched to its vendor
    onboarding style, the SUT file declaring that exchange (interop.onboarding)."""
    document = relocatable_sut_document(base)
    document["env"]["MARGO_WOS_ONBOARDING_STYLE"] = "vendor"
    document["interop"] = {"onboarding": VENDOR_ONBOARDING}
    sut = tmp_path / "vendor-wos.yaml"
    sut.write_text(yaml.safe_dump(document, sort_keys=False))
    return sut
