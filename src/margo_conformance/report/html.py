"""report.html: the conformance report a person reads, rendered from the results tree.

One self-contained file that opens from disk: the CSS is inlined, there is no script and no
external resource, and every value from the run goes through `html.escape`. The page opens
with the verdict, says why it is not a pass, and shows each failure with its evidence (HTTP
exchanges, Git operations, the SUT's log, the timeline), collapsed in <details> so the page
stays short. The markup lives in `templates/` (string.Template); this module only fills it.

When the report directory holds `performance.json` (a fleet run, `margo-conformance fleet`),
the page gains a Performance section: throughput, latency percentiles per endpoint, error
rate, devices sustained, and the user's thresholds with what was observed. A directory with
only a fleet run gets a page of its own, whose banner is the thresholds' verdict (or
"measured" when none were given).
"""

from __future__ import annotations

import contextlib
import html
import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

import yaml

from margo_conformance import SUITE_NAME, __version__
from margo_conformance.base import redaction

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
REPORT_FILE = "report.html"
PERFORMANCE_FILE = "performance.json"
LOG_EXCERPT_LINES = 60
BODY_LIMIT = 6000  # characters of an HTTP body shown before it is cut

VERDICT_MEANING = {
    "pass": "every mandatory scenario for the claimed profiles ran and passed",
    "partial": "nothing failed, but not every scenario ran or a failure was waived",
    "fail": "the system under test broke at least one requirement",
    "error": "no verdict on the SUT: it could not be brought up, or the suite itself broke",
    "measured": "a fleet run, measured; no thresholds were given, so nothing was judged",
}
PERFORMANCE_MEANING = {
    "pass": "every threshold of the fleet run held",
    "fail": "at least one threshold of the fleet run did not hold",
}
OUTCOME_WORD = {
    "pass": "pass",
    "fail": "fail",
    "error": "error",
    "skip": "skip",
    "not_run": "not run",
    "waived": "waived",
    "stale": "stale waiver",
    "unused": "unused",
    "measured": "measured",
    "blocked": "blocked",
    "advisory": "advisory",
    "not_reached": "not reached",
    "passed": "passed",
    "failed": "failed",
    "no_verdict": "no verdict in this run",
    "not_covered": "not tested by this suite version",
    "not_testable": "not black-box testable",
}
#: Badge colour of each coverage status (the outcome it reads like).
STATUS_CSS = {"passed": "pass", "failed": "fail", "blocked": "blocked", "advisory": "advisory",
              "no_verdict": "skip", "not_covered": "not_run", "not_testable": "not_run"}
#: Coverage rows listed worst first.
STATUS_ORDER = ("failed", "blocked", "no_verdict", "advisory", "passed", "not_testable", "not_covered")
PROFILE_TRANSPORTS = {
    "V24": "HTTP device API with OAuth2 bearer tokens; desired state over Git smart HTTP",
    "PR1": "Margo 1.0 REST API (OpenAPI)",
    "PR2": "Margo 1.0 REST API over mutual TLS",
}
#: The page's sections in order: per requirement first (what failed, what was blocked, what is
#: only advisory), then the summary and the per-scenario evidence.
SECTIONS = (
    ("failed-requirements", "Failed requirements"),
    ("blocked", "Blocked"),
    ("advisory", "Advisory"),
    ("summary", "Summary"),
    ("failures", "Failures and errors"),
    ("not-run", "Skipped and not run"),
    ("not-tested", "Not tested in this run"),
    ("requirements", "Requirement traceability"),
    ("coverage", "Catalogue coverage"),
    ("scenarios", "All scenarios"),
    ("waivers", "Waivers"),
    ("identity", "System under test and suite"),
)


# -- small helpers ---------------------------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def _fill(template_name: str, **values: str) -> str:
    return _template(template_name).substitute(values)


