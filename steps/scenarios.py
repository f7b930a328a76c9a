"""Binds every feature file to pytest; the SUT's role marker decides which scenarios run."""

from pytest_bdd import scenarios

scenarios("agent")
scenarios("wos")
