"""Live progress: one line per scenario, as it finishes, with its outcome and the elapsed time.

    [ 3/12  +14.2s] PASS    The agent onboards with the orchestrator it was configured with
    [ 4/12  +19.9s] FAIL    A newly published deployment is fetched within the polling interval
                            -> CFG-003: deployment commit 1a2b3c4 was not fetched within 3 s ...

The runner registers this plugin and runs pytest quietly, so these lines (on stderr, and in
the report directory's run.log) are what a person watches; the runner's verdict line is the
one count at the end (pytest's own "N passed" line is dropped). Outcomes come from the
results collector, so the line says exactly what results.json will say.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from margo_conformance.base import redaction
from margo_conformance.results.waivers import STALE, WAIVED, Waiver, first_match, waiver_status

COLLECTOR_PLUGIN = "margo-results"  # the name plugin.py registers the ResultsCollector under
LABELS = {
    "pass": "PASS",
    "fail": "FAIL",
    "error": "ERROR",
    "skip": "SKIP",
    WAIVED: "WAIVED",
    STALE: "STALE",
}
DETAIL_INDENT = " " * 24


class LiveProgress:
    """A pytest plugin that writes a progress line per finished scenario through `write`."""

    def __init__(
        self, write: Callable[[str], None], waivers: Sequence[Waiver] = (), quiet: bool = True
    ):
        self.write = write
        self.waivers = tuple(waivers)
        self.quiet = quiet
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.config: pytest.Config | None = None

    @pytest.hookimpl
    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = len(session.items)
        self.write(f"running {self.total} scenario(s)")

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # Under pytest-xdist only the workers collect; each tells the controller what it has.
        if not self.total:
            self.total = len(ids)
            self.write(f"running {self.total} scenario(s) in parallel worker processes")

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        # Keep pytest's category (its terminal statistics count by it) but drop the
        # progress letter, so these progress lines are not interleaved with dots.
        result = yield
        if self.quiet and result:
            category, _letter, word = result
            return category, "", word
        return result

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.done += 1
        result = self._result(nodeid)
        if result is None:
            self.write(self._prefix() + f"{'DONE':<7} {nodeid}")
            return
        label = LABELS.get(self._waiver_label(result) or result.outcome, result.outcome.upper())
        if getattr(result, "blocked", None):
            label = "BLOCKED"  # an ERROR at a refused prerequisite; the message names it
        self.write(self._prefix() + f"{label:<7} {result.name}")
        detail = self._detail(result, label)
        if detail:
            self.write(DETAIL_INDENT + "-> " + detail)

    def _prefix(self) -> str:
        width = len(str(self.total)) if self.total else 1
        elapsed = time.monotonic() - self.started
        return f"[{self.done:>{width}}/{self.total} {elapsed:+7.1f}s] "

    def _result(self, nodeid: str) -> Any:
        if self.config is None:
            return None
        collector = self.config.pluginmanager.get_plugin(COLLECTOR_PLUGIN)
        return collector.last_finished(nodeid) if collector is not None else None

    def _waiver_label(self, result: Any) -> str | None:
        waiver = first_match(self.waivers, result.name, result.nodeid, result.requirements)
        return waiver_status(result.outcome) if waiver is not None else None

    def _detail(self, result: Any, label: str) -> str:
        if label == LABELS[STALE]:
            return (
                "passed, but the waivers file expects it to fail: remove the waiver (the run fails)"
            )
        if result.outcome == "pass":
            return ""
        # Redacted before it is cut: a credential across the cut would otherwise leave a prefix.
        first_line = redaction.redact_text(result.message or "").strip().splitlines()
        text = first_line[0] if first_line else "(no message)"
        return text if len(text) <= 200 else text[:197] + "..."
