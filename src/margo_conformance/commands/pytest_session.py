"""What a run hands pytest: its command line, its one RunConfig, and the runner's plugin.

The run's configuration travels to pytest (and to every pytest-xdist worker) in a private
hand-over file (`save_run_config`); the command line names the suite's ini file, the features'
binding module, the report's allure-results and the selection (junit.xml is the runner's,
written from the results tree: report/junit.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from margo_conformance.base.paths import CONFORMANCE_INI, STEPS_DIR, SUITE_ROOT
from margo_conformance.commands.run_request import RunRequest
from margo_conformance.config.run_config import RunConfig
from margo_conformance.results.collector import RUN_CONTEXT_KEY
from margo_conformance.results.model import RunContext

Log = Callable[[str], None]
# pytest plugins other packages install that a conformance run never uses: hypothesis alone
# costs about a second per run (it imports itself for its terminal summary).
UNUSED_PLUGINS = ("hypothesispytest", "locust", "anyio")


@dataclass(frozen=True)
class PreparedImages:
    base_image: str
    sut_image: str
    sut_identity: Mapping[str, Any] = field(default_factory=dict)


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
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Say why collecting failed (an unknown tag in -m, a broken feature file): without
        it the run reads as if the selection had matched nothing."""
        if report.failed:
            lines = [line for line in str(report.longreprtext).splitlines() if line.strip()]
            self.log(f"error: collecting {report.nodeid or 'the features'} failed: {lines[-1] if lines else '?'}")

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
        "--alluredir",
        str(report_dir / "allure-results"),
        "--clean-alluredir",
        # Checks are expect() calls, not asserts: rewriting the plugin's modules in every
        # worker at every start cost each ~3.5 s of CPU where bytecode is not cached.
        "--assert=plain",
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
