"""Status delivery: in order, retried after transient failures, dropped only when the
WOS rejects the document itself."""

from __future__ import annotations

import threading
from typing import Any

from margo_agent.status import StatusReporter
from margo_agent.transport import HttpResponse, TransportError
from margo_agent.wos_client import WosError


def doc(n: int) -> dict[str, Any]:
    return {
        "deploymentId": "d1",
        "status": {"state": "Pending"},
        "components": [{"name": f"c{n}", "state": "Pending"}],
    }


def test_reports_arrive_in_order_despite_transient_failures() -> None:
    stop = threading.Event()
    delivered: list[str] = []
    failures = iter(
        [TransportError("connection refused"), WosError("status", HttpResponse(503, b"", ""))]
    )

    def deliver(deployment_id: str, document: dict[str, Any]) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        delivered.append(document["components"][0]["name"])

    reporter = StatusReporter(deliver, stop, backoff_cap_s=0.01)
    reporter.start()
    for n in range(3):
        reporter.report(doc(n))
    assert reporter.wait_delivered(timeout_s=5)
    assert delivered == ["c0", "c1", "c2"]
    stop.set()
    reporter.wake()


def test_a_rejected_report_is_dropped_and_the_next_one_sent() -> None:
    stop = threading.Event()
    delivered: list[str] = []

    def deliver(deployment_id: str, document: dict[str, Any]) -> None:
        name = document["components"][0]["name"]
        if name == "c0":
            raise WosError("status", HttpResponse(422, b"{}", "application/problem+json"))
        delivered.append(name)

    reporter = StatusReporter(deliver, stop, backoff_cap_s=0.01)
    reporter.start()
    reporter.report(doc(0))
    reporter.report(doc(1))
    assert reporter.wait_delivered(timeout_s=5)
    assert delivered == ["c1"]
    stop.set()
    reporter.wake()
