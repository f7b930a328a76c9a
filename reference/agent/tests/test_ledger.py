"""The ledger runtime: workloads recorded in the state directory when the agent runs without Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from margo_agent.config import ConfigError, load_config
from margo_agent.ledger import LEDGER_FILE, LedgerRuntime
from margo_agent.workloads import WorkloadError
from test_workloads import package_url  # noqa: F401  (fixture)

IMAGES = frozenset({"margo-conformance/workload:dev", "busybox:latest"})


def test_install_records_each_service_and_a_restart_reads_them_again(
    tmp_path: Path, make_deployment, package_url  # noqa: F811
) -> None:
    deployment = make_deployment("app", package_url=package_url)
    LedgerRuntime(tmp_path, IMAGES).install(deployment, deployment.components[0])
    entries = json.loads((tmp_path / LEDGER_FILE).read_text())
    assert [(e["component"], e["image"]) for e in entries] == [
        ("app", "margo-conformance/workload:dev"), ("app", "busybox:latest")]
    assert LedgerRuntime(tmp_path, IMAGES).remove_deployment(deployment.id) == 2
    assert json.loads((tmp_path / LEDGER_FILE).read_text()) == []


def test_a_service_whose_image_the_device_lacks_fails_and_nothing_is_recorded(
    tmp_path: Path, make_deployment, package_url  # noqa: F811
) -> None:
    deployment = make_deployment("app", package_url=package_url)
    with pytest.raises(WorkloadError) as caught:
        LedgerRuntime(tmp_path, frozenset({"busybox:latest"})).install(deployment, deployment.components[0])
    assert caught.value.code == "IMAGE_NOT_FOUND"
    assert not (tmp_path / LEDGER_FILE).exists()


def test_the_runtime_is_chosen_by_the_environment() -> None:
    base = {"MARGO_WOS_URL": "http://wos", "MARGO_DEVICE_ID": "d", "MARGO_ONBOARDING_KEY": "k"}
    config = load_config({**base, "MARGO_AGENT_RUNTIME": "ledger", "MARGO_AGENT_DEVICE_IMAGES": "a:1, b:2"})
    assert config.runtime == "ledger" and config.device_images == {"a:1", "b:2"}
    assert load_config(base).runtime == "docker"
    with pytest.raises(ConfigError, match="MARGO_AGENT_RUNTIME"):
        load_config({**base, "MARGO_AGENT_RUNTIME": "podman"})
