"""`margo-conformance stability`: certify the same SUTs N times; any change of verdict fails.

A conformance verdict that wobbles is worth nothing. This runs the suite repeatedly against
each SUT (the bundled references by default), compares every scenario's outcome across runs,
and reports each scenario's duration spread so slow or jittery waits stand out. Writes
stability.json and stability.md into the report directory.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.commands.subruns import run_suite

DEFAULT_SUTS = (FIXTURES_DIR / "sut" / "reference-agent.yaml", FIXTURES_DIR / "sut" / "reference-wos.yaml")
RUN_TIMEOUT_S = 1800
Log = Callable[[str], None]


@dataclass(frozen=True)
class ScenarioSpread:
    sut: str
    scenario: str
    outcomes: list[str]
    durations_s: list[float]

    @property
    def stable(self) -> bool:
        return len(set(self.outcomes)) == 1

    def row(self) -> dict[str, Any]:
        durations = self.durations_s
        return {
            **asdict(self),
            "stable": self.stable,
            "min_s": round(min(durations), 3),
            "median_s": round(statistics.median(durations), 3),
            "max_s": round(max(durations), 3),
            "spread_s": round(max(durations) - min(durations), 3),
        }


def run_once(sut: Path, report_dir: Path, workers: int = 1) -> dict[str, Any]:
    report_dir.mkdir(parents=True, exist_ok=True)
    # Always explicit: the run's own default (auto) would multiply with parallel runs.
    arguments = ["--sut", str(sut), "--report-dir", str(report_dir), "--workers", str(workers)]
    child = run_suite(arguments, RUN_TIMEOUT_S)
    (report_dir / "run.log").write_text(child.output)
    try:
        return json.loads((report_dir / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {"verdict": "missing", "scenarios": []}


def spreads(sut_name: str, runs: Sequence[dict[str, Any]]) -> list[ScenarioSpread]:
    """One row per scenario seen in any run; a scenario missing from a run counts as `absent`."""
    names = sorted({s["name"] for run in runs for s in run.get("scenarios", [])})
    rows = []
    for name in names:
        entries = [next((s for s in run.get("scenarios", []) if s["name"] == name), None) for run in runs]
        rows.append(ScenarioSpread(
            sut=sut_name,
            scenario=name,
            outcomes=[e["outcome"] if e else "absent" for e in entries],
            durations_s=[float(e["duration_s"]) if e else 0.0 for e in entries],
        ))
    return rows


def run_stability(
    suts: Sequence[Path], runs: int, report_root: Path, log: Log, workers: int = 1
) -> tuple[bool, list[dict[str, Any]]]:
    """`runs` rounds; in each round every SUT's run goes side by side with the others'.

    A run mostly waits on its SUT (polling intervals, deadlines), so two side by side take
    little longer than one, and a verdict that holds only on an idle machine shows up here.
    """
    results: dict[Path, list[dict[str, Any]]] = {sut: [] for sut in suts}
    with ThreadPoolExecutor(max_workers=len(suts) or 1, thread_name_prefix="stability") as pool:
        for index in range(1, runs + 1):
            rounds = {sut: pool.submit(run_once, sut, report_root / sut.stem / f"run-{index:02d}", workers)
                      for sut in suts}
            for sut, future in rounds.items():
                tree = future.result()
                results[sut].append(tree)
                log(f"{sut.stem} run {index}/{runs}: {tree.get('verdict')}")
    table: list[dict[str, Any]] = []
    stable = True
    for sut in suts:
        verdicts = [r.get("verdict") for r in results[sut]]
        rows = spreads(sut.stem, results[sut])
        unstable = [r for r in rows if not r.stable]
        if len(set(verdicts)) != 1 or unstable:
            stable = False
            log(f"{sut.stem}: UNSTABLE: verdicts {verdicts}; "
                + "; ".join(f"{r.scenario}: {r.outcomes}" for r in unstable))
        table += [r.row() for r in rows]
    write_stability(report_root, table, runs)
    return stable, table


def write_stability(report_root: Path, table: list[dict[str, Any]], runs: int) -> None:
    report_root.mkdir(parents=True, exist_ok=True)
    (report_root / "stability.json").write_text(json.dumps({"runs": runs, "scenarios": table}, indent=1) + "\n")
    lines = [
        f"Runs per SUT: {runs}",
        "",
        "| SUT | scenario | outcomes | median s | spread s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in sorted(table, key=lambda r: -r["spread_s"]):
        outcomes = "/".join(sorted(set(row["outcomes"])))
        lines.append(f"| {row['sut']} | {row['scenario']} | {outcomes} | {row['median_s']} | {row['spread_s']} |")
    (report_root / "stability.md").write_text("\n".join(lines) + "\n")
