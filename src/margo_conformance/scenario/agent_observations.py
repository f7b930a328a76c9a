"""What the suite saw the agent do: waiting on and reading the evidence of an agent scenario.

`Observations` answers the questions the Then steps ask: did the agent fetch commit X, which
status reports came since, did it poll again, did its token get turned away, which workloads
run. Waits wake on recorded events and end at the given timeout (the scenario's deadlines,
deadlines.py); a container that exits ends them early, after one last look.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from margo_conformance.base.errors import StepOrderError
from margo_conformance.base.evidence import GIT, HTTP, LINK, NOTE, Event
from margo_conformance.base.exchanges import Operation, is_operation
from margo_conformance.emulated_wos.desired_state import Commit
from margo_conformance.emulated_wos.state import ReceivedDocument
from margo_conformance.scenario.agent_evidence import (
    CLIENTLESS,
    DEVICE_API,
    READ_AUTH,
    container_exited,
    is_final,
    manifest_version,
    overall_state,
)
from margo_conformance.scenario.agent_state import AgentScenario, Outcome
from margo_conformance.scenario.workloads import Container, containers_of

T = TypeVar("T")
_EXITED = object()


@dataclass
class Observations:
    scenario: AgentScenario

    # -- waiting ---------------------------------------------------------------------------

    def wait(self, probe: Callable[[list[Event]], T | None], timeout: float) -> T | None:
        """Wait for `probe` to find something; stop early (returning None) if the agent exited."""
        evidence = self.scenario.evidence

        def probe_or_exit(events: list[Event]) -> T | object | None:
            found = probe(events)
            if found is not None:
                return found
            return _EXITED if container_exited(events) else None

        found = evidence.wait_for(probe_or_exit, timeout)
        if found is _EXITED:
            return probe(evidence.events())  # one last look: the event may precede the exit
        return found  # type: ignore[return-value]

    # -- requests to the orchestrator ------------------------------------------------------

    def requests(self, operation: Operation | None = None, method: str | None = None) -> list[Event]:
        """The agent's requests to the orchestrator: all, or those of one operation (and method)."""
        return [e for e in self.scenario.evidence.events(HTTP)
                if operation is None and (method is None or e.data.get("method") == method)
                or operation is not None and is_operation(e, operation, method)]

    def wait_for_request(self, operation: Operation, timeout: float, method: str | None = None) -> Event | None:
        return self.wait(lambda events: next((e for e in events if is_operation(e, operation, method)), None), timeout)

    def device_api_requests(self) -> list[Event]:
        """Capabilities and status reports: the calls that need the device's access token."""
        return [e for e in self.scenario.evidence.events(HTTP) if is_operation(e, DEVICE_API)]

    def capabilities_reports(self) -> list[Event]:
        """Every capabilities report the agent sent, as the WOS answered it (refused ones too:
        the WOS checks the token before it looks at the document)."""
        return [e for e in self.requests(Operation.CAPABILITIES) if e.data.get("method") in ("POST", "PUT")]

    def wait_for_capabilities_report(self) -> Event | None:
        """The agent's first capabilities report, whatever the answer, within the onboarding timeout."""
        return self.wait(lambda _: next(iter(self.capabilities_reports()), None), self.scenario.deadlines.onboarding)

    def first_onboarding(self) -> Event | None:
        """The agent's first onboarding request the orchestrator accepted (201)."""
        return next((r for r in self.requests(Operation.ONBOARDING, "POST") if r.data.get("status") == 201), None)

    def misaddressed(self, since: float, client_id: str) -> list[Event]:
        """Requests after `since` that should name the client (every one but the root certificate,
        onboarding and packages) and name another, or a path the orchestrator does not serve."""
        return [e for e in self.requests() if e.at > since and not is_operation(e, CLIENTLESS)
                and (e.data.get("params") or {}).get("client_id") != client_id]

    def status_report_since(self, since: float) -> Event | None:
        return next((e for e in self.requests(Operation.STATUS_REPORT, "POST") if e.at > since), None)

    # -- reading desired state ---------------------------------------------------------------

    def git_operations(self) -> list[Event]:
        return self.scenario.evidence.events(GIT)

    def manifest_polls(self) -> list[Event]:
        return self.requests(Operation.STATE_MANIFEST, "GET")

    def desired_state_reads(self) -> list[Event]:
        """Every attempt to read desired state: Git requests (V24) and manifest polls (PR1)."""
        return sorted([*self.git_operations(), *self.manifest_polls()], key=lambda e: e.at)

    def wait_for_repository_read(self, timeout: float) -> Event | None:
        own = self.scenario.device.device_id

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
                (e for e in events if is_operation(e, Operation.STATE_MANIFEST) and e.at >= commit.at
                 and e.data.get("status") == 200 and manifest_version(e.data.get("response_body")) >= wanted),
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

    def wait_for_manifest_poll(self, since: float, timeout: float, version: int | None = None) -> Event | None:
        """A successful manifest fetch after `since` (of exactly `version`, when given)."""

        def polled(events: list[Event]) -> Event | None:
            return next(
                (e for e in events if is_operation(e, Operation.STATE_MANIFEST) and e.at >= since
                 and e.data.get("status") == 200
                 and (version is None or manifest_version(e.data.get("response_body")) == version)),
                None,
            )

        return self.wait(polled, timeout)

    def wait_for_content_fetch(self, name: str, since: float, timeout: float) -> Event | None:
        """A GET of the deployment's YAML or of a bundle, after `since`."""
        deployment_id = self.scenario.deployment(name).deployment.deployment_id

        def content_fetch(event: Event) -> bool:
            return event.at >= since and (
                is_operation(event, Operation.DEPLOYMENT_DOCUMENT, "GET", deployment_id=deployment_id)
                or is_operation(event, Operation.BUNDLE, "GET"))

        def fetched(events: list[Event]) -> Event | None:
            return next((e for e in events if content_fetch(e)), None)

        return self.wait(fetched, timeout)

    # -- status reports ------------------------------------------------------------------------

    def status_reports(self, deployment_id: str) -> list[ReceivedDocument]:
        return list(self.scenario.device.statuses.get(deployment_id, []))

    def wait_for_final_since(self, deployment_id: str, since: float, timeout: float) -> list[ReceivedDocument] | None:
        """Reports for a deployment sent after `since`, once one of them says Installed or Failed."""

        def final(_: list[Event]) -> list[ReceivedDocument] | None:
            reports = [r for r in self.status_reports(deployment_id) if r.at >= since]
            return reports if any(is_final(r.document) for r in reports) else None

        return self.wait(final, timeout)

    def wait_for_final_status(self, deployment_id: str, timeout: float) -> list[ReceivedDocument] | None:
        """Reports for a deployment once one says Installed or Failed overall."""

        def final(_: list[Event]) -> list[ReceivedDocument] | None:
            reports = self.status_reports(deployment_id)
            return reports if any(is_final(r.document) for r in reports) else None

        return self.wait(final, timeout)

    def wait_for_state(
        self, name: str, states: tuple[str, ...], since: float, timeout: float
    ) -> ReceivedDocument | None:
        """The first report after `since` whose overall state is one of `states` (lowercase)."""
        deployment_id = self.scenario.deployment(name).deployment.deployment_id

        def reported(_: list[Event]) -> ReceivedDocument | None:
            return next((r for r in self.status_reports(deployment_id)
                         if r.at >= since and overall_state(r.document) in states), None)

        return self.wait(reported, timeout)

    def outcome(self, name: str) -> Outcome:
        """Wait for the latest publication of a deployment to be fetched (one polling interval
        plus the tolerance) and then to end in Installed or Failed (the deployment timeout)."""
        deadlines = self.scenario.deadlines
        published = self.scenario.deployment(name)
        fetched = self.wait_for_pickup(published.commit, deadlines.poll)
        deployment_id = published.deployment.deployment_id
        since = published.commit.at
        reports = None
        if fetched is not None:
            reports = self.wait_for_final_since(deployment_id, since, deadlines.deployment)
        if reports is None:
            reports = [r for r in self.status_reports(deployment_id) if r.at >= since]
        final = next((r for r in reports if is_final(r.document)), None)
        return Outcome(published, fetched, reports, final)

    def settle(self, since: float) -> Event | None:
        """Let the agent finish what it does about the desired state changed at `since`: wait for
        its first poll after its latest status report (or after `since`), one polling interval
        plus the tolerance at most. Returns that poll."""
        statuses = self.scenario.device.statuses
        last_report = max((r.at for reports in statuses.values() for r in reports), default=0.0)
        return self.wait_for_poll_after(max(since, last_report), self.scenario.deadlines.poll)

    # -- tokens (TOK-001, TOK-004) ---------------------------------------------------------------

    def wait_for_turned_away(self, since: float, timeout: float) -> Event | None:
        """A device API request after `since` refused with 401 (its token is no longer valid)."""
        return self.wait(lambda events: next(
            (e for e in events if is_operation(e, DEVICE_API) and e.at >= since and e.data.get("status") == 401),
            None), timeout)

    def wait_for_token_issued(self, since: float, timeout: float) -> Event | None:
        return self.wait(lambda events: next(
            (e for e in events if is_operation(e, Operation.TOKEN, "POST") and e.at >= since
             and e.data.get("status") == 200), None),
            timeout)

    # -- polls and outages (GIT-003, CFG-001, CFG-003, CFG-004) ----------------------------------

    def polls(self, since: float = 0.0) -> list[Event]:
        """The agent's polls of its repository: each successful capability advertisement."""
        own = self.scenario.device.device_id
        return [e for e in self.scenario.evidence.events(GIT, since=since)
                if e.data.get("repo") == own and e.data.get("phase") == "advertise" and e.data.get("status") == 200]

    def wait_for_polls(self, count: int, since: float, timeout: float) -> list[Event]:
        """The first `count` polls after `since` (fewer if the time ran out)."""
        found = self.wait(lambda _: (lambda p: p[:count] if len(p) >= count else None)(self.polls(since)), timeout)
        return found if found is not None else self.polls(since)

    def wait_for_poll_after(self, since: float, timeout: float) -> Event | None:
        return self.wait(lambda _: next(iter(self.polls(since)), None), timeout)

    def wait_for_link(self, state: str, timeout: float) -> Event | None:
        """The note of the device's link going `down` or coming back `up`."""
        link = self.scenario.link
        if state == "down":
            self.wait(lambda _: True if link.check_armed() else None, timeout)
        return self.wait(lambda events: next(
            (e for e in reversed(events) if e.kind == NOTE and e.data.get("link") == state), None), timeout)

    def last_outage(self) -> tuple[float, float]:
        link = self.scenario.link
        if not link.outages or link.outages[-1][1] is None:
            raise StepOrderError("no outage has ended yet: add 'When the orchestrator and its repository are "
                                 "reachable again'")
        went_down, came_up = link.outages[-1]
        assert came_up is not None
        return went_down, came_up

    def link_attempts(self, start: float, end: float) -> list[Event]:
        """Connections the device opened to the orchestrator while its link was cut."""
        return [e for e in self.scenario.evidence.events(LINK) if start <= e.at <= end]

    # -- the device ------------------------------------------------------------------------------

    def workloads(self, name: str) -> list[Container]:
        deployment_id = self.scenario.deployment(name).deployment.deployment_id
        return containers_of(self.scenario.evidence.events(), deployment_id)

    def wait_for_workloads(self, name: str, probe: Callable[[list[Container]], T | None], timeout: float) -> T | None:
        return self.wait(lambda _: probe(self.workloads(name)), timeout)

    def container_running(self) -> bool:
        return self.scenario.sut.is_running()
