"""What a run writes into its report directory beside what pytest writes, and when.

Before the run: the previous run's outputs are removed, run.log is opened (`RunLog`) and
config.json written. After it: report.html, junit.xml, the Allure results' statuses (all from
the one results tree), the Allure page and the bundle (`finish`), with
every file of the run redacted once more by every credential learned.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from margo_conformance.base import redaction
from margo_conformance.commands.exit_codes import EXIT_ERROR
from margo_conformance.commands.run_request import RunRequest
from margo_conformance.config.run_config import RunConfig, SutConfig
from margo_conformance.results.tree import preflight_tree

Log = Callable[[str], None]
RUN_LOG = "run.log"
#: The run's effective configuration, as the report directory keeps it.
EFFECTIVE_CONFIG = "config.json"
# What a run writes; removed first so a reused report directory never mixes two runs.
PREVIOUS_OUTPUTS = (
    "results.json",
    EFFECTIVE_CONFIG,
    "report.html",
    "junit.xml",
    RUN_LOG,
    "bundle.tar.gz",
    "allure-report.html",
)
PREVIOUS_OUTPUT_DIRS = ("evidence",)


class RunLog:
    """Progress and runner messages to stderr and to the report directory's run.log."""

    def __init__(self, path: Path, stream: IO[str] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.stream = stream or sys.stderr
        path.write_text("", encoding="utf-8")
        # Appending: the end-of-run redaction pass may rewrite the file under this handle.
        self._file = path.open("a", encoding="utf-8")

    def __call__(self, line: str) -> None:
        line = redaction.redact_text(line)
        print(line, file=self.stream, flush=True)
        self.record(line)

    def record(self, line: str) -> None:
        """Into run.log only (for lines the caller already showed)."""
        self._file.write(redaction.redact_text(line) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def write_effective_config(run: RunConfig) -> Path:
    """config.json in the report: what the run went by, defaults filled in, secrets redacted."""
    target = run.report_dir / EFFECTIVE_CONFIG
    target.write_text(redaction.redact_text(json.dumps(run.effective(), indent=2)) + "\n")
    return target


def sut_description(sut: SutConfig) -> dict[str, Any]:
    """The SUT as a preflight results.json shows it (the plugin describes it the same way)."""
    return sut.describe()


def clear_previous_outputs(report_dir: Path) -> None:
    for name in PREVIOUS_OUTPUTS:
        (report_dir / name).unlink(missing_ok=True)
    for name in PREVIOUS_OUTPUT_DIRS:
        shutil.rmtree(report_dir / name, ignore_errors=True)


def finish(request: RunRequest, code: int, log: Log) -> int:
    """Write report.html, junit.xml and the Allure results' statuses from the one results tree
    (and the Allure page and bundle when asked); the final exit code."""
    results = request.report_dir / "results.json"
    if not results.is_file():
        return code  # a usage error stopped pytest before the collector could write anything
    try:
        write_tree_outputs(request.report_dir, json.loads(results.read_text(encoding="utf-8")), log)
    except Exception as exc:  # a broken writer is the suite's error (exit 3), not a crash
        log(f"error: could not write the reports: {type(exc).__name__}: {exc}")
        return EXIT_ERROR
    if request.allure:
        from margo_conformance.report.allure import generate_allure_html

        generate_allure_html(request.report_dir, log)
    # Every file of the run once more, by every value learned, before the bundle seals them.
    redaction.current().redact_tree(request.report_dir)
    if request.wants_bundle:
        from margo_conformance.report.bundle import BundleError, create_bundle

        try:
            bundle = create_bundle(request.report_dir, signing_key=request.signing_key)
        except BundleError as exc:
            log(f"error: could not write the bundle: {exc}")
            return EXIT_ERROR
        log(
            f"bundle: {bundle.path} "
            f"(signed by Ed25519 key {bundle.fingerprint}, {bundle.key_source})"
        )
    return code


def write_tree_outputs(report_dir: Path, tree: dict[str, Any], log: Log) -> None:
    """Every writer fed from the results tree as results.json holds it (redacted when written):
    report.html, junit.xml, and the statuses of allure-results/ (report/allure.py)."""
    from margo_conformance.report.allure import align_allure_results
    from margo_conformance.report.html.page import write_report
    from margo_conformance.report.junit import write_junit

    log(f"report: {write_report(report_dir, tree)}")
    write_junit(report_dir, tree)
    align_allure_results(report_dir, tree)


def preflight_failure(sut: SutConfig, run_id: str, message: str) -> dict[str, Any]:
    """results.json for a run that stopped before any scenario: verdict error, reason kept."""
    return preflight_tree(sut_description(sut), run_id, message)