def _badge(outcome: str, text: str | None = None) -> str:
    word = text or OUTCOME_WORD.get(outcome, outcome)
    return f'<span class="badge badge-{esc(outcome)}">{esc(word)}</span>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "data") -> str:
    """A table whose cells are already HTML (callers escape what they put in)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _td(content_html: str, css: str = "") -> str:
    return f'<td class="{css}">{content_html}</td>' if css else f"<td>{content_html}</td>"


def _kv(caption: str, pairs: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="kv"><caption>{esc(caption)}</caption><tbody>{rows}</tbody></table>'


def _details(summary: str, inner_html: str, open_: bool = False) -> str:
    opened = " open" if open_ else ""
    return (
        f"<details{opened}><summary>{esc(summary)}</summary>"
        f'<div class="inner">{inner_html}</div></details>'
    )


def _section(anchor: str, heading: str, body: str, intro: str = "") -> str:
    intro_html = f'<p class="intro">{intro}</p>' if intro else ""
    return _fill("section.html", anchor=anchor, heading=esc(heading), intro=intro_html, body=body)


def _none(text: str) -> str:
    return f'<p class="none">{esc(text)}</p>'


def _seconds(value: Any) -> str:
    try:
        return f"{float(value):.2f} s"
    except (TypeError, ValueError):
        return ""


def _anchor(index: int) -> str:
    return f"scenario-{index}"


def _is_problem(scenario: Mapping[str, Any]) -> bool:
    return scenario.get("outcome") in ("fail", "error") or bool(scenario.get("waiver"))


# -- banner -----------------------------------------------------------------------------------


REASON_SHOWN = 160  # characters of a verdict reason shown in the banner before its list folds


def _reason(reason: str) -> str:
    """A verdict reason; a long list of scenarios after its first colon folds away, so the banner
    stays short and the failed requirements below it come into view."""
    head, colon, listed = reason.partition(": ")
    if len(reason) <= REASON_SHOWN or not colon:
        return esc(reason)
    return f'{esc(head)} <details class="reason-list"><summary>show</summary>{esc(listed)}</details>'


def _banner_values(tree: Mapping[str, Any]) -> dict[str, str]:
    verdict = str(tree.get("verdict", "error"))
    sut = tree.get("sut", {})
    suite = tree.get("suite", {})
    run = tree.get("run", {})
    title = f"{sut.get('name', 'unnamed SUT')} {sut.get('version', '') or ''}".strip()
    claimed = ", ".join(sut.get("profiles", []) or []) or "no profile"
    meta = [
        f"role {sut.get('role', '?')}",
        f"profiles {claimed}",
        f"image {sut.get('image', '?')}",
        f"run {run.get('id', '?')}",
        f"started {run.get('started', '?')}",
    ]
    if run.get("duration_s") is not None:
        meta.append(f"took {_seconds(run.get('duration_s'))}")
    meta.append(f"{run.get('mode', 'development')} run")
    meta.append(f"{suite.get('name', SUITE_NAME)} {suite.get('version', '')}".strip())
    reasons = tree.get("verdict_reasons") or []
    reasons_html = (
        '<ul class="reasons">' + "".join(f"<li>{_reason(str(r))}</li>" for r in reasons) + "</ul>"
        if reasons
        else ""
    )
    statements = tree.get("coverage", {}).get("statements", [])
    if statements:
        reasons_html = (
            '<ul class="statements">' + "".join(_statement_items(s) for s in statements) + "</ul>" + reasons_html
        )
    return {
        "verdict": esc(verdict),
        "verdict_word": esc(verdict.upper()),
        "verdict_meaning": esc(VERDICT_MEANING.get(verdict, "")),
        "sut_title": esc(title),
        "banner_meta": " &middot; ".join(esc(m) for m in meta),
        "reasons": reasons_html,
    }


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


def _statement_items(statement: Mapping[str, Any]) -> str:
    """One profile's coverage in the banner: the MUST sentence, then the SHOULD line under it."""
    should = should_sentence(statement)
    return f"<li>{esc(statement.get('statement'))}</li>" + (f'<li class="should">{esc(should)}</li>' if should else "")


# -- sections ---------------------------------------------------------------------------------


def _summary(tree: Mapping[str, Any]) -> str:
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
                _td(esc(p.get("profile")), "id"),
                _td(_badge(str(p.get("verdict")))),
                _td(esc(PROFILE_TRANSPORTS.get(str(p.get("profile")), ""))),
                _td(
                    esc(
                        ", ".join(f"{n} {k}" for k, n in p.get("counts", {}).items() if n)
                        or "nothing ran"
                    )
                ),
                _td(esc(p.get("not_run", 0)), "num"),
            ]
            for p in profiles
        ]
        profile_html = '<h3 class="sub">Per-profile verdicts</h3>' + _table(
            ["profile", "verdict", "transports", "scenarios", "mandatory not run"], rows
        )
    else:
        profile_html = ""
    return _section("summary", "Summary", tiles_html + profile_html)


# -- what failed, per requirement ---------------------------------------------------------------


def _observed(value: Any) -> str:
    """What a check saw: a line of text, or a small table for a mapping or a list of rows."""
    if value in (None, "", [], {}):
        return ""
    if isinstance(value, Mapping):
        rows = [[_td(esc(k), "key"), _td(esc(v))] for k, v in value.items()]
        return _table(["", ""], rows, "data observed kv")
    if isinstance(value, list) and all(isinstance(row, Mapping) for row in value):
        columns = list(dict.fromkeys(k for row in value for k in row))
        rows = [[_td(esc(row.get(c, ""))) for c in columns] for row in value]
        return _table(columns, rows, "data observed")
    if isinstance(value, list):
        return '<ul class="observed">' + "".join(f"<li>{esc(v)}</li>" for v in value) + "</ul>"
    text = str(value)
    if "\n" in text.strip():
        return f'<pre class="block observed">{esc(text.strip())}</pre>'
    return f'<span class="observed">{esc(text)}</span>'


def _one_sentence(message: Any) -> tuple[str, str]:
    """(the first line, the rest): a failure traced by tags carries the scenario's whole
    message, whose lines after the first are what was seen, not part of the sentence."""
    first, _, rest = str(message or "(no message)").strip().partition("\n")
    return first.strip(), rest.strip("\n")


def _scenario_index(tree: Mapping[str, Any]) -> dict[str, int]:
    """Scenario name -> its position (1-based), the first problem scenario of a name winning."""
    index: dict[str, int] = {}
    for i, scenario in enumerate(tree.get("scenarios", []), 1):
        name = str(scenario.get("name"))
        if name not in index or (_is_problem(scenario) and not _is_problem(tree["scenarios"][index[name] - 1])):
            index[name] = i
    return index


def _scenario_link(name: str, where: Mapping[str, int], tree: Mapping[str, Any]) -> str:
    """The scenario's name (its example apart) linked to its evidence, or to its row."""
    base, example = _split_example(name)
    shown = f"<strong>{esc(base)}</strong>" + (
        f' <span class="example">example {esc(example)}</span>' if example else ""
    )
    position = where.get(name)
    if position is None:
        return shown
    scenario = tree.get("scenarios", [])[position - 1]
    target = _anchor(position) if _is_problem(scenario) else _row_anchor(position)
    link_word = "evidence" if _is_problem(scenario) else "scenario"
    return f'{shown} <a class="jump" href="#{target}">{link_word} &rarr;</a>'


