"""Binds every feature file to pytest; the SUT's role marker decides which scenarios run.

Every scenario asks for the `profile` fixture, so one tagged with several profiles runs once
per profile (margo_conformance.commands.plugin.pytest_generate_tests). The features' directory is named
here, not by an ini file, so a bare `pytest --sut ...` binds the same features as `run` does.
"""

import pytest
from pytest_bdd import scenarios

from margo_conformance.base.paths import FEATURES_DIR

pytestmark = pytest.mark.usefixtures("profile")

scenarios("agent", features_base_dir=str(FEATURES_DIR))
scenarios("wos", features_base_dir=str(FEATURES_DIR))
