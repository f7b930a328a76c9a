"""Binds every feature file to pytest; the SUT's role marker decides which scenarios run.

Every scenario asks for the `profile` fixture, so one tagged with several profiles runs once
per profile (margo_conformance.plugin.pytest_generate_tests).
"""

import pytest
from pytest_bdd import scenarios

pytestmark = pytest.mark.usefixtures("profile")

scenarios("agent")
scenarios("wos")
