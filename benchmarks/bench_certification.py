"""How fast a certification run is, and where its time goes: a script that prints figures.

    python benchmarks/bench_certification.py [--roles agent,wos] [--workers 2] [--no-cold]
                                             [--json FIGURES.json]

For the reference agent and the reference WOS it runs the real CLI (`margo-conformance run`):

* cold: the reference image is removed first, so the run rebuilds it (the base image stays;
  building that is `margo-conformance setup`'s job, once per machine);
* warm: the image is there;
* parallel: warm, with `--workers N` (pytest-xdist), for the speed-up.

From each run's results.json it reads, per scenario, `duration_s`, `waiting_s` (time spent
waiting on the SUT: event waits, container start and stop, exchanges with a WOS) and
`wake_delays_ms` (for each wait that ended on an event: from the event to the wake-up that
led to the verdict). Suite overhead is the run's wall time minus the time waiting on the SUT.

Targets (issue 8): a warm run of both roles within 90 s on a 2-core machine; suite overhead
at most 10 % of wall time; every verdict within 100 ms of the awaited event. Only the V24
profile (HTTP device API, desired state over Git) exists, so "both transports" is one.

Cold runs remove images that other runs on the same engine may be using; when a suite
container is running, cold is skipped (say --force-cold to remove them anyway).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import docker
import yaml

from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.commands.fleet.stats import percentile
from margo_conformance.engine.sut import RUN_LABEL

SUT_FILES = {"agent": FIXTURES_DIR / "sut" / "reference-agent.yaml",
             "wos": FIXTURES_DIR / "sut" / "reference-wos.yaml"}
WALL_TARGET_S = 90.0
OVERHEAD_TARGET = 0.10
WAKE_TARGET_MS = 100.0
RUN_TIMEOUT_S = 900


@dataclass
class RunFigures:
    role: str
    mode: str  # cold | warm | parallel
    workers: int
    exit_code: int
    verdict: str
    wall_s: float
    scenarios: int
    duration_s: float  # sum over scenarios
    waiting_s: float  # sum over scenarios
    wake_delays_ms: list[float] = field(default_factory=list)
    per_scenario: list[dict[str, Any]] = field(default_factory=list)

    @property
    def overhead_s(self) -> float:
        return max(0.0, self.wall_s - self.waiting_s)

    @property
    def overhead_share(self) -> float:
        return self.overhead_s / self.wall_s if self.wall_s else 0.0


# -- machine ---------------------------------------------------------------------------------------


def machine_description() -> dict[str, Any]:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(memory_gib, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "load_average": os.getloadavg(),
    }


def other_suite_containers() -> list[str]:
    """Suite containers running now (another run on this engine): cold would disturb it."""
    client = docker.from_env()
    try:
        return [c.name for c in client.containers.list(filters={"label": RUN_LABEL})]
    finally:
        client.close()


def remove_reference_image(sut_file: Path) -> list[str]:
    """Remove every tag of the SUT file's image repository (the plain and the content tags)."""
    repository = yaml.safe_load(sut_file.read_text())["image"].rsplit(":", 1)[0]
    client = docker.from_env()
    removed = []
    try:
        for image in client.images.list(name=repository):
            for tag in image.tags:
                client.images.remove(tag, noprune=False)
                removed.append(tag)
    finally:
        client.close()
    return removed


# -- one run ---------------------------------------------------------------------------------------


