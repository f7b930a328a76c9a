"""What report.html leads with, per requirement: the failed requirements (each check that failed
one, what was observed, a link to the evidence), the blocked scenarios and the advisory checks.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from margo_conformance.report.html.markup import (
    badge,
    esc,
    none_note,
    observed,
    one_sentence,
    requirement_anchor,
    scenario_index,
    scenario_link,
    section,
    table,
    td,
)


def _check_groups(checks: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], list[str]]]:
    """The failed checks of a requirement, one per distinct (message, observed), each with the
    scenarios that made it: a refusal that blocked many scenarios reads as one check."""
    groups: dict[str, tuple[Mapping[str, Any], list[str]]] = {}
    for check in checks:
        key = json.dumps([check.get("message"), check.get("observed"), check.get("traced_by")], sort_keys=True)
        groups.setdefault(key, (check, []))[1].append(str(check.get("scenario", "")))
    return list(groups.values())


def _failed_check(
    check: Mapping[str, Any],
    scenarios: Sequence[str],
    where: Mapping[str, int],
    tree: Mapping[str, Any],
    explain_tags: bool = True,
) -> str:
    sentence, rest = one_sentence(check.get("message"))
    seen = observed(check.get("observed")) or observed(textwrap.dedent(rest))
    named = [r for r in check.get("requirements", []) if r]
    if check.get("traced_by") == "tags":
        note = "" if not explain_tags else (
            f"No check named a requirement: the scenario failed on a plain assertion, so each of its "
            f"requirement tags ({', '.join(named)}) fails."
        )
    else:
        note = f"The same check fails {', '.join(named)}." if len(named) > 1 else ""
    links = "".join(f"<li>{scenario_link(name, where, tree)}</li>" for name in scenarios)
    return (
        '<div class="failed-check">'
        f'<ul class="plain where">{links}</ul>'
        f'<p class="check-message">{esc(sentence)}</p>'
        + (f'<div class="seen"><span class="seen-label">Observed</span>{seen}</div>' if seen else "")
        + (f'<p class="also">{esc(note)}</p>' if note else "")
        + "</div>"
    )


def _failed_together(failed: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The failed requirement rows, one group each, except that rows failed only by the same
    plain assertions (traced by the scenarios' tags, so every tag failed with the same message)
    share one group: the same failure is shown once, naming each of them."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in failed:
        checks = row.get("failed_checks") or []
        by_tags = bool(checks) and all(c.get("traced_by") == "tags" for c in checks)
        key = (
            json.dumps([[c.get("scenario"), c.get("message")] for c in checks] + [bool(row.get("waived"))])
            if by_tags
            else f"id:{row.get('id')}"
        )
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def _requirement_entry(rows: Sequence[Mapping[str, Any]], where: Mapping[str, int], tree: Mapping[str, Any]) -> str:
    """One failed requirement (or several failed together by tags): what each asks, then each
    distinct check that failed it with what was observed and a link to the evidence."""
    first = rows[0]
    waived = bool(first.get("waived"))
    marker = badge("waived", "fail · waived") if waived else badge("fail", "failed")
    groups = _check_groups(first.get("failed_checks") or [])
    body = "".join(_failed_check(c, names, where, tree, len(rows) == 1) for c, names in groups) or none_note(
        "No check was recorded."
    )
    in_scenarios = len({n for _, names in groups for n in names})
    count = f"{len(groups)} failed check{'s' if len(groups) != 1 else ''}" + (
        f" in {in_scenarios} scenarios" if in_scenarios > 1 else ""
    )
    heads = "".join(
        f'<header class="req-head" id="{esc(requirement_anchor(str(row.get("id"))))}">{marker}'
        f'<h3 class="req-id">{esc(row.get("id"))}</h3>{badge("level", str(row.get("level")))}'
        + (f'<span class="req-count">{esc(count)}</span>' if len(rows) == 1 else "")
        + f'</header><p class="req-summary">{esc(row.get("summary") or "not in the catalogue")}</p>'
        for row in rows
    )
    together = (
        f'<p class="req-count">These {len(rows)} requirements failed together ({esc(count)}): no check '
        "named a requirement, the scenario failed on a plain assertion, so each of its requirement tags "
        "fails.</p>"
        if len(rows) > 1
        else ""
    )
    return f'<div class="req-failure{" waived" if waived else ""}">{heads}{together}{body}</div>'


def failed_requirements_section(tree: Mapping[str, Any]) -> str:
    """One entry per failed requirement: what it asks, each check that failed it, what was seen."""
    failed = [r for r in tree.get("requirements", []) if r.get("outcome") == "fail"]
    failed.sort(key=lambda r: (bool(r.get("waived")), r.get("level") != "must", str(r.get("id"))))
    if not failed:
        return section("failed-requirements", "Failed requirements", none_note("No requirement failed."))
    where = scenario_index(tree)
    entries = [_requirement_entry(rows, where, tree) for rows in _failed_together(failed)]
    unwaived = sum(1 for r in failed if not r.get("waived"))
    intro = (
        f"{unwaived} requirement(s) failed"
        + (f", {len(failed) - unwaived} more waived" if unwaived < len(failed) else "")
        + ". Each with what the catalogue asks, every check that failed it (scenario, what was "
        "expected, what came back) and a link to that scenario's evidence below."
    )
    return section(
        "failed-requirements", f"Failed requirements ({len(failed)})", "\n".join(entries), esc(intro)
    )


def blocked_section(tree: Mapping[str, Any]) -> str:
    """Blocked scenarios grouped by the prerequisite the SUT refused and what it broke there."""
    unjudged: dict[str, list[str]] = {}
    for row in tree.get("requirements", []):
        for entry in row.get("blocked", []):
            unjudged.setdefault(str(entry.get("scenario")), []).append(str(row.get("id")))
    groups: dict[tuple[str, tuple[str, ...]], list[Mapping[str, Any]]] = {}
    for scenario in tree.get("scenarios", []):
        if scenario.get("blocked"):
            key = (str(scenario["blocked"]), tuple(scenario.get("failed_requirements", [])))
            groups.setdefault(key, []).append(scenario)
    if not groups:
        return ""  # no section: nothing to say before the summary
    where = scenario_index(tree)
    rows = []
    for (prerequisite, broken), scenarios in groups.items():
        left = sorted({r for s in scenarios for r in unjudged.get(str(s.get("name")), [])})
        broken_html = (
            ", ".join(f'<a href="#{esc(requirement_anchor(r))}">{esc(r)}</a>' for r in broken)
            if broken
            else '<span class="none">none named</span>'
        )
        listed = "".join(f"<li>{scenario_link(str(s.get('name')), where, tree)}</li>" for s in scenarios)
        rows.append(
            [
                td(esc(prerequisite)),
                td(broken_html, "id"),
                td(esc(", ".join(left)) or '<span class="none">none</span>', "id wrap"),
                td(f'<ul class="plain">{listed}</ul>'),
            ]
        )
    intro = (
        "Scenarios whose scene could not be set up because the SUT refused a prerequisite: the "
        "requirement it broke there (if any) is among the failed requirements above; the "
        "requirements the scenarios were written for are left unjudged."
    )
    return section(
        "blocked",
        f"Blocked ({sum(len(v) for v in groups.values())})",
        table(["prerequisite refused", "broken there", "left unjudged", "scenarios"], rows, "data blocked"),
        esc(intro),
    )


def _advisory_observed(value: Any) -> str:
    shown = observed(value)
    return f'<div class="seen small"><span class="seen-label">Observed</span>{shown}</div>' if shown else ""


def advisory_section(tree: Mapping[str, Any]) -> str:
    """Checks of what the spec leaves open: shown with the ambiguity rows they rest on, never counted."""
    where = scenario_index(tree)
    rows = []
    found = [
        (str(s.get("name")), c)
        for s in tree.get("scenarios", [])
        for c in s.get("checks", [])
        if c.get("kind") == "advisory"
    ]
    found.sort(key=lambda item: bool(item[1].get("passed")))  # what does not hold first
    for name, check in found:
        ambiguities = ", ".join(check.get("ambiguities", []))
        rows.append(
            [
                td(badge("advisory", "holds" if check.get("passed") else "does not hold")),
                td(esc(", ".join(check.get("requirements", []))), "id"),
                td(esc(one_sentence(check.get("message"))[0]) + _advisory_observed(check.get("observed"))),
                td(esc(ambiguities) or '<span class="none">none named</span>', "id"),
                td(scenario_link(name, where, tree)),
            ]
        )
    if not rows:
        return ""
    intro = (
        "Checks of what the spec leaves open (an interop choice, or a row the catalogue lists "
        "as inconsistent: I- rows in REQUIREMENTS.md, A- rows in REQUIREMENTS-ADDITIONS.md). "
        "Shown for the vendor's information; they never count towards a verdict."
    )
    return section(
        "advisory",
        f"Advisory ({len(rows)})",
        table(["check", "requirement", "what was checked", "catalogue rows", "scenario"], rows, "data advisory"),
        esc(intro),
    )
