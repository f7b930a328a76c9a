"""How one run's results.json judges a reference or a mutant: killed, false failures, blocked.

Each reference implementation must pass. Each mutant (one fault switch, one violated
requirement; fixtures/mutants/mutants.yaml) must be *killed*: a check naming a requirement it
violates fails, and no check fails naming a requirement it does not violate (a *false
failure*). Judged per check (`failed_requirements` of each scenario in results.json); a
failure no check named (a plain assertion) is judged by the scenario's requirement tags, as a
whole: false only when none of its tags is violated. A scenario that ended in error, blocked
or not, is never a false failure; a blocked one still kills when the requirement it names as
broken at the prerequisite is violated.

A mutant whose fault breaks only a choice the spec leaves open (`outcome: advisory` in the
mutants file: a V24 WOS answering a bad request with a 5xx, which V24 allows) must not fail
anything: it is killed by an *advisory finding*, an advisory check that did not hold and names
a row it violates, in a run with no failed requirement at all (every failed check is false
there). Its row's verdict is "advisory".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from margo_conformance.commands.mutants import ADVISORY_OUTCOME, ERROR_OUTCOME, FAIL_OUTCOME, Mutant


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


def matrix_row(
    mutant: Mutant, results: dict[str, Any], found: Judgement, seconds: float, unconfirmed: dict[str, str] | None = None
) -> MatrixRow:
    return MatrixRow(mutant.role, mutant.name, list(mutant.violates), matrix_verdict(mutant, results, found),
                     found.killed_by, found.false_failures, found.ok, seconds, found.note, found.blocked,
                     found.reasons, unconfirmed or {}, found.how, found.advisories)
