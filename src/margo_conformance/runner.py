"""One conformance run: preflight the SUT's image, run the features under pytest, read the verdict.

Exit codes: 0 pass, 1 fail or partial, 2 usage or configuration error, 3 error (the SUT could
not be brought up, or the suite or its infrastructure broke). Whatever happens after the SUT
file has been read, `results.json` is written.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from margo_conformance import SUITE_NAME, __version__
from margo_conformance.config import SutConfig, render
from margo_conformance.environment import engine_answers
from margo_conformance.errors import SuiteError, SutError
from margo_conformance.images import ensure_base_image, ensure_built_image, image_exists
from margo_conformance.paths import CONFORMANCE_INI, STEPS_DIR, SUITE_ROOT
from margo_conformance.results import ERROR, write_results_json

Log = Callable[[str], None]
EXIT_CODES = {"pass": 0, "fail": 1, "partial": 1, "error": 3}
EXIT_USAGE = 2
EXIT_ERROR = 3


@dataclass(frozen=True)
class RunRequest:
    sut: SutConfig
    report_dir: Path
    base_image: str | None = None
    select: str | None = None  # pytest -m expression
    keyword: str | None = None  # pytest -k expression
    verbose: bool = False


@dataclass(frozen=True)
class PreparedImages:
    base_image: str
    sut_image: str


def prepare_images(sut: SutConfig, base_image: str | None, log: Log) -> PreparedImages:
    """Make sure the SUT image exists (building it when the SUT file says how)."""
    if not engine_answers():
        raise SuiteError("no Docker engine answers; run `margo-conformance setup` first")
    client = docker.from_env()
    try:
        base = ensure_base_image(client, base_image, log)
        if sut.build is not None:
            args = {k: render(v, {"base_image": base}) for k, v in sut.build.args.items()}
            ensure_built_image(client, sut.image, sut.build.context, sut.build.dockerfile, args, log)
        elif not image_exists(client, sut.image):
            raise SutError(f"SUT image {sut.image!r} is not on the Docker engine (and the SUT file has no build)")
    finally:
        client.close()
    return PreparedImages(base_image=base, sut_image=sut.image)


def pytest_arguments(request: RunRequest, images: PreparedImages, run_id: str) -> list[str]:
    report_dir = request.report_dir
    args = [
        "-c", str(CONFORMANCE_INI),
        "--rootdir", str(SUITE_ROOT),
        str(STEPS_DIR / "scenarios.py"),
        "--sut", str(request.sut.path),
        "--report-dir", str(report_dir),
        "--run-id", run_id,
        "--base-image", images.base_image,
        "--junitxml", str(report_dir / "junit.xml"),
        "--alluredir", str(report_dir / "allure-results"),
        "--clean-alluredir",
        "-v" if request.verbose else "-q",
    ]
    if request.select:
        args += ["-m", request.select]
    if request.keyword:
        args += ["-k", request.keyword]
    return args


def execute(request: RunRequest, log: Log) -> int:
    """Run the suite for one SUT; returns the process exit code."""
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    request.report_dir.mkdir(parents=True, exist_ok=True)
    try:
        images = prepare_images(request.sut, request.base_image, log)
    except (SutError, SuiteError) as exc:
        write_results_json(request.report_dir, preflight_failure(request.sut, run_id, str(exc)))
        log(f"error: {exc}")
        return EXIT_ERROR
    code = pytest.main(pytest_arguments(request, images, run_id))
    return exit_code_for(code, request.report_dir / "results.json", log)


def exit_code_for(pytest_code: int | pytest.ExitCode, results_path: Path, log: Log) -> int:
    if pytest_code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    try:
        tree = json.loads(results_path.read_text())
    except (OSError, json.JSONDecodeError):
        log(f"error: the run ended (pytest exit {int(pytest_code)}) without writing {results_path}")
        return EXIT_ERROR
    verdict = tree["verdict"]
    counts = tree.get("counts", {})
    log(
        f"verdict: {verdict.upper()}  ("
        + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        + f")  results: {results_path}"
    )
    if pytest_code == pytest.ExitCode.INTERRUPTED:
        return EXIT_ERROR
    return EXIT_CODES.get(verdict, EXIT_ERROR)


def preflight_failure(sut: SutConfig, run_id: str, message: str) -> dict[str, object]:
    """results.json for a run that stopped before any scenario: verdict error, reason kept."""
    return {
        "suite": {"name": SUITE_NAME, "version": __version__},
        "run": {"id": run_id},
        "sut": {"name": sut.name, "role": sut.role, "image": sut.image, "sut_file": sut.redacted()},
        "verdict": ERROR,
        "message": message,
        "counts": {"pass": 0, "fail": 0, "error": 0, "skip": 0},
        "scenarios": [],
        "requirements": [],
    }


def print_line(message: str) -> None:
    print(f"margo-conformance: {message}", file=sys.stderr, flush=True)
