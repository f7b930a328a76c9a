"""The shared pieces of report.html: escaping, the templates, badges, tables, sections, and the
links between sections (scenario anchors, requirement anchors, scenario links).

Every value from the run goes through `esc` (html.escape); the table, cell and section helpers
take HTML their callers already escaped. Also the page's vocabulary: what each verdict means, the
word for each outcome, the transports of each profile.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"  # report/templates

VERDICT_MEANING = {
    "pass": "every mandatory scenario for the claimed profiles ran and passed",
    "partial": "nothing failed, but not every scenario ran or a failure was waived",
    "fail": "the system under test broke at least one requirement",
    "error": "no verdict on the SUT: it could not be brought up, or the suite itself broke",
    "measured": "a fleet run, measured; no thresholds were given, so nothing was judged",
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

PROFILE_TRANSPORTS = {
    "V24": "HTTP device API with OAuth2 bearer tokens; desired state over Git smart HTTP",
    "PR1": "Margo 1.0 REST API (OpenAPI)",
    "PR2": "Margo 1.0 REST API over mutual TLS",
}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@cache
def template(name: str) -> Template:
    return Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def fill(template_name: str, **values: str) -> str:
    return template(template_name).substitute(values)


@cache
def stylesheet() -> str:
    return (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")


def badge(outcome: str, text: str | None = None) -> str:
    word = text or OUTCOME_WORD.get(outcome, outcome)
    return f'<span class="badge badge-{esc(outcome)}">{esc(word)}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "data") -> str:
    """A table whose cells are already HTML (callers escape what they put in)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def td(content_html: str, css: str = "") -> str:
    return f'<td class="{css}">{content_html}</td>' if css else f"<td>{content_html}</td>"


def kv(caption: str, pairs: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="kv"><caption>{esc(caption)}</caption><tbody>{rows}</tbody></table>'


def details(summary: str, inner_html: str, open_: bool = False) -> str:
    opened = " open" if open_ else ""
    return (
        f"<details{opened}><summary>{esc(summary)}</summary>"
        f'<div class="inner">{inner_html}</div></details>'
    )


def section(anchor: str, heading: str, body: str, intro: str = "") -> str:
    intro_html = f'<p class="intro">{intro}</p>' if intro else ""
    return fill("section.html", anchor=anchor, heading=esc(heading), intro=intro_html, body=body)


def none_note(text: str) -> str:
    return f'<p class="none">{esc(text)}</p>'


def seconds(value: Any) -> str:
    try:
        return f"{float(value):.2f} s"
    except (TypeError, ValueError):
        return ""


def anchor(index: int) -> str:
    return f"scenario-{index}"


def row_anchor(index: int) -> str:
    return f"scenario-row-{index}"


def requirement_anchor(requirement: str) -> str:
    return f"requirement-{requirement}"


def is_problem(scenario: Mapping[str, Any]) -> bool:
    return scenario.get("outcome") in ("fail", "error") or bool(scenario.get("waiver"))


def observed(value: Any) -> str:
    """What a check saw: a line of text, or a small table for a mapping or a list of rows."""
    if value in (None, "", [], {}):
        return ""
    if isinstance(value, Mapping):
        rows = [[td(esc(k), "key"), td(esc(v))] for k, v in value.items()]
        return table(["", ""], rows, "data observed kv")
    if isinstance(value, list) and all(isinstance(row, Mapping) for row in value):
        columns = list(dict.fromkeys(k for row in value for k in row))
        rows = [[td(esc(row.get(c, ""))) for c in columns] for row in value]
        return table(columns, rows, "data observed")
    if isinstance(value, list):
        return '<ul class="observed">' + "".join(f"<li>{esc(v)}</li>" for v in value) + "</ul>"
    text = str(value)
    if "\n" in text.strip():
        return f'<pre class="block observed">{esc(text.strip())}</pre>'
    return f'<span class="observed">{esc(text)}</span>'


def one_sentence(message: Any) -> tuple[str, str]:
    """(the first line, the rest): a failure traced by tags carries the scenario's whole
    message, whose lines after the first are what was seen, not part of the sentence."""
    first, _, rest = str(message or "(no message)").strip().partition("\n")
    return first.strip(), rest.strip("\n")


def scenario_index(tree: Mapping[str, Any]) -> dict[str, int]:
    """Scenario name -> its position (1-based), the first problem scenario of a name winning."""
    index: dict[str, int] = {}
    for i, scenario in enumerate(tree.get("scenarios", []), 1):
        name = str(scenario.get("name"))
        if name not in index or (is_problem(scenario) and not is_problem(tree["scenarios"][index[name] - 1])):
            index[name] = i
    return index


def scenario_link(name: str, where: Mapping[str, int], tree: Mapping[str, Any]) -> str:
    """The scenario's name (its example apart) linked to its evidence, or to its row."""
    base, example = split_example(name)
    shown = f"<strong>{esc(base)}</strong>" + (
        f' <span class="example">example {esc(example)}</span>' if example else ""
    )
    position = where.get(name)
    if position is None:
        return shown
    scenario = tree.get("scenarios", [])[position - 1]
    target = anchor(position) if is_problem(scenario) else row_anchor(position)
    link_word = "evidence" if is_problem(scenario) else "scenario"
    return f'{shown} <a class="jump" href="#{target}">{link_word} &rarr;</a>'


def split_example(name: str) -> tuple[str, str]:
    """'Scenario [example-id]' -> ('Scenario', 'example-id')."""
    if name.endswith("]") and " [" in name:
        base, _, example = name[:-1].rpartition(" [")
        return base, example
    return name, ""
