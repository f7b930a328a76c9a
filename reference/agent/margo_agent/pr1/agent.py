"""The PR1 agent's life: root CA, key pair and onboarding, capabilities, then poll the
state manifest and reconcile until stopped (docs/pr1-wire-contract.md).

Each startup step is retried with the V24 backoff until it succeeds. Status reports go
through the V24 `StatusReporter` queue (in order, retried, on their own thread). Before a
component starts, or a removal stops containers, the agent waits (at most one poll
interval) until the report announcing it has been delivered, as in V24.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from margo_agent.config import AgentConfig
from margo_agent.downtime import DowntimeGuard
from margo_agent.pr1 import identity, status
from margo_agent.pr1.capabilities import collect_pr1_capabilities
from margo_agent.pr1.client import Pr1WosClient, UnknownClient
from margo_agent.pr1.identity import IdentityError
from margo_agent.pr1.reconcile import Pr1Reconciler
from margo_agent.pr1.signing import RequestSigner
from margo_agent.pr1.sync import ManifestSync, Outcome
from margo_agent.retry import Backoff, until_done
from margo_agent.runtime import workload_runtime
from margo_agent.status import StatusReporter
from margo_agent.transport import TransportError
from margo_agent.wos_client import WosError

log = logging.getLogger(__name__)

CA_FILE = "wos-root-ca.pem"
CURSOR_FILE = "pr1-manifest.json"
APPLIED_FILE = "pr1-applied.json"


class Pr1Agent:
    def __init__(self, config: AgentConfig, stop: threading.Event) -> None:
        self._config = config
        self._stop = stop
        self._state_dir = config.state_dir
        faults = config.faults
        self._retry_cap_s = config.retry_cap_s
        self._poll_s = config.poll_s
        self._downtime = DowntimeGuard(config.downtime_window, stop, disabled=faults.ignore_downtime_window)
        self._wos = Pr1WosClient(config.wos_url, config.device_id, faults)
        self._reporter = StatusReporter(
            self._post_status,
            stop,
            self._retry_cap_s,
            downtime=self._downtime,
            keep_undelivered=not faults.drop_owed_status,
        )
        self._last_capabilities: dict[str, Any] | None = None

    def wake(self) -> None:
        self._reporter.wake()

    def run(self) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        log.info("agent: profile PR1 (state manifest over HTTP)")
        if self._config.faults.active:
            log.warning("fault: active switches: %s", ", ".join(sorted(self._config.faults.active)))
        if not self._start():
            return
        self._reporter.start()
        runtime = workload_runtime(self._config, self._wos.ssl_context)
        reconciler = Pr1Reconciler(runtime, self._report_status, self._state_dir / APPLIED_FILE, self._config.faults)
        sync = ManifestSync(self._wos, reconciler, self._state_dir / CURSOR_FILE, self._config.faults)
        backoff = Backoff(self._stop, self._retry_cap_s)
        while not self._stop.is_set():
            if not self._downtime.wait_out("desired-state poll"):
                break
            outcome = self._cycle(sync)
            if outcome is Outcome.FAILED:
                delay = backoff.next_delay()
            else:
                backoff.reset()
                delay = self._poll_s
            self._stop.wait(delay)

    def _cycle(self, sync: ManifestSync) -> Outcome:
        try:
            late = self._config.faults.capabilities_after_first_poll
            if not late:
                self._refresh_capabilities()
            outcome = sync.poll()
            if late:
                self._refresh_capabilities()
            return outcome
        except UnknownClient as exc:
            self._forget_client(exc)
            if not self._until_done("onboarding", self._onboarded_and_reported, accept_rejection=True):
                return Outcome.FAILED
            return Outcome.UNCHANGED
        except TransportError as exc:
            log.warning("fetch: WOS not reachable (%s)", exc)
        except WosError as exc:
            log.warning("fetch: %s", exc)
        except Exception:  # a device agent keeps running; the next cycle may succeed
            log.exception("agent: unexpected error in this cycle, continuing")
        return Outcome.FAILED

    # -- startup ----------------------------------------------------------------------------

    def _start(self) -> bool:
        if not self._until_done("onboarding", lambda: self._wos.fetch_root_ca(self._state_dir / CA_FILE)):
            return False
        # The key that signs every later request (SEC-011) is the one onboarding presents.
        client = identity.ensure_identity(self._state_dir, self._config.device_id)
        self._wos.signer = RequestSigner(client.key_file, self._config.faults)
        saved = identity.load_client_id(self._state_dir, self._config.wos_url, self._config.device_id)
        if saved is not None:
            log.info("onboarding: reusing client id %s saved in %s", saved, self._state_dir)
            self._wos.client_id = saved
        # A rejected capabilities document is logged; it must not keep the device from
        # following its desired state. An unknown saved client id means onboarding again.
        return self._until_done("capabilities", self._onboarded_and_reported, accept_rejection=True)

    def _onboarded_and_reported(self) -> None:
        if self._wos.client_id is None:
            client = identity.ensure_identity(self._state_dir, self._config.device_id)
            client_id = self._wos.onboard(client.certificate_field)
            identity.save_client_id(self._state_dir, self._config.wos_url, self._config.device_id, client_id)
        if not self._config.faults.capabilities_after_first_poll:
            self._report_capabilities()

    def _forget_client(self, exc: WosError) -> None:
        log.warning("onboarding: the WOS does not know client id %s (%s); onboarding again", self._wos.client_id, exc)
        self._wos.client_id = None
        identity.forget_client_id(self._state_dir)
        self._last_capabilities = None

    def _until_done(self, step: str, action: Callable[[], None], accept_rejection: bool = False) -> bool:
        """The V24 startup rule, plus PR1's own errors: an unknown client onboards again."""

        def handle(exc: Exception) -> bool:
            if isinstance(exc, UnknownClient):
                self._forget_client(exc)
                return True
            if isinstance(exc, IdentityError):
                log.error("%s: cannot make the client certificate: %s; retrying", step, exc)
                return True
            return False

        return until_done(step, action, self._stop, self._downtime, self._retry_cap_s, accept_rejection, handle)

    # -- capabilities ----------------------------------------------------------------------

    def _capabilities(self) -> dict[str, Any]:
        return collect_pr1_capabilities(self._config.device_id, self._config.serial_number, self._config.faults)

    def _report_capabilities(self) -> None:
        if self._config.faults.no_capabilities:
            log.warning("fault: no-capabilities: not reporting capabilities")
            return
        document = self._capabilities()
        self._wos.put_capabilities(document)
        self._last_capabilities = document
        log.info("capabilities: reported (PUT)")

    def _refresh_capabilities(self) -> None:
        """PUT again when the device changed (CAP-010); UnknownClient goes to the caller."""
        if self._config.faults.no_capabilities:
            return
        try:
            current = self._capabilities()
            if current != self._last_capabilities:
                self._wos.put_capabilities(current)
                self._last_capabilities = current
                log.info("capabilities: reported (PUT)")
        except UnknownClient:
            raise
        except (WosError, TransportError) as exc:
            log.warning("capabilities: %s; will retry next cycle", exc)

    # -- status ----------------------------------------------------------------------------

    def _post_status(self, deployment_id: str, document: dict[str, Any]) -> None:
        self._wos.post_status(deployment_id, status.with_faults(document, self._config.faults))

    def _report_status(self, document: dict[str, Any]) -> None:
        self._reporter.report(document)
        self._reporter.wait_delivered(self._config.poll_interval_s)
