"""report.html, the page: the verdict banner, the sections in order, the SUT and suite identity,
and writing the file next to results.json.

The page opens with the verdict, says why it is not a pass, then what failed per requirement
(`lead`), the summary, the fleet run's performance when there is one (`fleet`), each failure
with its evidence (`evidence`), the scenarios (`scenarios`) and the requirements (`coverage`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from margo_conformance import SUITE_NAME, __version__
from margo_conformance.base import redaction
from margo_conformance.report.html.coverage import coverage_section, requirements_section, should_sentence
from margo_conformance.report.html.evidence import failures_section
from margo_conformance.report.html.fleet import load_performance, performance_section, render_performance_report
from margo_conformance.report.html.lead import advisory_section, blocked_section, failed_requirements_section
from margo_conformance.report.html.markup import (
    PROFILE_TRANSPORTS,
    VERDICT_MEANING,
    details,
    esc,
    fill,
    kv,
    seconds,
    section,
    stylesheet,
)
from margo_conformance.report.html.scenarios import (
    not_run_section,
    not_tested_section,
    scenarios_section,
    summary_section,
    waivers_section,
)

REPORT_FILE = "report.html"

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

REASON_SHOWN = 160  # characters of a verdict reason shown in the banner before its list folds


def _reason(reason: str) -> str:
    """A verdict reason; a long list of scenarios after its first colon folds away, so the banner
    stays short and the failed requirements below it come into view."""
    head, colon, listed = reason.partition(": ")
    if len(reason) <= REASON_SHOWN or not colon:
        return esc(reason)
    return f'{esc(head)} <details class="reason-list"><summary>show</summary>{esc(listed)}</details>'


def _banner_values(tree: Mapping[str, Any]) -> dict[str, str]:
    """The banner's template values: verdict, what it means, the SUT, the run, the reasons."""
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
        meta.append(f"took {seconds(run.get('duration_s'))}")
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


def _statement_items(statement: Mapping[str, Any]) -> str:
    """One profile's coverage in the banner: the MUST sentence, then the SHOULD line under it."""
    should = should_sentence(statement)
    return f"<li>{esc(statement.get('statement'))}</li>" + (f'<li class="should">{esc(should)}</li>' if should else "")


def _identity_section(tree: Mapping[str, Any]) -> str:
    """Who was tested with what: the SUT (image, digests, its SUT file redacted) and the suite and run."""
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
        sut_file_html = details(
            "SUT file (secrets redacted)", f'<pre class="block">{esc(shown)}</pre>'
        )
    tables = kv("System under test", sut_pairs) + kv("Suite and run", suite_pairs)
    body = f'<div class="identity">{tables}</div>{sut_file_html}'
    return section("identity", "System under test and suite", body)


def render_report(
    tree: Mapping[str, Any],
    evidence_root: Path | None = None,
    performance: Mapping[str, Any] | None = None,
) -> str:
    """The whole page for one results tree; `evidence_root` is where evidence/ files live;
    `performance` (a fleet run's performance.json) adds the Performance section."""
    # In SECTIONS order, Performance after the summary; blocked and advisory only when there are any.
    written = {
        "failed-requirements": failed_requirements_section(tree),
        "blocked": blocked_section(tree),
        "advisory": advisory_section(tree),
        "summary": summary_section(tree),
        "performance": performance_section(performance) if performance else "",
        "failures": failures_section(tree, evidence_root),
        "not-run": not_run_section(tree),
        "not-tested": not_tested_section(tree),
        "requirements": requirements_section(tree),
        "coverage": coverage_section(tree),
        "scenarios": scenarios_section(tree),
        "waivers": waivers_section(tree),
        "identity": _identity_section(tree),
    }
    after_summary = [anchor for anchor, _ in SECTIONS].index("summary") + 1
    order = [*SECTIONS[:after_summary], ("performance", "Performance"), *SECTIONS[after_summary:]]
    toc = [(anchor, heading) for anchor, heading in order if written[anchor]]
    sections = [written[anchor] for anchor, _ in toc]
    banner = _banner_values(tree)
    sut = tree.get("sut", {})
    return fill(
        "report.html",
        generator=esc(f"{SUITE_NAME} {__version__}"),
        title=esc(
            f"{banner['verdict_word']} · {sut.get('name', 'SUT')} · Margo conformance report"
        ),
        css=stylesheet(),
        toc=" ".join(f'<a href="#{a}">{esc(h)}</a>' for a, h in toc),
        sections="\n".join(sections),
        footer=esc(
            f"Generated by {SUITE_NAME} {__version__} from results.json of run "
            f"{tree.get('run', {}).get('id', '?')}. The machine-readable results, JUnit XML and "
            "evidence files sit next to this page."
        ),
        **banner,
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
