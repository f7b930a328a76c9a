"""The report's Performance section: shown when a fleet run left performance.json, escaped,
and a directory with only a fleet run gets a page of its own whose banner is the verdict."""

from __future__ import annotations

import json
from pathlib import Path

from margo_conformance.base.schemas import validation_errors
from margo_conformance.report.html.page import write_report

PERFORMANCE = {
    "format": "margo-conformance-performance/1",
    "sut": {"name": "Acme <WOS>", "role": "wos", "image": "acme/wos:1"},
    "run": {"id": "fleet-1", "started": "2026-11-29T08:00:00Z", "finished": "2026-11-29T08:01:10Z",
            "devices": 1000, "poll_interval_s": 1.0, "spawn_rate": 100.0, "ramp_s": 9.0,
            "duration_s": 60.0, "mode": "local", "workers": 0, "engine": "locust",
            "target": "127.0.0.1"},
    "devices": {"requested": 1000, "onboarded": 1000, "sustained": 998, "rule": "kept cadence"},
    "totals": {"name": "all endpoints", "requests": 3000, "failures": 3, "error_rate": 0.001,
               "throughput_rps": 2900.0, "p50_ms": 4, "p95_ms": 40, "p99_ms": 120,
               "mean_ms": 9.0, "max_ms": 800.0},
    "endpoints": [{"name": "POST git ls-refs", "requests": 1000, "failures": 3, "error_rate": 0.003,
                   "throughput_rps": 990.0, "p50_ms": 3, "p95_ms": 30, "p99_ms": 90,
                   "mean_ms": 7.0, "max_ms": 800.0}],
    "errors": [{"endpoint": "POST git ls-refs", "method": "POST", "error": "ls-refs answered 503",
                "occurrences": 3}],
    "thresholds": [{"metric": "devices_sustained", "endpoint": None, "bound": "min", "limit": 1000,
                    "observed": 998, "passed": False, "check": "devices_sustained >= 1000"}],
    "verdict": "fail",
}


def test_the_example_is_a_valid_performance_document() -> None:
    assert validation_errors(PERFORMANCE, "performance") == []


def test_a_fleet_only_directory_gets_its_own_page(tmp_path: Path) -> None:
    (tmp_path / "performance.json").write_text(json.dumps(PERFORMANCE))
    page = write_report(tmp_path).read_text()
    assert 'class="banner verdict-fail"' in page and "devices_sustained &gt;= 1000" in page
    assert 'id="performance"' in page and "POST git ls-refs" in page and "998/1000" in page
    assert "Acme &lt;WOS&gt;" in page and "<WOS>" not in page
    assert "ls-refs answered 503" in page


def test_a_certification_report_gains_the_section_next_to_its_results(tmp_path: Path) -> None:
    from margo_conformance.results.collector import ResultsCollector
    from margo_conformance.results.tree import write_results_json

    tree = ResultsCollector(tmp_path, {"name": "x", "role": "wos", "profiles": ["V24"],
                                       "image": "i", "sut_file": {}}, "run-1").results_tree()
    write_results_json(tmp_path, tree)
    assert 'id="performance"' not in write_report(tmp_path).read_text()
    (tmp_path / "performance.json").write_text(json.dumps({**PERFORMANCE, "verdict": None,
                                                           "thresholds": []}))
    page = write_report(tmp_path).read_text()
    assert 'href="#performance"' in page and "measured, not judged" in page
