"""Testing an agent: the suite plays the WOS for one device and watches what the agent does.

`AgentUnderTest` is what the agent steps talk to. It owns one scenario's device identity,
its desired-state repository and the agent container, and answers questions about the
evidence ("did the agent fetch commit X?"). Waits wake on recorded events and end at the SUT
file's timeouts; a container that exits ends them early with its exit recorded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, TypeVar

import yaml

from margo_conformance.base.errors import StepOrderError, SutError
from margo_conformance.base.evidence import CONTAINER, GIT, HTTP, LINK, NOTE, Event, EvidenceLog
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.checks import cadence
from margo_conformance.checks.expect import blocked
from margo_conformance.config.interop import ANY, NONE, WorkloadFinder, format_window
from margo_conformance.config.run_config import RunConfig, template_fields
from margo_conformance.dialects import Dialect, dialect_for
from margo_conformance.emulated_wos.desired_state import (
    Commit,
    Deployment,
    DeviceRepository,
    Publisher,
    render_deployment,
)
from margo_conformance.emulated_wos.link import DeviceLink
from margo_conformance.emulated_wos.manifest import ClientDesiredState
from margo_conformance.emulated_wos.server import CONTAINER_HOSTNAME, EmulatedWos
from margo_conformance.emulated_wos.state import DeviceRecord, ReceivedDocument
from margo_conformance.engine.sut import SutContainer, workload_label_string
from margo_conformance.scenario.deadlines import Deadlines
from margo_conformance.scenario.workloads import (
    DEVICE_LABEL,
    Container,
    WorkloadWatcher,
    containers_of,
    suite_labels_finder,
)

T = TypeVar("T")

DEPLOYMENT_FIXTURES = FIXTURES_DIR / "deployments"
#: Deliberately broken desired-state documents, published as they are (never validated).
BROKEN_FIXTURES = DEPLOYMENT_FIXTURES / "broken"
#: New revisions of a deployment: revisions/<deployment>/<revision>.yaml, published under its id.
REVISION_FIXTURES = DEPLOYMENT_FIXTURES / "revisions"
ARTIFACT_FIXTURES = FIXTURES_DIR / "artifacts"
UNPARSEABLE = "not-yaml"
WORKLOADS_NOT_OBSERVABLE = ("the SUT file neither passes the agent the suite's workload labels ({workload_labels}) "
                            "nor declares how its workloads are found (interop.workloads), so the suite cannot "
                            "see the device's workloads")
READ_AUTH = ("bearer", "basic")
_DEVICE_API = re.compile(r"^/device/[^/]+/(capabilities|deployment/[^/]+/status)$")


@dataclass
class Published:
    deployment: Deployment
    commit: Commit


@dataclass
class Outcome:
    """What became of one publication of a deployment: was it fetched, what was reported since,
    and the first report that says Installed or Failed (None if none came in time)."""

    published: Published
    fetched: Event | None
    reports: list[ReceivedDocument]
    final: ReceivedDocument | None

    @property
    def name(self) -> str:
        return self.published.deployment.name

    @property
    def final_state(self) -> str:
        return _overall(self.final.document) if self.final is not None else ""


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
    polling_interval_override: float | None = None
    tokens_invalidated_at: float | None = None
    downtime_window: tuple[int, int] | None = None
    _link: DeviceLink | None = None
    _watcher: WorkloadWatcher | None = None
    _timers: list[threading.Timer] = field(default_factory=list)

    # -- guarded state -----------------------------------------------------------------

    @property
    def dialect(self) -> Dialect:
        """What this scenario's profile makes of desired state, fixtures and requirement ids."""
        return dialect_for(self.profile)

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

    @property
    def link(self) -> DeviceLink:
        if self._link is None:
            raise StepOrderError("no device registered: start with 'Given the orchestrator expects a new device'")
        return self._link

    def expect_device(self) -> DeviceRecord:
        self._device = self.wos.state.register_device(self.evidence)
        # The device reaches the WOS through a link of its own, which the suite can cut.
        self._link = DeviceLink(("127.0.0.1", self.wos.port), self.evidence, self._device.device_id).start()
        self._device.public_url = f"http://{CONTAINER_HOSTNAME}:{self._link.port}"
        self._publisher = self.dialect.publisher(self._device, self.workdir / "wos-clone", self.evidence)
        # Several documents in one commit need a Git repository (publish_together).
        self._repo = self._publisher if isinstance(self._publisher, DeviceRepository) else None
        return self._device

    @property
    def poll_interval(self) -> float:
        """The polling interval this scenario's agent is configured with (CFG-003)."""
        return self.deadlines.interval

    @property
    def deadlines(self) -> Deadlines:
        """What this scenario waits for, and how long (see deadlines.py)."""
        return Deadlines.for_agent(self.run.sut, self.polling_interval_override)

    def set_polling_interval(self, seconds: float) -> None:
        if self._sut is not None:
            raise StepOrderError("the polling interval is configured before the agent starts")
        self.polling_interval_override = seconds

    def sut_maps(self, placeholder: str) -> bool:
        """Does the SUT file pass this placeholder to the agent (in its environment or command)?"""
        templates = [*self.run.sut.env.values(), *(self.run.sut.command or ())]
        return any(placeholder in template_fields(t) for t in templates)

    @property
    def workload_finder(self) -> WorkloadFinder | None:
        """How this scenario's workload containers are found; None when they cannot be seen."""
        declared = self.run.sut.interop.workloads
        if declared.how == NONE:
            return None
        if declared.declared:
            return declared.rendered({"device_id": self.device.device_id, "run_id": self.run.run_id})
        return suite_labels_finder(self.device.device_id) if self.sut_maps("workload_labels") else None

    @property
    def workloads_observable(self) -> bool:
        return self.workload_finder is not None

    @property
    def workloads_unobservable_reason(self) -> str:
        declared = self.run.sut.interop.workloads
        return f"the SUT file declares: {declared.reason}" if declared.how == NONE else WORKLOADS_NOT_OBSERVABLE

    def placeholder_values(self) -> dict[str, str]:
        interval = self.poll_interval
        window = (
            format_window(self.run.sut.interop.downtime_format, *self.downtime_window) if self.downtime_window else ""
        )
        return {
            "wos_url": self.device.public_url or self.wos.url_for_containers,
            "device_id": self.device.device_id,
            "onboarding_key": self.device.onboarding_key,
            "serial_number": f"SN-{self.device.device_id}",
            "poll_interval_s": f"{interval:g}",
            "poll_interval_ms": str(int(interval * 1000)),
            "workload_labels": f"{workload_label_string(self.run.run_id)},{DEVICE_LABEL}={self.device.device_id}",
            "downtime_window": window,
            "run_id": self.run.run_id,
            "profile": self.profile,
            "base_image": self.run.base_image or "",
            "workload_image": self.run.workload_image or "",
        }

    def start_agent(self) -> None:
        values = self.placeholder_values()
        finder = self.workload_finder
        if finder is not None and self._watcher is None:
            self._watcher = WorkloadWatcher(finder, self.evidence).start()
        self._sut = SutContainer(self.run.sut, values, self.evidence, self.run.run_id)
        self._sut.start()

    def _template_values(self) -> dict[str, str]:
        return {"ARTIFACTS": f"{self.wos.url_for_containers}/artifacts"}

    def publish(self, name: str) -> Published:
        """Publish a deployment fixture: a valid one (validated first), or, when the name is one
        of fixtures/deployments/broken/, a deliberately broken document exactly as written."""
        dialect = self.dialect
        broken = dialect.broken_deployments
        if broken is not None and not (dialect.deployments / f"{name}.yaml").is_file() \
                and (broken / f"{name}.yaml").is_file():
            return self.publish_together([name])[name]
        values = self._template_values()
        deployment = render_deployment(dialect.deployments / f"{name}.yaml", values,
                                       dialect.schema("application-deployment"))
        self.device.assign(deployment.deployment_id)  # before the agent can see it
        published = Published(deployment, self.publisher.publish(deployment))
        self.published[name] = published
        return published

    # -- V24 desired state beyond one valid deployment per commit -------------------------

    def _render(self, name: str) -> tuple[Deployment | None, str]:
        """(the deployment, the text to publish) for a V24 fixture, valid or broken. A document
        that does not parse has no deployment: nothing in it names one."""
        if (DEPLOYMENT_FIXTURES / f"{name}.yaml").is_file():
            deployment = render_deployment(DEPLOYMENT_FIXTURES / f"{name}.yaml", self._template_values())
            return deployment, yaml.safe_dump(dict(deployment.document), sort_keys=False)
        path = BROKEN_FIXTURES / f"{name}.yaml"
        if not path.is_file():
            raise StepOrderError(f"no deployment fixture {name!r} in {DEPLOYMENT_FIXTURES} or {BROKEN_FIXTURES}")
        deployment_id = str(uuid.uuid4())
        text = string.Template(path.read_text()).safe_substitute(
            {**self._template_values(), "DEPLOYMENT_ID": deployment_id})
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            return None, text
        if not isinstance(document, dict):
            return None, text
        return Deployment(name, deployment_id, f"deployments/{name}.yaml", document), text

    def publish_together(self, names: list[str]) -> dict[str, Published]:
        """Several fixtures in one commit (V24): desired state that changes all at once."""
        if self._repo is None:
            raise StepOrderError("publishing several documents in one commit needs a V24 scenario")
        rendered = {name: self._render(name) for name in names}
        for deployment, _ in rendered.values():
            if deployment is not None:
                self.device.assign(deployment.deployment_id)
        commit = self._repo.commit_files(
            {f"deployments/{name}.yaml": text for name, (_, text) in rendered.items()},
            "deploy " + ", ".join(names),
        )
        chosen = {name: Published(d, commit) for name, (d, _) in rendered.items() if d is not None}
        self.published.update(chosen)
        return chosen

    def publish_beside_unparseable(self, name: str) -> Published:
        """A valid deployment and, in the same commit, a document that is not YAML at all."""
        return self.publish_together([UNPARSEABLE, name])[name]

    def publish_revision(self, name: str, revision: str) -> Published:
        """A new revision of a published deployment: same id and file, changed content (GIT-002)."""
        current = self.deployment(name)
        template = REVISION_FIXTURES / name / f"{revision}.yaml"
        if not template.is_file():
            raise StepOrderError(f"no revision fixture {template}")
        rendered = render_deployment(template, self._template_values(), self.dialect.schema("application-deployment"),
                                     deployment_id=current.deployment.deployment_id)
        deployment = dataclasses.replace(rendered, name=name, path_in_repo=current.deployment.path_in_repo)
        published = Published(deployment, self.publisher.publish(deployment))
        self.published[name] = published
        return published

    def outcome(self, name: str) -> Outcome:
        """Wait for the latest publication of a deployment to be fetched (one polling interval
        plus the tolerance) and then to end in Installed or Failed (the deployment timeout)."""
        published = self.deployment(name)
        fetched = self.wait_for_pickup(published.commit, self.deadlines.poll)
        deployment_id = published.deployment.deployment_id
        since = published.commit.at
        reports = None
        if fetched is not None:
            reports = self.wait_for_final_since(deployment_id, since, self.deadlines.deployment)
        if reports is None:
            reports = [r for r in self.status_reports(deployment_id) if r.at >= since]
        final = next((r for r in reports if _overall(r.document) in ("installed", "failed")), None)
        return Outcome(published, fetched, reports, final)

    def settle(self, since: float) -> Event | None:
        """Let the agent finish what it does about the desired state changed at `since`: wait for
        its first poll after its latest status report (or after `since`), one polling interval
        plus the tolerance at most. Returns that poll."""
        last_report = max((r.at for reports in self.device.statuses.values() for r in reports), default=0.0)
        return self.wait_for_poll_after(max(since, last_report), self.deadlines.poll)

    def latest_commit(self) -> tuple[str, Commit]:
        """The newest change of desired state: (what changed, its commit), removals included."""
        changes = [(p.deployment.name, p.commit) for p in self.published.values()]
        changes += [(f"removal of {name}", commit) for name, commit in self.removed.items()]
        if not changes:
            raise StepOrderError("nothing was published in this scenario")
        return max(changes, key=lambda change: change[1].at)

    # -- PR1 state manifest (test hooks of the emulated WOS) ----------------------------

    @property
    def desired(self) -> ClientDesiredState:
        if not self.dialect.serves_state_manifest:
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

        def content_fetch(event: Event) -> bool:
            path = str(event.data.get("path"))
            return (event.kind == HTTP and event.at >= since and event.data.get("method") == "GET"
                    and (f"/deployments/{deployment_id}/" in path or "/bundles/" in path))

        def fetched(events: list[Event]) -> Event | None:
            return next((e for e in events if content_fetch(e)), None)

        return self.wait(fetched, timeout)

    def wait_for_state(
        self, name: str, states: tuple[str, ...], since: float, timeout: float
    ) -> ReceivedDocument | None:
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

    # -- tokens (TOK-001, TOK-004) -----------------------------------------------------------

    def invalidate_access_tokens(self, change: str) -> float:
        """The WOS stops accepting the agent's access tokens: `expired` or `revoked`."""
        if change == "expired":
            self.device.expire_access_tokens()
        else:
            self.device.revoke_access_tokens()
        self.tokens_invalidated_at = time.time()
        return self.tokens_invalidated_at

    def wait_for_turned_away(self, since: float, timeout: float) -> Event | None:
        """A device API request after `since` refused with 401 (its token is no longer valid)."""
        return self.wait(lambda events: next(
            (e for e in events if e.kind == HTTP and e.at >= since and e.data.get("status") == 401
             and _DEVICE_API.match(str(e.data.get("path", "")).split("?")[0])), None), timeout)

    def wait_for_token_issued(self, since: float, timeout: float) -> Event | None:
        return self.wait(lambda events: next(
            (e for e in events if e.kind == HTTP and e.at >= since and e.data.get("method") == "POST"
             and str(e.data.get("path", "")).split("?")[0] == TOKEN_PATH and e.data.get("status") == 200), None),
            timeout)

    # -- polls and outages (GIT-003, CFG-001, CFG-003, CFG-004) ----------------------------

    def polls(self, since: float = 0.0) -> list[Event]:
        """The agent's polls of its repository: each successful capability advertisement."""
        own = self.device.device_id
        return [e for e in self.evidence.events(GIT, since=since)
                if e.data.get("repo") == own and e.data.get("phase") == "advertise" and e.data.get("status") == 200]

    def wait_for_polls(self, count: int, since: float, timeout: float) -> list[Event]:
        """The first `count` polls after `since` (fewer if the time ran out)."""
        found = self.wait(lambda _: (lambda p: p[:count] if len(p) >= count else None)(self.polls(since)), timeout)
        return found if found is not None else self.polls(since)

    def wait_for_poll_after(self, since: float, timeout: float) -> Event | None:
        return self.wait(lambda _: next(iter(self.polls(since)), None), timeout)

    def cut_link_once_reporting(self, published: Published) -> None:
        """Make the orchestrator and its repository unreachable for the device from the moment
        its first status report for this deployment was accepted: the device has the desired
        state, and owes the rest of its reports (its next connection is already refused).

        The outage lasts `cadence.outage_duration` at least, and until one polling interval
        after the device first tried to read its repository during it (so a device that takes
        an unreachable repository for empty desired state shows it while the outage lasts); no
        longer than the shortest outage plus the deployment timeout."""
        route = f"/deployment/{published.deployment.deployment_id}/status"

        def reporting(events: list[Event]) -> bool:
            return any(e.kind == HTTP and e.data.get("method") == "POST" and e.data.get("status") == 201
                       and str(e.data.get("path", "")).split("?")[0].endswith(route) for e in events)

        def tried_repository(events: list[Event]) -> bool:
            return any(e.kind == LINK and e.data.get("channel") == "git" for e in events)

        shortest = cadence.outage_duration(self.poll_interval)
        self.link.end_when(shortest, tried_repository, shortest + self.deadlines.deployment,
                           settle_s=self.poll_interval)
        self.link.cut_when(reporting, None, f"as soon as the agent began reporting {published.deployment.name}")

    def wait_for_link(self, state: str, timeout: float) -> Event | None:
        """The note of the device's link going `down` or coming back `up`."""
        if state == "down":
            self.wait(lambda _: True if self.link.check_armed() else None, timeout)
        return self.wait(lambda events: next(
            (e for e in reversed(events) if e.kind == NOTE and e.data.get("link") == state), None), timeout)

    def last_outage(self) -> tuple[float, float]:
        if not self.link.outages or self.link.outages[-1][1] is None:
            raise StepOrderError("no outage has ended yet: add 'When the orchestrator and its repository are "
                                 "reachable again'")
        went_down, came_up = self.link.outages[-1]
        assert came_up is not None
        return went_down, came_up

    def link_attempts(self, start: float, end: float) -> list[Event]:
        """Connections the device opened to the orchestrator while its link was cut."""
        return [e for e in self.evidence.events(LINK) if start <= e.at <= end]

    def configure_downtime_window(self) -> tuple[int, int]:
        """A downtime window (CFG-001) that opens a little after the agent starts; the link to
        the orchestrator is cut for exactly that window."""
        if self._sut is not None:
            raise StepOrderError("the downtime window is configured before the agent starts")
        opens = math.ceil(time.time() + cadence.WINDOW_LEAD_S)
        closes = opens + math.ceil(cadence.window_duration(self.poll_interval))
        self.downtime_window = (opens, closes)
        timer = threading.Timer(opens - time.time(), self.link.cut,
                                args=("the device's downtime window is open", closes - opens))
        timer.daemon = True
        timer.start()
        self._timers.append(timer)
        return opens, closes

    # -- workloads -------------------------------------------------------------------------

    def workloads(self, name: str) -> list[Container]:
        return containers_of(self.evidence.events(), self.deployment(name).deployment.deployment_id)

    def wait_for_workloads(self, name: str, probe: Callable[[list[Container]], T | None], timeout: float) -> T | None:
        return self.wait(lambda _: probe(self.workloads(name)), timeout)

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._sut is not None:
            self._sut.stop()
        if self._watcher is not None:
            if self.run.sut.interop.workloads.declared:
                # Containers found by the SUT's own labels or names carry no run label to clean up by.
                scenario_only = self.run.sut.interop.workloads.how == ANY
                ids = [p.deployment.deployment_id for p in self.published.values()] if scenario_only else None
                self._watcher.remove_seen(ids)
            self._watcher.stop()
        if self._link is not None:
            self._link.stop()

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

    def capabilities_reports(self) -> list[Event]:
        """Every capabilities report the agent sent, as the WOS answered it (refused ones too:
        the WOS checks the token before it looks at the document)."""
        return [e for e in self.requests() if e.data.get("method") in ("POST", "PUT")
                and _CAPABILITIES.fullmatch(_path(e))]

    def wait_for_capabilities_report(self) -> Event | None:
        """The agent's first capabilities report, whatever the answer, within the onboarding timeout."""
        return self.wait(lambda _: next(iter(self.capabilities_reports()), None), self.deadlines.onboarding)

    def wait_until_onboarded(self) -> Event:
        """The scene of every scenario that starts from an onboarded device: the agent onboarded
        and the WOS accepted its first capabilities report (capability reporting ends onboarding,
        ONB-005). Blocked otherwise, naming what the agent broke there."""
        first = self.wait_for_capabilities_report()
        if first is None:
            self.not_onboarded()
        if first.data.get("status") != 201:
            self.capabilities_refused(first)
        return first

    def capabilities_refused(self, report: Event) -> NoReturn:
        """Block the scenario on a capabilities report the WOS refused, naming the requirement the
        refusal shows the agent broke (a missing token, a document breaking the schema)."""
        status = report.data.get("status")
        blocked(
            "accepted capabilities",
            f"the agent's capabilities report ({report.data.get('method')} {_path(report)}) was refused with "
            f"{status}: {str(report.data.get('response_body', ''))[:300]}{self.exit_note()}",
            requirement=self._refusal_requirement(status),
        )

    def _refusal_requirement(self, status: object) -> str | None:
        if status in (401, 403):
            return "TOK-001"  # the WOS checks the bearer token first
        if status not in (400, 422):
            return None
        documents = self.device.capabilities
        return self.dialect.capabilities_refusal(documents[0].errors if documents else [])

    def not_onboarded(self) -> NoReturn:
        """End a scenario whose agent never got through onboarding to a capabilities report:
        blocked on the capabilities it owes (CAP-001) or on its refused onboarding; an agent that
        never even tried is an ERROR of the SUT."""
        timeout = self.deadlines.onboarding
        seen = f"{self.exit_note()}\n{self.evidence.excerpt()}"
        if self.device.onboarded_at is not None:
            blocked("capabilities", f"the agent onboarded but sent no capabilities report within {timeout:g}s.{seen}",
                    requirement="CAP-001")
        refused = [r for r in self.requests("POST") if _path(r) in ONBOARDING_PATHS and r.data.get("status") != 201]
        if refused:
            last = refused[-1].data
            blocked("onboarding", f"the orchestrator refused the agent's {len(refused)} onboarding request(s), the "
                    f"last with {last.get('status')}: {str(last.get('response_body', ''))[:300]}.{seen}")
        raise SutError(f"the agent did not onboard and report capabilities within {timeout:g}s.{seen}")

    # -- observations ------------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | re.Pattern[str] | None = None) -> list[Event]:
        return [e for e in self.evidence.events(HTTP) if _matches(e, method, path)]

    def wait_for_request(self, method: str, path: str | re.Pattern[str], timeout: float) -> Event | None:
        return self.wait(
            lambda events: next((e for e in events if e.kind == HTTP and _matches(e, method, path)), None), timeout
        )

    def device_api_requests(self) -> list[Event]:
        return [e for e in self.requests() if _DEVICE_API.match(str(e.data.get("path", "")))]

    def git_operations(self) -> list[Event]:
        return self.evidence.events(GIT)

    def desired_state_reads(self) -> list[Event]:
        """Every attempt to read desired state: Git requests (V24) and manifest polls (PR1)."""
        return sorted([*self.git_operations(), *self.manifest_polls()], key=lambda e: e.at)

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

    def wait_for_final_since(self, deployment_id: str, since: float, timeout: float) -> list[ReceivedDocument] | None:
        """Reports for a deployment sent after `since`, once one of them says Installed or Failed."""

        def final(_: list[Event]) -> list[ReceivedDocument] | None:
            reports = [r for r in self.status_reports(deployment_id) if r.at >= since]
            return reports if any(_overall(r.document) in ("installed", "failed") for r in reports) else None

        return self.wait(final, timeout)

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
TOKEN_PATH = "/oauth/token"
ONBOARDING_PATHS = ("/onboarding/", "/onboarding", "/api/v1/onboarding")
_CAPABILITIES = re.compile(r"/device/[^/]+/capabilities|/api/v1/clients/[^/]+/capabilities(/[^/]+)?")
_MANIFEST = re.compile(r"/api/v1/clients/[^/]+/deployments")


def _manifest_version(body: object) -> int:
    try:
        version = json.loads(str(body)).get("manifestVersion")
    except (ValueError, AttributeError):
        return 0
    return version if isinstance(version, int) else 0


def _path(event: Event) -> str:
    return str(event.data.get("path", "")).split("?")[0]


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
