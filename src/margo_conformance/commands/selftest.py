"""`margo-conformance selftest`: prove the suite against its references and their mutants.

Each reference implementation must pass. Each mutant (one fault switch, one violated
requirement; fixtures/mutants/mutants.yaml) must be *killed*: a check naming a requirement it
violates fails, and no check fails naming a requirement it does not violate (a *false
failure*). Judged per check (`failed_requirements` of each scenario in results.json); a
failure no check named (a plain assertion) is judged by the scenario's requirement tags, as a
whole: false only when none of its tags is violated. A scenario that ended in error, blocked
or not, is never a false failure; a blocked one still kills when the requirement it names as
broken at the prerequisite is violated. The kill matrix is printed and written as kill-matrix.json and kill-matrix.md,
with the mutation coverage: which MUST requirements the features trace, and which of them
no mutant violates.

A mutant whose fault breaks only a choice the spec leaves open (`outcome: advisory` in the
mutants file: a V24 WOS answering a bad request with a 5xx, which V24 allows) must not fail
anything: it is killed by an *advisory finding*, an advisory check that did not hold and names
a row it violates, in a run with no failed requirement at all (every failed check is false
there). Its row's verdict is "advisory".

A false failure is confirmed before it counts: the scenarios that failed outside the violated
requirements run once more against the same mutant, after every mutant has run and one mutant
at a time, so the second run does not share the machine with the parallel ones. Those that
fail again are false failures; those that pass are *unconfirmed* (a wobble under load, not a
misplaced check): shown with their first failure message in the matrix, without failing the row.

The references run first, one at a time, so their verdicts never depend on load and their
runs build the images the mutants reuse; the mutants then run `jobs` at a time, each in its
own run (run id, emulator ports, containers), so they do not see each other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from margo_conformance.base.errors import ConfigError
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.base.requirements import id_to_tag, load_catalogue
from margo_conformance.commands.subruns import run_suite

MUTANTS_FILE = FIXTURES_DIR / "mutants" / "mutants.yaml"
RUN_TIMEOUT_S = 900
# Each child run in two processes: its scenarios mostly wait on the SUT, so --jobs 4 runs of two
# workers each keep two cores busy (a full-scope matrix took about twice as long with one worker
# per run); the run's own default (auto) would multiply with --jobs on a small machine. A false
# failure is confirmed afterwards by a run of its own (--rerun-failed), one mutant at a time.
CHILD_WORKERS = ("--workers", "2")
#: Which scenarios a mutant runs (see `mutant_selection` and `reached_scenarios`).
TRACED, REACHED, FULL = "traced", "reached", "full"
SCOPES = (TRACED, REACHED, FULL)
#: The variable that makes the reference implementations say which fault switches a scenario's
#: code asks about, and the line they say it with (reference/*/faults.py).
FAULT_POINTS_VARIABLE = "MARGO_FAULT_POINTS"
FAULT_POINT_LINE = "fault point reached: "
#: What a mutant's run must show (the mutants file's `outcome`): a failed check, every scenario
#: in ERROR (an agent that never starts), or only an advisory finding (a choice the spec leaves open).
FAIL_OUTCOME, ERROR_OUTCOME, ADVISORY_OUTCOME = "fail", "error", "advisory"
MUTANT_OUTCOMES = (FAIL_OUTCOME, ERROR_OUTCOME, ADVISORY_OUTCOME)
Log = Callable[[str], None]


@dataclass(frozen=True)
class Mutant:
    role: str
    name: str  # the fault switch; "reference" for the unmutated implementation
    sut: Path
    fault_variable: str
    violates: tuple[str, ...] = ()
    outcome: str = FAIL_OUTCOME
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
    #: Scenarios that ended in ERROR: the mutant kept them from reaching their checks (an agent
    #: that never onboards cannot be asked about status). No verdict on anything, so not false.
    blocked: list[str] = field(default_factory=list)
    #: Scenario -> the first line of its failure message, for every false failure, so a CI log
    #: that only keeps the matrix still says what went wrong.
    reasons: dict[str, str] = field(default_factory=dict)
    #: False failures that passed when run again: scenario -> the first failure's message.
    unconfirmed: dict[str, str] = field(default_factory=dict)
    #: How the mutant was killed: "fail" (a failed check) or "advisory" (an advisory finding).
    killed_how: str = FAIL_OUTCOME
    #: For an advisory kill: scenario -> the advisory finding that killed it.
    advisories: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    killed_by: list[str]
    false_failures: list[str]
    blocked: list[str]
    ok: bool
    note: str = ""
    reasons: dict[str, str] = field(default_factory=dict)
    advisories: dict[str, str] = field(default_factory=dict)
    how: str = FAIL_OUTCOME  # what kills the mutant: a failed check, or an advisory finding


def first_line(message: str, limit: int = 300) -> str:
    lines = (message or "").strip().splitlines()
    line = lines[0] if lines else "(no message)"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def mutant_note(killed: list[str], false: list[str], advisory: bool = False) -> str:
    if not killed:
        return "survived: no advisory finding names what it violates" if advisory else "survived: no scenario failed"
    return "false failures" if false else ""


@dataclass(frozen=True)
class MutationCoverage:
    """Which MUST requirements the features trace, and which of those some mutant violates."""

    traced_must: tuple[str, ...]
    mutated: tuple[str, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(r for r in self.traced_must if r not in self.mutated)

    def summary(self) -> str:
        text = f"MUST requirements traced by the features: {len(self.traced_must)}; with a mutant: " \
               f"{len(self.traced_must) - len(self.missing)}"
        return text + (f"; without: {', '.join(self.missing)}" if self.missing else "")

    def to_json(self) -> dict[str, Any]:
        return {"traced_must": list(self.traced_must), "mutated": list(self.mutated), "missing": list(self.missing)}


def traced_must_requirements() -> tuple[str, ...]:
    """MUST-level catalogue requirements that at least one feature scenario is tagged with."""
    from margo_conformance.commands.listing import feature_scenarios

    catalogue = load_catalogue()
    traced = {r for s in feature_scenarios() for r in s.requirements}
    return tuple(r for r in catalogue if r in traced and catalogue[r].level == "must")


def mutation_coverage(mutants: Iterable[Mutant]) -> MutationCoverage:
    """An advisory mutant breaks a choice, not a requirement: it covers nothing."""
    traced = traced_must_requirements()
    violated = {r for m in mutants if m.outcome != ADVISORY_OUTCOME for r in m.violates}
    return MutationCoverage(traced, tuple(r for r in traced if r in violated))


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
            if item.get("outcome", FAIL_OUTCOME) not in MUTANT_OUTCOMES:
                raise ConfigError(f"{path.name}: mutant {item['fault']}: outcome must be one of "
                                  f"{', '.join(MUTANT_OUTCOMES)}, not {item['outcome']!r}")
            chosen.append(
                Mutant(
                    role=role,
                    name=item["fault"],
                    sut=sut,
                    fault_variable=variable,
                    violates=tuple(item["violates"]),
                    outcome=item.get("outcome", FAIL_OUTCOME),
                    select=item.get("select"),
                    timeouts=dict(item.get("timeouts", {})),
                )
            )
    return chosen


def mutant_sut_file(mutant: Mutant, directory: Path, report_fault_points: bool = False) -> Path:
    """The reference SUT file with the fault switched on (and any timeouts tightened); for a
    reference in the `reached` scope, with the fault points reported."""
    document = yaml.safe_load(mutant.sut.read_text())
    if "build" in document:
        document["build"]["context"] = str((mutant.sut.parent / document["build"]["context"]).resolve())
    if report_fault_points:
        document.setdefault("env", {})[FAULT_POINTS_VARIABLE] = "1"
    if not mutant.is_reference:
        document.setdefault("env", {})[mutant.fault_variable] = mutant.name
    if mutant.timeouts:
        document.setdefault("timeouts", {}).update(mutant.timeouts)
    target = directory / f"{mutant.role}-{mutant.name}.sut.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def mutant_selection(mutant: Mutant, scope: str = TRACED) -> str | None:
    """The scenarios a mutant runs: its own `select`, else those tracing to what it violates.

    References run everything. In the `traced` scope a mutant runs the scenarios of its
    requirements, where its kill shows, which keeps the matrix within the CI budget; the
    `full` scope runs every scenario of its role, so a fault that breaks more than it claims,
    or a scenario failing for a requirement it does not trace, shows as a false failure.
    """
    if scope in (FULL, REACHED):
        return None
    if mutant.select:
        return mutant.select
    if mutant.is_reference or mutant.outcome == ERROR_OUTCOME:
        return None
    return " or ".join(id_to_tag(r) for r in mutant.violates)


def judge(mutant: Mutant, results: dict[str, Any]) -> Judgement:
    """How one run's results tree judges a reference (everything passes) or a mutant (a FAIL
    tracing what it violates, and no FAIL tracing anything else)."""
    # Scenarios of profiles the SUT does not claim are skipped in every run; they judge nothing.
    scenarios = [s for s in results.get("scenarios", []) if s["outcome"] != "skip"]
    failed = [s["name"] for s in scenarios if s["outcome"] == "fail"]
    errored = [s["name"] for s in scenarios if s["outcome"] == "error"]
    messages = {s["name"]: first_line(s.get("message", "")) for s in scenarios if s["outcome"] in ("fail", "error")}
    if mutant.is_reference:
        ok = results.get("verdict") == "pass"
        wrong = failed + errored
        return Judgement([], wrong, [], ok, "" if ok else f"reference verdict {results.get('verdict')}",
                         {n: messages[n] for n in wrong})
    if mutant.outcome == ERROR_OUTCOME:
        ok = results.get("verdict") == "error" and len(errored) == len(scenarios) > 0
        return Judgement(errored, failed, [], ok, "" if ok else "expected every scenario to end in ERROR",
                         {n: messages[n] for n in failed})
    if mutant.outcome == ADVISORY_OUTCOME:
        return judge_advisory(mutant, scenarios, messages)
    violated = set(mutant.violates)
    killed: list[str] = []
    false: list[str] = []
    reasons: dict[str, str] = {}
    for scenario in scenarios:
        named, traced_by = failed_requirements_of(scenario)
        if violated & set(named):
            killed.append(scenario["name"])
        wrong = [r for r in named if r not in violated]
        if scenario["outcome"] != "fail" or not wrong or (traced_by == "tags" and violated & set(named)):
            continue  # errors and blocked scenarios are not verdicts; a tag-traced failure counts whole
        false.append(scenario["name"])
        blame = "" if traced_by == "tags" else f"{', '.join(wrong)} failed: "
        reasons[scenario["name"]] = blame + messages[scenario["name"]]
    blocked = [s["name"] for s in scenarios if s["outcome"] == "error" and s["name"] not in killed]
    note = mutant_note(killed, false)
    return Judgement(killed, false, blocked, not note, note, reasons)


def advisory_findings(scenario: dict[str, Any], rows: set[str]) -> list[str]:
    """The messages of the scenario's advisory checks that did not hold and name one of `rows`
    (as a requirement they check, or as a catalogued I-/A- row they rest on)."""
    return [
        str(check.get("message", ""))
        for check in scenario.get("checks", [])
        if check.get("kind") == "advisory" and not check.get("passed")
        and rows & (set(check.get("requirements", ())) | set(check.get("ambiguities", ())))
    ]


def judge_advisory(mutant: Mutant, scenarios: list[dict[str, Any]], messages: dict[str, str]) -> Judgement:
    """An advisory mutant: killed by an advisory finding naming a row it violates; any failed
    requirement is a false failure, since what it breaks is a choice the spec leaves open."""
    rows = set(mutant.violates)
    advisories: dict[str, str] = {}
    false: list[str] = []
    reasons: dict[str, str] = {}
    for scenario in scenarios:
        findings = advisory_findings(scenario, rows)
        if findings:
            advisories[scenario["name"]] = first_line(findings[0])
        named, traced_by = failed_requirements_of(scenario)
        if scenario["outcome"] == "fail" or (scenario["outcome"] == "error" and named):
            false.append(scenario["name"])
            blame = "" if traced_by == "tags" or not named else f"{', '.join(named)} failed: "
            reasons[scenario["name"]] = blame + messages[scenario["name"]]
    killed = list(advisories)
    blocked = [s["name"] for s in scenarios if s["outcome"] == "error" and s["name"] not in false]
    note = mutant_note(killed, false, advisory=True)
    return Judgement(killed, false, blocked, not note, note, reasons, advisories, ADVISORY_OUTCOME)


def matrix_verdict(mutant: Mutant, results: dict[str, Any], found: Judgement) -> str:
    """The row's verdict: the run's, or "advisory" for a passing run an advisory finding killed."""
    verdict = str(results.get("verdict", "?"))
    if mutant.outcome == ADVISORY_OUTCOME and verdict == "pass" and found.advisories:
        return ADVISORY_OUTCOME
    return verdict


def failed_requirements_of(scenario: dict[str, Any]) -> tuple[list[str], str]:
    """(requirements, checks|tags) a scenario of results.json failed; results written before
    per-check outcomes have no `failed_requirements`: a failure there fails its tags."""
    if "failed_requirements" in scenario:
        return list(scenario["failed_requirements"]), str(scenario.get("traced_by") or "tags")
    if scenario["outcome"] == "fail":
        return list(scenario["requirements"]), "tags"
    return [], "tags"


def run_one(
    mutant: Mutant, report_root: Path, log: Log, scope: str = TRACED, only: Sequence[str] | None = None
) -> MatrixRow:
    """One mutant's run and its row; `only`: the node ids it runs (the `reached` scope)."""
    if only is not None and not only:
        return unreached_row(mutant)
    directory = report_root / "mutants" / f"{mutant.role}-{mutant.name}"
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