def _split_example(name: str) -> tuple[str, str]:
    """'Scenario [example-id]' -> ('Scenario', 'example-id')."""
    if name.endswith("]") and " [" in name:
        base, _, example = name[:-1].rpartition(" [")
        return base, example
    return name, ""


def _row_anchor(index: int) -> str:
    return f"scenario-row-{index}"


def _requirement_anchor(requirement: str) -> str:
    return f"requirement-{requirement}"


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
    sentence, rest = _one_sentence(check.get("message"))
    observed = _observed(check.get("observed")) or _observed(textwrap.dedent(rest))
    named = [r for r in check.get("requirements", []) if r]
    if check.get("traced_by") == "tags":
        note = "" if not explain_tags else (
            f"No check named a requirement: the scenario failed on a plain assertion, so each of its "
            f"requirement tags ({', '.join(named)}) fails."
        )
    else:
        note = f"The same check fails {', '.join(named)}." if len(named) > 1 else ""
    links = "".join(f"<li>{_scenario_link(name, where, tree)}</li>" for name in scenarios)
    return (
        '<div class="failed-check">'
        f'<ul class="plain where">{links}</ul>'
        f'<p class="check-message">{esc(sentence)}</p>'
        + (f'<div class="seen"><span class="seen-label">Observed</span>{observed}</div>' if observed else "")
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
    badge = _badge("waived", "fail · waived") if waived else _badge("fail", "failed")
    groups = _check_groups(first.get("failed_checks") or [])
    body = "".join(_failed_check(c, names, where, tree, len(rows) == 1) for c, names in groups) or _none(
        "No check was recorded."
    )
    in_scenarios = len({n for _, names in groups for n in names})
    count = f"{len(groups)} failed check{'s' if len(groups) != 1 else ''}" + (
        f" in {in_scenarios} scenarios" if in_scenarios > 1 else ""
    )
    heads = "".join(
        f'<header class="req-head" id="{esc(_requirement_anchor(str(row.get("id"))))}">{badge}'
        f'<h3 class="req-id">{esc(row.get("id"))}</h3>{_badge("level", str(row.get("level")))}'
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


def _failed_requirements(tree: Mapping[str, Any]) -> str:
    """One entry per failed requirement: what it asks, each check that failed it, what was seen."""
    failed = [r for r in tree.get("requirements", []) if r.get("outcome") == "fail"]
    failed.sort(key=lambda r: (bool(r.get("waived")), r.get("level") != "must", str(r.get("id"))))
    if not failed:
        return _section("failed-requirements", "Failed requirements", _none("No requirement failed."))
    where = _scenario_index(tree)
    entries = [_requirement_entry(rows, where, tree) for rows in _failed_together(failed)]
    unwaived = sum(1 for r in failed if not r.get("waived"))
    intro = (
        f"{unwaived} requirement(s) failed"
        + (f", {len(failed) - unwaived} more waived" if unwaived < len(failed) else "")
        + ". Each with what the catalogue asks, every check that failed it (scenario, what was "
        "expected, what came back) and a link to that scenario's evidence below."
    )
    return _section(
        "failed-requirements", f"Failed requirements ({len(failed)})", "\n".join(entries), esc(intro)
    )


def _blocked(tree: Mapping[str, Any]) -> str:
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
    where = _scenario_index(tree)
    rows = []
    for (prerequisite, broken), scenarios in groups.items():
        left = sorted({r for s in scenarios for r in unjudged.get(str(s.get("name")), [])})
        broken_html = (
            ", ".join(f'<a href="#{esc(_requirement_anchor(r))}">{esc(r)}</a>' for r in broken)
            if broken
            else '<span class="none">none named</span>'
        )
        listed = "".join(f"<li>{_scenario_link(str(s.get('name')), where, tree)}</li>" for s in scenarios)
        rows.append(
            [
                _td(esc(prerequisite)),
                _td(broken_html, "id"),
                _td(esc(", ".join(left)) or '<span class="none">none</span>', "id wrap"),
                _td(f'<ul class="plain">{listed}</ul>'),
            ]
        )
    intro = (
        "Scenarios whose scene could not be set up because the SUT refused a prerequisite: the "
        "requirement it broke there (if any) is among the failed requirements above; the "
        "requirements the scenarios were written for are left unjudged."
    )
    return _section(
        "blocked",
        f"Blocked ({sum(len(v) for v in groups.values())})",
        _table(["prerequisite refused", "broken there", "left unjudged", "scenarios"], rows, "data blocked"),
        esc(intro),
    )


def _advisory_observed(value: Any) -> str:
    shown = _observed(value)
    return f'<div class="seen small"><span class="seen-label">Observed</span>{shown}</div>' if shown else ""


def _advisory(tree: Mapping[str, Any]) -> str:
    """Checks of what the spec leaves open: shown with the ambiguity rows they rest on, never counted."""
    where = _scenario_index(tree)
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
                _td(_badge("advisory", "holds" if check.get("passed") else "does not hold")),
                _td(esc(", ".join(check.get("requirements", []))), "id"),
                _td(esc(_one_sentence(check.get("message"))[0]) + _advisory_observed(check.get("observed"))),
                _td(esc(ambiguities) or '<span class="none">none named</span>', "id"),
                _td(_scenario_link(name, where, tree)),
            ]
        )
    if not rows:
        return ""
    intro = (
        "Checks of what the spec leaves open (an interop choice, or a row the catalogue lists "
        "as inconsistent: I- rows in REQUIREMENTS.md, A- rows in REQUIREMENTS-ADDITIONS.md). "
        "Shown for the vendor's information; they never count towards a verdict."
    )
    return _section(
        "advisory",
        f"Advisory ({len(rows)})",
        _table(["check", "requirement", "what was checked", "catalogue rows", "scenario"], rows, "data advisory"),
        esc(intro),
    )


