"""The agent's life: onboard once, then poll desired state and reconcile until stopped.

Startup follows the V24 order (ONB-002): root CA, onboarding, token, capabilities. Each
step is retried with backoff until it succeeds, so a WOS that is not up yet only delays
the device. Afterwards each cycle re-reports capabilities if they changed (CAP-001),
fetches the Git repository and applies what changed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from margo_agent.capabilities import (
    collect_capabilities,
    with_memory_in_mebibytes,
    with_roles,
    without_serial_number,
)
from margo_agent.config import AgentConfig
from margo_agent.downtime import DowntimeGuard
from margo_agent.faults import BAD_ROLE, UNASSIGNED_REPO
from margo_agent.gitops import GitCheckout, GitError, read_desired_state
from margo_agent.reconciler import Reconciler
from margo_agent.retry import Backoff, until_done
from margo_agent.runtime import workload_runtime
from margo_agent.status import StatusReporter
from margo_agent.transport import TransportError
from margo_agent.wos_client import (
    DesiredStateRepo,
    Onboarding,
    WosClient,
    WosError,
    sibling_repository,
)

log = logging.getLogger(__name__)

#: Exit status of the crash-on-bad-document fault switch.
EXIT_BAD_DOCUMENT = 70


class Agent:
    def __init__(self, config: AgentConfig, stop: threading.Event) -> None:
        self._config = config
        self._stop = stop
        self._state_dir = config.state_dir
        faults = config.faults
        self._retry_cap_s = config.retry_cap_s
        self._poll_s = config.poll_s
        self._downtime = DowntimeGuard(
            config.downtime_window, stop, disabled=faults.ignore_downtime_window
        )
        self._wos = WosClient(
            config.wos_url, config.device_id, reauthenticate=not faults.no_reauth,
            send_token=not faults.omit_bearer_token,
        )
        self._reporter = StatusReporter(
            self._post_status_without_components if faults.status_without_components else self._wos.post_status,
            stop,
            self._retry_cap_s,
            downtime=self._downtime,
            keep_undelivered=not faults.drop_owed_status,
        )
        self._onboarding: Onboarding | None = None
        self._last_capabilities: dict[str, Any] | None = None
        self._last_commit: str | None = None
        self._needs_reconcile = True

    def wake(self) -> None:
        """Called from the signal handler after `stop` is set."""
        self._reporter.wake()

    def run(self) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        if self._config.faults.active:
            log.warning("fault: active switches: %s", ", ".join(sorted(self._config.faults.active)))
        if not self._start():
            return
        self._reporter.start()
        pinned = self._config.wos_url.startswith("https://") and not self._config.faults.skip_root_ca
        ca_file = self._ca_file if pinned else None
        checkout = GitCheckout(self._state_dir / "desired-state", ca_file)
        runtime = workload_runtime(self._config, self._wos.ssl_context)
        reconciler = Reconciler(
            runtime,
            self._report_status,
            self._state_dir / "applied.json",
            skip_installing=self._config.faults.skip_installing,
            faults=self._config.faults,
        )
        fetch_backoff = Backoff(self._stop, self._retry_cap_s)
        while not self._stop.is_set():
            if not self._downtime.wait_out("desired-state poll"):
                break
            try:
                fetched = self._cycle(checkout, reconciler)
            except Exception:  # a device agent keeps running; the next cycle may succeed
                log.exception("agent: unexpected error in this cycle, continuing")
                fetched = False
            if fetched:
                fetch_backoff.reset()
            delay = self._poll_s if fetched is not False else fetch_backoff.next_delay()
            self._stop.wait(delay)

    # -- startup ----------------------------------------------------------------------------

    @property
    def _ca_file(self) -> Path:
        return self._state_dir / "wos-root-ca.pem"

    @property
    def _onboarding_file(self) -> Path:
        return self._state_dir / "onboarding.json"

    def _start(self) -> bool:
        """The onboarding sequence; False when stopped before it completed."""
        faults = self._config.faults
        if faults.skip_root_ca:
            log.warning("fault: skip-root-ca: not downloading the root CA, keeping the default trust")
        elif not self._until_done("onboarding", lambda: self._wos.fetch_root_ca(self._ca_file)):
            return False
        saved = self._load_onboarding()
        if saved is not None and not self._until_done("token", lambda: self._verify_saved(saved)):
            return False
        if self._onboarding is None and not self._until_done("onboarding", self._onboard):
            return False
        if faults.no_capabilities or faults.capabilities_after_first_poll:
            return True  # the faults' cycles report late or never (_cycle)
        # A rejected capabilities document is logged and POSTed again next cycle; it
        # must not keep the device from following its desired state.
        return self._until_done(
            "capabilities", lambda: self._report_capabilities(first=True), accept_rejection=True
        )

    def _until_done(
        self, step: str, action: Callable[[], None], accept_rejection: bool = False
    ) -> bool:
        return until_done(step, action, self._stop, self._downtime, self._retry_cap_s, accept_rejection)

    def _onboard(self) -> None:
        self._onboarding = self._wos.onboard(self._config.onboarding_key)
        self._save_onboarding(self._onboarding)

    def _verify_saved(self, saved: Onboarding) -> None:
        """Credentials from an earlier run spare a second use of the one-time key; they
        are kept only if the token endpoint still accepts them."""
        log.info("onboarding: reusing credentials saved in %s", self._onboarding_file)
        self._wos.use_onboarding(saved)
        try:
            self._wos.ensure_token()
        except WosError as exc:
            if exc.permanent or (exc.response is not None and exc.response.status == 401):
                log.warning("onboarding: saved credentials refused (%s), onboarding again", exc)
                self._onboarding_file.unlink(missing_ok=True)
                return
            raise
        self._onboarding = saved

    def _save_onboarding(self, onboarding: Onboarding) -> None:
        document = {
            "wosUrl": self._config.wos_url,
            "deviceId": self._config.device_id,
            **asdict(onboarding),
        }
        fd = os.open(self._onboarding_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle)

    def _load_onboarding(self) -> Onboarding | None:
        try:
            document = json.loads(self._onboarding_file.read_text(encoding="utf-8"))
            if (document.pop("wosUrl"), document.pop("deviceId")) != (
                self._config.wos_url,
                self._config.device_id,
            ):
                return None
            repo = DesiredStateRepo(**document.pop("desired_state"))
            return Onboarding(desired_state=repo, **document)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("onboarding: ignoring unreadable %s (%s)", self._onboarding_file, exc)
            return None

    # -- capabilities ----------------------------------------------------------------------

    def _collect_capabilities(self) -> dict[str, Any]:
        document = collect_capabilities(self._config.device_id, self._config.serial_number)
        faults = self._config.faults
        if faults.capabilities_bad_role:
            document = with_roles(document, [BAD_ROLE])
        if faults.capabilities_memory_in_mb:
            document = with_memory_in_mebibytes(document)
        if faults.refused_capabilities:
            document = without_serial_number(document)
        return document

    def _report_capabilities(self, first: bool) -> None:
        document = self._collect_capabilities()
        self._wos.report_capabilities(document, first=first)
        self._last_capabilities = document
        log.info("capabilities: reported (%s)", "POST" if first else "PUT")

    def _refresh_capabilities(self) -> None:
        """Report again when the device changed (CAP-001); POST until one was accepted."""
        try:
            current = self._collect_capabilities()
            if current != self._last_capabilities:
                self._report_capabilities(first=self._last_capabilities is None)
        except (WosError, TransportError) as exc:
            log.warning("capabilities: %s; will retry next cycle", exc)

    # -- desired state ---------------------------------------------------------------------

    def _cycle(self, checkout: GitCheckout, reconciler: Reconciler) -> bool | None:
        """One poll: capabilities if they changed (CAP-001), then the desired state."""
        faults = self._config.faults
        if faults.no_capabilities:
            return self._sync(checkout, reconciler)
        if not faults.capabilities_after_first_poll:
            self._refresh_capabilities()
            return self._sync(checkout, reconciler)
        fetched = self._sync(checkout, reconciler)
        if self._last_capabilities is None:
            log.warning("fault: capabilities-after-first-poll: reporting capabilities only now")
        self._refresh_capabilities()
        return fetched

    def _sync(self, checkout: GitCheckout, reconciler: Reconciler) -> bool | None:
        """Fetch and reconcile. True when fetched, False on a failure worth retrying soon,
        None when the next attempt should simply wait for the next cycle."""
        if self._config.faults.never_fetch:
            return None
        assert self._onboarding is not None
        repo = self._onboarding.desired_state
        try:
            commit = checkout.sync(repo)
        except GitError as exc:
            if exc.refused:
                log.error("fetch: refused by the Git server, retrying next cycle: %s", exc)
                return None
            log.warning("fetch: %s", exc)
            self._fault_forget_workloads(reconciler)
            return False
        except (subprocess.TimeoutExpired, OSError) as exc:
            log.warning("fetch: git failed: %s", exc)
            self._fault_forget_workloads(reconciler)
            return False
        if self._config.faults.read_unassigned_repo:
            self._fault_read_unassigned(checkout, repo)
        if commit is None:
            log.info("fetch: branch %s does not exist yet, no desired state", repo.branch)
            return True
        changed = commit != self._last_commit
        log.info("fetch: %s at %s%s", repo.branch, commit[:12], "" if changed else " (unchanged)")
        if changed or self._needs_reconcile:
            self._last_commit = commit
            desired = read_desired_state(checkout.path)
            if desired.broken and self._config.faults.crash_on_bad_document:
                log.error("fault: crash-on-bad-document: cannot go on with %s", "; ".join(desired.broken))
                raise SystemExit(EXIT_BAD_DOCUMENT)
            self._needs_reconcile = not reconciler.reconcile(desired.deployments)
        return True

    def _fault_forget_workloads(self, reconciler: Reconciler) -> None:
        """The forget-workloads-offline fault: an unreachable repository counts as empty."""
        if self._config.faults.forget_workloads_offline:
            log.warning("fault: forget-workloads-offline: repository unreachable, removing everything")
            reconciler.reconcile({})
            self._last_commit = None

    def _fault_read_unassigned(self, checkout: GitCheckout, repo: DesiredStateRepo) -> None:
        """The read-unassigned-repo fault: also read a guessed repository beside the assigned one."""
        unassigned = sibling_repository(repo, UNASSIGNED_REPO)
        log.warning("fault: read-unassigned-repo: also reading %s", unassigned.url)
        try:
            checkout.list_remote(unassigned)
        except (GitError, subprocess.TimeoutExpired, OSError) as exc:
            log.warning("fault: read-unassigned-repo: %s", exc)

    def _post_status_without_components(self, deployment_id: str, document: dict[str, Any]) -> None:
        """The status-without-components fault: the report leaves out its components list."""
        self._wos.post_status(deployment_id, {k: v for k, v in document.items() if k != "components"})

    def _report_status(self, document: dict[str, Any]) -> None:
        self._reporter.report(document)
        self._reporter.wait_delivered(self._config.poll_interval_s)
