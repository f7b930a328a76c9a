"""Requirements in report.html: the traceability matrix of what the run exercised and the
catalogue coverage of each claimed profile (every MUST and SHOULD row binding the role), with the
SHOULD line the banner shows too.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from margo_conformance.report.html.markup import OUTCOME_WORD, badge, details, esc, none_note, section, table, td

#: Badge colour of each coverage status (the outcome it reads like).
STATUS_CSS = {"passed": "pass", "failed": "fail", "blocked": "blocked", "advisory": "advisory",
              "no_verdict": "skip", "not_covered": "not_run", "not_testable": "not_run"}
#: Coverage rows listed worst first.
STATUS_ORDER = ("failed", "blocked", "no_verdict", "advisory", "passed", "not_testable", "not_covered")


def should_sentence(statement: Mapping[str, Any]) -> str:
    """The SHOULD rows of a coverage statement in one line, as its MUST sentence reads
    (e.g. "SHOULD: 3 tested of 12 V24 SHOULD requirements (1 failed); 9 not covered ..."), or ''."""
    counts = statement.get("should") or {}
    total = sum(int(n) for n in counts.values())
    if not total:
        return ""
    tested = counts.get("passed", 0) + counts.get("failed", 0)
    failed = f" ({counts['failed']} failed)" if counts.get("failed") else ""
    parts = [f"SHOULD: {tested} tested of {total} {statement.get('profile')} SHOULD requirements{failed}",
             f"{counts.get('not_covered', 0)} not covered by this suite version"]
    extra = (("blocked", "blocked"), ("no_verdict", "without a verdict in this run"),
             ("advisory", "advisory only"), ("not_testable", "not black-box testable"))
    parts += [f"{counts[status]} {words}" for status, words in extra if counts.get(status)]
    return "; ".join(parts)


def requirements_section(tree: Mapping[str, Any]) -> str:
    """The traceability matrix: each requirement exercised, its scenarios and its outcome."""
    outcome_of = {str(s.get("name")): str(s.get("outcome")) for s in tree.get("scenarios", [])}
    rows = []
    for row in tree.get("requirements", []):
        outcome = str(row.get("outcome"))
        badges = badge(outcome) + (" " + badge("waived") if row.get("waived") else "")
        if row.get("traced_by") == "tags" and outcome in ("pass", "fail"):
            badges += ' <span class="traced" title="no check named it; its scenarios\' tags did">by tags</span>'
        per_scenario = row.get("scenario_outcomes") or [
            outcome_of.get(str(n), "skip") for n in row.get("scenarios", [])
        ]
        items = list(zip(per_scenario, (str(n) for n in row.get("scenarios", [])), strict=False))
        items += [("not_run", str(n)) for n in row.get("not_run", [])]
        listed = "".join(
            f'<li><span class="dot dot-{esc(o)}" title="{esc(OUTCOME_WORD.get(o, o))}"></span>'
            f"{esc(n)}</li>"
            for o, n in items
        )
        rows.append(
            [
                td(esc(row.get("id")), "id"),
                td(badge("level", str(row.get("level")))),
                td(esc(row.get("summary", "")), "summary-cell"),
                td(f'<ul class="plain">{listed}</ul>'),
                td(badges),
            ]
        )
    if not rows:
        return section(
            "requirements", "Requirement traceability", none_note("No requirement was exercised.")
        )
    intro = (
        "Each requirement the run exercised, the scenarios that verify it (a dot shows its outcome "
        "in each), and its outcome: failed when a check naming it failed, passed when checked and "
        "never failed, blocked when its scenario was blocked before reaching it, advisory when only "
        "checks of what the spec leaves open named it (never counted)."
    )
    return section(
        "requirements",
        "Requirement traceability",
        table(["requirement", "level", "summary", "scenarios", "outcome"], rows, "data trace"),
        esc(intro),
    )


def coverage_section(tree: Mapping[str, Any]) -> str:
    """Every MUST and SHOULD row of the catalogue binding the role and each claimed profile."""
    catalogue = _catalogue_summaries()
    parts = []
    for statement in tree.get("coverage", {}).get("statements", []):
        rows = sorted(
            statement.get("requirements", []),
            key=lambda r: (STATUS_ORDER.index(r["status"]) if r.get("status") in STATUS_ORDER else 99,
                           r.get("level") != "must", r.get("id")),
        )
        rows_table = table(
            ["requirement", "level", "status", "summary"],
            [
                [
                    td(esc(r.get("id")), "id"),
                    td(badge("level", str(r.get("level")))),
                    td(badge(STATUS_CSS.get(str(r.get("status")), "skip"),
                               OUTCOME_WORD.get(str(r.get("status")), str(r.get("status"))))),
                    td(esc(catalogue.get(str(r.get("id")), ""))
                        + (f'<br><span class="none">{esc(r["reason"])}</span>' if r.get("reason") else ""),
                        "summary-cell"),
                ]
                for r in rows
            ],
        )
        should = should_sentence(statement)
        parts.append(f'<p class="statement">{esc(statement.get("statement"))}</p>'
                     + (f'<p class="statement should">{esc(should)}</p>' if should else "")
                     + details(f"{statement.get('profile')}: all {len(rows)} MUST and SHOULD rows", rows_table))
    if not parts:
        return section("coverage", "Catalogue coverage", none_note("No profile was claimed."))
    intro = (
        "For each claimed profile, every MUST and SHOULD requirement of the catalogue that binds the "
        "SUT's role: passed, failed, blocked, advisory, without a verdict in this run, not tested by "
        "this suite version, or not black-box testable (with the catalogue's reason). Only scenarios "
        "that run for a profile count for it."
    )
    return section("coverage", "Catalogue coverage", "\n".join(parts), esc(intro))


@cache
def _catalogue_summaries() -> dict[str, str]:
    from margo_conformance.base.requirements import load_catalogue

    return {r.id: r.summary for r in load_catalogue().values()}
