"""The Allure 3 HTML report of a run, as one file that opens from disk.

Every run writes `allure-results/` (allure-pytest-bdd: Gherkin steps and the evidence
attached). Allure Report 3 is a Node.js tool; when `npx` is available this renders those
results with `npx --yes allure@3 generate` into `allure-report.html`. Only a single-file
report opens from file://, so the awesome plugin is configured with `singleFile: true` in an
`allurerc.mjs` written to a temporary directory (nothing is left in the report directory
but the page). Without Node the run is unaffected and one line says how to get the page.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

ALLURE_PACKAGE = "allure@3"
ALLURE_RESULTS = "allure-results"
ALLURE_REPORT = "allure-report.html"
GENERATE_TIMEOUT_S = 300
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
