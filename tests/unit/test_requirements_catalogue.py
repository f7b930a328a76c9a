"""The generated requirement catalogue and the tag <-> id mapping scenarios rely on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from margo_conformance.base.requirements import (
    CATALOGUE_PATH,
    Requirement,
    id_to_tag,
    load_catalogue,
    tag_to_id,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "tools" / "gen_requirements.py"
PROFILES = {"V24", "PR1", "PR2"}
LEVELS = {"must", "should", "may", "implied", "removed", "none"}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_requirements", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is being built.
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def _raw() -> dict:
    return yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))


def test_catalogue_has_166_unique_requirements() -> None:
    raw = _raw()
    ids = [entry["id"] for entry in raw["requirements"]]
    assert raw["count"] == len(ids) == 166
    assert len(set(ids)) == len(ids)
    assert len(load_catalogue()) == 166


def test_catalogue_records_its_source() -> None:
    source = _raw()["source"]
    assert source["path"].endswith("REQUIREMENTS.md")
    assert len(source["sha256"]) == 64


def test_entries_are_well_formed() -> None:
    for requirement in load_catalogue().values():
        assert requirement.area == requirement.id.split("-")[0]
        assert requirement.level in LEVELS, requirement
        assert requirement.profiles and set(requirement.profiles) <= PROFILES, requirement
        assert requirement.summary and "`" not in requirement.summary, requirement.id


@pytest.mark.parametrize(
    ("requirement_id", "level", "profiles"),
    [
        ("ONB-002", "implied", ("V24",)),
        ("STS-004", "must", ("V24",)),
        ("CAP-003", "must", ("V24",)),
        ("ONB-020", "removed", ("PR2",)),
        ("ERR-001", "none", ("V24",)),
        ("CRT-028", "must", ("PR2",)),  # "SHOULD / MUST NOT": MUST wins
        ("DSA-015", "should", ("PR1", "PR2")),  # "MAY / SHOULD"
        ("CFG-001", "must", ("V24", "PR1", "PR2")),  # "(all)"
        ("CFG-003", "must", ("V24", "PR1", "PR2")),  # Source cell "same"
        ("STS-016", "must", ("PR1", "PR2")),  # "(PR1 late / PR2)"
        ("CRT-010", "must", ("PR1",)),  # "(`security: []`)" is not a profile
    ],
)
def test_known_rows(requirement_id: str, level: str, profiles: tuple[str, ...]) -> None:
    requirement = load_catalogue()[requirement_id]
    assert isinstance(requirement, Requirement)
    assert (requirement.level, requirement.profiles) == (level, profiles)


def test_raw_level_and_actor_are_kept() -> None:
    catalogue = load_catalogue()
    assert catalogue["CAP-003"].level_text == "MUST"
    assert catalogue["ONB-011"].level_text == "MUST (schema)"
    assert catalogue["SEC-029"].actor == "WFM (proxy)"


def test_tag_round_trip_for_every_requirement() -> None:
    for requirement_id in load_catalogue():
        assert tag_to_id(id_to_tag(requirement_id)) == requirement_id
    assert id_to_tag("ONB-002") == "req_ONB_002"
    assert tag_to_id("req_ONB_002") == tag_to_id("@req_ONB_002") == "ONB-002"


@pytest.mark.parametrize("bad", ["ONB-002", "req_onb_002", "req_ONB_02", "req-ONB-002", ""])
def test_malformed_tag_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        tag_to_id(bad)


@pytest.mark.parametrize("bad", ["req_ONB_002", "ONB_002", "onb-002", "ONB-2"])
def test_malformed_id_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        id_to_tag(bad)


def test_generated_file_matches_requirements_md() -> None:
    generator = _generator()
    if not generator.DEFAULT_SOURCE.is_file():
        pytest.skip(f"spec snapshot not present at {generator.DEFAULT_SOURCE}")
    expected = generator.render(generator.DEFAULT_SOURCE)
    assert CATALOGUE_PATH.read_text(encoding="utf-8") == expected, (
        "requirements.yaml is stale: run python tools/gen_requirements.py"
    )


def test_generator_refuses_a_short_catalogue(tmp_path: Path) -> None:
    generator = _generator()
    if not generator.DEFAULT_SOURCE.is_file():
        pytest.skip(f"spec snapshot not present at {generator.DEFAULT_SOURCE}")
    text = generator.DEFAULT_SOURCE.read_text(encoding="utf-8")
    short = "\n".join(line for line in text.splitlines() if not line.startswith("| ONB-001 |"))
    with pytest.raises(generator.CatalogueError, match="165"):
        generator.build_entries(generator.parse_rows(short))
