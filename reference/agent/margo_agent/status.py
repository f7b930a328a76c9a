"""Deployment status (STS-001..STS-006): the documents, and their in-order delivery.

`DeploymentProgress` holds the state of one deployment's components and renders a
`DeploymentStatus` document after each change. `StatusReporter` delivers those documents
to the WOS strictly in the order they were produced, on its own thread, retrying with
backoff, so a WOS outage delays reports but never reorders or drops them.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from margo_agent.downtime import DowntimeGuard
from margo_agent.retry import Backoff
from margo_agent.transport import TransportError
from margo_agent.wos_client import WosError

log = logging.getLogger(__name__)

API_VERSION = "deployment.margo/v1"
PENDING, INSTALLING, INSTALLED, FAILED = "Pending", "Installing", "Installed", "Failed"


@dataclass(frozen=True)
class StatusError:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class DeploymentProgress:
    """Component states of one deployment; the overall state follows the component
    being worked on until all are installed (STS-005)."""

    def __init__(
        self,
        deployment_id: str,
        component_names: Sequence[str],
        *,
        error_details: bool = True,
        overall_from_last_component: bool = False,
    ) -> None:
        self.deployment_id = deployment_id
        self._names = list(component_names)
        # Both False/True only under the fault switches no-error-details and
        # overall-from-last-component.
        self._error_details = error_details
        self._overall_from_last = overall_from_last_component
        self._states = [PENDING] * len(self._names)
        self._errors: list[StatusError | None] = [None] * len(self._names)
        self._overall = PENDING
        self._overall_error: StatusError | None = None

    def installing(self, index: int) -> None:
        """Component `index` starts; every earlier one has been installed by now."""
        for earlier in range(index):
            self._states[earlier] = INSTALLED
        self._states[index] = self._overall = INSTALLING

    def installed(self, index: int) -> None:
        self._states[index] = INSTALLED
        if all(state == INSTALLED for state in self._states):
            self._overall = INSTALLED

    def failed(self, index: int, error: StatusError) -> None:
        self._states[index] = self._overall = FAILED
        self._errors[index] = self._overall_error = error

    def rejected(self, error: StatusError) -> None:
        """The whole document was refused before anything started: every component failed
        with the same error, so the overall state still follows the components (STS-005)."""
        self._states = [FAILED] * len(self._names)
        self._errors = [error] * len(self._names)
        self._overall, self._overall_error = FAILED, error

    def document(self) -> dict[str, Any]:
        overall, overall_error = self._overall, self._overall_error
        if self._overall_from_last and self._states:
            overall, overall_error = self._states[-1], self._errors[-1]
        status: dict[str, Any] = {"state": overall}
        if overall_error and self._error_details:
            status["error"] = overall_error.as_dict()
        components = []
        for name, state, error in zip(self._names, self._states, self._errors, strict=True):
            component: dict[str, Any] = {"name": name, "state": state}
            if error and self._error_details:
                component["error"] = error.as_dict()
            components.append(component)
        return {
            "apiVersion": API_VERSION,
            "kind": "DeploymentStatus",
            "deploymentId": self.deployment_id,
            "status": status,
            "components": components,
        }


class StatusReporter:
    """FIFO of status documents, delivered by one background thread."""

    def __init__(
        self,
        deliver: Callable[[str, dict[str, Any]], None],
        stop: threading.Event,
        backoff_cap_s: float,
        downtime: DowntimeGuard | None = None,
        keep_undelivered: bool = True,
    ) -> None:
        self._deliver = deliver
        self._stop = stop
        self._backoff_cap_s = backoff_cap_s
        self._downtime = downtime
        # False only under the drop-owed-status fault switch.
        self._keep_undelivered = keep_undelivered
        self._queue: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="status-reporter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def report(self, document: dict[str, Any]) -> None:
        with self._changed:
            self._queue.append((document["deploymentId"], document))
            self._changed.notify_all()

    def wait_delivered(self, timeout_s: float) -> bool:
        """Block until every queued report reached the WOS (or timeout/stop), so that a
        reachable WOS sees "Installing" before the workload appears; an unreachable one
        only delays the installation by `timeout_s`."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._queue or self._stop.is_set(), timeout=timeout_s
            )

    def wake(self) -> None:
        """Let waiting threads notice that the stop event was set."""
        with self._changed:
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue or self._stop.is_set())
                if self._stop.is_set():
                    return
                deployment_id, document = self._queue[0]
            self._send_until_done(deployment_id, document)
            with self._changed:
                self._queue.popleft()
                self._changed.notify_all()

    def _send_until_done(self, deployment_id: str, document: dict[str, Any]) -> None:
        backoff = Backoff(self._stop, self._backoff_cap_s)
        summary = _summary(document)
        while True:
            if self._downtime is not None and not self._downtime.wait_out(f"status report {summary}"):
                return
            try:
                self._deliver(deployment_id, document)
                log.info("status: %s reported %s", deployment_id, summary)
                return
            except WosError as exc:
                if exc.permanent:
                    log.error(
                        "status: %s rejected, dropping report %s: %s", deployment_id, summary, exc
                    )
                    return
                log.warning("status: %s not delivered (%s), will retry", deployment_id, exc)
            except TransportError as exc:
                log.warning("status: %s not delivered (%s), will retry", deployment_id, exc)
            if not self._keep_undelivered:
                log.warning("fault: drop-owed-status: dropping report %s for %s", summary, deployment_id)
                return
            if not backoff.wait():
                return


def _summary(document: dict[str, Any]) -> str:
    components = ", ".join(f"{c['name']}={c['state']}" for c in document["components"])
    return f"{document['status']['state']} [{components}]"