def matrix_row(
    mutant: Mutant, results: dict[str, Any], found: Judgement, seconds: float, unconfirmed: dict[str, str] | None = None
) -> MatrixRow:
    return MatrixRow(mutant.role, mutant.name, list(mutant.violates), matrix_verdict(mutant, results, found),
                     found.killed_by, found.false_failures, found.ok, seconds, found.note, found.blocked,
                     found.reasons, unconfirmed or {}, found.how, found.advisories)


def log_row(row: MatrixRow, log: Log, suffix: str = "") -> None:
    log(f"{'ok ' if row.ok else 'BAD'} {row.role:<5} {row.mutant:<36} {row.verdict:<7} "
        f"killed by {len(row.killed_by)}, false failures {len(row.false_failures)}, "
        f"blocked {len(row.blocked)} ({row.seconds:.0f}s) {row.note}"
        + (f" unconfirmed: {len(row.unconfirmed)}" if row.unconfirmed else "") + suffix)


def confirm_row(mutant: Mutant, row: MatrixRow, report_root: Path, log: Log) -> MatrixRow:
    """A mutant row with false failures, after they ran once more (see `confirm_false_failures`)."""
    directory = report_root / "mutants" / f"{mutant.role}-{mutant.name}"
    results = json.loads((directory / "results.json").read_text())
    sut_file = directory / f"{mutant.role}-{mutant.name}.sut.yaml"
    started = time.monotonic()
    found, unconfirmed = confirm_false_failures(judge(mutant, results), results, sut_file, directory / "confirm", log)
    confirmed = matrix_row(mutant, results, found, round(row.seconds + time.monotonic() - started, 1), unconfirmed)
    log_row(confirmed, log, " (confirmed)")
    return confirmed


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
    directory.mkdir(parents=True, exist_ok=True)
    suspects = [s for s in results["scenarios"] if s["name"] in found.false_failures]
    subset = directory / "false-failures.json"
    subset.write_text(json.dumps({"scenarios": suspects}, indent=2) + "\n")
    arguments = ["--sut", str(sut_file), "--report-dir", str(directory), "--rerun-failed", str(subset), *CHILD_WORKERS]
    child = run_suite(arguments, RUN_TIMEOUT_S)
    (directory / "run.log").write_text(child.output)
    passed = passed_scenarios(directory / "results.json")
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