def run_cli(role: str, mode: str, workers: int, report_dir: Path) -> RunFigures:
    command = [sys.executable, "-m", "margo_conformance", "run", "--sut", str(SUT_FILES[role]),
               "--report-dir", str(report_dir)]
    if workers > 1:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    wall = time.perf_counter() - started
    try:
        results = json.loads((report_dir / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        results = {"verdict": "no results.json", "scenarios": []}
    return figures_from_results(role, mode, workers, completed.returncode, wall, results)


def figures_from_results(
    role: str, mode: str, workers: int, code: int, wall_s: float, results: dict[str, Any]
) -> RunFigures:
    scenarios = results.get("scenarios", [])
    delays = [d for s in scenarios for d in s.get("wake_delays_ms", [])]
    per_scenario = [
        {
            "name": s["name"],
            "duration_s": s["duration_s"],
            "waiting_s": s.get("waiting_s", 0.0),
            "overhead_s": round(max(0.0, s["duration_s"] - s.get("waiting_s", 0.0)), 3),
            "wake_delays_ms": s.get("wake_delays_ms", []),
        }
        for s in scenarios
    ]
    return RunFigures(
        role=role, mode=mode, workers=workers, exit_code=code,
        verdict=str(results.get("verdict")), wall_s=round(wall_s, 2), scenarios=len(scenarios),
        duration_s=round(sum(s["duration_s"] for s in scenarios), 2),
        waiting_s=round(sum(s.get("waiting_s", 0.0) for s in scenarios), 2),
        wake_delays_ms=delays, per_scenario=per_scenario,
    )


# -- printing --------------------------------------------------------------------------------------


def delay_summary(delays: Sequence[float]) -> str:
    if not delays:
        return "no event waits"
    ordered = sorted(delays)
    return (f"{len(ordered)} waits, p50 {percentile(ordered, 50):.1f} ms, "
            f"p95 {percentile(ordered, 95):.1f} ms, max {ordered[-1]:.1f} ms")


def print_runs(runs: Sequence[RunFigures]) -> None:
    header = (f"{'role':<6} {'mode':<9} {'wall s':>7} {'scen':>5} {'waiting s':>10} "
              f"{'overhead s':>11} {'overhead':>9}  verdict   event -> verdict")
    print(header)
    print("-" * len(header))
    for r in runs:
        mode = f"{r.mode}" + (f" x{r.workers}" if r.workers > 1 else "")
        share = f"{r.overhead_share:.0%}" if r.workers <= 1 else "n/a"
        print(f"{r.role:<6} {mode:<9} {r.wall_s:>7.1f} {r.scenarios:>5} {r.waiting_s:>10.1f} "
              f"{r.overhead_s:>11.1f} {share:>9}  {r.verdict:<9} {delay_summary(r.wake_delays_ms)}")


def print_scenarios(run: RunFigures) -> None:
    print(f"\nPer scenario, {run.role} ({run.mode}): seconds of the scenario, waiting on the SUT, "
          "the suite's own; event -> verdict delays")
    for s in run.per_scenario:
        delays = ", ".join(f"{d:g}" for d in s["wake_delays_ms"]) or "-"
        print(f"  {s['duration_s']:6.2f} {s['waiting_s']:6.2f} {s['overhead_s']:6.2f}  "
              f"{s['name'][:70]:<70} [{delays}] ms")


def print_targets(runs: Sequence[RunFigures]) -> dict[str, Any]:
    warm = {r.role: r for r in runs if r.mode == "warm"}
    parallel = {r.role: r for r in runs if r.mode == "parallel"}
    delays = [d for r in runs for d in r.wake_delays_ms]
    verdicts = {}
    print("\nTargets")
    if len(warm) == 2:
        total = sum(r.wall_s for r in warm.values())
        verdicts["warm_both_roles_s"] = total
        print(f"  warm run of both roles (one process each): {total:.1f} s "
              f"(target <= {WALL_TARGET_S:.0f} s) -> {'MET' if total <= WALL_TARGET_S else 'NOT MET'}")
    if len(parallel) == 2:
        total = sum(r.wall_s for r in parallel.values())
        verdicts["parallel_both_roles_s"] = total
        print(f"  warm run of both roles with --workers: {total:.1f} s "
              f"-> {'MET' if total <= WALL_TARGET_S else 'NOT MET'}")
    for role, run in sorted(parallel.items()):
        if role in warm and run.wall_s:
            print(f"  speed-up of {role} with {run.workers} workers: "
                  f"{warm[role].wall_s / run.wall_s:.2f}x ({warm[role].wall_s:.1f} s -> {run.wall_s:.1f} s)")
    for role, run in sorted(warm.items()):
        print(f"  suite overhead, {role} warm: {run.overhead_share:.1%} of wall time "
              f"(target <= {OVERHEAD_TARGET:.0%}) -> "
              f"{'MET' if run.overhead_share <= OVERHEAD_TARGET else 'NOT MET'}")
    if delays:
        worst = max(delays)
        verdicts["worst_wake_delay_ms"] = worst
        print(f"  event -> verdict: worst {worst:.1f} ms over {len(delays)} waits "
              f"(target <= {WAKE_TARGET_MS:.0f} ms) -> {'MET' if worst <= WAKE_TARGET_MS else 'NOT MET'}")
    print("  transports: V24 (HTTP device API + Git smart HTTP) is the only one the suite has; "
          "the figures cover it")
    return verdicts


# -- main ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", default="agent,wos")
    parser.add_argument("--workers", type=int, default=2, help="workers for the parallel runs")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold runs")
    parser.add_argument("--force-cold", action="store_true",
                        help="remove the reference images even when suite containers run")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args(argv)
    roles = [r for r in args.roles.split(",") if r]
    machine = machine_description()
    print(f"Machine: {machine['cores']} cores, {machine['cpu']}, {machine['memory_gib']} GiB, "
          f"{machine['os']}, Python {machine['python']}; load average at start "
          f"{', '.join(f'{x:.2f}' for x in machine['load_average'])}; {machine['date']}\n")
    runs: list[RunFigures] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-certification-") as tmp:
        for role in roles:
            if not args.no_cold:
                busy = other_suite_containers()
                if busy and not args.force_cold:
                    notes.append(f"cold {role}: skipped, suite containers are running "
                                 f"({', '.join(busy[:3])}); --force-cold removes images anyway")
                else:
                    removed = remove_reference_image(SUT_FILES[role])
                    notes.append(f"cold {role}: removed {', '.join(removed) or 'nothing'}")
                    runs.append(run_cli(role, "cold", 1, Path(tmp) / f"{role}-cold"))
            runs.append(run_cli(role, "warm", 1, Path(tmp) / f"{role}-warm"))
            if args.workers > 1:
                runs.append(run_cli(role, "parallel", args.workers, Path(tmp) / f"{role}-parallel"))
    for note in notes:
        print(note)
    print()
    print_runs(runs)
    for run in runs:
        if run.mode == "warm":
            print_scenarios(run)
    verdicts = print_targets(runs)
    machine["load_average_end"] = os.getloadavg()
    print(f"\nload average at end: {', '.join(f'{x:.2f}' for x in machine['load_average_end'])} "
          "(other work on the machine inflates wall times)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "notes": notes, "targets": verdicts,
                                         "runs": [asdict(r) for r in runs]}, indent=1))
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
