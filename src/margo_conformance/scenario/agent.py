"""Testing an agent: the suite plays the WOS for one device and watches what the agent does.

`AgentUnderTest` is what the agent steps receive: one scenario's state with its step-order
guards (`AgentScenario`, agent_state.py), the orchestrator's actions on it
(`agent.orchestrator`, agent_orchestrator.py) and the observations of the agent
(`agent.observations`, agent_observations.py). It runs the agent container itself (start,
stop) and holds the scene every onboarded scenario starts from: the agent onboarded and its
capabilities were accepted, or the scenario is blocked naming what the agent broke.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NoReturn

from margo_conformance.base.errors import SutError
from margo_conformance.base.evidence import CONTAINER, Event
from margo_conformance.base.exchanges import Operation
from margo_conformance.checks.expect import blocked
from margo_conformance.config.interop import ANY
from margo_conformance.engine.launch import sut_instance
from margo_conformance.scenario import startup
from margo_conformance.scenario.agent_evidence import path_of
from margo_conformance.scenario.agent_observations import Observations
from margo_conformance.scenario.agent_orchestrator import OrchestratorActions
from margo_conformance.scenario.agent_state import AgentScenario
from margo_conformance.scenario.workloads import WorkloadWatcher


@dataclass
class AgentUnderTest(AgentScenario):
    orchestrator: OrchestratorActions = field(init=False, repr=False)
    observations: Observations = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.orchestrator = OrchestratorActions(self)
        self.observations = Observations(self)

    # -- the agent (a container, or a local process) -----------------------------------------------------------------

    def start_agent(self) -> None:
        values = self.placeholder_values()
        finder = self.workload_finder
        if finder is not None and self._watcher is None:
            self._watcher = WorkloadWatcher(finder, self.evidence).start()
        self._sut = sut_instance(self.run.sut, values, self.evidence, self.run.run_id)
        self.started_at = time.time()
        self._sut.start()

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._sut is not None:
            self._sut.stop()
        if self._watcher is not None:
            # Containers found by the SUT's own labels or names carry no run label for the run's
            # cleanup to find; the suite's own are removed now too, so that a run's workloads
            # neither load the engine for the rest of the run nor wait for its end (33 removed
            # one by one there took 5 s).
            scenario_only = self.run.sut.interop.workloads.how == ANY
            ids = [p.deployment.deployment_id for p in self.published.values()] if scenario_only else None
            self._watcher.remove_seen(ids)
            self._watcher.stop()
        if self._link is not None:
            self._link.stop()

    def exit_note(self) -> str:
        exits = [e for e in self.evidence.events(CONTAINER) if "exit_code" in e.data]
        return f" The agent container {exits[-1].summary}." if exits else ""

    # -- the scene "the agent has started and onboarded" ----------------------------------------

    def wait_until_onboarded(self) -> Event:
        """The scene of every scenario that starts from an onboarded device: the agent onboarded
        and the WOS accepted its first capabilities report (capability reporting ends onboarding,
        ONB-005). Blocked otherwise, naming what the agent broke there."""
        first = self.observations.wait_for_capabilities_report()
        if first is None:
            self.not_onboarded()
        if first.data.get("status") != 201:
            self.capabilities_refused(first)
        if self.started_at is not None:
            startup.record_onboarding(first.at - self.started_at)
        return first

    def capabilities_refused(self, report: Event) -> NoReturn:
        """Block the scenario on a capabilities report the WOS refused, naming the requirement the
        refusal shows the agent broke (a missing token, a document breaking the schema)."""
        status = report.data.get("status")
        blocked(
            "accepted capabilities",
            f"the agent's capabilities report ({report.data.get('method')} {path_of(report)}) was refused with "
            f"{status}: {str(report.data.get('response_body', ''))[:300]}{self.exit_note()}",
            requirement=self._refusal_requirement(report),
        )

    def _refusal_requirement(self, report: Event) -> str | None:
        status = report.data.get("status")
        client_id = (report.data.get("params") or {}).get("client_id")
        if client_id is not None and client_id != self.device.client_id:
            return "ONB-015"  # sent under a client id the WOS never assigned it, so unknown to it
        if status in (401, 403):
            return "TOK-001"  # the WOS checks the bearer token first
        if status not in (400, 422):
            return None
        documents = self.device.capabilities
        return self.dialect.capabilities_refusal(documents[0].errors if documents else [])

    def onboarding(self) -> Event:
        """The agent's first accepted onboarding, waited for; without one the scenario ends
        (`not_onboarded`)."""
        observations = self.observations
        onboarded = observations.wait(lambda _: observations.first_onboarding(), self.deadlines.onboarding)
        if onboarded is None:
            self.not_onboarded()
        return onboarded

    def all_kinds_of_requests_seen(self, since: float) -> None:
        """Wait until the agent has reported on a deployment after `since`: by then it has sent
        every kind of request it makes (capabilities, polls, fetches, status). Blocked if not."""
        timeout = self.deadlines.poll + self.deadlines.deployment
        if self.observations.wait(lambda _: self.observations.status_report_since(since), timeout) is None:
            blocked("a status report", f"the agent sent no status report within {timeout:g}s of onboarding, so not "
                    f"every kind of request it makes was seen.{self.exit_note()}\n{self.evidence.excerpt()}",
                    requirement=self.dialect.requirements.deployment_applied)

    def not_onboarded(self) -> NoReturn:
        """End a scenario whose agent never got through onboarding to a capabilities report:
        blocked on the capabilities it owes (CAP-001) or on its refused onboarding; an agent that
        never even tried is an ERROR of the SUT."""
        timeout = self.deadlines.onboarding
        seen = f"{self.exit_note()}\n{self.evidence.excerpt()}"
        if self.device.onboarded_at is not None:
            blocked("capabilities", f"the agent onboarded but sent no capabilities report within {timeout:g}s.{seen}",
                    requirement="CAP-001")
        refused = [r for r in self.observations.requests(Operation.ONBOARDING, "POST") if r.data.get("status") != 201]
        if refused:
            last = refused[-1].data
            blocked("onboarding", f"the orchestrator refused the agent's {len(refused)} onboarding request(s), the "
                    f"last with {last.get('status')}: {str(last.get('response_body', ''))[:300]}.{seen}")
        raise SutError(f"the agent did not onboard and report capabilities within {timeout:g}s.{seen}")
