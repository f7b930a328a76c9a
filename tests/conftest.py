"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from margo_conformance.base import redaction
from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.emulated_wos.server import EmulatedWos
from tests.browser import Chromium, find_chromium


def pytest_addoption(parser: pytest.Parser) -> None:
    # CI sets CI=true; read once here so tests ask the `in_ci` fixture, not the environment.
    parser.addoption(
        "--ci",
        action="store_true",
        default=os.environ.get("CI", "").lower() == "true",
        help="running in CI: a tool a test needs (Chromium) must be installed; no skipping",
    )


@pytest.fixture(autouse=True)
def fresh_redactor() -> Iterator[redaction.Redactor]:
    """Each test starts with a process redactor that has learned nothing: what one test's
    emulated WOS learned (fuzzed bodies included) must not redact another test's output."""
    saved = redaction._current
    redaction._current = redaction.Redactor()
    try:
        yield redaction._current
    finally:
        redaction._current = saved


@pytest.fixture(scope="session")
def in_ci(pytestconfig: pytest.Config) -> bool:
    return bool(pytestconfig.getoption("--ci"))


@pytest.fixture(scope="session")
def chromium(in_ci: bool) -> Chromium:
    """Headless Chromium; skipped when absent on a developer machine, a failure in CI."""
    executable = find_chromium()
    if executable is None:
        message = "Chromium is not installed (apt-get install -y --no-install-recommends chromium)"
        if in_ci:
            pytest.fail(f"{message}; CI must install it")
        pytest.skip(message)
    return Chromium(executable)


@pytest.fixture
def wos(tmp_path: Path) -> Iterator[EmulatedWos]:
    with EmulatedWos(tmp_path / "wos", FIXTURES_DIR / "artifacts", {"WORKLOAD_IMAGE": "img:test"}) as server:
        yield server


@pytest.fixture
def evidence() -> EvidenceLog:
    return EvidenceLog()
