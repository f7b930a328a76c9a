"""Timing judgements: the polling cadence (CFG-003), retries in an outage (CFG-004), the window."""

from __future__ import annotations

import pytest

from margo_conformance.checks.cadence import (
    RETRY_ALLOWANCE,
    format_window,
    gaps,
    judge_cadence,
    judge_retries,
    outage_duration,
    retry_allowance,
)


def polls(*gap_list: float, start: float = 100.0) -> list[float]:
    times = [start]
    for gap in gap_list:
        times.append(times[-1] + gap)
    return times


def test_gaps_are_measured_in_time_order() -> None:
    assert gaps([3.0, 1.0, 2.5]) == [1.5, 0.5]
    assert gaps([1.0]) == []


def test_a_cadence_at_the_interval_plus_fetch_time_passes() -> None:
    finding = judge_cadence(polls(1.1, 1.05, 1.2), interval=1, tolerance=2)
    assert finding.ok, finding.problem
    assert "1.10s" in finding.detail


def test_polling_faster_than_configured_fails_on_the_median() -> None:
    finding = judge_cadence(polls(1.0, 1.1, 1.0), interval=2, tolerance=2)
    assert not finding.ok
    assert "polls every 1.00s (median) although the configured interval is 2s" in finding.problem


def test_one_early_poll_is_no_failure() -> None:
    assert judge_cadence(polls(2.1, 0.3, 2.0, 2.1), interval=2, tolerance=2).ok


def test_a_gap_beyond_interval_plus_tolerance_fails() -> None:
    finding = judge_cadence(polls(1.0, 3.5, 1.0), interval=1, tolerance=2)
    assert not finding.ok and "longer than the interval 1s plus the tolerance 2s (longest 3.50s)" in finding.problem


def test_a_cadence_needs_two_polls() -> None:
    finding = judge_cadence([5.0], interval=1, tolerance=2)
    assert not finding.ok and "only 1 poll(s)" in finding.problem


def test_retry_allowance_grows_with_the_outage_in_intervals() -> None:
    assert retry_allowance(4, 1) == 4 * 4 + RETRY_ALLOWANCE
    assert retry_allowance(4.5, 1) == 4 * 5 + RETRY_ALLOWANCE
    assert retry_allowance(90, 30) == 4 * 3 + RETRY_ALLOWANCE


def test_backing_off_retries_pass() -> None:
    assert judge_retries(polls(0.5, 1, 1, 1), outage_s=4, interval=1).ok


def test_a_tight_loop_fails_with_the_count() -> None:
    attempts = [100 + i * 0.01 for i in range(300)]
    finding = judge_retries(attempts, outage_s=4, interval=1)
    assert not finding.ok
    assert finding.problem.startswith("300 attempts in 4.0s is a tight loop: at most 24 are allowed")
    assert "shortest gaps 0.01s" in finding.detail


def test_no_attempt_at_all_means_the_agent_stopped_watching() -> None:
    finding = judge_retries([], outage_s=4, interval=1)
    assert not finding.ok and "made no attempt" in finding.problem


@pytest.mark.parametrize(("interval", "expected"), [(1, 4.0), (2, 6.0), (0.5, 4.0)])
def test_an_outage_lasts_three_intervals_and_a_few_seconds_at_least(interval: float, expected: float) -> None:
    assert outage_duration(interval) == expected


def test_the_downtime_window_is_an_iso_8601_interval_in_utc() -> None:
    assert format_window(0, 4) == "1970-01-01T00:00:00Z/1970-01-01T00:00:04Z"
    assert format_window(1_750_000_000, 1_750_000_005) == "2025-06-15T15:06:40Z/2025-06-15T15:06:45Z"
