"""The exit codes of `margo-conformance run`, and the one a finished run gets from its verdict.

    0  pass     every mandatory scenario of the claimed role and profiles ran and passed
    1  fail     the SUT broke a requirement, or a waiver went stale; also partial: something
                was skipped, waived or left out, so the run cannot certify
    2  usage    a bad command line, SUT file, waivers file or signing key; nothing ran
    3  error    the SUT could not be brought up, or the suite or its infrastructure broke
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

Log = Callable[[str], None]
EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_CODES = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "partial": EXIT_FAIL, "error": EXIT_ERROR}


def exit_code_for(pytest_code: int | pytest.ExitCode, results_path: Path, log: Log) -> int:
    if pytest_code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    try:
        tree = json.loads(results_path.read_text())
    except (OSError, json.JSONDecodeError):
        log(
            f"error: the run ended (pytest exit {int(pytest_code)}) "
            f"without a readable {results_path}"
        )
        return EXIT_ERROR
    verdict = tree["verdict"]
    counts = tree.get("counts", {})
    log(
        f"verdict: {verdict.upper()}  ("
        + (", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing ran")
        + f")  results: {results_path}"
    )
    for reason in tree.get("verdict_reasons", []):
        log(f"  - {reason}")
    for statement in tree.get("coverage", {}).get("statements", []):
        log(f"coverage {statement['profile']}: {statement['statement']}")
    if pytest_code == pytest.ExitCode.INTERRUPTED:
        return EXIT_ERROR
    return EXIT_CODES.get(verdict, EXIT_ERROR)
