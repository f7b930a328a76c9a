"""docs/kill-matrix.md stays true to fixtures/mutants/mutants.yaml (regenerate it with
tools/gen_kill_matrix_doc.py after a whole selftest run)."""

from __future__ import annotations

from pathlib import Path

from margo_conformance.selftest import load_mutants, mutation_coverage

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
