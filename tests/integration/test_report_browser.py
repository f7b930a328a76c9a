"""report.html in a real headless browser: what a person opening the file from disk sees.

The page comes from a synthetic results tree with one failing scenario and its evidence (no
Docker). Chromium renders it from file:// with networking off; the test reads the rendered
DOM and a screenshot: the red verdict banner, the failing scenario's message, the
requirement's traceability row, and that the first section after the banner is the failed
requirements, each naming the check that failed it. Skipped without Chromium on a developer machine; in CI
(CI=true or --ci) a missing Chromium fails the test.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from margo_conformance.report.html.page import write_report
from tests.browser import Chromium, png_pixel
from tests.synthetic_results import (
    ANSWERS,
    FAILING_MESSAGE,
    ROBUSTNESS,
    WRONG_KIND_MESSAGE,
    write_failing_run,
    write_judged_run,
)

pytestmark = pytest.mark.browser

FAILING = "A newly published deployment is fetched within the polling interval"
FAIL_RED = (0xCF, 0x22, 0x2E)  # --fail in report.css


class _VisibleText(HTMLParser):
    """Text a reader sees without opening anything.

    Not <title> or <style>, and not the bodies of closed <details> (their summaries show).
    """

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0  # depth inside <style>/<script> or a closed <details>' hidden body
        self._details: list[bool] = []  # per open <details>: is its body hidden?
        self._in_summary = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "title"):
            self._skip += 1
        elif tag == "details":
            hidden = not any(name == "open" for name, _ in attrs)
            self._details.append(hidden)
            self._skip += 1 if hidden else 0
        elif tag == "summary":
            self._in_summary = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._skip -= 1
        elif tag == "details" and self._details:
            self._skip -= 1 if self._details.pop() else 0
        elif tag == "summary":
            self._in_summary = False

    def handle_data(self, data: str) -> None:
        # A closed <details> still shows its <summary> line.
        hidden_by_details = self._skip - (
            1 if self._in_summary and self._details and self._details[-1] else 0
        )
        if hidden_by_details <= 0 and data.strip():
            self.parts.append(" ".join(data.split()))

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


def _rendered_report(tmp_path: Path) -> Path:
    write_failing_run(tmp_path)
    return write_report(tmp_path)


def test_a_person_sees_the_verdict_the_failure_and_its_requirement(
    tmp_path: Path, chromium: Chromium
) -> None:
    page = _rendered_report(tmp_path)
    dom = chromium.dump_dom(page)
    seen = _VisibleText()
    seen.feed(dom)
    text = seen.text

    assert text.splitlines()[0] == "FAIL", text[:200]
    assert "the system under test broke at least one requirement" in text
    assert "Acme Edge Agent 2.3.1" in text
    assert FAILING_MESSAGE in text
    assert "HTTP exchanges (1)" in text and "SUT container log (3 lines)" in text
    assert (
        "POST /onboarding/" not in text.split("HTTP exchanges (1)")[1].split("Git operations")[0]
    ), "evidence must start collapsed"
    # Badges are upper-cased by CSS; the DOM keeps the words as written.
    row = re.search(
        r"^CFG-003\nmust\nEnd user can configure the polling rate\.\n(.+?)\nfail$",
        text,
        re.M | re.S,
    )
    assert row is not None and FAILING in row.group(1), "the CFG-003 traceability row"
    assert "the SUT file claims no removal support" in text  # the skip and its reason


def test_the_verdict_banner_is_red_for_a_failing_run(tmp_path: Path, chromium: Chromium) -> None:
    page = _rendered_report(tmp_path)
    shot = chromium.screenshot(page, tmp_path / "report.png")
    assert shot.stat().st_size > 10_000
    assert png_pixel(shot, 5, 5) == FAIL_RED
    assert png_pixel(shot, 640, 995) != FAIL_RED  # the page goes on below the banner


def _first_section_text(dom: str) -> str:
    """What a reader sees of the first section of <main>, right after the banner and contents."""
    main = dom[dom.index("<main>") :]
    first = main[main.index("<section") : main.index("</section>") + len("</section>")]
    seen = _VisibleText()
    seen.feed(first)
    return seen.text


def test_the_first_section_after_the_banner_names_the_failed_requirement_and_its_check(
    tmp_path: Path, chromium: Chromium
) -> None:
    write_failing_run(tmp_path)
    lead = _first_section_text(chromium.dump_dom(write_report(tmp_path)))
    assert lead.splitlines()[0] == "Failed requirements (2)", lead[:200]
    assert "CFG-003\nmust\nEnd user can configure the polling rate." in lead
    assert "GIT-003\nmust\nWatch the assigned repository" in lead  # failed by the same assertion
    assert FAILING in lead and FAILING_MESSAGE in lead and "evidence →" in lead


def test_a_check_that_saw_several_answers_shows_them_as_a_table(tmp_path: Path, chromium: Chromium) -> None:
    write_judged_run(tmp_path / "judged")
    page = write_report(tmp_path / "judged")
    lead = _first_section_text(chromium.dump_dom(page))
    assert "CAP-002" in lead and ROBUSTNESS in lead and WRONG_KIND_MESSAGE in lead
    # A table: its header, then one row per answer, each cell on its own line.
    rows = "\n".join(["request", "sent", "answer"] + [v for row in ANSWERS for v in row.values()])
    assert rows in lead
    shot = chromium.screenshot(page, tmp_path / "judged.png", height=1400)
    assert shot.stat().st_size > 10_000
