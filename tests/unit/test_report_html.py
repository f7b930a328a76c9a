"""report.html from synthetic results: self-contained, escaped, and saying what a reader needs.

The browser test (tests/integration/test_report_browser.py) checks what a person sees; these
check the page's content and safety quickly, without a browser.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from margo_conformance.report.html.page import REPORT_FILE, render_report, write_report
from margo_conformance.results.tree import preflight_tree
from margo_conformance.results.waivers import Waiver
from tests.synthetic_results import FAILING_MESSAGE, sut_description, write_failing_run

FAILING = "A newly published deployment is fetched within the polling interval"


class _Resources(HTMLParser):
    """Collects what would make a page load something or run something."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.loads.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.loads.append(f"{tag} {name}={value}")
            if name.startswith("on"):
                self.loads.append(f"{tag} {name}")


def _page(tmp_path: Path, **kwargs: object) -> str:
    write_failing_run(tmp_path, **kwargs)  # type: ignore[arg-type]
    return write_report(tmp_path).read_text(encoding="utf-8")


def test_the_report_is_written_next_to_results_json_and_needs_nothing_else(tmp_path: Path) -> None:
    page = _page(tmp_path)
    assert (tmp_path / REPORT_FILE).is_file()
    parser = _Resources()
    parser.feed(page)
    assert parser.loads == []
    assert "@import" not in page and "url(" not in page


def test_the_banner_gives_the_verdict_and_why(tmp_path: Path) -> None:
    page = _page(tmp_path)
    banner = page[page.index('<header class="banner') : page.index("</header>")]
    assert 'class="banner verdict-fail"' in banner
    assert ">FAIL<" in banner
    assert "1 scenario(s) failed: " + FAILING in banner
    assert "<title>FAIL · Acme Edge Agent" in page


def test_a_failure_shows_its_message_and_its_evidence_collapsed(tmp_path: Path) -> None:
    page = _page(tmp_path)
    failure = page[page.index('<article class="failure outcome-fail"') : page.index("</article>")]
    assert FAILING_MESSAGE in failure
    assert "<details><summary>HTTP exchanges (1)</summary>" in failure
    assert "POST /onboarding/ -&gt; 201" in failure
    assert "Git operations and commits (2)" in failure and 'class="status-bad">401<' in failure
    assert "SUT container log (3 lines)" in failure and "giving up attempt 2" in failure
    assert "Timeline, all events (7)" in failure
    assert "&lt;b&gt;not bold&lt;/b&gt;" in failure  # a body is shown as text, never as markup


def test_skips_carry_their_reason_and_requirements_are_traced(tmp_path: Path) -> None:
    page = _page(tmp_path)
    not_run = page[page.index('<section id="not-run">') : page.index('<section id="requirements">')]
    assert "The agent reports a removed deployment" in not_run
    assert "the SUT file claims no removal support" in not_run
    trace = page[page.index('<section id="requirements">') : page.index('<section id="scenarios">')]
    row = re.search(r"<tr><td class=\"id\">CFG-003</td>.*?</tr>", trace, re.S)
    assert row is not None and "badge-fail" in row.group(0) and FAILING in row.group(0)
    assert "End user can configure the polling rate." in row.group(0)


def test_identity_of_sut_and_suite_is_shown_with_the_sut_file_redacted(tmp_path: Path) -> None:
    page = _page(tmp_path)
    identity = page[page.index('<section id="identity">') :]
    assert "acme/edge-agent:2.3.1" in identity and "Acme &lt;Industrial&gt; &amp; Co" in identity
    assert (
        "MARGO_ONBOARDING_KEY: &#x27;***&#x27;" in identity
        or "MARGO_ONBOARDING_KEY: '***'" in identity
    )
    tree = json.loads((tmp_path / "results.json").read_text())
    assert tree["suite"]["content_sha256"] in identity
    assert "SHA-256 of features, schemas" in identity


def test_every_value_from_the_run_is_escaped(tmp_path: Path) -> None:
    tree = preflight_tree(sut_description(), "run-0123456789ab", "<script>alert(1)</script>")
    tree["sut"]["name"] = '"><img src=x onerror=alert(2)>'
    page = render_report(tree)
    parser = _Resources()
    parser.feed(page)
    assert parser.loads == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_preflight_error_still_gives_a_readable_page(tmp_path: Path) -> None:
    tree = preflight_tree(
        sut_description(), "run-0123456789ab", "SUT image 'acme/x:1' is not on the Docker engine"
    )
    page = render_report(tree)
    assert 'class="banner verdict-error"' in page
    assert "No scenario ran: SUT image &#x27;acme/x:1&#x27; is not on the Docker engine" in page


def test_waived_and_stale_scenarios_are_marked_as_such(tmp_path: Path) -> None:
    waivers = (
        Waiver(scenario="fetched within the polling interval", reason="polls every 5 s until 2.4"),
        Waiver(scenario="onboards with the orchestrator", reason="URL set at the factory"),
    )
    page = _page(tmp_path, waivers=waivers)
    assert 'class="banner verdict-fail"' in page  # the stale waiver fails the run
    assert "fail · waived" in page and "<strong>Waived:</strong> polls every 5 s until 2.4" in page
    assert "pass · stale waiver" in page and "Remove the waiver." in page
    waivers_section = page[
        page.index('<section id="waivers">') : page.index('<section id="identity">')
    ]
    assert "badge-stale" in waivers_section and "badge-waived" in waivers_section


def test_missing_evidence_is_said_not_hidden(tmp_path: Path) -> None:
    write_failing_run(tmp_path)
    for path in (tmp_path / "evidence").iterdir():
        path.unlink()
    page = write_report(tmp_path).read_text()
    assert "could not be read" in page
