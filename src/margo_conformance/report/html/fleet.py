"""The fleet view of report.html: the Performance section of a fleet run (`margo-conformance
fleet`), read from performance.json: throughput, latency percentiles per endpoint, error rate,
devices sustained, and the user's thresholds with what was observed. A directory with only a
fleet run gets a page of its own, whose banner is the thresholds' verdict (or "measured" when
none were given).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from margo_conformance import SUITE_NAME, __version__
from margo_conformance.report.html.markup import (
    OUTCOME_WORD,
    VERDICT_MEANING,
    badge,
    esc,
    fill,
    kv,
    none_note,
    section,
    stylesheet,
    table,
    td,
)

PERFORMANCE_FILE = "performance.json"

PERFORMANCE_MEANING = {
    "pass": "every threshold of the fleet run held",
    "fail": "at least one threshold of the fleet run did not hold",
}


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
    """The Performance section's body: tiles, how the fleet ran, endpoints, thresholds, errors."""
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
            td(esc(e.get("name"))),
            td(esc(f"{e.get('requests', 0):,}"), "num"),
            td(esc(f"{float(e.get('throughput_rps', 0)):,.1f}"), "num"),
            td(esc(_ms(e.get("p50_ms"))), "num"),
            td(esc(_ms(e.get("p95_ms"))), "num"),
            td(esc(_ms(e.get("p99_ms"))), "num"),
            td(esc(_ms(e.get("max_ms"))), "num"),
            td(esc(f"{e.get('failures', 0):,} ({float(e.get('error_rate', 0)):.2%})"), "num"),
        ]
        for e in [*perf.get("endpoints", []), {**totals, "name": "all endpoints"}]
    ]
    endpoints = table(
        ["endpoint", "requests", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"], rows
    )
    return fill(
        "performance.html",
        tiles=tiles_html,
        run_line=esc(run_line),
        endpoints=endpoints,
        thresholds=_performance_thresholds(perf.get("thresholds", [])),
        errors=_performance_errors(perf.get("errors", [])),
    )


def _performance_thresholds(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return none_note("No thresholds were given (--thresholds FILE): the run is measured, not judged.")
    rows_table = table(
        ["threshold", "observed", "verdict"],
        [
            [
                td(esc(r.get("check"))),
                td(esc(r.get("observed") if r.get("observed") is not None else "not measured"),
                    "num"),
                td(badge("pass" if r.get("passed") else "fail")),
            ]
            for r in rows
        ],
    )
    return '<h3 class="sub">Thresholds</h3>' + rows_table


def _performance_errors(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    rows_table = table(
        ["endpoint", "error", "occurrences"],
        [[td(esc(r.get("endpoint"))), td(esc(r.get("error"))),
          td(esc(r.get("occurrences")), "num")] for r in rows],
    )
    return '<h3 class="sub">Errors</h3>' + rows_table


def performance_section(perf: Mapping[str, Any]) -> str:
    intro = (
        "A fleet run (margo-conformance fleet): simulated devices onboarding, reporting "
        "capabilities, polling their desired state as git fetch does and reporting status, "
        "driven by Locust. Pass or fail only against the thresholds the user gave."
    )
    return section("performance", "Performance", _performance(perf), esc(intro))


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
    identity = kv("System under test", [
        ("Name", esc(sut.get("name"))),
        ("Vendor", esc(sut.get("vendor"))),
        ("Version", esc(sut.get("version"))),
        ("Image", f"<code>{esc(sut.get('image'))}</code>"),
        ("Image id", f'<span class="digest">{esc(sut.get("image_id") or "not recorded")}</span>'),
    ])
    sections = [
        performance_section(perf),
        section("identity", "System under test", f'<div class="identity">{identity}</div>'),
    ]
    return fill(
        "report.html",
        generator=esc(f"{SUITE_NAME} {__version__}"),
        title=esc(f"{verdict.upper()} · {sut.get('name', 'WOS')} · Margo fleet report"),
        css=stylesheet(),
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