def _failures(tree: Mapping[str, Any], evidence_root: Path | None) -> str:
    problems = [(i, s) for i, s in enumerate(tree.get("scenarios", []), 1) if _is_problem(s)]
    if not problems:
        message = tree.get("message")
        body = (
            _none(f"No scenario ran: {message}")
            if message
            else _none("No scenario failed or ended in error.")
        )
        return _section("failures", "Failures and errors", body)
    body = "\n".join(_failure(i, s, evidence_root) for i, s in problems)
    intro = (
        "Each failure with the message the suite recorded; open the evidence to see what was "
        "exchanged."
    )
    return _section("failures", "Failures and errors", body, esc(intro))


def _failure(index: int, scenario: Mapping[str, Any], evidence_root: Path | None) -> str:
    outcome = str(scenario.get("outcome"))
    waiver = scenario.get("waiver") or {}
    status = waiver.get("status")
    shown_outcome = "waived" if status == "waived" else outcome
    word = {"waived": "fail · waived", "stale": "pass · stale waiver"}.get(
        status or "", OUTCOME_WORD.get(outcome, outcome)
    )
    waiver_html = ""
    if status == "waived":
        waiver_html = (
            f'<p class="waiver-note"><strong>Waived:</strong> {esc(waiver.get("reason"))}</p>'
        )
    elif status == "stale":
        waiver_html = (
            '<p class="waiver-note"><strong>Stale waiver:</strong> this scenario passed '
            f"although a waiver expects it to fail ({esc(waiver.get('reason'))}). "
            "Remove the waiver.</p>"
        )
    message = scenario.get("message") or ("(passed)" if outcome == "pass" else "(no message)")
    failed = ", ".join(scenario.get("failed_requirements", []))
    if failed and scenario.get("traced_by") == "tags":
        failed += " (traced by the scenario's tags: the failure named no requirement)"
    if scenario.get("blocked"):
        failed = f"blocked at: {scenario['blocked']}" + (f"; {failed} failed there" if failed else "")
    return _fill(
        "failure.html",
        outcome=esc(shown_outcome if status != "stale" else "stale"),
        anchor=_anchor(index),
        outcome_word=esc(word),
        name=esc(scenario.get("name")),
        feature=esc(scenario.get("feature")),
        requirements=esc(", ".join(scenario.get("requirements", [])) or "none"),
        failed=esc(failed or "none"),
        checks=_check_table(scenario.get("checks", [])),
        duration=esc(_seconds(scenario.get("duration_s"))),
        nodeid=esc(scenario.get("nodeid")),
        waiver=waiver_html,
        message=esc(message),
        evidence=_evidence(scenario, evidence_root),
    )


def _check_table(checks: Sequence[Mapping[str, Any]]) -> str:
    """The failed and the advisory checks of a scenario (passed requirement checks are implied)."""
    shown = [c for c in checks if not c.get("passed") or c.get("kind") == "advisory"]
    if not shown:
        return ""
    rows = [
        [
            _td(_badge("advisory" if c.get("kind") == "advisory" else "fail",
                       ("advisory: " if c.get("kind") == "advisory" else "")
                       + ("holds" if c.get("passed") else "does not hold"))),
            _td(esc(", ".join(c.get("requirements", []))), "id"),
            _td(esc(c.get("message"))),
            _td(_observed(c.get("observed"))),
        ]
        for c in shown
    ]
    return _table(["check", "requirement", "expected", "observed"], rows, "data checks")


def _not_run(tree: Mapping[str, Any]) -> str:
    rows = []
    for scenario in tree.get("scenarios", []):
        if scenario.get("outcome") == "skip":
            rows.append(
                [
                    _td(_badge("skip")),
                    _td(esc(scenario.get("name"))),
                    _td(esc(scenario.get("message") or "no reason given")),
                ]
            )
    reported = {s.get("nodeid") for s in tree.get("scenarios", [])}
    for missing in tree.get("coverage", {}).get("not_run", []):
        if missing.get("nodeid") in reported:
            continue  # a skipped mandatory scenario is listed above with its reason
        rows.append(
            [
                _td(_badge("not_run")),
                _td(esc(missing.get("name"))),
                _td(
                    esc(
                        f"mandatory; {missing.get('why')}: {missing.get('detail', '')}".rstrip(": ")
                    )
                ),
            ]
        )
    if not rows:
        return _section(
            "not-run",
            "Skipped and not run",
            _none("Every selected and every mandatory scenario ran."),
        )
    intro = (
        "A run that leaves out a mandatory scenario of the claimed role and profiles cannot pass."
    )
    return _section(
        "not-run", "Skipped and not run", _table(["", "scenario", "reason"], rows), esc(intro)
    )


NOT_TESTED_PREFIX = "not tested: "  # checks.not_tested opens every message with it


def _not_tested(tree: Mapping[str, Any]) -> str:
    """Checks a scenario could not make with what the SUT file declares, each with its reason."""
    where = _scenario_index(tree)
    rows = []
    for scenario in tree.get("scenarios", []):
        for check in scenario.get("checks", []):
            if check.get("kind") != "not_tested":
                continue
            reason = str(check.get("message", ""))
            reason = reason[len(NOT_TESTED_PREFIX):] if reason.startswith(NOT_TESTED_PREFIX) else reason
            rows.append(
                [
                    _td(esc(", ".join(check.get("requirements", []))), "id"),
                    _td(esc(reason) or '<span class="none">no reason given</span>'),
                    _td(_scenario_link(str(scenario.get("name")), where, tree)),
                ]
            )
    if not rows:
        return ""
    intro = (
        "Checks a scenario did not make because the SUT file gives the suite no way to observe them "
        "(e.g. workloads the suite cannot see); the scenario went on with its other checks. They "
        "count neither for nor against a verdict."
    )
    return _section(
        "not-tested",
        f"Not tested in this run ({len(rows)})",
        _table(["requirement", "why not tested", "scenario"], rows, "data not-tested"),
        esc(intro),
    )


