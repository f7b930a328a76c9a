"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from margo_conformance.evidence import EvidenceLog
from margo_conformance.paths import FIXTURES_DIR
from margo_conformance.wos.server import EmulatedWos


@pytest.fixture
def wos(tmp_path: Path) -> Iterator[EmulatedWos]:
    with EmulatedWos(tmp_path / "wos", FIXTURES_DIR / "artifacts", {"WORKLOAD_IMAGE": "img:test"}) as server:
        yield server


@pytest.fixture
def evidence() -> EvidenceLog:
    return EvidenceLog()
