"""The kill matrix a selftest writes: kill-matrix.json and kill-matrix.md (one row per run).

The Markdown table leads with the counts (mutants killed, references passing, unconfirmed
false failures) and the mutation coverage, then says for each row what killed it and, below
the table, why each false failure failed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from margo_conformance.commands.kill_judgement import MatrixRow
from margo_conformance.commands.mutants import ADVISORY_OUTCOME, FAIL_OUTCOME, REFERENCES, TRACED, MutationCoverage


def write_matrix(
    report_root: Path, rows: list[MatrixRow], coverage: MutationCoverage, scope: str = TRACED,
    wall_s: float | None = None, jobs: int | None = None,
) -> None:
    """kill-matrix.json and .md; the JSON also says how long the whole matrix took, at how many
    runs at a time (benchmarks/bench_certification.py prints it)."""
    report_root.mkdir(parents=True, exist_ok=True)
    document = {"scope": scope, "wall_s": wall_s, "jobs": jobs, "coverage": coverage.to_json(),
                "rows": [asdict(r) for r in rows]}
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
    references = [r for r in rows if r.mutant in REFERENCES]
    mutants = [r for r in rows if r.mutant not in REFERENCES]
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
