"""One deadline policy: every wait of an agent scenario comes from deadlines.py."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import pytest

from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.config.run_config import Polling, Timeouts, load_sut_file
from margo_conformance.scenario.deadlines import NOTE_SLACK_S, Deadlines

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sut():  # type: ignore[no-untyped-def]
    loaded = load_sut_file(FIXTURES_DIR / "sut" / "reference-agent.yaml")
    return dataclasses.replace(
        loaded, polling=Polling(interval=2.0, tolerance=1.5), timeouts=Timeouts(onboarding=20.0, deployment=60.0)
    )


def test_deadlines_come_from_the_sut_file(sut) -> None:  # type: ignore[no-untyped-def]
    deadlines = Deadlines.for_agent(sut)
    assert (deadlines.interval, deadlines.tolerance, deadlines.onboarding, deadlines.deployment) == (2, 1.5, 20, 60)
    assert deadlines.poll == 3.5
    assert deadlines.absence == 5.5
    assert deadlines.polls(4) == 4 * 3.5 + 2
    assert deadlines.reporting == 3.5 + 60


def test_a_scenarios_own_interval_moves_every_polling_deadline(sut) -> None:  # type: ignore[no-untyped-def]
    deadlines = Deadlines.for_agent(sut, interval=4.0)
    assert (deadlines.interval, deadlines.poll, deadlines.absence) == (4.0, 5.5, 9.5)


def test_a_scheduled_moment_is_waited_for_with_the_notes_slack() -> None:
    assert Deadlines.until(time.time() - 100) == NOTE_SLACK_S
    assert 11 < Deadlines.until(time.time() + 10) <= 10 + NOTE_SLACK_S


def test_no_agent_step_computes_a_deadline_from_the_sut_file_itself() -> None:
    """Steps ask `agent.deadlines`; only the polling-interval setting reads the configured one."""
    reads = re.compile(r"run\.sut\.(polling|timeouts)\b")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted([*(ROOT / "steps").rglob("*.py"), ROOT / "src/margo_conformance/scenario/agent.py"])
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if reads.search(line) and "set_polling_interval" not in line
    ]
    assert found == []
