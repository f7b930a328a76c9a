"""What `margo-conformance run` prints at its end: one count, the verdict's (per scenario)."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from margo_conformance.commands import exit_codes, plugin, runner
from margo_conformance.commands.cli import main
from margo_conformance.commands.pytest_session import PreparedImages

# An agent that claims V24 only: every PR1-only scenario is skipped as not claimed, before any
# fixture starts a container, so the run reaches pytest and ends without Docker.
V24_AGENT = """\
name: V24-only agent
role: agent
profiles: [V24]
image: example/agent:1
env:
  WOS_URL: "{wos_url}"
ready:
  log: "ready"
"""
PYTEST_COUNT = re.compile(r"\d+ (passed|failed|skipped|deselected|errors?|xfailed|xpassed|warnings?)\b|no tests ran")


@pytest.fixture
def containerless_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No image to prepare and nothing to remove; the test process keeps its SIGTERM handler."""
    monkeypatch.setattr(
        runner, "prepare_images", lambda sut, base, log: PreparedImages("base:x", "example/agent:1")
    )
    monkeypatch.setattr(plugin, "remove_run_resources", lambda run_id, late_creates_s=0.0: 0)
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def test_a_run_prints_the_verdicts_count_and_not_pytests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], containerless_run: None
) -> None:
    sut = tmp_path / "agent.yaml"
    sut.write_text(V24_AGENT)
    argv = ["run", "--sut", str(sut), "--report-dir", str(tmp_path / "r"), "--workers", "1", "-m", "PR1 and not V24"]
    assert main(argv) == exit_codes.EXIT_FAIL  # partial: skipped scenarios cannot certify
    captured = capsys.readouterr()
    output = captured.out + captured.err
    counts = re.findall(r"verdict: PARTIAL  \((\d+) skip\)", output)
    assert len(counts) == 1 and int(counts[0]) > 0, output[-2000:]
    assert not PYTEST_COUNT.search(output), PYTEST_COUNT.search(output)
