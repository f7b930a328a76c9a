"""One conformance run: preflight the SUT's image, run the features under pytest, read the verdict.

Exit codes: margo_conformance.commands.exit_codes. Whatever happens once the command
line has been accepted, the report directory gets `results.json`, `report.html`, `junit.xml`
(both from the results tree) and `run.log` (the progress lines); a run that reached pytest also
has `allure-results/` and `evidence/` (margo_conformance.commands.run_outputs).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from margo_conformance.base import credentials, redaction
from margo_conformance.base.errors import ConfigError, SuiteError, SutError
from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.commands.exit_codes import EXIT_ERROR, EXIT_USAGE, exit_code_for
from margo_conformance.commands.pytest_session import (
    PreparedImages,
    RunnerPlugin,
    pytest_arguments,
    run_config_for,
    run_context,
)
from margo_conformance.commands.run_outputs import (
    RUN_LOG,
    RunLog,
    clear_previous_outputs,
    finish,
    sut_description,
    write_effective_config,
)
from margo_conformance.commands.run_request import RunRequest, check_request, failed_nodeids
from margo_conformance.config.run_config import SutConfig, build_arguments, save_run_config
from margo_conformance.engine.base_image import LOCAL_BASE_IMAGE, choose_base_image
from margo_conformance.engine.daemon import engine_answers
from margo_conformance.engine.images import ensure_built_image, image_exists, needs_build
from margo_conformance.engine.url import SutAtUrl
from margo_conformance.report.progress import LiveProgress
from margo_conformance.results.identity import image_identity
from margo_conformance.results.tree import preflight_tree, write_results_json

Log = Callable[[str], None]


def prepare_images(sut: SutConfig, base_image: str | None, log: Log) -> PreparedImages:
    """Make sure the SUT image exists (building it when the SUT file says how). A SUT started as
    a local process needs no engine: the base image is then only a name workloads may use."""
    if not sut.in_containers:
        if sut.url is not None:  # a WOS that is down is one line before any scenario, not 44 errors
            SutAtUrl(sut, EvidenceLog()).start()
        return PreparedImages(base_image=base_image or LOCAL_BASE_IMAGE, sut_image="")
    if not engine_answers():
        raise SuiteError("no Docker engine answers; run `margo-conformance setup` first")
    client = docker.from_env()
    try:
        build = sut.build

        def sut_build_needed(base: str) -> bool:
            return build is not None and needs_build(
                client, sut.image, build.context, build.dockerfile, build_arguments(build, base)
            )

        base = choose_base_image(client, base_image, sut_build_needed, log)
        image = sut.image
        if build is not None:
            # The content tag, so a concurrent rebuild of the shared name cannot swap the image.
            image = ensure_built_image(
                client, sut.image, build.context, build.dockerfile, build_arguments(build, base), log
            )
        elif not image_exists(client, sut.image):
            raise SutError(
                f"SUT image {sut.image!r} is not on the Docker engine "
                "(and the SUT file has no build)"
            )
        identity = image_identity(client, image)
    finally:
        client.close()
    return PreparedImages(base_image=base, sut_image=image, sut_identity=identity)


def execute(request: RunRequest, log: Log) -> int:
    """Run the suite for one SUT; returns the process exit code."""
    check_request(request)
    rerun = failed_nodeids(request.rerun_failed) if request.rerun_failed else request.only
    run_id = request.run_id or f"run-{uuid.uuid4().hex[:12]}"
    request.report_dir.mkdir(parents=True, exist_ok=True)
    clear_previous_outputs(request.report_dir)
    with contextlib.ExitStack() as stack:
        try:
            redactor = stack.enter_context(redaction.run_ledger(request.report_dir))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        for value in request.sut.secret_values():
            redactor.learn(credentials.SUT_SECRET, value)
        if request.signing_key is not None:
            redactor.learn_shapes(request.signing_key.read_text(errors="replace"))
        run_log = RunLog(request.report_dir / RUN_LOG)

        def both(message: str) -> None:  # runner messages go to the caller's log and run.log
            message = redactor.redact_text(message)
            log(message)
            run_log.record(f"margo-conformance: {message}")

        try:
            return _execute(request, run_id, rerun, both, run_log)
        finally:
            run_log.close()


def _execute(
    request: RunRequest, run_id: str, rerun: tuple[str, ...], log: Log, progress: Log
) -> int:
    try:
        images = prepare_images(request.sut, request.base_image, log)
    except (SutError, SuiteError) as exc:
        tree = preflight_tree(sut_description(request.sut), run_id, str(exc), run_context(request))
        write_results_json(request.report_dir, tree)
        log(f"error: {exc}")
        return finish(request, EXIT_ERROR, log)
    if request.rerun_failed:
        log(f"rerunning {len(rerun)} failed scenario(s) from {request.rerun_failed}")
    elif rerun:
        log(f"running only the {len(rerun)} scenario(s) asked for")
    plugins = [
        RunnerPlugin(run_context(request, images.sut_identity), rerun, progress),
        LiveProgress(progress, request.waivers, quiet=not request.verbose),
    ]
    run = run_config_for(request, images, run_id, only=rerun)
    write_effective_config(run)
    with tempfile.TemporaryDirectory(prefix="margo-run-") as private:
        handover = Path(private) / "run-config.pickle"
        save_run_config(run, handover)
        code = pytest.main(pytest_arguments(request, handover), plugins=plugins)
    results_path = request.report_dir / "results.json"
    if code != pytest.ExitCode.USAGE_ERROR and not results_path.is_file():
        message = f"the run ended (pytest exit {int(code)}) without writing results.json"
        write_results_json(
            request.report_dir,
            preflight_tree(
                sut_description(request.sut),
                run_id,
                message,
                run_context(request, images.sut_identity),
            ),
        )
    exit_code = exit_code_for(code, results_path, log)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED and (request.select or request.keyword):
        log(f"error: the selection (-m/-k) matched no scenario of role {request.sut.role}")
        exit_code = EXIT_USAGE
    return finish(request, exit_code, log)


def print_line(message: str) -> None:
    print(f"margo-conformance: {message}", file=sys.stderr, flush=True)
