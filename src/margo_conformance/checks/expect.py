"""Checks: the one way a step judges the SUT, so that no verdict can fail without naming a requirement.

`expect(requirement, condition, message)` records a check and raises `CheckFailed` when it does
not hold; the failure carries the requirement ids, so a scenario (or an example of an outline)
fails exactly the requirements its failed check names, not every tag of the scenario.
`blocked(prerequisite, ...)` ends a scenario whose scene cannot be set up because the SUT refused
something the checks depend on: ERROR, naming the prerequisite and, where the SUT broke a
requirement there, that requirement; the dependent requirements are not judged.

Every check of the current scenario is kept in a `CheckLedger`, which the results collector reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeAlias

from margo_conformance.base.errors import ConformanceFailure, PreconditionNotMet

REQUIREMENT = "requirement"  # the spec states it: a failed check fails the verdict
ADVISORY = "advisory"  # the spec is silent (an interop choice): reported, never counted
NOT_TESTED = "not_tested"  # the check could not be made here (the SUT file's choices): said, never counted

#: What a check saw, as the report shows it: one line of text, a flat mapping (name -> value),
#: or rows (a list of flat mappings, e.g. one per answer: request -> status), which the report
#: renders as a small table instead of a run-on line.
Observed: TypeAlias = str | dict[str, str] | list[dict[str, str]]


@dataclass(frozen=True)
class Check:
    """One judgement of the SUT: what it verified, whether it held, and what was seen."""

    requirements: tuple[str, ...]
    passed: bool
    message: str
    kind: str = REQUIREMENT
    ambiguities: tuple[str, ...] = ()  # catalogued I-/A- rows the check rests on
    #: What came back, shortened, for the report (failed checks only); not hashed (rows are lists).
    observed: Observed = field(default="", hash=False)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "requirements": list(self.requirements),
            "passed": self.passed,
            "message": self.message,
            "kind": self.kind,
        }
        if self.ambiguities:
            entry["ambiguities"] = list(self.ambiguities)
        if self.observed:
            entry["observed"] = self.observed
        return entry

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Check:
        """A check made in a pytest-xdist worker, back on the controller."""
        return cls(
            requirements=tuple(entry["requirements"]),
            passed=bool(entry["passed"]),
            message=str(entry["message"]),
            kind=str(entry.get("kind", REQUIREMENT)),
            ambiguities=tuple(entry.get("ambiguities", ())),
            observed=shorten_observed(entry.get("observed")),
        )


OBSERVED_LIMIT = 300  # characters of one line (or one table cell)
OBSERVED_ROWS = 40  # rows of an observed table kept; the rest are counted in a last row
_SCALARS = (str, int, float, bool, type(None))


def _one_line(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= OBSERVED_LIMIT else text[: OBSERVED_LIMIT - 1] + "…"


def _is_flat(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(isinstance(v, _SCALARS) for v in value.values())


def _flat(mapping: Mapping[Any, Any]) -> dict[str, str]:
    return {_one_line(k): _one_line("" if v is None else v) for k, v in mapping.items()}


def shorten_observed(observed: Any) -> Observed:
    """What came back, short enough for the report; empty when nothing was given.

    A flat mapping stays a mapping and a list of flat mappings stays rows (at most
    `OBSERVED_ROWS`, then one row counting the rest), each value one short line; anything else
    (a nested answer body, an exception) becomes one line of text.
    """
    if observed is None:
        return ""
    if _is_flat(observed):
        return _flat(observed)
    if isinstance(observed, (list, tuple)) and observed and all(_is_flat(row) for row in observed):
        rows = [_flat(row) for row in observed[:OBSERVED_ROWS]]
        if len(observed) > OBSERVED_ROWS:
            first = next(iter(rows[0]))
            rows.append({first: f"… and {len(observed) - OBSERVED_ROWS} more"})
        return rows
    return _one_line(observed)


@dataclass
class CheckLedger:
    """The checks of one scenario, in order."""

    checks: list[Check] = field(default_factory=list)

    def record(self, check: Check) -> None:
        self.checks.append(check)

    def failed(self, requirements: Sequence[str]) -> bool:
        """True when a failed requirement check already names every one of `requirements`."""
        named = {r for c in self.checks if not c.passed and c.kind == REQUIREMENT for r in c.requirements}
        return set(requirements) <= named

    def record_ending(self, exc: BaseException) -> None:
        """Make sure the exception that ended the scenario is in the ledger as a failed check
        (a `CheckFailed` raised by hand, or a `Blocked` naming the requirement broken there)."""
        if isinstance(exc, CheckFailed) and exc.requirements and not self.failed(exc.requirements):
            self.record(Check(exc.requirements, False, exc.message, observed=shorten_observed(exc.observed)))
        elif isinstance(exc, Blocked) and exc.requirement and not self.failed([exc.requirement]):
            self.record(Check((exc.requirement,), False, f"{exc.prerequisite}: {exc.detail}"))

    def failed_requirements(self) -> list[str]:
        return sorted({r for c in self.checks if not c.passed and c.kind == REQUIREMENT for r in c.requirements})

    def passed_requirements(self) -> list[str]:
        failed = set(self.failed_requirements())
        return sorted(
            {r for c in self.checks if c.passed and c.kind == REQUIREMENT for r in c.requirements} - failed
        )


_LEDGER: ContextVar[CheckLedger | None] = ContextVar("margo_check_ledger", default=None)


@contextmanager
def scenario_ledger() -> Iterator[CheckLedger]:
    """Collect the checks made while the block runs (one scenario)."""
    ledger = CheckLedger()
    token = _LEDGER.set(ledger)
    try:
        yield ledger
    finally:
        _LEDGER.reset(token)


def current_ledger() -> CheckLedger | None:
    return _LEDGER.get()


class CheckFailed(ConformanceFailure):
    """A check did not hold: the SUT broke the named requirement(s)."""

    def __init__(
        self,
        requirements: Sequence[str],
        message: str,
        observed: Any = None,
        ambiguities: Sequence[str] = (),
    ) -> None:
        self.requirements = tuple(requirements)
        self.message = message
        self.observed = observed
        self.ambiguities = tuple(ambiguities)
        super().__init__(f"{', '.join(self.requirements)}: {message}" if self.requirements else message)


class Blocked(PreconditionNotMet):
    """The SUT refused a prerequisite of the scenario: its checks cannot run (ERROR, blocked).

    `requirement` is the requirement the SUT broke when it refused (if any): that one fails; the
    requirements the scenario was written for are not judged.
    """

    def __init__(self, prerequisite: str, detail: str, requirement: str | None = None) -> None:
        self.prerequisite = prerequisite
        self.detail = detail
        self.requirement = requirement
        blame = f" ({requirement} failed there)" if requirement else ""
        super().__init__(f"blocked: {prerequisite}{blame}: {detail}")


def _as_tuple(requirement: str | Sequence[str]) -> tuple[str, ...]:
    return (requirement,) if isinstance(requirement, str) else tuple(requirement)


def expect(
    requirement: str | Sequence[str],
    condition: bool,
    message: str,
    *,
    observed: Any = None,
    ambiguities: Sequence[str] = (),
) -> None:
    """Record a requirement check; raise `CheckFailed` naming `requirement` when it does not hold.

    `message` is one sentence saying what was expected and what came back.
    """
    requirements = _as_tuple(requirement)
    if not requirements:
        raise ValueError("a check must name the requirement it verifies")
    observed_text = "" if condition else shorten_observed(observed)
    check = Check(requirements, bool(condition), message, REQUIREMENT, tuple(ambiguities), observed_text)
    ledger = current_ledger()
    if ledger is not None:
        ledger.record(check)
    if not condition:
        raise CheckFailed(requirements, message, observed, ambiguities)


def advise(
    requirement: str | Sequence[str],
    condition: bool,
    message: str,
    *,
    ambiguities: Sequence[str] = (),
    observed: Any = None,
) -> bool:
    """Record a check of something the spec leaves open: reported as advisory, never a failure.

    `observed` is kept (shortened) when the check does not hold, as for `expect`.
    """
    observed_kept = "" if condition else shorten_observed(observed)
    check = Check(_as_tuple(requirement), bool(condition), message, ADVISORY, tuple(ambiguities), observed_kept)
    ledger = current_ledger()
    if ledger is not None:
        ledger.record(check)
    return bool(condition)


def not_tested(requirement: str | Sequence[str], reason: str) -> None:
    """Record that a check of `requirement` was not made in this scenario, and why (the SUT file
    gives the suite no way to observe it). The scenario goes on with its other checks."""
    ledger = current_ledger()
    if ledger is not None:
        ledger.record(Check(_as_tuple(requirement), True, f"not tested: {reason}", NOT_TESTED))


def blocked(prerequisite: str, detail: str, *, requirement: str | None = None) -> NoReturn:
    """End the scenario as blocked: the SUT refused `prerequisite` (see `Blocked`)."""
    if requirement is not None:
        ledger = current_ledger()
        if ledger is not None:
            ledger.record(Check((requirement,), False, f"{prerequisite}: {detail}"))
    raise Blocked(prerequisite, detail, requirement)