def _requirements(tree: Mapping[str, Any]) -> str:
    outcome_of = {str(s.get("name")): str(s.get("outcome")) for s in tree.get("scenarios", [])}
    rows = []
    for row in tree.get("requirements", []):
        outcome = str(row.get("outcome"))
        badge = _badge(outcome) + (" " + _badge("waived") if row.get("waived") else "")
        if row.get("traced_by") == "tags" and outcome in ("pass", "fail"):
            badge += ' <span class="traced" title="no check named it; its scenarios\' tags did">by tags</span>'
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
                _td(esc(row.get("id")), "id"),
                _td(_badge("level", str(row.get("level")))),
                _td(esc(row.get("summary", "")), "summary-cell"),
                _td(f'<ul class="plain">{listed}</ul>'),
                _td(badge),
            ]
        )
    if not rows:
        return _section(
            "requirements", "Requirement traceability", _none("No requirement was exercised.")
        )
    intro = (
        "Each requirement the run exercised, the scenarios that verify it (a dot shows its outcome "
        "in each), and its outcome: failed when a check naming it failed, passed when checked and "
        "never failed, blocked when its scenario was blocked before reaching it, advisory when only "
        "checks of what the spec leaves open named it (never counted)."
    )
    return _section(
        "requirements",
        "Requirement traceability",
        _table(["requirement", "level", "summary", "scenarios", "outcome"], rows, "data trace"),
        esc(intro),
    )


def _coverage(tree: Mapping[str, Any]) -> str:
    """Every MUST and SHOULD row of the catalogue binding the role and each claimed profile."""
    catalogue = _catalogue_summaries()
    parts = []
    for statement in tree.get("coverage", {}).get("statements", []):
        rows = sorted(
            statement.get("requirements", []),
            key=lambda r: (STATUS_ORDER.index(r["status"]) if r.get("status") in STATUS_ORDER else 99,
                           r.get("level") != "must", r.get("id")),
        )
        table = _table(
            ["requirement", "level", "status", "summary"],
            [
                [
                    _td(esc(r.get("id")), "id"),
                    _td(_badge("level", str(r.get("level")))),
                    _td(_badge(STATUS_CSS.get(str(r.get("status")), "skip"),
                               OUTCOME_WORD.get(str(r.get("status")), str(r.get("status"))))),
                    _td(esc(catalogue.get(str(r.get("id")), ""))
                        + (f'<br><span class="none">{esc(r["reason"])}</span>' if r.get("reason") else ""),
                        "summary-cell"),
                ]
                for r in rows
            ],
        )
        should = should_sentence(statement)
        parts.append(f'<p class="statement">{esc(statement.get("statement"))}</p>'
                     + (f'<p class="statement should">{esc(should)}</p>' if should else "")
                     + _details(f"{statement.get('profile')}: all {len(rows)} MUST and SHOULD rows", table))
    if not parts:
        return _section("coverage", "Catalogue coverage", _none("No profile was claimed."))
    intro = (
        "For each claimed profile, every MUST and SHOULD requirement of the catalogue that binds the "
        "SUT's role: passed, failed, blocked, advisory, without a verdict in this run, not tested by "
        "this suite version, or not black-box testable (with the catalogue's reason). Only scenarios "
        "that run for a profile count for it."
    )
    return _section("coverage", "Catalogue coverage", "\n".join(parts), esc(intro))


@cache
def _catalogue_summaries() -> dict[str, str]:
    from margo_conformance.base.requirements import load_catalogue

    return {r.id: r.summary for r in load_catalogue().values()}


def _scenarios(tree: Mapping[str, Any]) -> str:
    rows = []
    for i, scenario in enumerate(tree.get("scenarios", []), 1):
        name = esc(scenario.get("name"))
        if _is_problem(scenario):
            name = f'<a href="#{_anchor(i)}">{name}</a>'
        status = (scenario.get("waiver") or {}).get("status")
        badge = _badge(str(scenario.get("outcome"))) + (f" {_badge(status)}" if status else "")
        rows.append(
            [
                f'<td class="num" id="{_row_anchor(i)}">{esc(i)}</td>',
                _td(badge),
                _td(name),
                _td(esc(scenario.get("feature"))),
                _td(esc(", ".join(scenario.get("requirements", []))), "id"),
                _td(esc(_seconds(scenario.get("duration_s"))), "num"),
            ]
        )
    if not rows:
        return _section("scenarios", "All scenarios", _none("No scenario ran."))
    return _section(
        "scenarios",
        "All scenarios",
        _table(["#", "outcome", "scenario", "feature", "requirements", "duration"], rows),
    )


def _waivers(tree: Mapping[str, Any]) -> str:
    waivers = tree.get("waivers", [])
    run = tree.get("run", {})
    if not waivers:
        note = (
            "Certification run: waivers are not accepted."
            if run.get("mode") == "certification"
            else "No waivers."
        )
        return _section("waivers", "Waivers", _none(note))
    rows = [
        [
            _td(esc(w.get("scenario"))),
            _td(esc(w.get("requirement") or ""), "id"),
            _td(esc(w.get("reason"))),
            _td(_badge(str(w.get("status")))),
            _td(esc("; ".join(w.get("matched", [])) or "nothing")),
        ]
        for w in waivers
    ]
    source = esc(run.get("waivers_file") or "the waivers file")
    intro = f"Expected failures from {source}. A waived scenario that passes fails the run."
    return _section(
        "waivers",
        "Waivers",
        _table(["scenario", "requirement", "reason", "status", "matched"], rows),
        intro,
    )


