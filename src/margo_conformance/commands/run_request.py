"""What a run is asked to do (`RunRequest`), checked before anything starts.

The command line becomes one `RunRequest`; `check_request` refuses what a run must not do
(exit 2, nothing ran), and `--rerun-failed` / `--only-scenarios` are read into the node ids
the run is limited to.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from margo_conformance.base.errors import ConfigError
from margo_conformance.config.run_config import SutConfig
from margo_conformance.config.selection import Selection
from margo_conformance.results.model import ERROR, FAIL
from margo_conformance.results.waivers import Waiver


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