def passed_scenarios(results_path: Path) -> set[str]:
    try:
        results = json.loads(results_path.read_text())
    except (OSError, json.JSONDecodeError):
        return set()
    return {s["name"] for s in results.get("scenarios", []) if s.get("outcome") == "pass"}


def run_selftest(
    report_root: Path,
    roles: Iterable[str] | None,
    log: Log,
    jobs: int = 1,
    scope: str = TRACED,
    names: Iterable[str] | None = None,
) -> list[MatrixRow]:
    mutants = load_mutants(roles=roles)
    if names is not None:
        # The reached scope needs each role's reference run: it says where each switch is asked.
        wanted = set(names) | ({"reference"} if scope == REACHED else set())
        unknown = wanted - {m.name for m in mutants}
        if unknown:
            raise ConfigError(f"no mutant named {', '.join(sorted(unknown))} in {MUTANTS_FILE.name}")
        mutants = [m for m in mutants if m.name in wanted]
    rows = {i: run_one(m, report_root, log, scope) for i, m in enumerate(mutants) if m.is_reference}
    reached = {role: _reached_by_reference(report_root, role, log) for role in {m.role for m in mutants}} \
        if scope == REACHED else {}

    def scope_of(mutant: Mutant) -> list[str] | None:
        return reached[mutant.role].get(mutant.name, []) if scope == REACHED else None

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
    ordered = [rows[i] for i in range(len(mutants))]
    # Coverage is a property of the whole mutants file, whichever roles this run chose.
    write_matrix(report_root, ordered, mutation_coverage(load_mutants()), scope)
    return ordered