def _identity(tree: Mapping[str, Any]) -> str:
    sut = tree.get("sut", {})
    suite = tree.get("suite", {})
    run = tree.get("run", {})
    profiles = list(sut.get("profiles", []) or [])
    transports = "; ".join(
        f"{p}: {PROFILE_TRANSPORTS[p]}" for p in profiles if p in PROFILE_TRANSPORTS
    )
    digests = sut.get("repo_digests") or []
    sut_pairs = [
        ("Name", esc(sut.get("name"))),
        ("Vendor", esc(sut.get("vendor"))),
        ("Version", esc(sut.get("version"))),
        ("Claimed role", esc(sut.get("role"))),
        ("Claimed profiles", esc(", ".join(profiles))),
        ("Transports", esc(transports or "n/a")),
        ("Image", f"<code>{esc(sut.get('image'))}</code>"),
        ("Image id", f'<span class="digest">{esc(sut.get("image_id") or "not recorded")}</span>'),
        (
            "Registry digests",
            f'<span class="digest">{esc(", ".join(digests) or "none (local image)")}</span>',
        ),
    ]
    commit = suite.get("commit") or "unknown (not a Git checkout)"
    dirty = " <em>with uncommitted changes</em>" if suite.get("dirty") else ""
    selection = run.get("selection") or {}
    chosen = ", ".join(f"{k} {v}" for k, v in selection.items() if v) or "everything applicable"
    suite_pairs = [
        ("Suite", esc(f"{suite.get('name', SUITE_NAME)} {suite.get('version', '')}")),
        ("Commit", f'<span class="digest">{esc(commit)}</span>{dirty}'),
        (
            f"SHA-256 of {', '.join(suite.get('content_paths', ['features', 'schemas']))}",
            f'<span class="digest">{esc(suite.get("content_sha256") or "not recorded")}</span>',
        ),
        ("Run id", f"<code>{esc(run.get('id'))}</code>"),
        ("Mode", esc(run.get("mode", "development"))),
        ("Started / finished", esc(f"{run.get('started', '?')} / {run.get('finished', '?')}")),
        ("Selection", esc(chosen)),
    ]
    sut_file = sut.get("sut_file")
    sut_file_html = ""
    if sut_file:
        shown = yaml.safe_dump(sut_file, sort_keys=False, allow_unicode=True)
        sut_file_html = _details(
            "SUT file (secrets redacted)", f'<pre class="block">{esc(shown)}</pre>'
        )
    tables = _kv("System under test", sut_pairs) + _kv("Suite and run", suite_pairs)
    body = f'<div class="identity">{tables}</div>{sut_file_html}'
    return _section("identity", "System under test and suite", body)


# -- performance (fleet profile) -----------------------------------------------------------------


