"""Evidence waits wake on events; verdict rules; requirement aggregation."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from margo_conformance.base.evidence import HTTP, EvidenceLog
from margo_conformance.results.model import ScenarioResult
from margo_conformance.results.verdict import requirement_outcomes, run_verdict


def test_wait_returns_as_soon_as_the_event_is_recorded() -> None:
    log = EvidenceLog()
    timer = threading.Timer(0.05, lambda: log.record(HTTP, "GET /x -> 200", path="/x"))
    timer.start()
    started = time.monotonic()
    found = log.wait_for(lambda events: next((e for e in events if e.data.get("path") == "/x"), None), 5)
    assert found is not None and time.monotonic() - started < 1.0


def test_wait_gives_up_at_the_timeout() -> None:
    started = time.monotonic()
    assert EvidenceLog().wait_for(lambda events: None, 0.1) is None
    assert 0.09 <= time.monotonic() - started < 1.0


def test_verdict_rules() -> None:
    assert run_verdict([]) == "error"  # a run that ran nothing cannot pass
    assert run_verdict(["pass", "pass"]) == "pass"
    assert run_verdict(["pass", "skip"]) == "partial"
    assert run_verdict(["pass", "error", "skip"]) == "error"
    assert run_verdict(["error", "fail"]) == "fail"


def test_requirement_takes_the_worst_outcome_of_its_scenarios() -> None:
    scenarios = [
        ScenarioResult("a", "f", ["req_STS_001", "must"], "n1", outcome="pass"),
        ScenarioResult("b", "f", ["req_STS_001"], "n2", outcome="fail"),
        ScenarioResult("c", "f", ["req_ONB_002"], "n3", outcome="pass"),
    ]
    rows = {r["id"]: r for r in requirement_outcomes(scenarios)}
    assert rows["STS-001"]["outcome"] == "fail" and rows["STS-001"]["level"] == "must"
    assert rows["ONB-002"]["outcome"] == "pass" and rows["ONB-002"]["scenarios"] == ["c"]


class _Item:
    """The two attributes narrow_to_item_profile reads off a pytest item."""

    def __init__(self, profile: str | None) -> None:
        self.callspec = SimpleNamespace(params={"profile": profile}) if profile else None


def test_a_per_profile_run_claims_only_its_profiles_requirements() -> None:
    from margo_conformance.results.collector import narrow_to_item_profile

    tags = {"agent", "V24", "PR1", "must", "req_STS_001", "req_STS_004", "req_STS_013"}
    # STS-001 binds every profile; STS-004 is V24's state vocabulary, STS-013 the 1.0 one.
    assert narrow_to_item_profile(_Item("PR1"), tags) == ["PR1", "agent", "must", "req_STS_001", "req_STS_013"]
    assert narrow_to_item_profile(_Item("V24"), tags) == ["V24", "agent", "must", "req_STS_001", "req_STS_004"]
    assert narrow_to_item_profile(_Item(None), tags) == sorted(tags)
