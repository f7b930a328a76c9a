"""The fleet profile's arithmetic: percentiles, devices sustained, thresholds and verdicts."""

from __future__ import annotations

import pytest

from margo_conformance.commands.fleet.gitwire import LS_REFS_BODY, parse_ls_refs, pkt_lines
from margo_conformance.commands.fleet.options import parse, to_argv
from margo_conformance.commands.fleet.stats import (
    DeviceTally,
    EndpointFigures,
    devices_sustained,
    evaluate_thresholds,
    parse_thresholds,
    percentile,
    percentile_from_histogram,
    performance_verdict,
    totals,
)


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


def test_histogram_percentiles_match_the_expanded_values() -> None:
    histogram = {10: 90, 200: 9, 1500: 1}  # Locust's {rounded ms: count}
    expanded = sorted(v for v, n in histogram.items() for _ in range(n))
    for q in (50, 90, 95, 99, 100):
        assert percentile_from_histogram(histogram, q) == percentile(expanded, q)
    assert percentile_from_histogram({}, 95) == 0.0


def test_totals_merge_endpoints() -> None:
    fast = EndpointFigures("a", 90, 0, 10.0, {5: 90}, max_ms=5, mean_ms=5)
    slow = EndpointFigures("b", 10, 2, 10.0, {500: 10}, max_ms=500, mean_ms=500)
    overall = totals([fast, slow], 10.0)
    assert overall.requests == 100 and overall.failures == 2
    assert overall.error_rate == pytest.approx(0.02)
    assert overall.throughput_rps == pytest.approx(10.0)
    assert overall.p(50) == 5 and overall.p(95) == 500
    assert overall.mean_ms == pytest.approx(54.5)


def test_a_device_is_sustained_when_onboarded_error_free_and_on_cadence() -> None:
    tallies = {
        "steady": DeviceTally(onboarded=True, polls=59, errors=0),  # 90% of 60 is 54
        "slow": DeviceTally(onboarded=True, polls=40, errors=0),
        "erring": DeviceTally(onboarded=True, polls=60, errors=1),
        "never-onboarded": DeviceTally(onboarded=False, polls=0, errors=0),
    }
    assert devices_sustained(tallies, duration_s=60, interval_s=1) == 1


FIGURES = {
    "totals": {"error_rate": 0.001, "throughput_rps": 2900.0, "p50_ms": 4, "p95_ms": 40,
               "p99_ms": 120},
    "devices": {"sustained": 998},
    "endpoints": [{"name": "POST git ls-refs", "p99_ms": 80, "error_rate": 0.0}],
}


def test_thresholds_are_judged_against_what_was_observed() -> None:
    thresholds = parse_thresholds({
        "error_rate": {"max": 0.01},
        "devices_sustained": {"min": 1000},
        "endpoints": {"POST git ls-refs": {"p99_ms": {"max": 100}}, "GET nowhere": {"p50_ms": {"max": 1}}},
    })
    rows = {(r["metric"], r["endpoint"]): r for r in evaluate_thresholds(thresholds, FIGURES)}
    assert rows[("error_rate", None)]["passed"] is True
    assert rows[("devices_sustained", None)]["passed"] is False
    assert rows[("devices_sustained", None)]["observed"] == 998
    assert rows[("p99_ms", "POST git ls-refs")]["passed"] is True
    assert rows[("p50_ms", "GET nowhere")]["passed"] is False  # an endpoint never measured fails
    assert performance_verdict(list(rows.values())) == "fail"


def test_no_thresholds_no_verdict() -> None:
    assert performance_verdict(evaluate_thresholds([], FIGURES)) is None
    assert performance_verdict(evaluate_thresholds(parse_thresholds({"p95_ms": {"max": 50}}), FIGURES)) == "pass"


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"latency": {"max": 1}}, "unknown metric"),
        ({"p95_ms": 50}, "give {max: N}"),
        ({"p95_ms": {"max": "fast"}}, "is not a number"),
        ({"endpoints": {"x": {"devices_sustained": {"min": 1}}}}, "unknown metric"),
        (["p95_ms"], "a mapping"),
    ],
)
def test_a_bad_thresholds_file_is_named(document: object, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_thresholds(document)


def test_the_replayed_poll_is_what_git_sends() -> None:
    lines = list(pkt_lines(LS_REFS_BODY))
    assert lines[0] == b"command=ls-refs\n" and b"ref-prefix refs/heads/\n" in lines
    answer = b"003d" + b"a" * 40 + b" refs/heads/main\n" + b"0000"
    assert parse_ls_refs(answer) == {"refs/heads/main": "a" * 40}


def test_fleet_options_survive_the_trip_to_the_fleet_process(tmp_path) -> None:
    sut = tmp_path / "wos.yaml"
    request = parse(["--sut", str(sut), "--devices", "20", "--duration", "15", "--master",
                     "--expect-workers", "2", "--report-dir", str(tmp_path / "r")])
    assert parse(to_argv(request)) == request
    assert request.effective_spawn_rate == 10.0
