"""The Allure 3 HTML report of a run, as one file that opens from disk.

Every run writes `allure-results/` (allure-pytest-bdd: Gherkin steps and the evidence
attached). Allure Report 3 is a Node.js tool; when `npx` is available this renders those
results with `npx --yes allure@3 generate` into `allure-report.html`. Only a single-file
report opens from file://, so the awesome plugin is configured with `singleFile: true` in an
`allurerc.mjs` written to a temporary directory (nothing is left in the report directory
but the page). Without Node the run is unaffected and one line says how to get the page.

allure-pytest-bdd judges a scenario as pytest does; after the run `align_allure_results` sets
each result's status from the verdict's reading of the scenario (the one junit.xml shows,
report/junit.py): a waived failure passes, a stale waiver fails, a blocked scenario is broken
(failed when the SUT broke a requirement at the prerequisite), each with a message saying so.
Results are matched by the scenario's node id, a label the plugin adds to each; a scenario
skipped before it started (a profile the SUT does not claim) has no result, so one is written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from margo_conformance.base import redaction
from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.report.junit import ERROR, FAILURE, PASSED, SKIPPED, CaseOutcome, case_outcome

ALLURE_PACKAGE = "allure@3"
ALLURE_RESULTS = "allure-results"
ALLURE_REPORT = "allure-report.html"
GENERATE_TIMEOUT_S = 300
#: The Allure label carrying the scenario's pytest node id (set by the plugin).
NODEID_LABEL = "margo_nodeid"
ALLURE_STATUS = {PASSED: "passed", FAILURE: "failed", ERROR: "broken", SKIPPED: "skipped"}
# Readings whose status pytest (and so allure-pytest-bdd) does not give, or gives without why.
_EXPLAINED = {"waived", "stale waiver", "blocked", "not claimed"}
HOW_TO_GET = (
    "Allure HTML not generated: Node.js (npx) is not installed; install Node.js 18+ "
    "(Debian: apt-get install -y nodejs npm) and run `margo-conformance report {dir} --allure`, "
    "or `npx --yes allure@3 generate {dir}/allure-results` anywhere Node is"
)


def allurerc(output_dir: Path, name: str) -> str:
    """An Allure 3 config: one awesome report, single file, written to `output_dir`."""
    config = {
        "name": name,
        "output": str(output_dir),
        "plugins": {"awesome": {"options": {"singleFile": True, "reportName": name}}},
    }
    return f"export default {json.dumps(config, indent=2)};\n"


def report_name(report_dir: Path) -> str:
    """ "Margo conformance: <SUT name>" when results.json says which SUT this was."""
    try:
        sut = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))["sut"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return "Margo conformance"
    return f"Margo conformance: {sut}"


def generate_allure_html(report_dir: Path, log: Callable[[str], None]) -> Path | None:
    """Render REPORT_DIR/allure-report.html; None (after one explaining line) when it cannot."""
    name = report_name(report_dir)
    results = report_dir / ALLURE_RESULTS
    if not results.is_dir() or not any(results.glob("*-result.json")):
        log(f"Allure HTML not generated: {results} holds no results")
        return None
    npx = shutil.which("npx")
    if npx is None:
        log(HOW_TO_GET.format(dir=report_dir))
        return None
    with tempfile.TemporaryDirectory(prefix="margo-allure-") as tmp:
        work = Path(tmp)
        output = work / "out"
        config = work / "allurerc.mjs"
        config.write_text(allurerc(output, name), encoding="utf-8")
        command = [npx, "--yes", ALLURE_PACKAGE, "generate", str(results), "--config", str(config)]
        try:
            completed = subprocess.run(
                command, cwd=work, capture_output=True, text=True, timeout=GENERATE_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            log(
                f"Allure HTML not generated: `npx {ALLURE_PACKAGE} generate` "
                f"took over {GENERATE_TIMEOUT_S} s"
            )
            return None
        page = output / "index.html"
        if completed.returncode != 0 or not page.is_file():
            last = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
            log(
                f"Allure HTML not generated: `npx {ALLURE_PACKAGE} generate` "
                f"exited {completed.returncode}: {last[0]}"
            )
            return None
        target = report_dir / ALLURE_REPORT
        shutil.copyfile(page, target)
    log(f"Allure report: {target}")
    return target


# -- during the run (the plugin calls these; both are no-ops when allure is not recording) --------


def label_allure_result(nodeid: str) -> None:
    """Label the scenario's Allure result with its node id, so that `align_allure_results` can
    find it after the run."""
    try:
        import allure
    except ImportError:  # allure is a dependency; a bare pytest environment still works
        return
    allure.dynamic.label(NODEID_LABEL, nodeid)


def attach_evidence_to_allure(evidence: EvidenceLog) -> None:
    try:
        import allure
    except ImportError:
        return
    allure.attach(
        redaction.redact_text(json.dumps(evidence.to_json(), indent=1)),
        name="evidence",
        attachment_type=allure.attachment_type.JSON,
    )


# -- after the run: statuses from the results tree ----------------------------------------------


def _nodeid_of(result: Mapping[str, Any]) -> str | None:
    return next((str(label.get("value")) for label in result.get("labels", []) if label.get("name") == NODEID_LABEL),
                None)


def _status_details(reading: CaseOutcome, details: Mapping[str, Any]) -> dict[str, Any]:
    """The result's statusDetails with the verdict's message where it says more than pytest's."""
    updated = dict(details)
    if reading.word in _EXPLAINED:
        updated["message"] = reading.text or reading.message
    return updated


