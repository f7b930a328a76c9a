"""Failures and their evidence in report.html: each failed, errored or waived scenario with its
message and checks, then what the evidence file recorded (HTTP exchanges, Git operations and
commits, the SUT's log, the timeline of all events), collapsed in <details> so the page stays short.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from margo_conformance.report.html.markup import (
    OUTCOME_WORD,
    anchor,
    badge,
    details,
    esc,
    fill,
    is_problem,
    none_note,
    observed,
    seconds,
    section,
    table,
    td,
)

LOG_EXCERPT_LINES = 60

BODY_LIMIT = 6000  # characters of an HTTP body shown before it is cut


def failures_section(tree: Mapping[str, Any], evidence_root: Path | None) -> str:
    """Each failed, errored or waived scenario with its evidence, or why there is none."""
    problems = [(i, s) for i, s in enumerate(tree.get("scenarios", []), 1) if is_problem(s)]
    if not problems:
        message = tree.get("message")
        body = (
            none_note(f"No scenario ran: {message}")
            if message
            else none_note("No scenario failed or ended in error.")
        )
        return section("failures", "Failures and errors", body)
    body = "\n".join(_failure(i, s, evidence_root) for i, s in problems)
    intro = (
        "Each failure with the message the suite recorded; open the evidence to see what was "
        "exchanged."
    )
    return section("failures", "Failures and errors", body, esc(intro))


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
    return fill(
        "failure.html",
        outcome=esc(shown_outcome if status != "stale" else "stale"),
        anchor=anchor(index),
        outcome_word=esc(word),
        name=esc(scenario.get("name")),
        feature=esc(scenario.get("feature")),
        requirements=esc(", ".join(scenario.get("requirements", [])) or "none"),
        failed=esc(failed or "none"),
        checks=_check_table(scenario.get("checks", [])),
        duration=esc(seconds(scenario.get("duration_s"))),
        nodeid=esc(scenario.get("nodeid")),
        waiver=waiver_html,
        message=esc(message),
        evidence=scenario_evidence(scenario, evidence_root),
    )


def _check_table(checks: Sequence[Mapping[str, Any]]) -> str:
    """The failed and the advisory checks of a scenario (passed requirement checks are implied)."""
    shown = [c for c in checks if not c.get("passed") or c.get("kind") == "advisory"]
    if not shown:
        return ""
    rows = [
        [
            td(badge("advisory" if c.get("kind") == "advisory" else "fail",
                       ("advisory: " if c.get("kind") == "advisory" else "")
                       + ("holds" if c.get("passed") else "does not hold"))),
            td(esc(", ".join(c.get("requirements", []))), "id"),
            td(esc(c.get("message"))),
            td(observed(c.get("observed"))),
        ]
        for c in shown
    ]
    return table(["check", "requirement", "expected", "observed"], rows, "data checks")


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


def scenario_evidence(scenario: Mapping[str, Any], evidence_root: Path | None) -> str:
    """A scenario's evidence file as collapsed panels: HTTP, Git and commits, the SUT's log, the timeline."""
    events, problem = load_evidence(evidence_root, scenario.get("evidence"))
    if problem:
        return none_note(problem)
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
        items.append(details(line, inner))
    return details(f"HTTP exchanges ({len(events)})", "\n".join(items))


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
                td(esc(f"+{event.get('t', 0):.3f}s"), "num"),
                td(f'<span class="kind">{esc(event.get("kind"))}</span>'),
                td(esc(event.get("summary"))),
                td(esc(data.get("auth", "")) if event.get("kind") == "git" else ""),
                td(
                    f'<span class="{"status-bad" if bad else ""}">'
                    f"{esc(status if status is not None else '')}</span>",
                    "num",
                ),
            ]
        )
    return details(
        f"Git operations and commits ({len(rows)})",
        table(["t", "kind", "operation", "auth", "status"], rows, "data events"),
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
    return details(f"SUT container log ({note})", f'<pre class="block">{esc(text)}</pre>')


def _timeline(events: list[dict[str, Any]]) -> str:
    if not events:
        return ""
    rows = [
        [
            td(esc(f"+{e.get('t', 0):.3f}s"), "num"),
            td(f'<span class="kind">{esc(e.get("kind"))}</span>'),
            td(esc(e.get("summary"))),
        ]
        for e in events
    ]
    return details(
        f"Timeline, all events ({len(events)})", table(["t", "kind", "event"], rows, "data events")
    )
