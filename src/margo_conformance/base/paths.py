"""Where the suite's files live: features, steps, schemas and fixtures sit beside the package.

The suite runs from a checkout (or an editable install of one): the Gherkin features and the
schemas are part of the product a certification body reviews, so they stay top-level files
rather than package data.
"""

from __future__ import annotations

from pathlib import Path

SUITE_ROOT = Path(__file__).resolve().parents[3]
FEATURES_DIR = SUITE_ROOT / "features"
STEPS_DIR = SUITE_ROOT / "steps"
SCHEMA_DIR = SUITE_ROOT / "schemas"
FIXTURES_DIR = SUITE_ROOT / "fixtures"
DEFAULT_SUT_FILE = FIXTURES_DIR / "sut" / "reference-agent.yaml"
CONFORMANCE_INI = SUITE_ROOT / "conformance.ini"