def _reached_by_reference(report_root: Path, role: str, log: Log) -> dict[str, list[str]]:
    reference = report_root / "mutants" / f"{role}-reference"
    if not (reference / "results.json").is_file():
        raise ConfigError(f"the reached scope needs the {role} reference's run first (add --mutant reference)")
    reached = reached_scenarios(reference)
    log(f"{role} reference: {len(reached)} fault switch(es) reached; scenarios per switch: "
        + ", ".join(f"{name} {len(ids)}" for name, ids in sorted(reached.items())))
    return reached


def write_matrix(report_root: Path, rows: list[MatrixRow], coverage: MutationCoverage, scope: str = TRACED) -> None:
    report_root.mkdir(parents=True, exist_ok=True)
    document = {"scope": scope, "coverage": coverage.to_json(), "rows": [asdict(r) for r in rows]}
    (report_root / "kill-matrix.json").write_text(json.dumps(document, indent=2) + "\n")
    (report_root / "kill-matrix.md").write_text(matrix_markdown(rows, coverage))


def summarise_scenarios(scenarios: list[str], shown: int = 2) -> str:
    """Scenario names for a table cell; long lists keep their first names and a count."""
    names = sorted(set(scenarios))
    if len(names) <= shown + 1:
        return "; ".join(names)
    return "; ".join(names[:shown]) + f"; and {len(names) - shown} more ({len(names)} scenarios)"


