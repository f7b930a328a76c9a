"""`margo-conformance selftest`: prove the suite against its references and their mutants.

Every reference and mutant of the mutants file (margo_conformance.commands.mutants) runs the
suite as a child run; margo_conformance.commands.kill_judgement judges each run's results and
margo_conformance.commands.kill_matrix writes the kill matrix (kill-matrix.json and
kill-matrix.md, with the mutation coverage), which is also printed.

A false failure is confirmed before it counts: the scenarios that failed outside the violated
requirements run once more against the same mutant, after every mutant has run and one mutant
at a time, so the second run does not share the machine with the parallel ones. Those that
fail again are false failures; those that pass are *unconfirmed* (a wobble under load, not a
misplaced check): shown with their first failure message in the matrix, without failing the row.
Likewise a mutant that survived while scenarios ended in ERROR (a scenario that could not be
judged, such as an agent still onboarding when its downtime window opened on a busy machine)
runs those scenarios once more alone; the matrix says when that second run killed it.

The references run first, one at a time, so their verdicts never depend on load and their
runs build the images the mutants reuse; the mutants then run `jobs` at a time, each in its
own run (run id, emulator ports, containers), so they do not see each other.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from margo_conformance.base.errors import ConfigError
from margo_conformance.commands.kill_judgement import (
    Judgement,
    MatrixRow,
    first_line,
    judge,
    matrix_row,
    mutant_note,
)
from margo_conformance.commands.kill_matrix import write_matrix
from margo_conformance.commands.mutants import (
    ADVISORY_OUTCOME,
    FAULT_POINT_LINE,
    MUTANTS_FILE,
    REACHED,
    REFERENCE,
    TRACED,
    Mutant,
    load_mutants,
    mutant_selection,
    mutant_sut_file,
    mutation_coverage,
)
from margo_conformance.commands.subruns import run_suite

RUN_TIMEOUT_S = 900
# Each child run in two processes: its scenarios mostly wait on the SUT, so --jobs 4 runs of two
# workers each keep two cores busy (a full-scope matrix took about twice as long with one worker
# per run); the run's own default (auto) would multiply with --jobs on a small machine. A false
# failure is confirmed afterwards by a run of its own (--rerun-failed), one mutant at a time.
CHILD_WORKERS = ("--workers", "2")
Log = Callable[[str], None]


def run_one(
    mutant: Mutant, report_root: Path, log: Log, scope: str = TRACED, only: Sequence[str] | None = None
) -> MatrixRow:
    """One mutant's run and its row; `only`: the node ids it runs (the `reached` scope)."""
    if only is not None and not only:
        return unreached_row(mutant)
    directory = report_root / "mutants" / mutant.slug
    directory.mkdir(parents=True, exist_ok=True)
    sut_file = mutant_sut_file(mutant, directory, report_fault_points=mutant.is_reference and scope == REACHED)
    arguments = ["--sut", str(sut_file), "--report-dir", str(directory), *CHILD_WORKERS]
    selection = mutant_selection(mutant, scope)
    if selection:
        arguments += ["-m", selection]
    if only is not None:
        chosen = directory / "scenarios.json"
        chosen.write_text(json.dumps(sorted(only), indent=1) + "\n")
        arguments += ["--only-scenarios", str(chosen)]
    started = time.monotonic()
    child = run_suite(arguments, RUN_TIMEOUT_S)
    (directory / "run.log").write_text(child.output)
    seconds = round(time.monotonic() - started, 1)
    try:
        results = json.loads((directory / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        why = f"run outlived {RUN_TIMEOUT_S}s and was stopped" if child.timed_out else "no results.json"
        row = MatrixRow(mutant.role, mutant.name, list(mutant.violates), "missing", [], [], False, seconds,
                        f"{why} (exit {child.returncode}); see {directory / 'run.log'}")
        log(f"BAD {mutant.role:<5} {mutant.name:<36} {row.note}")
        return row
    found = judge(mutant, results)
    row = matrix_row(mutant, results, found, seconds)
    log_row(row, log, "" if mutant.is_reference or not found.false_failures else " (to be confirmed)")
    return row


def log_row(row: MatrixRow, log: Log, suffix: str = "") -> None:
    log(f"{'ok ' if row.ok else 'BAD'} {row.role:<5} {row.mutant:<36} {row.verdict:<7} "
        f"killed by {len(row.killed_by)}, false failures {len(row.false_failures)}, "
        f"blocked {len(row.blocked)} ({row.seconds:.0f}s) {row.note}"
        + (f" unconfirmed: {len(row.unconfirmed)}" if row.unconfirmed else "") + suffix)


def confirm_row(mutant: Mutant, row: MatrixRow, report_root: Path, log: Log) -> MatrixRow:
    """A mutant row with false failures, after they ran once more (see `confirm_false_failures`)."""
    directory = report_root / "mutants" / mutant.slug
    results = json.loads((directory / "results.json").read_text())
    sut_file = directory / f"{mutant.slug}.sut.yaml"
    started = time.monotonic()
    found, unconfirmed = confirm_false_failures(judge(mutant, results), results, sut_file, directory / "confirm", log)
    confirmed = matrix_row(mutant, results, found, round(row.seconds + time.monotonic() - started, 1), unconfirmed)
    log_row(confirmed, log, " (confirmed)")
    return confirmed


def retry_blocked_row(mutant: Mutant, row: MatrixRow, report_root: Path, log: Log) -> MatrixRow:
    """A surviving mutant whose run had scenarios in ERROR, after those ran once more alone: the
    second run's judgement when it killed the mutant (the note says so), else the first row."""
    directory = report_root / "mutants" / mutant.slug
    results = json.loads((directory / "results.json").read_text())
    started = time.monotonic()
    again = rerun_scenarios(row.blocked, results, directory / f"{mutant.slug}.sut.yaml",
                            directory / "retry-blocked")
    found = judge(mutant, again) if again else None
    seconds = round(row.seconds + time.monotonic() - started, 1)
    if found is None or not found.killed_by:
        retried = dataclasses.replace(row, seconds=seconds, note=f"{row.note}; its {len(row.blocked)} scenario(s) "
                                      "in ERROR ran again alone and did not kill it either")
        log_row(retried, log, " (blocked scenarios retried)")
        return retried
    note = (found.note + "; " if found.note else "") + (
        f"killed when its {len(row.blocked)} scenario(s) in ERROR ran again alone (first run: "
        + "; ".join(f"{s['name']}: {first_line(s.get('message', ''), 160)}"
                    for s in results["scenarios"] if s["name"] in row.blocked[:2]) + ")")
    retried = dataclasses.replace(matrix_row(mutant, again, found, seconds), note=note)
    log_row(retried, log, " (blocked scenarios retried)")
    return retried


def unreached_row(mutant: Mutant) -> MatrixRow:
    """No scenario of the reference reached the mutant's switch: nothing can tell it apart."""
    note = "not killed: no scenario reaches its fault switch (reference/*/faults.py), so no run can tell it apart"
    return MatrixRow(mutant.role, mutant.name, list(mutant.violates), "not run", [], [], False, 0.0, note)


def reached_scenarios(reference_report: Path) -> dict[str, list[str]]:
    """Fault switch -> node ids of the reference run's scenarios whose code asked about it (the
    SUT log lines in each scenario's evidence). A scenario that never asks about a switch runs
    the same code with it on, so only these can differ from the reference with that mutant."""
    results = json.loads((reference_report / "results.json").read_text())
    reached: dict[str, list[str]] = {}
    for scenario in results.get("scenarios", []):
        evidence = scenario.get("evidence")
        if not evidence or not scenario.get("nodeid"):
            continue
        try:
            events = json.loads((reference_report / evidence).read_text()).get("events", [])
        except (OSError, json.JSONDecodeError):
            continue
        for event in events:
            text = str(event.get("summary", ""))
            if event.get("kind") == "log" and FAULT_POINT_LINE in text:
                name = text.split(FAULT_POINT_LINE, 1)[1].strip()
                reached.setdefault(name, []).append(scenario["nodeid"])
    return {name: sorted(set(nodeids)) for name, nodeids in reached.items()}


def confirm_false_failures(
    found: Judgement, results: dict[str, Any], sut_file: Path, directory: Path, log: Log
) -> tuple[Judgement, dict[str, str]]:
    """Run the falsely failed scenarios once more (the same SUT file, through --rerun-failed);
    those that pass are returned as unconfirmed, those that fail or cannot be judged stay."""
    again = rerun_scenarios(found.false_failures, results, sut_file, directory)
    passed = {s["name"] for s in (again or {}).get("scenarios", []) if s.get("outcome") == "pass"}
    unconfirmed = {name: found.reasons.get(name, "") for name in found.false_failures if name in passed}
    if unconfirmed:
        log(f"    {len(unconfirmed)} false failure(s) passed when run again: {', '.join(sorted(unconfirmed))}")
    confirmed = [name for name in found.false_failures if name not in unconfirmed]
    note = mutant_note(found.killed_by, confirmed, advisory=found.how == ADVISORY_OUTCOME)
    return (
        Judgement(found.killed_by, confirmed, found.blocked, not note, note, {n: found.reasons[n] for n in confirmed},
                  found.advisories, found.how),
        unconfirmed,
    )


def rerun_scenarios(
    names: Sequence[str], results: dict[str, Any], sut_file: Path, directory: Path
) -> dict[str, Any] | None:
    """The named scenarios of a run once more (the same SUT file, through --rerun-failed, which
    takes the scenarios that failed or errored): the new run's results, None if it wrote none."""
    directory.mkdir(parents=True, exist_ok=True)
    subset = directory / "rerun.json"
    chosen = [s for s in results["scenarios"] if s["name"] in names and s.get("outcome") in ("fail", "error")]
    subset.write_text(json.dumps({"scenarios": chosen}, indent=2) + "\n")
    arguments = ["--sut", str(sut_file), "--report-dir", str(directory), "--rerun-failed", str(subset), *CHILD_WORKERS]
    child = run_suite(arguments, RUN_TIMEOUT_S)
    (directory / "run.log").write_text(child.output)
    try:
        return json.loads((directory / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def run_selftest(
    report_root: Path,
    roles: Iterable[str] | None,
    log: Log,
    jobs: int = 1,
    scope: str = TRACED,
    names: Iterable[str] | None = None,
) -> list[MatrixRow]:
    started = time.monotonic()
    mutants = load_mutants(roles=roles)
    if names is not None:
        wanted = set(names)
        unknown = wanted - {m.name for m in mutants}
        if unknown:
            raise ConfigError(f"no mutant named {', '.join(sorted(unknown))} in {MUTANTS_FILE.name}")
        # The reached scope needs the references a mutant is judged against: they say where each
        # switch is asked ('reference' asks for both of a role's references).
        launchers = {m.launcher for m in mutants if m.name in wanted} if scope == REACHED else set()
        mutants = [m for m in mutants if m.name in wanted or (m.is_reference and (
            REFERENCE in wanted or m.launcher in launchers))]
    rows = {i: run_one(m, report_root, log, scope) for i, m in enumerate(mutants) if m.is_reference}
    reached = {(m.role, m.launcher): _reached_by_reference(report_root, m, log) for m in mutants if m.is_reference} \
        if scope == REACHED else {}

    def scope_of(mutant: Mutant) -> list[str] | None:
        return reached[mutant.role, mutant.launcher].get(mutant.name, []) if scope == REACHED else None

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending = {
            i: pool.submit(run_one, m, report_root, log, scope, scope_of(m))
            for i, m in enumerate(mutants) if not m.is_reference
        }
        rows.update({i: future.result() for i, future in pending.items()})
    # False failures run again only now, one mutant at a time: a scenario that failed because
    # the machine was busy with the other runs gets its second run on a quieter machine.
    for i, mutant in enumerate(mutants):
        if not mutant.is_reference and rows[i].false_failures:
            rows[i] = confirm_row(mutant, rows[i], report_root, log)
        if not mutant.is_reference and not rows[i].killed_by and rows[i].blocked:
            rows[i] = retry_blocked_row(mutant, rows[i], report_root, log)
    ordered = [rows[i] for i in range(len(mutants))]
    # Coverage is a property of the whole mutants file, whichever roles this run chose.
    write_matrix(report_root, ordered, mutation_coverage(load_mutants()), scope,
                 wall_s=round(time.monotonic() - started, 1), jobs=jobs)
    return ordered


def _reached_by_reference(report_root: Path, reference: Mutant, log: Log) -> dict[str, list[str]]:
    """Where the reference's run asked about each switch; its mutants (same launcher) run there."""
    directory = report_root / "mutants" / reference.slug
    if not (directory / "results.json").is_file():
        raise ConfigError(f"the reached scope needs the {reference.role} {reference.name} run first "
                          "(add --mutant reference)")
    reached = reached_scenarios(directory)
    log(f"{reference.role} {reference.name}: {len(reached)} fault switch(es) reached; scenarios per switch: "
        + ", ".join(f"{name} {len(ids)}" for name, ids in sorted(reached.items())))
    return reached
