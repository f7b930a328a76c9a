"""A WOS whose picked host port another run took before the bind gets new ports (no Docker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from margo_conformance.base.errors import SutError
from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.config.run_config import RunConfig, load_sut_file
from margo_conformance.scenario import wos as wos_module
from margo_conformance.scenario.wos import PORT_ATTEMPTS, WosUnderTest


class FlakyContainer:
    """Refuses to start `refusals` times with Docker's port-taken message, then starts."""

    refusals = 0
    started: list[dict[int, int]] = []
    refusal = "Docker refused to start the SUT: Bind for 0.0.0.0:40973 failed: port is already allocated"

    def __init__(self, config: Any, values: Any, evidence: Any, run_id: str, published: dict[int, int]) -> None:
        self.published = published

    def start(self) -> None:
        if FlakyContainer.refusals > 0:
            FlakyContainer.refusals -= 1
            raise SutError(FlakyContainer.refusal)
        FlakyContainer.started.append(self.published)


def _wos(tmp_path: Path) -> WosUnderTest:
    sut = load_sut_file(FIXTURES_DIR / "sut" / "reference-wos.yaml")
    return WosUnderTest(RunConfig(sut=sut, report_dir=tmp_path, run_id="unit"), EvidenceLog(), tmp_path)


def test_a_taken_port_is_picked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wos_module, "sut_instance", FlakyContainer)
    FlakyContainer.refusals, FlakyContainer.started = 1, []
    under_test = _wos(tmp_path)
    published, public_url = under_test._start_on_free_ports("127.0.0.1")
    assert FlakyContainer.started == [published]
    assert public_url.endswith(f":{published[under_test.run.sut.port]}")
    assert any("pick and bind" in e.summary for e in under_test.evidence.events())


def test_ports_taken_every_time_end_in_the_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wos_module, "sut_instance", FlakyContainer)
    FlakyContainer.refusals, FlakyContainer.started = PORT_ATTEMPTS, []
    with pytest.raises(SutError, match="port is already allocated"):
        _wos(tmp_path)._start_on_free_ports("127.0.0.1")
    assert FlakyContainer.started == []


def test_a_process_that_could_not_bind_its_port_gets_new_ports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wos_module, "sut_instance", FlakyContainer)
    monkeypatch.setattr(FlakyContainer, "refusal", "SUT did not become ready: the process exited before it was ready; "
                        "last log: OSError: [Errno 98] Address already in use")
    FlakyContainer.refusals, FlakyContainer.started = 1, []
    published, _ = _wos(tmp_path)._start_on_free_ports("127.0.0.1")
    assert FlakyContainer.started == [published]
