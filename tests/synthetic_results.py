"""Synthetic results trees for the report, bundle and verdict tests: no Docker, no SUT.

The tree is built by the real collector from hand-made scenario results, so every writer is
tested on exactly the shape a run produces.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from margo_conformance.base.evidence import COMMIT, CONTAINER, GIT, HTTP, LOG, EvidenceLog
from margo_conformance.results.collector import ResultsCollector, write_evidence
from margo_conformance.results.coverage import PlannedScenario
from margo_conformance.results.model import RunContext, ScenarioResult
from margo_conformance.results.tree import write_results_json
from margo_conformance.results.waivers import Waiver

RUN_ID = "run-0123456789ab"
FAILING_MESSAGE = "GIT-003/CFG-003: commit 1a2b3c4 (hello-compose) was not fetched within 3s"
SECRET = "s3cr3t-onboarding-key"


def sut_description(role: str = "agent", profiles: Sequence[str] = ("V24",)) -> dict[str, Any]:
    return {
        "name": "Acme Edge Agent",
        "vendor": "Acme <Industrial> & Co",
        "version": "2.3.1",
        "role": role,
        "profiles": list(profiles),
        "image": "acme/edge-agent:2.3.1",
        "sut_file": {
            "name": "Acme Edge Agent",
            "role": role,
            "env": {"MARGO_ONBOARDING_KEY": "***", "MARGO_WOS_URL": "{wos_url}"},
            "secrets": ["MARGO_ONBOARDING_KEY"],
        },
    }


def scenario(
    name: str,
    outcome: str = "pass",
    tags: Sequence[str] = ("agent", "V24", "must"),
    message: str = "",
    nodeid: str | None = None,
) -> ScenarioResult:
    return ScenarioResult(
        name=name,
        feature="Desired state pulled from the device's Git repository",
        tags=list(tags),
        nodeid=nodeid or f"steps/scenarios.py::test_{name.lower().replace(' ', '_')}",
        outcome=outcome,
        message=message,
        duration_s=1.25,
    )


def planned(result: ScenarioResult) -> PlannedScenario:
    return PlannedScenario(nodeid=result.nodeid, name=result.name, tags=frozenset(result.tags))


def collector_for(
    report_dir: Path,
    results: Sequence[ScenarioResult],
    extra_planned: Sequence[ScenarioResult] = (),
    selected: Sequence[ScenarioResult] | None = None,
    role: str = "agent",
    profiles: Sequence[str] = ("V24",),
) -> ResultsCollector:
    """A collector that 'collected' results + extra_planned and 'selected' `selected`."""
    collector = ResultsCollector(
        report_dir, sut_description(role, profiles), RUN_ID, started=time.time() - 5
    )
    collector.scenarios = list(results)
    everything = list(results) + list(extra_planned)
    collector.planned = [planned(r) for r in everything]
    chosen = everything if selected is None else list(selected) + list(results)
    collector.selected = frozenset(r.nodeid for r in chosen)
    return collector


def failing_evidence() -> EvidenceLog:
    log = EvidenceLog()
    log.record(
        COMMIT,
        "1a2b3c4 deploy hello-compose",
        sha="1a2b3c4" + "0" * 33,
        message="deploy hello-compose",
    )
    log.record(CONTAINER, "starting acme/edge-agent:2.3.1", image="acme/edge-agent:2.3.1")
    log.record(
        HTTP,
        "POST /onboarding/ -> 201",
        method="POST",
        path="/onboarding/",
        status=201,
        duration_ms=0.4,
        request_headers={"content-type": "application/json"},
        request_body='{"deviceId": "dev-1", "note": "<b>not bold</b>"}',
        response_body='{"clientId": "client-1"}',
    )
    log.record(GIT, "advertise dev-1 auth=none -> 401", phase="advertise", auth="none", status=401)
    for n in range(3):
        log.record(LOG, f"2026-01-01 00:00:0{n} WARNING fetch: giving up attempt {n}")
    return log


def write_failing_run(
    report_dir: Path, waivers: Sequence[Waiver] = (), certification: bool = False
) -> dict[str, Any]:
    """A run with one failing scenario (with evidence), one pass and one skip; returns the tree."""
    passing = scenario(
        "The agent onboards with the orchestrator", tags=("agent", "V24", "must", "req_ONB_001")
    )
    failing = scenario(
        "A newly published deployment is fetched within the polling interval",
        outcome="fail",
        tags=("agent", "V24", "must", "gitops", "req_CFG_003", "req_GIT_003"),
        message=FAILING_MESSAGE + "\n  Git operations seen:\n    +0.50s git advertise -> 401",
    )
    skipped = scenario(
        "The agent reports a removed deployment",
        outcome="skip",
        tags=("agent", "V24", "should", "req_STS_001"),
        message="the SUT file claims no removal support",
    )
    failing.evidence_file = write_evidence(report_dir, 2, failing, failing_evidence())
    collector = collector_for(report_dir, [passing, failing, skipped])
    tree = collector.results_tree(RunContext(waivers=tuple(waivers), certification=certification))
    write_results_json(report_dir, tree)
    (report_dir / "junit.xml").write_text("<testsuites/>\n")
    (report_dir / "run.log").write_text("[1/3 +1.0s] PASS ...\n")
    return tree


# -- a run judged per check: failed requirements, a blocked cascade, advisory checks -------------

ROBUSTNESS = "The orchestrator refuses bad requests and keeps serving"
WRONG_KIND_MESSAGE = "a capabilities report of the wrong kind must be refused with a 4xx status, but it got 201"
ANSWERS = [
    {"request": "onboarding request", "sent": "a document of the wrong kind", "answer": "400"},
    {"request": "onboarding request", "sent": "the valid request", "answer": "201"},
    {"request": "capabilities report", "sent": "a document of the wrong kind", "answer": "201"},
    {"request": "capabilities report", "sent": "the valid request", "answer": "201"},
]
REFUSED_CAPABILITIES = "capabilities report accepted"
SIZE_ADVICE = "a 2 MiB token request was accepted; V24 sets no size limit (the suite's choice)"


def judged_scenarios() -> list[ScenarioResult]:
    """A failing example with rows observed, two scenarios blocked by one refusal, an advisory
    check in a passing scenario, and one pass."""
    from margo_conformance.checks.expect import ADVISORY, Check

    failing = scenario(
        f"{ROBUSTNESS} [wrong-kind]",
        outcome="fail",
        tags=("wos", "V24", "must", "req_CAP_002", "req_ERR_001"),
        message=f"CAP-002: {WRONG_KIND_MESSAGE}",
        nodeid="steps/test_wos.py::test_robustness[wrong-kind]",
    )
    failing.checks = [
        Check(("ERR-001",), True, "the onboarding request of the wrong kind was refused with 400"),
        Check(("CAP-002",), False, WRONG_KIND_MESSAGE, observed=ANSWERS),
    ]
    blocked_scenarios = []
    cascade = (("The device reports its status", "req_STS_002"), ("A deployment reaches the device", "req_STS_003"))
    for name, tag in cascade:
        blocked_one = scenario(
            name,
            outcome="error",
            tags=("wos", "V24", "must", tag),
            message=f"blocked: {REFUSED_CAPABILITIES} (CAP-001 failed there): refused with 422",
        )
        blocked_one.blocked = REFUSED_CAPABILITIES
        blocked_one.checks = [Check(("CAP-001",), False, f"{REFUSED_CAPABILITIES}: refused with 422",
                                    observed={"status": "422", "detail": "unknown member cpuArchitecture"})]
        blocked_scenarios.append(blocked_one)
    advised = scenario(
        "The token endpoint answers a large request", tags=("wos", "V24", "should", "req_TOK_003"),
        nodeid="steps/test_wos.py::test_large_token_request",
    )
    advised.checks = [
        Check(("TOK-003",), True, "a valid token request was answered with 200"),
        Check(("TOK-003",), False, SIZE_ADVICE, ADVISORY, ("I-13",), observed="HTTP 200 after 0.4s"),
    ]
    passing = scenario("The orchestrator onboards a device", tags=("wos", "V24", "must", "req_ONB_004"))
    return [failing, *blocked_scenarios, advised, passing]


def write_judged_run(report_dir: Path) -> dict[str, Any]:
    """A WOS run judged per check (see `judged_scenarios`), with evidence for the failure."""
    results = judged_scenarios()
    results[0].evidence_file = write_evidence(report_dir, 1, results[0], failing_evidence())
    collector = collector_for(report_dir, results, role="wos")
    tree = collector.results_tree(RunContext())
    write_results_json(report_dir, tree)
    return tree
