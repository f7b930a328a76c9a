"""One conformance run: preflight the SUT's image, run the features under pytest, read the verdict.

Exit codes:

    0  pass     every mandatory scenario of the claimed role and profiles ran and passed
    1  fail     the SUT broke a requirement, or a waiver went stale; also partial: something
                was skipped, waived or left out, so the run cannot certify
    2  usage    a bad command line, SUT file, waivers file or signing key; nothing ran
    3  error    the SUT could not be brought up, or the suite or its infrastructure broke

Whatever happens once the command line has been accepted, the report directory gets
`results.json`, `report.html` and `run.log` (the progress lines); a run that reached pytest
also has `junit.xml`, `allure-results/` and `evidence/`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import docker
import pytest

from margo_conformance.base import redaction
from margo_conformance.base.errors import ConfigError, SuiteError, SutError
from margo_conformance.base.paths import CONFORMANCE_INI, STEPS_DIR, SUITE_ROOT
from margo_conformance.config.run_config import RunConfig, SutConfig, build_arguments, save_run_config
from margo_conformance.config.selection import Selection
from margo_conformance.engine.daemon import engine_answers
from margo_conformance.engine.images import choose_base_image, ensure_built_image, image_exists, needs_build
from margo_conformance.report.progress import LiveProgress
from margo_conformance.results.collector import RUN_CONTEXT_KEY
from margo_conformance.results.identity import image_identity
from margo_conformance.results.model import ERROR, FAIL, RunContext
from margo_conformance.results.tree import preflight_tree, write_results_json
from margo_conformance.results.waivers import Waiver

Log = Callable[[str], None]
EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_CODES = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "partial": EXIT_FAIL, "error": EXIT_ERROR}
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
# pytest plugins other packages install that a conformance run never uses: hypothesis alone
# costs about a second per run (it imports itself for its terminal summary).
UNUSED_PLUGINS = ("hypothesispytest", "locust", "anyio")


@dataclass(frozen=True)
class RunRequest:
    sut: SutConfig
    report_dir: Path
    base_image: str | None = None
    run_id: str | None = None  # label value of the run's containers; generated when absent
    select: str | None = None  # -m tag expression (margo_conformance.config.selection)
    keyword: str | None = None  # -k name expression or phrase (margo_conformance.config.selection)
    verbose: bool = False
    waivers: tuple[Waiver, ...] = ()
    waivers_file: Path | None = None
    certification: bool = False
    rerun_failed: Path | None = None  # a previous results.json
    only: tuple[str, ...] = ()  # node ids to run, nothing else (--only-scenarios)
    bundle: bool = False
    signing_key: Path | None = None
    allure: bool = False
    workers: int = 1  # > 1: scenarios spread over that many pytest-xdist worker processes

    @property
    def wants_bundle(self) -> bool:
        return self.bundle or self.certification or self.signing_key is not None


@dataclass(frozen=True)
class PreparedImages:
    base_image: str
    sut_image: str
    sut_identity: Mapping[str, Any] = field(default_factory=dict)


def check_request(request: RunRequest) -> None:
    """Refuse what a run must not do before anything starts (ConfigError: exit 2)."""
    if request.certification:
        if request.waivers_file is not None:
            raise ConfigError("a certification run accepts no waivers: drop --waivers")
        chosen = [
            o
            for o, v in (
                ("-m", request.select),
                ("-k", request.keyword),
                ("--rerun-failed", request.rerun_failed),
                ("--only-scenarios", request.only),
            )
            if v
        ]
        if chosen:
            raise ConfigError(
                f"a certification run executes every scenario: drop {', '.join(chosen)}"
            )
    Selection(request.select, request.keyword)  # a bad -m is refused before anything starts
    if request.workers < 1:
        raise ConfigError(f"--workers {request.workers}: give 1 or more worker processes")
    if request.workers > 1 and importlib.util.find_spec("xdist") is None:
        raise ConfigError("--workers needs pytest-xdist: pip install pytest-xdist")
    if request.signing_key is not None:
        from margo_conformance.report.bundle import load_signing_key

        load_signing_key(request.signing_key)


def failed_nodeids(results_path: Path) -> tuple[str, ...]:
    """Node ids of the scenarios that failed or errored in a previous results.json."""
    try:
        tree = json.loads(results_path.read_text(encoding="utf-8"))
        scenarios = tree["scenarios"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"--rerun-failed {results_path}: not a readable results.json ({exc})"
        ) from exc
    chosen = tuple(
        s["nodeid"] for s in scenarios if s.get("outcome") in (FAIL, ERROR) and s.get("nodeid")
    )
    if not chosen:
        raise ConfigError(
            f"--rerun-failed {results_path}: no scenario failed or errored there; nothing to rerun"
        )
    return chosen


def only_scenarios(path: Path) -> tuple[str, ...]:
    """--only-scenarios: a JSON list of node ids."""
    try:
        chosen = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--only-scenarios {path}: not a readable JSON list ({exc})") from exc
    if not isinstance(chosen, list) or not chosen or not all(isinstance(n, str) for n in chosen):
        raise ConfigError(f"--only-scenarios {path}: expected a non-empty JSON list of node ids")
    return tuple(chosen)


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


class RunnerPlugin:
    """Hands the run's context to the results collector and applies --rerun-failed."""

    def __init__(self, context: RunContext, rerun: tuple[str, ...], log: Log) -> None:
        self.context = context
        self.rerun = frozenset(rerun)
        self.log = log

    @pytest.hookimpl
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[RUN_CONTEXT_KEY] = self.context

    @pytest.hookimpl
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        silence_summary_line(session.config)

    @pytest.hookimpl
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not self.rerun:
            return
        kept = [i for i in items if i.nodeid in self.rerun]
        gone = self.rerun - {i.nodeid for i in items}
        if gone:
            self.log(
                f"margo-conformance: {len(gone)} scenario(s) to rerun no longer exist: "
                + ", ".join(sorted(gone))
            )
        dropped = [i for i in items if i.nodeid not in self.rerun]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept


