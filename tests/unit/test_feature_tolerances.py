"""The tolerances the features quote in words are the ones the checks apply (cadence.py)."""

from __future__ import annotations

import re

import pytest

from margo_conformance.base.paths import SUITE_ROOT
from margo_conformance.checks.cadence import QUOTED_IN_FEATURES

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
FEATURE_TEXT = " ".join(
    " ".join(path.read_text().split()) for path in sorted((SUITE_ROOT / "features").rglob("*.feature"))
)


@pytest.mark.parametrize(("phrase", "value"), sorted(QUOTED_IN_FEATURES.items()))
def test_every_quoted_tolerance_matches_its_constant(phrase: str, value: float) -> None:
    pattern = re.escape(phrase).replace(r"\{\}", r"(\w+)")
    quoted = re.findall(pattern, FEATURE_TEXT)
    assert quoted, f"no feature says {phrase!r} any more: drop it from cadence.QUOTED_IN_FEATURES"
    for word in quoted:
        assert WORDS.get(word) == value, f"a feature says {phrase.format(word)!r}, the check applies {value:g}"
