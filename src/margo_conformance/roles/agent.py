"""Testing an agent: the suite plays the WOS for one device and watches what the agent does.

`AgentUnderTest` is what the agent steps talk to. It owns one scenario's device identity,
its desired-state repository and the agent container, and answers questions about the
evidence ("did the agent fetch commit X?"). Waits wake on recorded events and end at the SUT
file's timeouts; a container that exits ends them early with its exit recorded.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from margo_conformance.config import RunConfig
from margo_conformance.desired_state import (
    Commit,
    Deployment,
    DeviceRepository,
    ManifestPublisher,
    Publisher,
    render_deployment,
)
from margo_conformance.errors import StepOrderError, SutError
from margo_conformance.evidence import CONTAINER, GIT, HTTP, NOTE, Event, EvidenceLog
from margo_conformance.manifest import ClientDesiredState
from margo_conformance.paths import FIXTURES_DIR
from margo_conformance.sut import SutContainer, workload_label_string
from margo_conformance.wos.server import EmulatedWos
from margo_conformance.wos.state import DeviceRecord, ReceivedDocument

T = TypeVar("T")

DEPLOYMENT_FIXTURES = FIXTURES_DIR / "deployments"
READ_AUTH = ("bearer", "basic")
_DEVICE_API = re.compile(r"^/device/[^/]+/(capabilities|deployment/[^/]+/status)$")


@dataclass
class Published:
    deployment: Deployment
    commit: Commit


@dataclass
class AgentUnderTest:
    run: RunConfig
    wos: EmulatedWos
    evidence: EvidenceLog
    workdir: Path
    _device: DeviceRecord | None = None
    profile: str = "V24"
    _repo: DeviceRepository | None = None
    _publisher: Publisher | None = None
    _sut: SutContainer | None = None
    published: dict[str, Published] = field(default_factory=dict)
    removed: dict[str, Commit] = field(default_factory=dict)
    refused_since: float | None = None

    # -- guarded state -----------------------------------------------------------------

    @property
    def device(self) -> DeviceRecord:
        if self._device is None:
            raise StepOrderError("no device registered: start with 'Given the orchestrator expects a new device'")
        return self._device

    @property
    def repo(self) -> DeviceRepository:
        if self._repo is None:
            raise StepOrderError("no repository: start with 'Given the orchestrator expects a new device'")
        return self._repo

    @property
    def sut(self) -> SutContainer:
        if self._sut is None:
            raise StepOrderError("the agent has not been started: add 'When the agent starts'")
        return self._sut

    def deployment(self, name: str) -> Published:
        if name not in self.published:
            raise StepOrderError(f"deployment {name!r} was not published in this scenario")
        return self.published[name]

    # -- acting as the WOS -------------------------------------------------------------

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            raise StepOrderError("no device registered: start with 'Given the orchestrator expects a new device'")
        return self._publisher

    def expect_device(self) -> DeviceRecord:
        self._device = self.wos.state.register_device(self.evidence)
        if self.profile == "PR1":
            self._publisher = ManifestPublisher(self._device.desired_state(), self.evidence)
        else:
            self._repo = DeviceRepository(self._device.repo_path, self.workdir / "wos-clone", self.evidence)
            self._publisher = self._repo
        return self._device

    def placeholder_values(self) -> dict[str, str]:
        interval = self.run.sut.polling.interval
        return {
            "wos_url": self.wos.url_for_containers,
            "device_id": self.device.device_id,
            "onboarding_key": self.device.onboarding_key,
            "serial_number": f"SN-{self.device.device_id}",
            "poll_interval_s": f"{interval:g}",
            "poll_interval_ms": str(int(interval * 1000)),
            "workload_labels": workload_label_string(self.run.run_id),
            "run_id": self.run.run_id,
            "profile": self.profile,
            "base_image": self.run.base_image or "",
            "workload_image": self.run.workload_image or "",
        }

    def start_agent(self) -> None:
        self._sut = SutContainer(self.run.sut, self.placeholder_values(), self.evidence, self.run.run_id)
        self._sut.start()

    def publish(self, name: str) -> Published:
        values = {"ARTIFACTS": f"{self.wos.url_for_containers}/artifacts"}
        folder = DEPLOYMENT_FIXTURES / "pr1" if self.profile == "PR1" else DEPLOYMENT_FIXTURES
        deployment = render_deployment(folder / f"{name}.yaml", values, self.profile)
        published = Published(deployment, self.publisher.publish(deployment))
        self.published[name] = published
        return published

    # -- PR1 state manifest (test hooks of the emulated WOS) ----------------------------

    @property
    def desired(self) -> ClientDesiredState:
        if self.profile != "PR1":
            raise StepOrderError("state-manifest steps need a PR1 scenario (tag the feature @PR1)")
        return self.device.desired_state()

    def publish_corrupted(self, name: str) -> Published:
        """Publish a deployment whose served bytes (YAML and bundle) do not match its digest."""
        published = self.publish(name)
        self.desired.corrupted.add(published.deployment.deployment_id)
        return published

    def serve_older_manifest_without(self, name: str) -> float:
        """A rollback: the deployment disappears under a manifest version lower than the last."""
        deployment_id = self.deployment(name).deployment.deployment_id
        desired = self.desired
        desired.served_version_override = 1
        desired.deployments.pop(deployment_id, None)
        self.evidence.record(NOTE, f"serving an older manifest (v1) without {name}", deployment=deployment_id)
        return time.time()

    def withhold_content(self, name: str) -> None:
        deployment_id = self.deployment(name).deployment.deployment_id
        self.desired.withheld.add(deployment_id)
        self.evidence.record(NOTE, f"404 for the content of {name}; still listed", deployment=deployment_id)

    def remove_deployment(self, name: str) -> Commit:
        published = self.deployment(name)
        commit = self.publisher.remove(published.deployment)
        self.removed[name] = commit
        return commit

    def wait_for_manifest_poll(self, since: float, timeout: float, version: int | None = None) -> Event | None:
        """A successful manifest fetch after `since` (of exactly `version`, when given)."""

        def polled(events: list[Event]) -> Event | None:
            return next(
                (e for e in events if e.kind == HTTP and e.at >= since and e.data.get("status") == 200
                 and _MANIFEST.fullmatch(str(e.data.get("path", "")).split("?")[0])
                 and (version is None or _manifest_version(e.data.get("response_body")) == version)),
                None,
            )

        return self.wait(polled, timeout)

    def manifest_polls(self) -> list[Event]:
        return [e for e in self.evidence.events(HTTP)
                if e.data.get("method") == "GET" and _MANIFEST.fullmatch(str(e.data.get("path", "")).split("?")[0])]

    def wait_for_content_fetch(self, name: str, since: float, timeout: float) -> Event | None:
        """A GET of the deployment's YAML or of a bundle, after `since`."""
        deployment_id = self.deployment(name).deployment.deployment_id

        def fetched(events: list[Event]) -> Event | None:
            return next(
                (e for e in events if e.kind == HTTP and e.at >= since and e.data.get("method") == "GET"
                 and (f"/deployments/{deployment_id}/" in str(e.data.get("path")) or "/bundles/" in str(e.data.get("path")))),
                None,
            )

        return self.wait(fetched, timeout)

    def wait_for_state(self, name: str, states: tuple[str, ...], since: float, timeout: float) -> ReceivedDocument | None:
        """The first report after `since` whose overall state is one of `states` (lowercase)."""
        deployment_id = self.deployment(name).deployment.deployment_id

        def reported(_: list[Event]) -> ReceivedDocument | None:
            return next((r for r in self.status_reports(deployment_id)
                         if r.at >= since and _overall(r.document) in states), None)

        return self.wait(reported, timeout)

    def refuse_repository_access(self) -> float:
        self.device.git_access_allowed = False
        self.refused_since = time.time()
        return self.refused_since

    def allow_repository_access(self) -> None:
        self.device.git_access_allowed = True

    def stop(self) -> None:
        if self._sut is not None:
            self._sut.stop()

    # -- waiting -----------------------------------------------------------------------

    def wait(self, probe: Callable[[list[Event]], T | None], timeout: float) -> T | None:
        """Wait for `probe` to find something; stop early (returning None) if the agent exited."""

        def probe_or_exit(events: list[Event]) -> T | object | None:
            found = probe(events)
            if found is not None:
                return found
            return _EXITED if _container_exited(events) else None

        found = self.evidence.wait_for(probe_or_exit, timeout)
        if found is _EXITED:
            return probe(self.evidence.events())  # one last look: the event may precede the exit
        return found  # type: ignore[return-value]

    def exit_note(self) -> str:
        exits = [e for e in self.evidence.events(CONTAINER) if "exit_code" in e.data]
        return f" The agent container {exits[-1].summary}." if exits else ""

    def wait_until_onboarded(self) -> ReceivedDocument:
        found = self.wait(lambda _: self.device.capabilities[0] if self.device.capabilities else None,
                          self.run.sut.timeouts.onboarding)
        if found is None:
            raise SutError(
                f"the agent did not onboard and report capabilities within "
                f"{self.run.sut.timeouts.onboarding:g}s.{self.exit_note()}\n{self.evidence.excerpt()}"
            )
        return found

    # -- observations ------------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | re.Pattern[str] | None = None) -> list[Event]:
        return [e for e in self.evidence.events(HTTP) if _matches(e, method, path)]

    def wait_for_request(self, method: str, path: str | re.Pattern[str], timeout: float) -> Event | None:
        return self.wait(lambda events: next((e for e in events if e.kind == HTTP and _matches(e, method, path)), None), timeout)

    def device_api_requests(self) -> list[Event]:
        return [e for e in self.requests() if _DEVICE_API.match(str(e.data.get("path", "")))]

    def git_operations(self) -> list[Event]:
        return self.evidence.events(GIT)

    def wait_for_repository_read(self, timeout: float) -> Event | None:
        own = self.device.device_id

        def read_ok(events: list[Event]) -> Event | None:
            return next(
                (e for e in events if e.kind == GIT and e.data["repo"] == own
                 and e.data["auth"] in READ_AUTH and e.data["status"] == 200),
                None,
            )

        return self.wait(read_ok, timeout)

    def wait_for_fetch_of(self, commit: Commit, timeout: float) -> Event | None:
        def fetched(events: list[Event]) -> Event | None:
            return next(
                (e for e in events if e.kind == GIT and e.at >= commit.at and e.data["phase"] == "fetch"
                 and commit.sha in e.data["wants"] and e.data["status"] == 200),
                None,
            )

        return self.wait(fetched, timeout)

    def wait_for_pickup(self, commit: Commit, timeout: float) -> Event | None:
        """The agent fetched this publication: the commit over Git (V24) or a manifest at least
        as new over HTTP (PR1)."""
        if commit.manifest_version is None:
            return self.wait_for_fetch_of(commit, timeout)
        wanted = commit.manifest_version

        def fetched(events: list[Event]) -> Event | None:
            return next(
                (e for e in events if e.kind == HTTP and e.at >= commit.at and e.data.get("status") == 200
                 and _MANIFEST.fullmatch(str(e.data.get("path", "")).split("?")[0])
                 and _manifest_version(e.data.get("response_body")) >= wanted),
                None,
            )

        return self.wait(fetched, timeout)

    def wait_for_refused_read(self, since: float, timeout: float) -> Event | None:
        def refused(events: list[Event]) -> Event | None:
            return next(
                (e for e in events if e.kind == GIT and e.at >= since and e.data["auth"] == "revoked"),
                None,
            )

        return self.wait(refused, timeout)

    def wait_for_final_status(self, deployment_id: str, timeout: float) -> list[ReceivedDocument] | None:
        """Reports for a deployment once one says Installed or Failed overall."""

        def final(_: list[Event]) -> list[ReceivedDocument] | None:
            reports = list(self.device.statuses.get(deployment_id, []))
            states = [_overall(r.document) for r in reports]
            return reports if any(s in ("installed", "failed") for s in states) else None

        return self.wait(final, timeout)

    def status_reports(self, deployment_id: str) -> list[ReceivedDocument]:
        return list(self.device.statuses.get(deployment_id, []))

    def container_running(self) -> bool:
        return self.sut.is_running()


_EXITED = object()
_MANIFEST = re.compile(r"/api/v1/clients/[^/]+/deployments")


def _manifest_version(body: object) -> int:
    try:
        version = json.loads(str(body)).get("manifestVersion")
    except (ValueError, AttributeError):
        return 0
    return version if isinstance(version, int) else 0


def _container_exited(events: list[Event]) -> bool:
    return any(e.kind == CONTAINER and "exit_code" in e.data for e in events)


def _matches(event: Event, method: str | None, path: str | re.Pattern[str] | None) -> bool:
    if method is not None and event.data.get("method") != method:
        return False
    actual = str(event.data.get("path", "")).split("?")[0]
    if path is None:
        return True
    if isinstance(path, re.Pattern):
        return bool(path.fullmatch(actual))
    return actual == path


def _overall(document: object) -> str:
    if isinstance(document, dict) and isinstance(document.get("status"), dict):
        state = document["status"].get("state")
        return state.lower() if isinstance(state, str) else ""
    return ""
