"""The state model checks that judge status reports (V24, and the 1.0 overall-state rule)."""

from __future__ import annotations

import pytest

from margo_conformance.checks.status_model import (
    collapse,
    component_states,
    judge_sequence,
    overall_follows_current_component,
    overall_is_most_severe,
    overall_states,
)


def report(overall: str, *components: tuple[str, str]) -> dict:
    return {"status": {"state": overall}, "components": [{"name": n, "state": s} for n, s in components]}


GOOD_TWO = [
    report("Pending", ("db", "Pending"), ("web", "Pending")),
    report("Installing", ("db", "Installing"), ("web", "Pending")),
    report("Installing", ("db", "Installed"), ("web", "Installing")),
    report("Installed", ("db", "Installed"), ("web", "Installed")),
]


def test_collapse_drops_consecutive_repeats_only() -> None:
    assert collapse(["a", "a", "b", "a"]) == ["a", "b", "a"]


def test_full_sequence_passes_case_insensitively() -> None:
    assert judge_sequence(overall_states(GOOD_TWO)).ok
    assert judge_sequence(overall_states([report("pending"), report("installing"), report("installed")])).ok


def test_missing_state_is_named() -> None:
    finding = judge_sequence(overall_states([GOOD_TWO[0], GOOD_TWO[3]]))
    assert not finding.ok and finding.problem == "never reported Installing"


def test_out_of_order_is_reported_with_expectation() -> None:
    finding = judge_sequence(["installing", "pending", "installed"])
    assert not finding.ok and "expected Pending -> Installing -> Installed" in finding.problem


def test_component_sequences() -> None:
    assert component_states(GOOD_TWO, "web") == ["pending", "installing", "installed"]
    assert component_states(GOOD_TWO, "absent") == []


def test_overall_follows_the_current_component() -> None:
    assert all(overall_follows_current_component(r) is None for r in GOOD_TWO)
    wrong = report("Installed", ("db", "Installed"), ("web", "Installing"))
    assert overall_follows_current_component(wrong) == "overall state Installed while component 'web' is Installing"
    early = report("Installing", ("db", "Installed"), ("web", "Installed"))
    assert "every component is Installed" in (overall_follows_current_component(early) or "")


def test_a_report_without_components_is_not_judged_as_all_installed() -> None:
    bare = {"status": {"state": "Pending"}}
    problem = overall_follows_current_component(bare)
    assert problem is not None and "no components (STS-003)" in problem and "Installed" not in problem


def _report(overall: str, *components: str) -> dict:
    return {"status": {"state": overall},
            "components": [{"name": f"c{i}", "state": state} for i, state in enumerate(components)]}


@pytest.mark.parametrize(("report", "problem"), [
    (_report("installing", "installed", "installing"), None),
    (_report("installing", "pending", "installing"), None),  # ambiguous under I-8: not judged
    (_report("pending", "installing", "pending"), None),
    (_report("installed", "installed", "installed"), None),
    (_report("failed", "installed", "failed"), None),
    (_report("removed", "removed", "removed"), None),
    (_report("pending", "failed", "pending"), "overall state pending while component 'c0' is failed"),
    (_report("installed", "installed", "installing"), "overall state installed while component 'c1' is installing"),
    (_report("installing", "installed", "installed"), "overall state installing while every component is installed"),
    (_report("removed", "removing", "removed"), "overall state removed while component 'c0' is removing"),
    ({"status": {"state": "installed"}}, "the report lists no components (STS-012), so its overall state "
                                          "'installed' cannot be judged"),
])
def test_the_1_0_overall_state_is_judged_only_where_the_precedence_is_unambiguous(
    report: dict, problem: str | None
) -> None:
    assert overall_is_most_severe(report) == problem
