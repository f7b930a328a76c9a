"""`margo-conformance selftest`: prove the suite against its references and their mutants.

Each reference implementation must pass. Each mutant (one fault switch, one violated
requirement; fixtures/mutants/mutants.yaml) must be *killed*: at least one scenario fails,
and every scenario that fails traces to a violated requirement (anything else is a *false
failure*). The kill matrix is printed and written as kill-matrix.json and kill-matrix.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from margo_conformance.paths import FIXTURES_DIR
from margo_conformance.requirements import id_to_tag

MUTANTS_FILE = FIXTURES_DIR / "mutants" / "mutants.yaml"
RUN_TIMEOUT_S = 900
Log = Callable[[str], None]


@dataclass(frozen=True)
class Mutant:
    role: str
    name: str  # the fault switch; "reference" for the unmutated implementation
    sut: Path
    fault_variable: str
    violates: tuple[str, ...] = ()
    outcome: str = "fail"
    select: str | None = None
    timeouts: dict[str, float] = field(default_factory=dict)

    @property
    def is_reference(self) -> bool:
        return self.name == "reference"


@dataclass
class MatrixRow:
    role: str
    mutant: str
    violates: list[str]
    verdict: str
    killed_by: list[str]
    false_failures: list[str]
    ok: bool
    seconds: float
    note: str = ""


def load_mutants(path: Path = MUTANTS_FILE, roles: Iterable[str] | None = None) -> list[Mutant]:
    """References first, then their mutants, for the roles asked for."""
    document = yaml.safe_load(path.read_text())
    chosen: list[Mutant] = []
    for role, entry in document.items():
        if roles is not None and role not in roles:
            continue
        sut = FIXTURES_DIR / "sut" / entry["sut"]
        variable = entry["fault_variable"]
        chosen.append(Mutant(role, "reference", sut, variable, outcome="pass"))
        for item in entry["mutants"]:
            chosen.append(
                Mutant(
                    role=role,
                    name=item["fault"],
                    sut=sut,
                    fault_variable=variable,
                    violates=tuple(item["violates"]),
                    outcome=item.get("outcome", "fail"),
                    select=item.get("select"),
                    timeouts=dict(item.get("timeouts", {})),
                )
            )
    return chosen


def mutant_sut_file(mutant: Mutant, directory: Path) -> Path:
    """The reference SUT file with the fault switched on (and any timeouts tightened)."""
    document = yaml.safe_load(mutant.sut.read_text())
    if "build" in document:
        document["build"]["context"] = str((mutant.sut.parent / document["build"]["context"]).resolve())
    if not mutant.is_reference:
        document.setdefault("env", {})[mutant.fault_variable] = mutant.name
    if mutant.timeouts:
        document.setdefault("timeouts", {}).update(mutant.timeouts)
    target = directory / f"{mutant.role}-{mutant.name}.sut.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def mutant_selection(mutant: Mutant) -> str | None:
    """The scenarios a mutant runs: its own `select`, else those tracing to what it violates.

    References run everything. A mutant breaks one code path, so its kill (and any false
    failure) shows among the scenarios of its requirements; running the rest again for every
    mutant would cost the CI budget without adding evidence.
    """
    if mutant.select:
        return mutant.select
    if mutant.is_reference or mutant.outcome == "error":
        return None
    return " or ".join(id_to_tag(r) for r in mutant.violates)


def judge(mutant: Mutant, results: dict[str, Any]) -> tuple[list[str], list[str], bool, str]:
    """(killed_by, false_failures, ok, note) for one run's results tree."""
    # Scenarios of profiles the SUT does not claim are skipped in every run; they judge nothing.
    scenarios = [s for s in results.get("scenarios", []) if s["outcome"] != "skip"]
    bad = [s for s in scenarios if s["outcome"] in ("fail", "error")]
    if mutant.is_reference:
        names = [s["name"] for s in bad]
        ok = results.get("verdict") == "pass"
        return [], names, ok, "" if ok else f"reference verdict {results.get('verdict')}"
    if mutant.outcome == "error":
        killed = [s["name"] for s in bad if s["outcome"] == "error"]
        ok = results.get("verdict") == "error" and len(killed) == len(scenarios) > 0
        return killed, [], ok, "" if ok else "expected every scenario to end in ERROR"
    violated = set(mutant.violates)
    killed = [s["name"] for s in bad if s["outcome"] == "fail" and violated & set(s["requirements"])]
    false = [s["name"] for s in bad if s["name"] not in killed]
    ok = bool(killed) and not false
    note = "" if ok else ("survived: no scenario failed" if not killed else "false failures")
    return killed, false, ok, note


def run_one(mutant: Mutant, report_root: Path, log: Log) -> MatrixRow:
    directory = report_root / "mutants" / f"{mutant.role}-{mutant.name}"
    directory.mkdir(parents=True, exist_ok=True)
    sut_file = mutant_sut_file(mutant, directory)
    command = [sys.executable, "-m", "margo_conformance.cli", "run", "--sut", str(sut_file),
               "--report-dir", str(directory)]
    selection = mutant_selection(mutant)
    if selection:
        command += ["-m", selection]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    (directory / "run.log").write_text(completed.stdout + completed.stderr)
    seconds = time.monotonic() - started
    try:
        results = json.loads((directory / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        return MatrixRow(mutant.role, mutant.name, list(mutant.violates), "missing", [], [], False, seconds,
                         f"no results.json (exit {completed.returncode})")
    killed, false, ok, note = judge(mutant, results)
    row = MatrixRow(mutant.role, mutant.name, list(mutant.violates), results.get("verdict", "?"),
                    killed, false, ok, round(seconds, 1), note)
    log(f"{'ok ' if ok else 'BAD'} {mutant.role:<5} {mutant.name:<36} {row.verdict:<7} "
        f"killed by {len(killed)}, false failures {len(false)} ({seconds:.0f}s) {note}")
    return row


def run_selftest(report_root: Path, roles: Iterable[str] | None, log: Log) -> list[MatrixRow]:
    mutants = load_mutants(roles=roles)
    rows = [run_one(m, report_root, log) for m in mutants]
    write_matrix(report_root, rows)
    return rows


def write_matrix(report_root: Path, rows: list[MatrixRow]) -> None:
    report_root.mkdir(parents=True, exist_ok=True)
    (report_root / "kill-matrix.json").write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    (report_root / "kill-matrix.md").write_text(matrix_markdown(rows))


def matrix_markdown(rows: list[MatrixRow]) -> str:
    mutants = [r for r in rows if r.mutant != "reference"]
    killed = sum(1 for r in mutants if r.ok)
    lines = [
        f"Mutants killed: {killed}/{len(mutants)}; references passing: "
        f"{sum(1 for r in rows if r.mutant == 'reference' and r.ok)}/{sum(1 for r in rows if r.mutant == 'reference')}",
        "",
        "| role | mutant | violates | verdict | killed by | false failures |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.role} | {r.mutant} | {', '.join(r.violates) or '-'} | {r.verdict} | "
            f"{'; '.join(r.killed_by) or '-'} | {'; '.join(r.false_failures) or '-'} |"
        )
    return "\n".join(lines) + "\n"
