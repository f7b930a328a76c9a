"""Pure figures of a fleet run: percentiles, per-endpoint summaries, devices sustained, thresholds.

Nothing here knows Locust: `locustfile` and `runner` turn Locust's statistics into the plain
values these functions take, so the arithmetic is tested on its own (tests/unit/test_fleet_stats.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PERFORMANCE_FORMAT = "margo-conformance-performance/1"
#: Metrics a thresholds file may bound, and whether they belong to an endpoint or the run.
RUN_METRICS = ("error_rate", "throughput_rps", "devices_sustained", "p50_ms", "p95_ms", "p99_ms")
ENDPOINT_METRICS = ("error_rate", "throughput_rps", "p50_ms", "p95_ms", "p99_ms")
#: A device is sustained when it kept this share of its polling cadence, without an error.
SUSTAINED_CADENCE = 0.9


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile `q` (0..100) of ascending `ordered` values; 0.0 when empty."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def percentile_from_histogram(histogram: Mapping[int | float, int], q: float) -> float:
    """Nearest-rank percentile `q` of values given as {value: how many times}; 0.0 when empty.

    Locust keeps response times this way (rounded to 2 significant digits above 100 ms), and
    merges the histograms of its workers, so a distributed run's percentiles stay exact to
    that rounding.
    """
    total = sum(histogram.values())
    if total <= 0:
        return 0.0
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return float(max(histogram))


@dataclass(frozen=True)
class EndpointFigures:
    """One endpoint (a request kind, not a URL: device ids are folded into the name)."""

    name: str
    requests: int
    failures: int
    duration_s: float
    response_times_ms: Mapping[int | float, int]
    max_ms: float = 0.0
    mean_ms: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def throughput_rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def p(self, q: float) -> float:
        return percentile_from_histogram(self.response_times_ms, q)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self.requests,
            "failures": self.failures,
            "error_rate": round(self.error_rate, 5),
            "throughput_rps": round(self.throughput_rps, 2),
            "p50_ms": self.p(50),
            "p95_ms": self.p(95),
            "p99_ms": self.p(99),
            "mean_ms": round(self.mean_ms, 1),
            "max_ms": round(self.max_ms, 1),
        }


def merge_histograms(histograms: Sequence[Mapping[int | float, int]]) -> dict[int | float, int]:
    merged: dict[int | float, int] = {}
    for histogram in histograms:
        for value, count in histogram.items():
            merged[value] = merged.get(value, 0) + count
    return merged


def totals(endpoints: Sequence[EndpointFigures], duration_s: float) -> EndpointFigures:
    """All endpoints as one: the run's throughput, error rate and percentiles."""
    requests = sum(e.requests for e in endpoints)
    weighted = sum(e.mean_ms * e.requests for e in endpoints)
    return EndpointFigures(
        name="all endpoints",
        requests=requests,
        failures=sum(e.failures for e in endpoints),
        duration_s=duration_s,
        response_times_ms=merge_histograms([e.response_times_ms for e in endpoints]),
        max_ms=max((e.max_ms for e in endpoints), default=0.0),
        mean_ms=weighted / requests if requests else 0.0,
    )


@dataclass(frozen=True)
class DeviceTally:
    """What one simulated device achieved during the measured window."""

    onboarded: bool
    polls: int
    errors: int


def devices_sustained(
    tallies: Mapping[str, DeviceTally], duration_s: float, interval_s: float
) -> int:
    """Devices that onboarded and, without an error, kept SUSTAINED_CADENCE of their polls."""
    expected = duration_s / interval_s if interval_s > 0 else 0.0
    needed = math.floor(SUSTAINED_CADENCE * expected)
    return sum(1 for t in tallies.values() if t.onboarded and t.errors == 0 and t.polls >= needed)


# -- thresholds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """One bound from the thresholds file: `metric` of `endpoint` (None: the run) <= or >= limit."""

    metric: str
    bound: str  # max | min
    limit: float
    endpoint: str | None = None

    def describe(self) -> str:
        where = f"{self.endpoint} " if self.endpoint else ""
        return f"{where}{self.metric} {'<=' if self.bound == 'max' else '>='} {self.limit:g}"


def parse_thresholds(document: Any) -> list[Threshold]:
    """The thresholds file (schemas/fleet-thresholds.schema.json) as a list of bounds.

        error_rate: {max: 0.01}
        devices_sustained: {min: 1000}
        endpoints:
          git ls-refs: {p99_ms: {max: 500}}

    Raises ValueError naming the first thing that is wrong.
    """
    if not isinstance(document, Mapping):
        raise ValueError("a thresholds file is a mapping of metric -> {max: N} or {min: N}")
    thresholds: list[Threshold] = []
    for key, value in document.items():
        if key == "endpoints":
            if not isinstance(value, Mapping):
                raise ValueError("endpoints: a mapping of endpoint name -> metrics")
            for endpoint, metrics in value.items():
                if not isinstance(metrics, Mapping):
                    raise ValueError(f"endpoints.{endpoint}: a mapping of metric -> bound")
                for metric, bound in metrics.items():
                    thresholds += _bounds(metric, bound, ENDPOINT_METRICS, str(endpoint))
            continue
        thresholds += _bounds(key, value, RUN_METRICS, None)
    return thresholds


def _bounds(metric: str, bound: Any, allowed: Sequence[str], endpoint: str | None) -> list[Threshold]:
    where = f"endpoints.{endpoint}.{metric}" if endpoint else str(metric)
    if metric not in allowed:
        raise ValueError(f"{where}: unknown metric; known: {', '.join(allowed)}")
    if not isinstance(bound, Mapping) or not bound or set(bound) - {"max", "min"}:
        raise ValueError(f"{where}: give {{max: N}} and/or {{min: N}}")
    found = []
    for kind, limit in bound.items():
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            raise ValueError(f"{where}.{kind}: {limit!r} is not a number")
        found.append(Threshold(str(metric), str(kind), float(limit), endpoint))
    return found


def evaluate_thresholds(
    thresholds: Sequence[Threshold], figures: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Each threshold with the observed value and whether it held (an absent endpoint fails)."""
    endpoints = {e["name"]: e for e in figures.get("endpoints", [])}
    rows = []
    for threshold in thresholds:
        if threshold.endpoint is None:
            source: Mapping[str, Any] | None = {
                **figures.get("totals", {}),
                "devices_sustained": figures.get("devices", {}).get("sustained", 0),
            }
        else:
            source = endpoints.get(threshold.endpoint)
        observed = source.get(threshold.metric) if source is not None else None
        held = observed is not None and (
            observed <= threshold.limit if threshold.bound == "max" else observed >= threshold.limit
        )
        rows.append(
            {
                "metric": threshold.metric,
                "endpoint": threshold.endpoint,
                "bound": threshold.bound,
                "limit": threshold.limit,
                "observed": observed,
                "passed": bool(held),
                "check": threshold.describe(),
            }
        )
    return rows


def performance_verdict(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """pass or fail against the user's thresholds; None (not judged) when there are none."""
    if not rows:
        return None
    return "pass" if all(r["passed"] for r in rows) else "fail"
