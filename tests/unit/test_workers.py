"""`--workers auto` and how a run, the kill matrix and stability runs choose their processes."""

from __future__ import annotations

import argparse

import pytest

from margo_conformance.commands.cli import build_parser
from margo_conformance.config.workers import AUTO_WORKERS, auto_workers, parse_workers, resolve_workers


@pytest.mark.parametrize(("cores", "workers"), [(1, 2), (2, 4), (3, 6), (4, 8), (64, 8)])
def test_auto_is_twice_the_cores_at_most_eight(cores: int, workers: int) -> None:
    assert auto_workers(cores) == workers


def test_a_run_defaults_to_auto() -> None:
    args = build_parser().parse_args(["run"])
    assert args.workers == AUTO_WORKERS
    assert resolve_workers(args.workers) == auto_workers()


def test_a_count_is_taken_as_given_and_a_word_is_refused() -> None:
    assert parse_workers("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="'many'"):
        parse_workers("many")
