"""Certification runs as child processes, for commands that run the suite many times
(selftest, stability): each run is a fresh `margo-conformance run`, bounded in time."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

#: How long a run that overstayed gets to clean up after SIGTERM before SIGKILL.
TERMINATE_GRACE_S = 60


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    output: str  # stdout and stderr, interleaved
    timed_out: bool


def run_bounded(command: Sequence[str], timeout_s: float, grace_s: float = TERMINATE_GRACE_S) -> ChildRun:
    """Run `command`; one that overstays `timeout_s` gets SIGTERM first, so the suite's own
    signal handling removes its containers and writes its reports, and SIGKILL only if that
    hangs too."""
    with subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            output, _ = process.communicate(timeout=timeout_s)
            return ChildRun(process.returncode, output, False)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            try:
                output, _ = process.communicate(timeout=grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                output, _ = process.communicate()
            return ChildRun(process.returncode, output, True)


def run_suite(arguments: Sequence[str], timeout_s: float) -> ChildRun:
    """`margo-conformance run <arguments>` in a child process."""
    return run_bounded([sys.executable, "-m", "margo_conformance", "run", *arguments], timeout_s)
