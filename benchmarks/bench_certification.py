"""How fast a certification run is, and where its time goes: a script that prints figures.

    python benchmarks/bench_certification.py [--roles agent,wos] [--no-cold] [--matrix [FILE]]
                                             [--json FIGURES.json]

For the reference agent and the reference WOS it runs the real CLI (`margo-conformance run`),
one run after another, in these modes:

* cold: the reference image is removed first, so the run rebuilds it (the base image stays;
  building that is `margo-conformance setup`'s job, once per machine);
* default: the image is there, `--workers auto` (the default);
* one worker: `--workers 1`, for the suite's own overhead (wall time minus waiting on the SUT);
* process: the reference started as a local process (`launcher: process`), no Docker;
* url (WOS only): the reference WOS started once, outside the suite, as a process, and every
  scenario run against it (`launcher: url`, a lab installation's case).

From each run's results.json it reads, per scenario, `duration_s`, `waiting_s` (time spent
waiting on the SUT: event waits, container start and stop, exchanges with a WOS) and
`wake_delays_ms` (for each wait that ended on an event: from the event to the wake-up that
led to the verdict).

`--matrix` runs `margo-conformance selftest --scope full --jobs 4` and prints its wall time;
`--matrix FILE` prints the figures of a kill-matrix.json an earlier selftest wrote (CI's).

Targets (issue 13): both roles' default runs within 40 s together on the 2-core machine, the
full-scope kill matrix within 12 minutes there; (issue 8) suite overhead at most 10 % of the
one-worker wall time, every verdict within 100 ms of the awaited event.

Cold runs remove images that other runs on the same engine may be using; when a suite
container is running, cold is skipped (say --force-cold to remove them anyway).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import docker
import yaml

from margo_conformance.base.paths import FIXTURES_DIR, SUITE_ROOT
from margo_conformance.commands.fleet.stats import percentile
from margo_conformance.engine.sut import RUN_LABEL, free_host_port

SUT_FILES = {"agent": FIXTURES_DIR / "sut" / "reference-agent.yaml",
             "wos": FIXTURES_DIR / "sut" / "reference-wos.yaml"}
PROCESS_SUT_FILES = {"agent": FIXTURES_DIR / "sut" / "reference-agent-process.yaml",
                     "wos": FIXTURES_DIR / "sut" / "reference-wos-process.yaml"}
WALL_TARGET_S = 40.0
MATRIX_TARGET_S = 12 * 60.0
MATRIX_JOBS = 4
OVERHEAD_TARGET = 0.10
WAKE_TARGET_MS = 100.0
RUN_TIMEOUT_S = 900


@dataclass
class RunFigures:
    role: str
    mode: str  # cold | default | one worker | process | url
    workers: str  # "auto" or a count
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


@contextlib.contextmanager
def wos_at_url(folder: Path) -> Iterator[Path]:
    """The reference WOS as a process of its own, and a `launcher: url` SUT file naming it."""
    api_port, control_port = free_host_port(), free_host_port()
    api = f"http://127.0.0.1:{api_port}"
    env = {**os.environ, "MARGO_WOS_PUBLIC_URL": api, "MARGO_WOS_PORT": str(api_port),
           "MARGO_WOS_CONTROL_PORT": str(control_port), "MARGO_WOS_DATA_DIR": str(folder / "wos-data"),
           "PYTHONUNBUFFERED": "1"}
    wos = subprocess.Popen([sys.executable, "-m", "margo_wos"], cwd=SUITE_ROOT / "reference" / "wos", env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wos.stdout is not None
        for line in wos.stdout:  # the ready line, or the end of its output when it dies
            if "margo-reference-wos ready" in line:
                break
        sut = folder / "wos-at-url.yaml"
        sut.write_text(yaml.safe_dump({"name": "reference WOS at a URL", "role": "wos", "profiles": ["V24", "PR1"],
                                       "launcher": "url",
                                       "url": {"api": api, "control": f"http://127.0.0.1:{control_port}/control"}}))
        yield sut
    finally:
        wos.terminate()
        wos.wait(timeout=10)


def run_cli(role: str, mode: str, workers: str, report_dir: Path, sut_file: Path | None = None) -> RunFigures:
    sut_file = sut_file or (PROCESS_SUT_FILES[role] if mode == "process" else SUT_FILES[role])
    command = [sys.executable, "-m", "margo_conformance", "run", "--sut", str(sut_file),
               "--report-dir", str(report_dir), "--workers", workers]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    wall = time.perf_counter() - started
    try:
        results = json.loads((report_dir / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        results = {"verdict": "no results.json", "scenarios": []}
    return figures_from_results(role, mode, workers, completed.returncode, wall, results)


def figures_from_results(
    role: str, mode: str, workers: str, code: int, wall_s: float, results: dict[str, Any]
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
    header = (f"{'role':<6} {'mode':<11} {'workers':>7} {'wall s':>7} {'scen':>5} {'waiting s':>10} "
              f"{'overhead':>9}  verdict   event -> verdict")
    print(header)
    print("-" * len(header))
    for r in runs:
        share = f"{r.overhead_share:.0%}" if r.workers == "1" else "n/a"
        print(f"{r.role:<6} {r.mode:<11} {r.workers:>7} {r.wall_s:>7.1f} {r.scenarios:>5} {r.waiting_s:>10.1f} "
              f"{share:>9}  {r.verdict:<9} {delay_summary(r.wake_delays_ms)}")


def print_scenarios(run: RunFigures) -> None:
    print(f"\nPer scenario, {run.role} ({run.mode}): seconds of the scenario, waiting on the SUT, "
          "the suite's own; event -> verdict delays")
    for s in run.per_scenario:
        delays = ", ".join(f"{d:g}" for d in s["wake_delays_ms"]) or "-"
        print(f"  {s['duration_s']:6.2f} {s['waiting_s']:6.2f} {s['overhead_s']:6.2f}  "
              f"{s['name'][:70]:<70} [{delays}] ms")


def both_roles(runs: Sequence[RunFigures], mode: str) -> float | None:
    chosen = {r.role: r for r in runs if r.mode == mode}
    return round(sum(r.wall_s for r in chosen.values()), 1) if len(chosen) == 2 else None


def print_targets(runs: Sequence[RunFigures], matrix: dict[str, Any] | None) -> dict[str, Any]:
    delays = [d for r in runs for d in r.wake_delays_ms]
    verdicts: dict[str, Any] = {}
    print("\nTargets")
    chosen = {("agent", "default"), ("wos", "url")}
    shared = [r for r in runs if (r.role, r.mode) in chosen]
    for mode, label in (("default", "containers, --workers auto"), ("process", "local processes, no Docker"),
                        ("shared", "agent in containers, WOS at a URL")):
        total = both_roles(runs, mode) if mode != "shared" else \
            (round(sum(r.wall_s for r in shared), 1) if len(shared) == 2 else None)
        if total is not None:
            verdicts[f"{mode}_both_roles_s"] = total
            print(f"  both roles ({label}): {total:.1f} s (target <= {WALL_TARGET_S:.0f} s) -> "
                  f"{'MET' if total <= WALL_TARGET_S else 'NOT MET'}")
    for run in runs:
        if run.mode == "one worker":
            print(f"  suite overhead, {run.role}, one worker: {run.overhead_share:.1%} of wall time "
                  f"(target <= {OVERHEAD_TARGET:.0%}) -> "
                  f"{'MET' if run.overhead_share <= OVERHEAD_TARGET else 'NOT MET'}")
    if delays:
        worst = max(delays)
        verdicts["worst_wake_delay_ms"] = worst
        print(f"  event -> verdict: worst {worst:.1f} ms over {len(delays)} waits "
              f"(target <= {WAKE_TARGET_MS:.0f} ms) -> {'MET' if worst <= WAKE_TARGET_MS else 'NOT MET'}")
    if matrix is not None:
        verdicts["matrix"] = matrix
        wall = matrix.get("wall_s")
        shown = f"{wall / 60:.1f} min" if wall else "wall time not recorded"
        met = "" if not wall or matrix["scope"] != "full" else \
            f" -> {'MET' if wall <= MATRIX_TARGET_S else 'NOT MET'}"
        print(f"  kill matrix, scope {matrix['scope']}, {matrix['jobs']} at a time: {shown} "
              f"(target, full scope: <= {MATRIX_TARGET_S / 60:.0f} min){met}; {matrix['rows']} rows, "
              f"{matrix['run_s'] / 60:.1f} min of runs summed")
    return verdicts


def matrix_figures(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    rows = document.get("rows", [])
    return {"file": str(path), "scope": document.get("scope"), "jobs": document.get("jobs"),
            "wall_s": document.get("wall_s"), "rows": len(rows),
            "run_s": round(sum(float(r.get("seconds", 0)) for r in rows), 1)}


def run_matrix(report_dir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "margo_conformance", "selftest", "--scope", "full", "--jobs", str(MATRIX_JOBS),
               "--report-dir", str(report_dir)]
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, text=True, timeout=4 * 3600)
    figures = matrix_figures(report_dir / "kill-matrix.json")
    figures["wall_s"] = figures["wall_s"] or round(time.perf_counter() - started, 1)
    return figures


# -- main ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", default="agent,wos")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold runs")
    parser.add_argument("--no-single", action="store_true", help="skip the one-worker runs")
    parser.add_argument("--force-cold", action="store_true",
                        help="remove the reference images even when suite containers run")
    parser.add_argument("--matrix", nargs="?", const="run", default=None, metavar="FILE",
                        help="run the full-scope kill matrix, or read the figures of a kill-matrix.json")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args(argv)
    roles = [r for r in args.roles.split(",") if r]
    machine = machine_description()
    print(f"Machine: {machine['cores']} cores, {machine['cpu']}, {machine['memory_gib']} GiB, "
          f"{machine['os']}, Python {machine['python']}; load average at start "
          f"{', '.join(f'{x:.2f}' for x in machine['load_average'])}; {machine['date']}\n")
    runs: list[RunFigures] = []
    notes: list[str] = []
    matrix: dict[str, Any] | None = None
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
                    runs.append(run_cli(role, "cold", "auto", Path(tmp) / f"{role}-cold"))
            runs.append(run_cli(role, "default", "auto", Path(tmp) / f"{role}-default"))
            if not args.no_single:
                runs.append(run_cli(role, "one worker", "1", Path(tmp) / f"{role}-single"))
            runs.append(run_cli(role, "process", "auto", Path(tmp) / f"{role}-process"))
            if role == "wos":
                with wos_at_url(Path(tmp)) as sut:
                    runs.append(run_cli(role, "url", "auto", Path(tmp) / "wos-url", sut))
        if args.matrix == "run":
            matrix = run_matrix(Path(tmp) / "matrix")
        elif args.matrix:
            matrix = matrix_figures(Path(args.matrix))
    for note in notes:
        print(note)
    print()
    print_runs(runs)
    for run in runs:
        if run.mode == "default":
            print_scenarios(run)
    verdicts = print_targets(runs, matrix)
    machine["load_average_end"] = os.getloadavg()
    print(f"\nload average at end: {', '.join(f'{x:.2f}' for x in machine['load_average_end'])} "
          "(other work on the machine inflates wall times)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "notes": notes, "targets": verdicts,
                                         "runs": [asdict(r) for r in runs]}, indent=1))
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