def aligned_result(result: Mapping[str, Any], scenario: Mapping[str, Any]) -> dict[str, Any]:
    """One allure result with its status (and, where it differs, its message) from `scenario`."""
    reading = case_outcome(scenario)
    return {
        **result,
        "status": ALLURE_STATUS[reading.kind],
        "statusDetails": _status_details(reading, result.get("statusDetails") or {}),
    }


def missing_result(scenario: Mapping[str, Any], started_ms: int) -> dict[str, Any]:
    """An allure result for a scenario allure-pytest-bdd never saw (skipped before it began)."""
    reading = case_outcome(scenario)
    nodeid = str(scenario.get("nodeid", ""))
    digest = hashlib.md5(nodeid.encode(), usedforsecurity=False).hexdigest()
    labels = [{"name": "feature", "value": scenario.get("feature", "")}, {"name": NODEID_LABEL, "value": nodeid},
              {"name": "framework", "value": "pytest-bdd"}]
    labels += [{"name": "tag", "value": tag} for tag in scenario.get("tags", [])]
    return {
        "uuid": str(uuid.uuid4()),
        "historyId": digest,
        "testCaseId": digest,
        "fullName": nodeid,
        "name": scenario.get("name", ""),
        "status": ALLURE_STATUS[reading.kind],
        "statusDetails": {"message": reading.text or reading.message},
        "labels": labels,
        "start": started_ms,
        "stop": started_ms,
    }


def align_allure_results(report_dir: Path, tree: Mapping[str, Any]) -> int:
    """Set every allure result's status from the results tree; returns how many were changed
    or added. Results without the node id label (written by another tool) are left alone."""
    results_dir = report_dir / ALLURE_RESULTS
    if not results_dir.is_dir():
        return 0
    scenarios = {str(s.get("nodeid")): s for s in tree.get("scenarios", [])}
    seen: set[str] = set()
    changed = 0
    for path in sorted(results_dir.glob("*-result.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        nodeid = _nodeid_of(result)
        if nodeid is None or nodeid not in scenarios:
            continue
        seen.add(nodeid)
        aligned = aligned_result(result, scenarios[nodeid])
        if aligned != result:
            _write_result(path, aligned)
            changed += 1
    started_ms = _started_ms(results_dir)
    for nodeid, scenario in scenarios.items():
        if nodeid not in seen:
            added = missing_result(scenario, started_ms)
            _write_result(results_dir / f"{added['uuid']}-result.json", added)
            changed += 1
    return changed


def _started_ms(results_dir: Path) -> int:
    """A start time for an added result: the directory's, as Allure counts time (ms)."""
    return int(results_dir.stat().st_mtime * 1000)


def _write_result(path: Path, result: Mapping[str, Any]) -> None:
    path.write_text(redaction.redact_text(json.dumps(result)), encoding="utf-8")
