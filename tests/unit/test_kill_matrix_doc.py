"""docs/kill-matrix.md stays true to fixtures/mutants/mutants.yaml (regenerate it with
tools/gen_kill_matrix_doc.py after a whole selftest run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from margo_conformance.commands.mutants import load_mutants, mutation_coverage

DOC = Path(__file__).resolve().parents[2] / "docs" / "kill-matrix.md"


def test_the_document_has_a_row_for_every_mutant() -> None:
    text = DOC.read_text()
    missing = [f"{m.role} {m.name}" for m in load_mutants() if f"| {m.role} | `{m.name}` |" not in text]
    assert not missing, f"docs/kill-matrix.md has no row for {missing}; regenerate it"


def test_the_document_states_the_current_coverage() -> None:
    coverage = mutation_coverage(load_mutants())
    covered = len(coverage.traced_must) - len(coverage.missing)
    line = f"- MUST requirements with at least one mutant: {covered} of {len(coverage.traced_must)}."
    assert line in DOC.read_text(), f"expected {line!r} in docs/kill-matrix.md; regenerate it"


def _gen_tool():
    import importlib.util

    path = DOC.parents[1] / "tools" / "gen_kill_matrix_doc.py"
    spec = importlib.util.spec_from_file_location("gen_kill_matrix_doc", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_later_run_of_one_role_replaces_that_roles_rows_only() -> None:
    tool = _gen_tool()
    whole = {"scope": "full", "rows": [{"role": "agent", "mutant": "a"}, {"role": "agent", "mutant": "gone"},
                                       {"role": "wos", "mutant": "w"}]}
    agent_again = {"scope": "full", "rows": [{"role": "agent", "mutant": "a", "ok": True}]}
    rows, scope, recorded = tool.merge([(whole, "2026-11-28"), (agent_again, "2026-11-29")])
    assert sorted((r["role"], r["mutant"]) for r in rows) == [("agent", "a"), ("wos", "w")]
    assert scope == "full" and recorded == {"agent": "2026-11-29", "wos": "2026-11-28"}


def test_runs_of_different_scopes_are_not_merged() -> None:
    tool = _gen_tool()
    with pytest.raises(SystemExit, match="differ in scope"):
        tool.merge([({"scope": "full", "rows": []}, "d"), ({"scope": "traced", "rows": []}, "d")])


def test_a_later_run_of_a_few_mutants_replaces_their_rows_only_and_is_named() -> None:
    tool = _gen_tool()
    rows = [{"role": "wos", "mutant": "reference"}, {"role": "wos", "mutant": "w", "verdict": "fail"},
            {"role": "wos", "mutant": "x"}]
    alone = {"scope": "full", "rows": [{"role": "wos", "mutant": "w", "verdict": "advisory"}]}
    merged, later = tool.replace_mutants(rows, "full", [(alone, "2026-12-07")])
    assert {r["mutant"]: r.get("verdict") for r in merged} == {"reference": None, "w": "advisory", "x": None}
    assert later == [("`w`", "2026-12-07")]
    with pytest.raises(SystemExit, match="cannot replace"):
        tool.replace_mutants(rows, "traced", [(alone, "2026-12-07")])