def load_performance(report_dir: Path | None) -> dict[str, Any] | None:
    """performance.json of a fleet run in `report_dir`, or None when there is none."""
    if report_dir is None:
        return None
    try:
        document = json.loads((report_dir / PERFORMANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _ms(value: Any) -> str:
    try:
        return f"{float(value):,.1f}"
    except (TypeError, ValueError):
        return ""


def _performance(perf: Mapping[str, Any]) -> str:
    run = perf.get("run", {})
    totals = perf.get("totals", {})
    devices = perf.get("devices", {})
    verdict = perf.get("verdict") or "measured"
    sustained, requested = devices.get("sustained", 0), devices.get("requested", 0)
    tiles = [
        ("short" if sustained < requested else "pass", f"{sustained}/{requested}",
         "devices sustained"),
        ("measured", f"{float(totals.get('throughput_rps', 0)):,.0f}/s", "requests (all endpoints)"),
        ("fail" if totals.get("failures") else "pass",
         f"{float(totals.get('error_rate', 0)):.2%}", "error rate"),
        ("measured", f"{_ms(totals.get('p95_ms'))} ms", "p95 latency (all endpoints)"),
        (verdict, OUTCOME_WORD.get(verdict, verdict), "against the thresholds"),
    ]
    tiles_html = '<div class="tiles">' + "".join(
        f'<div class="tile {esc(css)}"><div class="n">{esc(n)}</div>'
        f'<div class="label">{esc(label)}</div></div>'
        for css, n, label in tiles
    ) + "</div>"
    run_line = (
        f"{run.get('devices', '?')} simulated devices, polling every "
        f"{run.get('poll_interval_s', '?')} s, measured for {run.get('duration_s', '?')} s after "
        f"a {run.get('ramp_s', '?')} s start-up; Locust {run.get('mode', 'local')}"
        + (f" with {run.get('workers')} worker(s)" if run.get("workers") else "")
        + f"; load sent to {run.get('target', 'the WOS')}; started {run.get('started', '?')}. "
        f"Sustained: {devices.get('rule', '')}."
    )
    rows = [
        [
            _td(esc(e.get("name"))),
            _td(esc(f"{e.get('requests', 0):,}"), "num"),
            _td(esc(f"{float(e.get('throughput_rps', 0)):,.1f}"), "num"),
            _td(esc(_ms(e.get("p50_ms"))), "num"),
            _td(esc(_ms(e.get("p95_ms"))), "num"),
            _td(esc(_ms(e.get("p99_ms"))), "num"),
            _td(esc(_ms(e.get("max_ms"))), "num"),
            _td(esc(f"{e.get('failures', 0):,} ({float(e.get('error_rate', 0)):.2%})"), "num"),
        ]
        for e in [*perf.get("endpoints", []), {**totals, "name": "all endpoints"}]
    ]
    endpoints = _table(
        ["endpoint", "requests", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"], rows
    )
    return _fill(
        "performance.html",
        tiles=tiles_html,
        run_line=esc(run_line),
        endpoints=endpoints,
        thresholds=_performance_thresholds(perf.get("thresholds", [])),
        errors=_performance_errors(perf.get("errors", [])),
    )


def _performance_thresholds(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return _none("No thresholds were given (--thresholds FILE): the run is measured, not judged.")
    table = _table(
        ["threshold", "observed", "verdict"],
        [
            [
                _td(esc(r.get("check"))),
                _td(esc(r.get("observed") if r.get("observed") is not None else "not measured"),
                    "num"),
                _td(_badge("pass" if r.get("passed") else "fail")),
            ]
            for r in rows
        ],
    )
    return '<h3 class="sub">Thresholds</h3>' + table


def _performance_errors(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    table = _table(
        ["endpoint", "error", "occurrences"],
        [[_td(esc(r.get("endpoint"))), _td(esc(r.get("error"))),
          _td(esc(r.get("occurrences")), "num")] for r in rows],
    )
    return '<h3 class="sub">Errors</h3>' + table


def _performance_section(perf: Mapping[str, Any]) -> str:
    intro = (
        "A fleet run (margo-conformance fleet): simulated devices onboarding, reporting "
        "capabilities, polling their desired state as git fetch does and reporting status, "
        "driven by Locust. Pass or fail only against the thresholds the user gave."
    )
    return _section("performance", "Performance", _performance(perf), esc(intro))


# -- evidence ---------------------------------------------------------------------------------


def load_evidence(
    evidence_root: Path | None, relative: str | None
) -> tuple[list[dict[str, Any]], str]:
    """(events, problem): the scenario's evidence events, or why there are none."""
    if not relative:
        return [], "no evidence was recorded for this scenario"
    if evidence_root is None:
        return [], f"evidence file {relative} was not available when the report was written"
    try:
        document = json.loads((evidence_root / relative).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return [], f"evidence file {relative} could not be read: {exc}"
    return list(document.get("events", [])), ""


def _evidence(scenario: Mapping[str, Any], evidence_root: Path | None) -> str:
    events, problem = load_evidence(evidence_root, scenario.get("evidence"))
    if problem:
        return _none(problem)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_kind.setdefault(str(event.get("kind")), []).append(event)
    parts = [
        _http_exchanges(by_kind.get("http", [])),
        _git_operations(by_kind.get("git", []), by_kind.get("commit", [])),
        _log_excerpt(by_kind.get("log", [])),
        _timeline(events),
    ]
    return "\n".join(p for p in parts if p)


def _body(text: Any) -> str:
    if text in (None, ""):
        return '<span class="none">(empty)</span>'
    shown = str(text)
    with contextlib.suppress(TypeError, ValueError):  # not JSON: show it as it came
        shown = json.dumps(json.loads(shown), indent=2, ensure_ascii=False)
    if len(shown) > BODY_LIMIT:
        shown = (
            shown[:BODY_LIMIT]
            + f"\n... ({len(shown) - BODY_LIMIT} more characters in the evidence file)"
        )
    return f'<pre class="block">{esc(shown)}</pre>'


def _headers(headers: Any) -> str:
    if not isinstance(headers, Mapping) or not headers:
        return ""
    return f'<pre class="block">{esc(chr(10).join(f"{k}: {v}" for k, v in headers.items()))}</pre>'


def _http_exchanges(events: list[dict[str, Any]]) -> str:
    if not events:
        return ""
    items = []
    for event in events:
        data = event.get("data", {})
        status = data.get("status")
        took = f" ({data['duration_ms']} ms)" if data.get("duration_ms") is not None else ""
        request = f"{data.get('method', '')} {data.get('path', '')}"
        line = f"+{event.get('t', 0):.3f}s  {request} -> {status}{took}"
        inner = (
            f"<h4>Request: {esc(data.get('method', ''))} {esc(data.get('path', ''))}</h4>"
            + _headers(data.get("request_headers"))
            + _body(data.get("request_body"))
            + f"<h4>Response {esc(status)}</h4>"
            + _headers(data.get("response_headers"))
            + _body(data.get("response_body"))
        )
        items.append(_details(line, inner))
    return _details(f"HTTP exchanges ({len(events)})", "\n".join(items))


def _git_operations(git: list[dict[str, Any]], commits: list[dict[str, Any]]) -> str:
    if not git and not commits:
        return ""
    rows = []
    for event in sorted(git + commits, key=lambda e: e.get("t", 0)):
        data = event.get("data", {})
        status = data.get("status")
        bad = isinstance(status, int) and status >= 400
        rows.append(
            [
                _td(esc(f"+{event.get('t', 0):.3f}s"), "num"),
                _td(f'<span class="kind">{esc(event.get("kind"))}</span>'),
                _td(esc(event.get("summary"))),
                _td(esc(data.get("auth", "")) if event.get("kind") == "git" else ""),
                _td(
                    f'<span class="{"status-bad" if bad else ""}">'
                    f"{esc(status if status is not None else '')}</span>",
                    "num",
                ),
            ]
        )
    return _details(
        f"Git operations and commits ({len(rows)})",
        _table(["t", "kind", "operation", "auth", "status"], rows, "data events"),
    )


def _log_excerpt(events: list[dict[str, Any]]) -> str:
    if not events:
        return ""
    shown = events[-LOG_EXCERPT_LINES:]
    note = (
        f"last {len(shown)} of {len(events)} lines"
        if len(events) > len(shown)
        else f"{len(events)} lines"
    )
    text = "\n".join(f"+{e.get('t', 0):7.3f}s  {e.get('summary', '')}" for e in shown)
    return _details(f"SUT container log ({note})", f'<pre class="block">{esc(text)}</pre>')


def _timeline(events: list[dict[str, Any]]) -> str:
    if not events:
        return ""
    rows = [
        [
            _td(esc(f"+{e.get('t', 0):.3f}s"), "num"),
            _td(f'<span class="kind">{esc(e.get("kind"))}</span>'),
            _td(esc(e.get("summary"))),
        ]
        for e in events
    ]
    return _details(
        f"Timeline, all events ({len(events)})", _table(["t", "kind", "event"], rows, "data events")
    )


# -- page -------------------------------------------------------------------------------------


@cache
def _css() -> str:
    return (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")


def render_report(
    tree: Mapping[str, Any],
    evidence_root: Path | None = None,
    performance: Mapping[str, Any] | None = None,
) -> str:
    """The whole page for one results tree; `evidence_root` is where evidence/ files live;
    `performance` (a fleet run's performance.json) adds the Performance section."""
    # In SECTIONS order, Performance after the summary; blocked and advisory only when there are any.
    written = {
        "failed-requirements": _failed_requirements(tree),
        "blocked": _blocked(tree),
        "advisory": _advisory(tree),
        "summary": _summary(tree),
        "performance": _performance_section(performance) if performance else "",
        "failures": _failures(tree, evidence_root),
        "not-run": _not_run(tree),
        "not-tested": _not_tested(tree),
        "requirements": _requirements(tree),
        "coverage": _coverage(tree),
        "scenarios": _scenarios(tree),
        "waivers": _waivers(tree),
        "identity": _identity(tree),
    }
    after_summary = [anchor for anchor, _ in SECTIONS].index("summary") + 1
    order = [*SECTIONS[:after_summary], ("performance", "Performance"), *SECTIONS[after_summary:]]
    toc = [(anchor, heading) for anchor, heading in order if written[anchor]]
    sections = [written[anchor] for anchor, _ in toc]
    banner = _banner_values(tree)
    sut = tree.get("sut", {})
    return _fill(
        "report.html",
        generator=esc(f"{SUITE_NAME} {__version__}"),
        title=esc(
            f"{banner['verdict_word']} · {sut.get('name', 'SUT')} · Margo conformance report"
        ),
        css=_css(),
        toc=" ".join(f'<a href="#{a}">{esc(h)}</a>' for a, h in toc),
        sections="\n".join(sections),
        footer=esc(
            f"Generated by {SUITE_NAME} {__version__} from results.json of run "
            f"{tree.get('run', {}).get('id', '?')}. The machine-readable results, JUnit XML and "
            "evidence files sit next to this page."
        ),
        **banner,
    )


def render_performance_report(perf: Mapping[str, Any]) -> str:
    """The page for a directory holding only a fleet run: banner, Performance, the SUT."""
    verdict = str(perf.get("verdict") or "measured")
    sut = perf.get("sut", {})
    run = perf.get("run", {})
    meta = [
        f"role {sut.get('role', 'wos')}",
        f"image {sut.get('image', '?')}",
        f"fleet of {run.get('devices', '?')} devices",
        f"started {run.get('started', '?')}",
        f"{SUITE_NAME} {__version__}",
    ]
    failed = [r for r in perf.get("thresholds", []) if not r.get("passed")]
    reasons = (
        '<ul class="reasons">'
        + "".join(f"<li>{esc(r.get('check'))}: observed {esc(r.get('observed'))}</li>"
                  for r in failed)
        + "</ul>"
        if failed else ""
    )
    identity = _kv("System under test", [
        ("Name", esc(sut.get("name"))),
        ("Vendor", esc(sut.get("vendor"))),
        ("Version", esc(sut.get("version"))),
        ("Image", f"<code>{esc(sut.get('image'))}</code>"),
        ("Image id", f'<span class="digest">{esc(sut.get("image_id") or "not recorded")}</span>'),
    ])
    sections = [
        _performance_section(perf),
        _section("identity", "System under test", f'<div class="identity">{identity}</div>'),
    ]
    return _fill(
        "report.html",
        generator=esc(f"{SUITE_NAME} {__version__}"),
        title=esc(f"{verdict.upper()} · {sut.get('name', 'WOS')} · Margo fleet report"),
        css=_css(),
        toc='<a href="#performance">Performance</a> <a href="#identity">System under test</a>',
        sections="\n".join(sections),
        footer=esc(f"Generated by {SUITE_NAME} {__version__} from performance.json."),
        verdict=esc(verdict),
        verdict_word=esc(verdict.upper()),
        verdict_meaning=esc(PERFORMANCE_MEANING.get(verdict, VERDICT_MEANING["measured"])),
        sut_title=esc(f"{sut.get('name', 'WOS')} {sut.get('version', '') or ''}".strip()),
        banner_meta=" &middot; ".join(esc(m) for m in meta),
        reasons=reasons,
    )


def write_report(report_dir: Path, tree: Mapping[str, Any] | None = None) -> Path:
    """Render report.html next to results.json (read from there unless `tree` is given), with
    the Performance section when performance.json is there too; a directory with only
    performance.json gets the fleet page."""
    performance = load_performance(report_dir)
    target = report_dir / REPORT_FILE
    if tree is None and performance is not None and not (report_dir / "results.json").is_file():
        target.write_text(redaction.redact_text(render_performance_report(performance)), encoding="utf-8")
        return target
    if tree is None:
        tree = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    target.write_text(redaction.redact_text(render_report(tree, report_dir, performance)), encoding="utf-8")
    return target
