#!/usr/bin/env python3
"""Generate src/margo_conformance/data/requirements.yaml from REQUIREMENTS.md.

REQUIREMENTS.md (next to the spec snapshot, ../shared/margo-spec/ relative to the repo) is
the human-maintained catalogue; the YAML is what the suite reads for traceability. The
script parses the requirement tables under "## 2. Requirements catalogue", normalises the
Level and Source/version cells, and refuses to write anything unless it finds exactly
EXPECTED_COUNT rows: a silently shorter catalogue would hide requirements from reports.

Usage:
    python tools/gen_requirements.py [REQUIREMENTS.md] [--output FILE] [--check]

--check writes nothing and exits 1 when the committed YAML differs from what the source
would generate (for CI).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "margo-spec" / "REQUIREMENTS.md"
DEFAULT_OUTPUT = REPO_ROOT / "src" / "margo_conformance" / "data" / "requirements.yaml"

EXPECTED_COUNT = 166
PROFILES = ("V24", "PR1", "PR2")
CATALOGUE_HEADING = "## 2. Requirements catalogue"
TABLE_HEADER = (
    "ID",
    "Actor",
    "Level",
    "Requirement (paraphrase)",
    "Source / version",
    "Black-box test",
)

ROW_ID = re.compile(r"^[A-Z]{3}-\d{3}$")
PAREN_GROUP = re.compile(r"\(([^()]*)\)")
PROFILE_TOKEN = re.compile(r"\b(V24|PR1|PR2)\b")
# A Black-box test cell that says the row cannot be checked on the wire (a manual or
# documentation check, or "not testable"): the row is reported as not black-box testable.
NOT_TESTABLE = re.compile(r"(?i)not testable|manual check|— manual\)|documentation check")
# A cell separator is a pipe not escaped with a backslash.
CELL_SPLIT = re.compile(r"(?<!\\)\|")

# Rows whose Source/version cell names no profile in parentheses. Each choice is derived
# from the short source names in the cell (see REQUIREMENTS.md §0) and is reported in
# docs; keep the reason next to it so a reviewer can check it against the row.
PROFILE_OVERRIDES: dict[str, tuple[str, ...]] = {
    # "OAS-1.0.0/rc.2/rc.3; STS-P (both variants)": 1.0.0 and rc.2 are PR1, rc.3 is PR2.
    "STS-012": ("PR1", "PR2"),
    # "DS §Content-Addressable Endpoints": DS is the PR1/PR2 desired-state page pair.
    "DSA-016": ("PR1", "PR2"),
    # "gap — recommended check": deploymentId sits in path and body in every profile.
    "STS-021": ("V24", "PR1", "PR2"),
    # "24-MIB; ARS-PR1/PR2 §General Requirements": a V24 page plus both 1.0 pages.
    "CFG-006": ("V24", "PR1", "PR2"),
}


class _CatalogueDumper(yaml.SafeDumper):
    """Writes lists of scalars (profiles) on one line; everything else in block style."""


def _represent_list(dumper: yaml.SafeDumper, data: list[object]) -> yaml.Node:
    flow = all(not isinstance(item, (dict, list)) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_CatalogueDumper.add_representer(list, _represent_list)


class CatalogueError(Exception):
    """REQUIREMENTS.md does not have the shape this script relies on."""


@dataclass(frozen=True)
class Row:
    id: str
    actor: str
    level_text: str
    summary: str
    source: str
    test: str


def split_cells(line: str) -> list[str]:
    inner = line.strip()
    if not (inner.startswith("|") and inner.endswith("|")):
        raise CatalogueError(f"not a table row: {line!r}")
    return [cell.strip().replace("\\|", "|") for cell in CELL_SPLIT.split(inner[1:-1])]


def catalogue_lines(text: str) -> list[str]:
    """The lines of section 2, up to the next level-2 heading."""
    lines = text.splitlines()
    try:
        start = lines.index(CATALOGUE_HEADING)
    except ValueError:
        raise CatalogueError(f"heading {CATALOGUE_HEADING!r} not found") from None
    section: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        section.append(line)
    return section


def parse_rows(text: str) -> list[Row]:
    rows: list[Row] = []
    in_requirement_table = False
    for line in catalogue_lines(text):
        if not line.startswith("|"):
            in_requirement_table = False
            continue
        cells = split_cells(line)
        if cells and cells[0] == "ID":
            # Every table that starts with an ID column must be a requirement table with the
            # full header; a renamed column would otherwise shift every field silently.
            if tuple(cells) != TABLE_HEADER:
                raise CatalogueError(f"unexpected requirement-table header: {line!r}")
            in_requirement_table = True
            continue
        if not in_requirement_table or set(cells[0]) <= {"-", " "}:
            continue  # separator row, or a table that is not a requirement table
        if len(cells) != len(TABLE_HEADER) or not ROW_ID.match(cells[0]):
            raise CatalogueError(f"malformed requirement row: {line!r}")
        row_id, actor, level_text, summary, source, test = cells
        rows.append(Row(row_id, actor, level_text, summary, source, test))
    return rows


def normalise_level(level_text: str) -> str:
    """Map the Level cell to one keyword; the strongest RFC 2119 keyword wins."""
    text = level_text.strip()
    if "removed" in text:
        return "removed"
    if text in {"-", "—", "–"}:
        return "none"
    if "MUST" in text:  # incl. "MUST NOT", "MUST (schema)", "implied MUST", "MAY/MUST"
        return "must"
    if "SHOULD" in text or text == "preferred":  # "preferred" reads as RECOMMENDED
        return "should"
    if "MAY" in text:
        return "may"
    if text == "implied":
        return "implied"
    raise CatalogueError(f"unknown Level cell {level_text!r}")


def parse_profiles(source: str) -> tuple[str, ...]:
    found: set[str] = set()
    for group in PAREN_GROUP.findall(source):
        if group.strip() == "all":
            found.update(PROFILES)
        found.update(PROFILE_TOKEN.findall(group))
    return tuple(p for p in PROFILES if p in found)


def build_entries(rows: list[Row]) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    seen: set[str] = set()
    previous_profiles: tuple[str, ...] = ()
    for row in rows:
        if row.id in seen:
            raise CatalogueError(f"duplicate requirement id {row.id}")
        seen.add(row.id)
        if row.id in PROFILE_OVERRIDES:
            profiles = PROFILE_OVERRIDES[row.id]
        elif row.source.strip().lower() == "same":
            profiles = previous_profiles  # "same" repeats the row above (CFG-002/003)
        else:
            profiles = parse_profiles(row.source)
        if not profiles:
            raise CatalogueError(
                f"{row.id}: no profile in Source/version cell {row.source!r}; "
                "add a PROFILE_OVERRIDES entry with the reason"
            )
        previous_profiles = profiles
        entry: dict[str, object] = {
            "id": row.id,
            "area": row.id.split("-", 1)[0],
            "actor": row.actor,
            "level": normalise_level(row.level_text),
            "level_text": row.level_text,
            "profiles": list(profiles),
            "summary": row.summary.replace("`", ""),
        }
        if NOT_TESTABLE.search(row.test):
            entry["not_testable"] = row.test.replace("`", "")
        entries.append(entry)
    if len(entries) != EXPECTED_COUNT:
        raise CatalogueError(
            f"found {len(entries)} requirement rows, expected {EXPECTED_COUNT}; "
            "check the tables (or update EXPECTED_COUNT if rows were really added)"
        )
    return entries


def render(source_path: Path) -> str:
    raw = source_path.read_bytes()
    entries = build_entries(parse_rows(raw.decode("utf-8")))
    document = {
        "source": {
            # Relative to the repo root so the file does not depend on the checkout path.
            "path": Path(os.path.relpath(source_path.resolve(), REPO_ROOT)).as_posix(),
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "count": len(entries),
        "requirements": entries,
    }
    header = (
        "# Generated by tools/gen_requirements.py from REQUIREMENTS.md. Do not edit by hand;\n"
        "# re-run the script after changing the source catalogue.\n"
    )
    # One line per summary (no folding) keeps the file greppable and diffs row-sized.
    body = yaml.dump(
        document, Dumper=_CatalogueDumper, sort_keys=False, allow_unicode=True, width=2**16
    )
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)

    try:
        text = render(args.source)
    except (OSError, CatalogueError) as exc:
        print(f"gen_requirements: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"gen_requirements: {args.output} is out of date", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {EXPECTED_COUNT} requirements to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
