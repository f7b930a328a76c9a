"""One device's reports are its own: reports sent with the wrong credentials, and two devices
reporting at the same time.

`report_with` sends a device's report with credentials the isolation feature names in domain
words (`CREDENTIALS`). `report_at_once` runs two devices in two threads that send their
capabilities and status reports together, round after round (a barrier starts each request of
a round at the same moment), and after every round reads what the orchestrator shows for each
device through the control adapter; `crossed_views` says where a device was shown another
device's report.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from margo_conformance.base.errors import StepOrderError
from margo_conformance.emulated_device.client import Answer, DeviceClient
from margo_conformance.emulated_device.git_reader import GitRead, read_repository
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import application_components, status_report, valid_capabilities

CAPABILITIES = "capabilities report"
STATUS = "status report"
REPORTS = (CAPABILITIES, STATUS)
#: Credentials named in the Gherkin -> the bearer token presented (None: no Authorization).
CREDENTIALS: dict[str, Callable[[WosUnderTest], str | None]] = {
    "without an access token": lambda wos: None,
    "with an access token the orchestrator never issued": lambda wos: f"forged-{uuid.uuid4().hex}",
    "with another device's access token": lambda wos: wos.device("other").access_token,
}
#: The states the two devices report, round by round; the other device is two states ahead,
#: so in every round the two report different states.
STATES = ("Pending", "Installing", "Installed", "Failed")
ROUNDS = 8


def _only_application(wos: WosUnderTest, role: str = "device") -> str:
    mine = [application for application, owner in wos.deployed_to.items() if owner == role]
    if len(mine) != 1:
        raise StepOrderError(
            f"the {role!r} needs exactly one deployment, it has {mine}: add "
            "'Given the operator has deployed the application ...'"
        )
    return mine[0]


def report_with(wos: WosUnderTest, report: str, credentials: str) -> Answer:
    """Send a valid `report` of the device presenting `credentials` instead of its own token."""
    if credentials not in CREDENTIALS:
        raise StepOrderError(f"unknown credentials {credentials!r}; known: {list(CREDENTIALS)}")
    token = CREDENTIALS[credentials](wos)
    device = wos.device()
    if report == CAPABILITIES:
        document = valid_capabilities(device.device_id, variant=1)
        path = wos.dialect.capabilities_path(device.device_id)
        return wos.send("POST", path, json_body=document, token=token)
    if report == STATUS:
        application = _only_application(wos)
        deployment_id = wos.deployment_id(application)
        document = status_report(deployment_id, application_components(application), "Failed")
        path = wos.dialect.deployment_status_path(device.device_id, deployment_id)
        return wos.send("POST", path, json_body=document, token=token)
    raise StepOrderError(f"unknown report {report!r}; known: {list(REPORTS)}")


def read_repository_with_a_forged_token(wos: WosUnderTest) -> GitRead:
    """Clone the device's repository presenting a token the orchestrator never issued."""
    destination = wos.workdir / f"read-forged-{uuid.uuid4().hex[:6]}"
    wos.last_read = read_repository(
        wos.device().member("repository_url"),
        f"forged-{uuid.uuid4().hex}",
        destination,
        wos.evidence,
        wos.run.sut.timeouts.request,
    )
    return wos.last_read


def held_for(wos: WosUnderTest, report: str) -> Any:
    """What the orchestrator shows its operator for the device's `report`."""
    if report == CAPABILITIES:
        return wos.held_capabilities()
    if report == STATUS:
        return wos.shown_status(_only_application(wos))
    raise StepOrderError(f"unknown report {report!r}; known: {list(REPORTS)}")


# -- two devices at the same time ----------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    device_id: str
    round: int
    report: str
    answer: Answer

    def describe(self) -> str:
        status = self.answer.describe() if self.answer.status is None else str(self.answer.status)
        return f"round {self.round}, {self.report} of {self.device_id}: {status}"


@dataclass
class ReportsAtOnce:
    rounds_planned: int
    sent: list[Sent] = field(default_factory=list)
    #: what the orchestrator showed a device that was not what that device reported
    crossings: list[str] = field(default_factory=list)
    rounds_checked: int = 0

    def refused(self) -> list[Sent]:
        return [s for s in self.sent if s.answer.status != 201]


@dataclass
class _Reporter:
    role: str
    device_id: str
    token: str | None
    application: str
    deployment_id: str
    offset: int  # into STATES and the capabilities corpus
    client: DeviceClient
    last_capabilities: Any = None
    last_state: str = ""

    @property
    def components(self) -> list[str]:
        return application_components(self.application)

    def capabilities(self, round_: int) -> Any:
        return valid_capabilities(self.device_id, variant=round_ + self.offset)

    def state(self, round_: int) -> str:
        return STATES[(round_ + self.offset) % len(STATES)]


