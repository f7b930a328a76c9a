"""The state of one agent scenario and the guards that keep its steps in order.

`AgentScenario` holds what a scenario has set up (the device the orchestrator expects, its
desired-state publisher and link, the agent container, what was published or removed) and
what it configured before the agent started. Reading a part that is not there yet is a
`StepOrderError` naming the step that sets it up. The orchestrator's actions and the
observations (agent_orchestrator.py, agent_observations.py) work on this state.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from margo_conformance.base.errors import StepOrderError
from margo_conformance.base.evidence import Event, EvidenceLog
from margo_conformance.config.interop import NONE, WorkloadFinder, format_window
from margo_conformance.config.placeholders import template_fields
from margo_conformance.config.run_config import RunConfig
from margo_conformance.dialects import Dialect, dialect_for
from margo_conformance.emulated_wos.desired_state import Commit, Deployment, DeviceRepository, Publisher
from margo_conformance.emulated_wos.link import DeviceLink
from margo_conformance.emulated_wos.manifest import ClientDesiredState
from margo_conformance.emulated_wos.server import EmulatedWos
from margo_conformance.emulated_wos.state import DeviceRecord, ReceivedDocument
from margo_conformance.engine.launch import RunningSut
from margo_conformance.engine.sut import workload_label_string
from margo_conformance.scenario.agent_evidence import overall_state
from margo_conformance.scenario.deadlines import Deadlines
from margo_conformance.scenario.workloads import DEVICE_LABEL, WorkloadWatcher, suite_labels_finder

WORKLOADS_NOT_OBSERVABLE = ("the SUT file neither passes the agent the suite's workload labels ({workload_labels}) "
                            "nor declares how its workloads are found (interop.workloads), so the suite cannot "
                            "see the device's workloads")
NO_DEVICE = "no device registered: start with 'Given the orchestrator expects a new device'"


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
        return overall_state(self.final.document) if self.final is not None else ""


@dataclass
class AgentScenario:
    run: RunConfig
    wos: EmulatedWos
    evidence: EvidenceLog
    workdir: Path
    _device: DeviceRecord | None = None
    profile: str = "V24"
    _repo: DeviceRepository | None = None
    _publisher: Publisher | None = None
    _sut: RunningSut | None = None
    published: dict[str, Published] = field(default_factory=dict)
    removed: dict[str, Commit] = field(default_factory=dict)
    refused_since: float | None = None
    polling_interval_override: float | None = None
    tokens_invalidated_at: float | None = None
    downtime_window: tuple[int, int] | None = None
    started_at: float | None = None
    _link: DeviceLink | None = None
    _watcher: WorkloadWatcher | None = None
    _timers: list[threading.Timer] = field(default_factory=list)

    # -- guarded parts -------------------------------------------------------------------

    @property
    def dialect(self) -> Dialect:
        """What this scenario's profile makes of desired state, fixtures and requirement ids."""
        return dialect_for(self.profile)

    @property
    def device(self) -> DeviceRecord:
        if self._device is None:
            raise StepOrderError(NO_DEVICE)
        return self._device

    @property
    def repo(self) -> DeviceRepository:
        if self._repo is None:
            raise StepOrderError("no repository: start with 'Given the orchestrator expects a new device'")
        return self._repo

    @property
    def publishes_commits(self) -> bool:
        """Is desired state published as Git commits (V24), so several documents fit in one?"""
        return self._repo is not None

    @property
    def sut(self) -> RunningSut:
        if self._sut is None:
            raise StepOrderError("the agent has not been started: add 'When the agent starts'")
        return self._sut

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            raise StepOrderError(NO_DEVICE)
        return self._publisher

    @property
    def link(self) -> DeviceLink:
        if self._link is None:
            raise StepOrderError(NO_DEVICE)
        return self._link

    def deployment(self, name: str) -> Published:
        if name not in self.published:
            raise StepOrderError(f"deployment {name!r} was not published in this scenario")
        return self.published[name]

    @property
    def desired(self) -> ClientDesiredState:
        """The PR1 state manifest the emulated WOS serves this device (its test hooks)."""
        if not self.dialect.serves_state_manifest:
            raise StepOrderError("state-manifest steps need a PR1 scenario (tag the feature @PR1)")
        return self.device.desired_state()

    def attach_device(self, device: DeviceRecord, link: DeviceLink, publisher: Publisher) -> None:
        """The device the orchestrator expects, the link it reaches the WOS through, and how its
        desired state is published."""
        self._device = device
        self._link = link
        self._publisher = publisher
        # Several documents in one commit need a Git repository (publish_together).
        self._repo = publisher if isinstance(publisher, DeviceRepository) else None

    def latest_commit(self) -> tuple[str, Commit]:
        """The newest change of desired state: (what changed, its commit), removals included."""
        changes = [(p.deployment.name, p.commit) for p in self.published.values()]
        changes += [(f"removal of {name}", commit) for name, commit in self.removed.items()]
        if not changes:
            raise StepOrderError("nothing was published in this scenario")
        return max(changes, key=lambda change: change[1].at)

    # -- configuration before the agent starts ---------------------------------------------

    @property
    def poll_interval(self) -> float:
        """The polling interval this scenario's agent is configured with (CFG-003)."""
        return self.deadlines.interval

    @property
    def deadlines(self) -> Deadlines:
        """What this scenario waits for, and how long (see deadlines.py)."""
        return Deadlines.for_agent(self.run.sut, self.polling_interval_override)

    def before_start(self, what: str) -> None:
        """Refuse configuring `what` once the agent runs: it reads its configuration at start."""
        if self._sut is not None:
            raise StepOrderError(f"{what} is configured before the agent starts")

    def keep_timer(self, timer: threading.Timer) -> None:
        """A scheduled action of the scenario, cancelled when it stops."""
        self._timers.append(timer)

    def set_polling_interval(self, seconds: float) -> None:
        self.before_start("the polling interval")
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
            "wos_url": self.device.public_url or self.wos.url_for_sut,
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
            # launcher: process only (refused in a container's SUT file): the interpreter, and
            # a directory kept for the whole scenario, so a restarted agent finds its state.
            "python": sys.executable,
            "state_dir": str(self.sut_state_dir()),
        }

    def sut_state_dir(self) -> Path:
        directory = self.workdir / "sut-state"
        directory.mkdir(parents=True, exist_ok=True)
        return directory