def silence_summary_line(config: pytest.Config) -> None:
    """Drop pytest's closing "13 failed, 27 passed in 9.1s": the run prints one count, the verdict's.

    pytest counts test phases (a failed teardown adds an error to a failed scenario), the
    verdict counts scenario outcomes; two counts that disagree for one run help nobody.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.summary_stats = lambda: None


def prepare_images(sut: SutConfig, base_image: str | None, log: Log) -> PreparedImages:
    """Make sure the SUT image exists (building it when the SUT file says how)."""
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


def run_config_for(
    request: RunRequest, images: PreparedImages, run_id: str, only: tuple[str, ...] = ()
) -> RunConfig:
    """The one configuration of the run: the SUT file as validated by the command line, with the
    image actually run, the run's own identity and the scenarios it is limited to."""
    return RunConfig(
        sut=dataclasses.replace(request.sut, image=images.sut_image),
        report_dir=request.report_dir.resolve(),
        run_id=run_id,
        base_image=images.base_image,
        workload_image=images.base_image,
        only=only,
    )


def write_effective_config(run: RunConfig) -> Path:
    """config.json in the report: what the run went by, defaults filled in, secrets redacted."""
    target = run.report_dir / EFFECTIVE_CONFIG
    target.write_text(redaction.redact_text(json.dumps(run.effective(), indent=2)) + "\n")
    return target


def pytest_arguments(request: RunRequest, handover: Path) -> list[str]:
    """pytest's command line; the run's configuration travels in `handover` (save_run_config)."""
    report_dir = request.report_dir
    args = [
        "-c",
        str(CONFORMANCE_INI),
        "--rootdir",
        str(SUITE_ROOT),
        str(STEPS_DIR / "scenarios.py"),
        "--run-config",
        str(handover),
        "--junitxml",
        str(report_dir / "junit.xml"),
        "--alluredir",
        str(report_dir / "allure-results"),
        "--clean-alluredir",
    ]
    for plugin in UNUSED_PLUGINS:
        args += ["-p", f"no:{plugin}"]
    if request.verbose:
        args += ["-v"]
    else:
        # The live progress lines are the output (pytest's summary line is dropped, see
        # silence_summary_line): keep pytest's own report quiet.
        args += ["-q", "--tb=no", "-rN", "-o", "console_output_style=classic"]
    # Not pytest's -m/-k: the plugin selects with the engine `list scenarios` uses.
    if request.select:
        args += ["--select-tags", request.select]
    if request.keyword:
        args += ["--select-keyword", request.keyword]
    return args + worker_arguments(request)


def worker_arguments(request: RunRequest) -> list[str]:
    """pytest-xdist options for --workers; worksteal evens out scenarios of unequal length.
    (A --rerun-failed or --only-scenarios limit travels in the run configuration, which every
    worker loads.)"""
    if request.workers <= 1:
        return []
    return ["-n", str(request.workers), "--dist", "worksteal"]


def run_context(request: RunRequest, sut_identity: Mapping[str, Any] | None = None) -> RunContext:
    return RunContext(
        waivers=request.waivers,
        waivers_file=str(request.waivers_file) if request.waivers_file else None,
        certification=request.certification,
        select=request.select,
        keyword=request.keyword,
        rerun_of=str(request.rerun_failed) if request.rerun_failed else None,
        image=dict(sut_identity or {}),
    )


def sut_description(sut: SutConfig) -> dict[str, Any]:
    """The SUT as a preflight results.json shows it (the plugin describes it the same way)."""
    return sut.describe()


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
            redactor.learn(redaction.SUT_SECRET, value)
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


def clear_previous_outputs(report_dir: Path) -> None:
    for name in PREVIOUS_OUTPUTS:
        (report_dir / name).unlink(missing_ok=True)
    for name in PREVIOUS_OUTPUT_DIRS:
        shutil.rmtree(report_dir / name, ignore_errors=True)


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


def finish(request: RunRequest, code: int, log: Log) -> int:
    """Write report.html (and the Allure page and bundle when asked); the final exit code."""
    if not (request.report_dir / "results.json").is_file():
        return code  # a usage error stopped pytest before the collector could write anything
    from margo_conformance.report.html.page import write_report

    try:
        report = write_report(request.report_dir)
    except Exception as exc:  # a broken writer is the suite's error (exit 3), not a crash
        log(f"error: could not write report.html: {type(exc).__name__}: {exc}")
        return EXIT_ERROR
    log(f"report: {report}")
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


def preflight_failure(sut: SutConfig, run_id: str, message: str) -> dict[str, Any]:
    """results.json for a run that stopped before any scenario: verdict error, reason kept."""
    return preflight_tree(sut_description(sut), run_id, message)


def print_line(message: str) -> None:
    print(f"margo-conformance: {message}", file=sys.stderr, flush=True)
