"""The V24 deployment state model and the checks a sequence of status reports must pass.

Pure functions over the documents the WOS received, so they are unit-tested without Docker.
State names are compared case-insensitively in V24 (inconsistency I-6: the pre-draft's table
capitalises them, its example does not).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

V24_STATES = ("pending", "installing", "installed", "failed")
INSTALL_SEQUENCE = ("pending", "installing", "installed")


def normalise(state: object) -> str:
    return state.lower() if isinstance(state, str) else repr(state)


def collapse(states: Iterable[str]) -> list[str]:
    """Drop consecutive repeats: a component reported Installing twice was Installing once."""
    collapsed: list[str] = []
    for state in states:
        if not collapsed or collapsed[-1] != state:
            collapsed.append(state)
    return collapsed


def shown(states: Sequence[str]) -> str:
    return " -> ".join(s.capitalize() for s in states) if states else "(nothing)"


@dataclass(frozen=True)
class SequenceFinding:
    ok: bool
    observed: list[str]
    problem: str = ""


def judge_sequence(observed: Sequence[str], expected: Sequence[str] = INSTALL_SEQUENCE) -> SequenceFinding:
    """Is `observed` (already collapsed) exactly `expected`? Name the first missing or stray state."""
    observed = list(observed)
    if observed == list(expected):
        return SequenceFinding(True, observed)
    missing = [s for s in expected if s not in observed]
    if missing:
        problem = f"never reported {', '.join(s.capitalize() for s in missing)}"
    else:
        problem = f"expected {shown(expected)}"
    return SequenceFinding(False, observed, problem)


def overall_states(reports: Sequence[Any]) -> list[str]:
    return collapse(normalise(_get(r, "status", "state")) for r in reports)


def component_states(reports: Sequence[Any], component: str) -> list[str]:
    states = []
    for report in reports:
        for entry in _components(report):
            if entry.get("name") == component:
                states.append(normalise(entry.get("state")))
    return collapse(states)


def overall_follows_current_component(report: Any) -> str | None:
    """STS-005: until all are installed, the overall state is the first unfinished component's.

    Returns a description of the violation, or None when the report obeys the rule.
    """
    components = _components(report)
    overall = normalise(_get(report, "status", "state"))
    if not components:
        return f"the report lists no components (STS-003), so its overall state {overall!r} cannot be judged"
    current = next((c for c in components if normalise(c.get("state")) != "installed"), None)
    if current is None:
        expected, because = "installed", "every component is Installed"
    else:
        expected = normalise(current.get("state"))
        because = f"component {current.get('name')!r} is {str(current.get('state'))}"
    if overall == expected:
        return None
    return f"overall state {overall.capitalize()} while {because}"


def overall_is_most_severe(report: Any) -> str | None:
    """STS-015, as far as the 1.0 precedence list is unambiguous (I-8): any failed component
    makes the deployment failed, and the deployment is installed (removed) exactly when every
    component is. Returns a description of the violation, or None."""
    components = _components(report)
    overall = normalise(_get(report, "status", "state"))
    if not components:
        return f"the report lists no components (STS-012), so its overall state {overall!r} cannot be judged"
    states = [normalise(c.get("state")) for c in components]
    if "failed" in states:
        failed = components[states.index("failed")].get("name")
        return None if overall == "failed" else f"overall state {overall} while component {failed!r} is failed"
    for final in ("installed", "removed"):
        if all(state == final for state in states):
            if overall != final:
                return f"overall state {overall} while every component is {final}"
        elif overall == final:
            unfinished = next(c for c, state in zip(components, states, strict=True) if state != final)
            return f"overall state {overall} while component {unfinished.get('name')!r} is {unfinished.get('state')}"
    return None


def _components(report: Any) -> list[dict[str, Any]]:
    components = report.get("components") if isinstance(report, dict) else None
    return [c for c in components if isinstance(c, dict)] if isinstance(components, list) else []


def _get(document: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


UPDATE_SEQUENCE = ("installing", "installed")


def judge_update(observed: Sequence[str]) -> SequenceFinding:
    """A changed deployment goes through Installing to Installed again (V24 has no update state,
    2.1); a Pending before them is allowed: the agent has new desired state it has not started."""
    observed = list(observed)
    trimmed = observed[1:] if observed[:1] == ["pending"] else observed
    finding = judge_sequence(trimmed, UPDATE_SEQUENCE)
    return SequenceFinding(finding.ok, observed, finding.problem)


def error_problem(entry: Any) -> str | None:
    """STS-006: a failure carries an error with a code and a message that say something.

    `entry` is a report's `status` object or one of its `components`; returns what is wrong
    with its error, or None when the error is there and complete."""
    error = entry.get("error") if isinstance(entry, dict) else None
    if not isinstance(error, dict):
        return "no error (code and message) was given"
    empty = [key for key in ("code", "message") if not (isinstance(error.get(key), str) and error[key].strip())]
    if empty:
        return f"its error has no {' and no '.join(empty)}: {error!r}"
    return None


def component_entry(report: Any, component: str) -> dict[str, Any] | None:
    return next((c for c in _components(report) if c.get("name") == component), None)


def installed_components(report: Any) -> list[str]:
    return [str(c.get("name")) for c in _components(report) if normalise(c.get("state")) == "installed"]


def overall_state(report: Any) -> str:
    return normalise(_get(report, "status", "state"))
