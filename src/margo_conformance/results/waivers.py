"""Waivers: a strict list of expected failures, each with the reason it is accepted.

A waivers file (YAML, checked against `schemas/waivers.schema.json`) is a list of entries::

    - scenario: fetched within the polling interval     # name, or substring of name / node id
      reason: "firmware 2.3 polls every 5 s; fix scheduled for 2.4"
      requirement: CFG-003                              # optional: narrows the match

A waived scenario that fails keeps its outcome `fail`, is marked waived, and makes the run
`partial` instead of `fail`. A waived scenario that *passes* is a stale waiver: the failure
it excused is gone, so the list no longer describes the product and the run fails (the
OpenID conformance suite's rule). Certification runs accept no waivers at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from margo_conformance.base.errors import ConfigError
from margo_conformance.base.schemas import validation_errors

WAIVED = "waived"  # the scenario failed as expected
STALE = "stale"  # the scenario passed: the waiver must go
UNUSED = "unused"  # no executed scenario matched (deselected, skipped or a typo)


@dataclass(frozen=True)
class Waiver:
    scenario: str
    reason: str
    requirement: str | None = None

    def matches(self, name: str, nodeid: str, requirements: Iterable[str]) -> bool:
        """Exact name, or a substring of the name or node id; `requirement` narrows further."""
        if self.requirement is not None and self.requirement not in set(requirements):
            return False
        return self.scenario == name or self.scenario in name or self.scenario in nodeid

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"scenario": self.scenario, "reason": self.reason}
        if self.requirement is not None:
            entry["requirement"] = self.requirement
        return entry


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """Parse and validate a waivers file; any problem is a ConfigError naming the entry."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"waivers file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"waivers file {path} is not valid YAML: {exc}") from exc
    if document is None:
        document = []
    errors = validation_errors(document, "waivers")
    if errors:
        raise ConfigError(f"waivers file {path}: {_readable(errors[0])}")
    return tuple(
        Waiver(scenario=e["scenario"], reason=e["reason"], requirement=e.get("requirement"))
        for e in document
    )


def _readable(error: str) -> str:
    """`0.reason: ...` -> `entry 1, reason: ...` (people count entries from one)."""
    match = re.match(r"^(\d+)(?:\.([^:]*))?: (.*)$", error)
    if match is None:
        return error
    where = f"entry {int(match[1]) + 1}" + (f", {match[2]}" if match[2] else "")
    return f"{where}: {match[3]}"


def first_match(
    waivers: Sequence[Waiver], name: str, nodeid: str, requirements: Iterable[str]
) -> Waiver | None:
    """The first waiver that covers this scenario, in file order."""
    wanted = list(requirements)
    return next((w for w in waivers if w.matches(name, nodeid, wanted)), None)


def waiver_status(outcome: str) -> str | None:
    """What a matching waiver means for a scenario with this outcome (None: no effect).

    Only failures (the SUT broke a requirement) can be waived. An error is the suite's or the
    infrastructure's problem and a skip says nothing about the SUT, so neither uses a waiver.
    """
    if outcome == "fail":
        return WAIVED
    if outcome == "pass":
        return STALE
    return None