def killed_cell(killed_by: list[str], how: str = FAIL_OUTCOME) -> str:
    """The "killed by" cell: the scenarios, marked when an advisory check killed the mutant."""
    names = summarise_scenarios(killed_by)
    return f"advisory check: {names}" if names and how == ADVISORY_OUTCOME else names


def matrix_markdown(rows: list[MatrixRow], coverage: MutationCoverage) -> str:
    mutants = [r for r in rows if r.mutant != "reference"]
    references = [r for r in rows if r.mutant == "reference"]
    killed = sum(1 for r in mutants if r.ok)
    lines = [
        f"Mutants killed: {killed}/{len(mutants)}; references passing: "
        f"{sum(1 for r in references if r.ok)}/{len(references)}; "
        f"unconfirmed false failures (failed, then passed when run again): {sum(len(r.unconfirmed) for r in rows)}",
        "",
        coverage.summary() + ".",
        "",
        "| role | mutant | violates | verdict | killed by | false failures | blocked | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.role} | {r.mutant} | {', '.join(r.violates) or '-'} | {r.verdict} | "
            f"{killed_cell(r.killed_by, r.killed_how) or '-'} | {'; '.join(r.false_failures) or '-'} | "
            f"{len(r.blocked)} | {_note(r)} |"
        )
    advised = [(r, name, why) for r in rows for name, why in r.advisories.items()]
    if advised:
        lines += ["", "Advisory findings that killed a mutant breaking only a choice the spec leaves open:", ""]
        lines += [f"- {r.role} {r.mutant}: {name}: {why}" for r, name, why in advised]
    explained = [(r, name, why) for r in rows for name, why in r.reasons.items()]
    if explained:
        lines += ["", "Why each false failure failed:", ""]
        lines += [f"- {r.role} {r.mutant}: {name}: {why}" for r, name, why in explained]
    wobbled = [(r, name, why) for r in rows for name, why in r.unconfirmed.items()]
    if wobbled:
        lines += ["", "Unconfirmed false failures (each passed when run again; the first failure said):", ""]
        lines += [f"- {r.role} {r.mutant}: {name}: {why}" for r, name, why in wobbled]
    return "\n".join(lines) + "\n"


def _note(row: MatrixRow) -> str:
    parts = [row.note] if row.note else []
    if row.unconfirmed:
        parts.append(f"{len(row.unconfirmed)} unconfirmed false failure(s)")
    return "; ".join(parts) or "-"
