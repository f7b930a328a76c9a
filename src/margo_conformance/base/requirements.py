"""The requirement catalogue: what a scenario tag like ``@req_ONB_002`` points at.

The catalogue is generated from REQUIREMENTS.md by ``tools/gen_requirements.py`` and shipped
as package data, so reports can name and summarise every requirement without the spec
snapshot being present. Requirement ids (``ONB-002``) contain a dash, which Gherkin tags and
Python identifiers handle badly, so scenarios use the identifier form ``req_ONB_002``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CATALOGUE_PATH = Path(__file__).resolve().parents[1] / "data" / "requirements.yaml"

_ID = re.compile(r"^([A-Z]{3})-(\d{3})$")
_TAG = re.compile(r"^req_([A-Z]{3})_(\d{3})$")


@dataclass(frozen=True)
class Requirement:
    """One row of the catalogue; ``level`` is normalised, ``level_text`` is the raw cell."""

    id: str
    area: str
    actor: str
    level: str
    level_text: str
    profiles: tuple[str, ...]
    summary: str
    #: Why the catalogue's black-box test column says the row cannot be checked on the wire
    #: (a manual or documentation check); empty for a row with a black-box test.
    not_testable: str = ""


@cache
def load_catalogue() -> dict[str, Requirement]:
    """All requirements by id, in catalogue order. Cached: treat the result as read-only."""
    document = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    catalogue: dict[str, Requirement] = {}
    for entry in document["requirements"]:
        requirement = Requirement(
            id=entry["id"],
            area=entry["area"],
            actor=entry["actor"],
            level=entry["level"],
            level_text=entry["level_text"],
            profiles=tuple(entry["profiles"]),
            summary=entry["summary"],
            not_testable=entry.get("not_testable", ""),
        )
        catalogue[requirement.id] = requirement
    return catalogue


def tag_to_id(tag: str) -> str:
    """``req_ONB_002`` (with or without a leading ``@``) -> ``ONB-002``."""
    match = _TAG.match(tag.removeprefix("@"))
    if match is None:
        raise ValueError(f"not a requirement tag (expected req_<AREA>_<NNN>): {tag!r}")
    return f"{match[1]}-{match[2]}"


def id_to_tag(requirement_id: str) -> str:
    """``ONB-002`` -> ``req_ONB_002``."""
    match = _ID.match(requirement_id)
    if match is None:
        raise ValueError(f"not a requirement id (expected <AREA>-<NNN>): {requirement_id!r}")
    return f"req_{match[1]}_{match[2]}"
