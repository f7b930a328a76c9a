"""The run's scenarios in report.html: the summary tiles and per-profile verdicts, what was
skipped or not run, checks not tested, every scenario with its outcome, and the waivers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from margo_conformance.report.html.markup import (
    PROFILE_TRANSPORTS,
    anchor,
    badge,
    esc,
    is_problem,
    none_note,
    row_anchor,
    scenario_index,
    scenario_link,
    seconds,
    section,
    table,
    td,
)


def summary_section(tree: Mapping[str, Any]) -> str:
    """Counts as tiles (mandatory scenarios executed among them), then the verdict of each profile."""
    counts = tree.get("counts", {})
    coverage = tree.get("coverage", {})
    waived = sum(1 for s in tree.get("scenarios", []) if s.get("waived"))
    mandatory, executed = coverage.get("mandatory", 0), coverage.get("executed", 0)
    tiles = [
        ("pass", counts.get("pass", 0), "passed"),
        ("fail", counts.get("fail", 0), "failed" + (f" ({waived} waived)" if waived else "")),
        ("error", counts.get("error", 0), "errors"),
        ("skip", counts.get("skip", 0), "skipped"),
        (
            "coverage" + ("-short" if executed < mandatory else ""),
            f"{executed}/{mandatory}",
            "mandatory scenarios executed",
        ),
    ]
    tiles_html = (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile {esc(css)}"><div class="n">{esc(n)}</div>'
            f'<div class="label">{esc(label)}</div></div>'
            for css, n, label in tiles
        )
        + "</div>"
    )
    profiles = tree.get("profiles", [])
    if profiles:
        rows = [
            [
                td(esc(p.get("profile")), "id"),
                td(badge(str(p.get("verdict")))),
                td(esc(PROFILE_TRANSPORTS.get(str(p.get("profile")), ""))),
                td(
                    esc(
                        ", ".join(f"{n} {k}" for k, n in p.get("counts", {}).items() if n)
                        or "nothing ran"
                    )
                ),
                td(esc(p.get("not_run", 0)), "num"),
            ]
            for p in profiles
        ]
        profile_html = '<h3 class="sub">Per-profile verdicts</h3>' + table(
            ["profile", "verdict", "transports", "scenarios", "mandatory not run"], rows
        )
    else:
        profile_html = ""
    return section("summary", "Summary", tiles_html + profile_html)


def not_run_section(tree: Mapping[str, Any]) -> str:
    """Skipped scenarios with their reason, then the mandatory scenarios that did not run."""
    rows = []
    for scenario in tree.get("scenarios", []):
        if scenario.get("outcome") == "skip":
            rows.append(
                [
                    td(badge("skip")),
                    td(esc(scenario.get("name"))),
                    td(esc(scenario.get("message") or "no reason given")),
                ]
            )
    reported = {s.get("nodeid") for s in tree.get("scenarios", [])}
    for missing in tree.get("coverage", {}).get("not_run", []):
        if missing.get("nodeid") in reported:
            continue  # a skipped mandatory scenario is listed above with its reason
        rows.append(
            [
                td(badge("not_run")),
                td(esc(missing.get("name"))),
                td(
                    esc(
                        f"mandatory; {missing.get('why')}: {missing.get('detail', '')}".rstrip(": ")
                    )
                ),
            ]
        )
    if not rows:
        return section(
            "not-run",
            "Skipped and not run",
            none_note("Every selected and every mandatory scenario ran."),
        )
    intro = (
        "A run that leaves out a mandatory scenario of the claimed role and profiles cannot pass."
    )
    return section(
        "not-run", "Skipped and not run", table(["", "scenario", "reason"], rows), esc(intro)
    )


NOT_TESTED_PREFIX = "not tested: "  # checks.not_tested opens every message with it


def not_tested_section(tree: Mapping[str, Any]) -> str:
    """Checks a scenario could not make with what the SUT file declares, each with its reason."""
    where = scenario_index(tree)
    rows = []
    for scenario in tree.get("scenarios", []):
        for check in scenario.get("checks", []):
            if check.get("kind") != "not_tested":
                continue
            reason = str(check.get("message", ""))
            reason = reason[len(NOT_TESTED_PREFIX):] if reason.startswith(NOT_TESTED_PREFIX) else reason
            rows.append(
                [
                    td(esc(", ".join(check.get("requirements", []))), "id"),
                    td(esc(reason) or '<span class="none">no reason given</span>'),
                    td(scenario_link(str(scenario.get("name")), where, tree)),
                ]
            )
    if not rows:
        return ""
    intro = (
        "Checks a scenario did not make because the SUT file gives the suite no way to observe them "
        "(e.g. workloads the suite cannot see); the scenario went on with its other checks. They "
        "count neither for nor against a verdict."
    )
    return section(
        "not-tested",
        f"Not tested in this run ({len(rows)})",
        table(["requirement", "why not tested", "scenario"], rows, "data not-tested"),
        esc(intro),
    )


def scenarios_section(tree: Mapping[str, Any]) -> str:
    """Every scenario in run order; a problem one links to its failure below."""
    rows = []
    for i, scenario in enumerate(tree.get("scenarios", []), 1):
        name = esc(scenario.get("name"))
        if is_problem(scenario):
            name = f'<a href="#{anchor(i)}">{name}</a>'
        status = (scenario.get("waiver") or {}).get("status")
        badges = badge(str(scenario.get("outcome"))) + (f" {badge(status)}" if status else "")
        rows.append(
            [
                f'<td class="num" id="{row_anchor(i)}">{esc(i)}</td>',
                td(badges),
                td(name),
                td(esc(scenario.get("feature"))),
                td(esc(", ".join(scenario.get("requirements", []))), "id"),
                td(esc(seconds(scenario.get("duration_s"))), "num"),
            ]
        )
    if not rows:
        return section("scenarios", "All scenarios", none_note("No scenario ran."))
    return section(
        "scenarios",
        "All scenarios",
        table(["#", "outcome", "scenario", "feature", "requirements", "duration"], rows),
    )


def waivers_section(tree: Mapping[str, Any]) -> str:
    """The waivers of a development run and what each matched."""
    waivers = tree.get("waivers", [])
    run = tree.get("run", {})
    if not waivers:
        note = (
            "Certification run: waivers are not accepted."
            if run.get("mode") == "certification"
            else "No waivers."
        )
        return section("waivers", "Waivers", none_note(note))
    rows = [
        [
            td(esc(w.get("scenario"))),
            td(esc(w.get("requirement") or ""), "id"),
            td(esc(w.get("reason"))),
            td(badge(str(w.get("status")))),
            td(esc("; ".join(w.get("matched", [])) or "nothing")),
        ]
        for w in waivers
    ]
    source = esc(run.get("waivers_file") or "the waivers file")
    intro = f"Expected failures from {source}. A waived scenario that passes fails the run."
    return section(
        "waivers",
        "Waivers",
        table(["scenario", "requirement", "reason", "status", "matched"], rows),
        intro,
    )
