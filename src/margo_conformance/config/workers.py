"""How many scenario processes a run uses (`margo-conformance run --workers N|auto`)."""

from __future__ import annotations

import argparse
import os

AUTO_WORKERS = "auto"
MAX_AUTO_WORKERS = 8


def auto_workers(cores: int | None = None) -> int:
    """Worker processes for `--workers auto`: twice the cores, at most 8.

    A scenario spends most of its time waiting on the SUT (polling intervals, deadlines), not on
    CPU: measured on 2 cores, the reference agent took 120 s at 1 worker, 47 s at 4 and 57 s at 8.
    """
    return max(1, min(MAX_AUTO_WORKERS, 2 * (cores or os.cpu_count() or 1)))


def parse_workers(value: str) -> int | str:
    """`--workers` as given: a count or `auto` (argparse type)."""
    if value == AUTO_WORKERS:
        return AUTO_WORKERS
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number of worker processes or 'auto'") from None


def resolve_workers(value: int | str) -> int:
    return auto_workers() if value == AUTO_WORKERS else int(value)