def report_at_once(
    wos: WosUnderTest, roles: tuple[str, str] = ("device", "other"), rounds: int = ROUNDS
) -> ReportsAtOnce:
    """Both devices send capabilities, then status, together in every round; after each round
    the views of both are read and compared with what each device reported."""
    result = ReportsAtOnce(rounds)
    reporters = [_reporter(wos, role, offset) for role, offset in zip(roles, (0, 2), strict=True)]
    lock = threading.Lock()
    failures: list[BaseException] = []

    def check_views() -> None:
        for reporter in reporters:
            found = crossed_views(
                reporter.device_id,
                reporter.last_capabilities,
                wos.held_capabilities(reporter.role),
                reporter.last_state,
                reporter.components,
                wos.shown_status(reporter.application),
            )
            result.crossings.extend(f"after round {result.rounds_checked + 1}: {f}" for f in found)
        result.rounds_checked += 1

    together = threading.Barrier(len(reporters))
    checkpoint = threading.Barrier(len(reporters), action=check_views)

    def run(reporter: _Reporter) -> None:
        try:
            for round_ in range(rounds):
                for report in (CAPABILITIES, STATUS):
                    together.wait()
                    answer = _send(reporter, report, round_)
                    with lock:
                        result.sent.append(Sent(reporter.device_id, round_ + 1, report, answer))
                    if answer.status != 201:
                        together.abort()  # the other device stops too: the verdict is known
                        checkpoint.abort()
                        return
                checkpoint.wait()
        except threading.BrokenBarrierError:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread below
            failures.append(exc)
            together.abort()
            checkpoint.abort()

    threads = [threading.Thread(target=run, args=(r,), name=f"reports-{r.role}") for r in reporters]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for reporter in reporters:
            reporter.client.close()
    if failures:
        raise failures[0]
    return result


def _reporter(wos: WosUnderTest, role: str, offset: int) -> _Reporter:
    device = wos.device(role)
    if device.access_token is None:
        raise StepOrderError(f"the {role} holds no access token")
    application = _only_application(wos, role)
    client = DeviceClient(wos.client.base_url, wos.evidence, wos.run.sut.timeouts.request)
    return _Reporter(
        role,
        device.device_id,
        device.access_token,
        application,
        wos.deployment_id(application),
        offset,
        client,
    )


def _send(reporter: _Reporter, report: str, round_: int) -> Answer:
    device_id = reporter.device_id
    if report == CAPABILITIES:
        reporter.last_capabilities = reporter.capabilities(round_)
        method = "POST" if round_ == 0 else "PUT"  # first report, then updates (CAP-002)
        return reporter.client.request(
            method,
            f"/device/{device_id}/capabilities",
            json_body=reporter.last_capabilities,
            token=reporter.token,
        )
    reporter.last_state = reporter.state(round_)
    document = status_report(reporter.deployment_id, reporter.components, reporter.last_state)
    path = f"/device/{device_id}/deployment/{reporter.deployment_id}/status"
    return reporter.client.request("POST", path, json_body=document, token=reporter.token)


#: How a crossing reads, and the requirement each breaks: capabilities filed under the wrong device
#: (CAP-002), status shown for the wrong one (STS-002).
CROSSED_CAPABILITIES = "holds capabilities naming"
CROSSED_STATUS = "shows its deployment as"


def crossing_requirements(crossings: list[str]) -> list[str]:
    """The requirements the crossings found break."""
    return sorted({"CAP-002" if CROSSED_CAPABILITIES in c else "STS-002" for c in crossings})


def crossed_views(
    device_id: str,
    reported_capabilities: Any,
    held_capabilities: Any,
    reported_state: str,
    components: list[str],
    shown_status: dict[str, Any],
) -> list[str]:
    """Where what the orchestrator shows for a device differs from what that device reported."""
    found = []
    if held_capabilities != reported_capabilities:
        held = held_capabilities if isinstance(held_capabilities, dict) else {}
        properties = held.get("properties")
        held_id = properties.get("id") if isinstance(properties, dict) else None
        found.append(f"{device_id} {CROSSED_CAPABILITIES} {held_id!r}, not the ones it reported")
    shown_state = str(shown_status.get("state") or "")
    shown_components = [
        c.get("name") for c in shown_status.get("components") or [] if isinstance(c, dict)
    ]
    if shown_state.lower() != reported_state.lower() or shown_components != components:
        found.append(
            f"{device_id} {CROSSED_STATUS} {shown_state or None!r} with components "
            f"{shown_components}, but it reported {reported_state} for {components}"
        )
    return found
