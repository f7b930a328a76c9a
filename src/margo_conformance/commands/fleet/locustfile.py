"""The simulated Margo device (V24) as a Locust user, and how devices are handed out.

Each user is one device the WOS registered for the fleet. It starts as a device does:
onboard with its key, get an access token with the client credentials it was given, report
its capabilities. Then, every poll interval (Locust paces it), it polls its desired-state
repository with exactly what `git fetch` sends when nothing changed (`gitwire`: the protocol
v2 advertisement, then ls-refs) and reports the status of the deployment deployed to it,
walking Pending, Installing, Installed. Every request is named by endpoint, not by URL, so
Locust's statistics come out per endpoint.

Devices are leased from a pool: in one process straight from it; on a Locust worker by a
message to the master, which holds the pool. What each device achieved in the measured
window (polls, errors) is tallied where it runs and reported to the master with Locust's
regular worker reports.

Importing this module imports Locust, which monkey-patches the process with gevent: only the
fleet's own process (`python -m margo_conformance.commands.fleet`) does.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gevent.event import AsyncResult
from locust import FastHttpUser, constant_pacing, events, task
from locust.exception import StopUser

from margo_conformance.checks.shapes import member_fault, value_at
from margo_conformance.commands.fleet.gitwire import (
    ADVERTISE_HEADERS,
    LS_REFS_BODY,
    LS_REFS_HEADERS,
    advertise_path,
    bearer,
    ls_refs_path,
    parse_ls_refs,
)
from margo_conformance.config.interop import DEFAULT_ONBOARDING_ANSWER
from margo_conformance.dialects.v24 import ONBOARDING_REQUIREMENTS
from margo_conformance.scenario.wos_device import ONBOARDING_API_VERSION
from margo_conformance.scenario.wos_documents import status_report, valid_capabilities

LEASE_MESSAGE = "margo-lease"
DEVICE_MESSAGE = "margo-device"
TALLY_KEY = "margo_tallies"
LEASE_TIMEOUT_S = 60.0
STATES = ("Pending", "Installing", "Installed")

#: Endpoint names in the statistics (thresholds files use them).
ONBOARD = "POST /onboarding/"
TOKEN = "POST token endpoint"
CAPABILITIES = "POST /device/{id}/capabilities"
ADVERTISE = "GET git info/refs"
LS_REFS = "POST git ls-refs"
STATUS = "POST /device/{id}/deployment/{id}/status"
ENDPOINTS = (ONBOARD, TOKEN, CAPABILITIES, ADVERTISE, LS_REFS, STATUS)


@dataclass(frozen=True)
class FleetDevice:
    """A device registered for the fleet, with the deployment the WOS made for it and its
    onboarding exchange as the SUT file declares it (interop.onboarding; the suite's own by
    default): where to send which body, and where the answer carries each member."""

    device_id: str
    onboarding_key: str
    deployment_id: str
    components: tuple[str, ...]
    onboarding_path: str = "/onboarding/"
    onboarding_body: Any = None
    answer_pointers: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ONBOARDING_ANSWER))

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> FleetDevice:
        return cls(entry["device_id"], entry["onboarding_key"], entry["deployment_id"],
                   tuple(entry["components"]), entry["onboarding_path"], entry["onboarding_body"],
                   dict(entry["answer_pointers"]))


@dataclass
class Tally:
    onboarded: bool = False
    polls: int = 0
    errors: int = 0


@dataclass
class FleetState:
    """This process's part of the fleet: the device pool (local or master), pending leases
    (worker), and the tally of each device it runs."""

    pool: deque[FleetDevice] = field(default_factory=deque)
    tallies: dict[str, Tally] = field(default_factory=dict)
    measuring_since: float | None = None
    measuring_until: float | None = None
    runner: Any = None  # set on a worker: leases go through it
    _leases: dict[int, AsyncResult] = field(default_factory=dict)
    _lease_ids: itertools.count = field(default_factory=itertools.count)

    def measuring(self) -> bool:
        now = time.time()
        return (self.measuring_since is not None and now >= self.measuring_since
                and (self.measuring_until is None or now < self.measuring_until))

    def lease(self) -> FleetDevice | None:
        if self.runner is None:
            return self.pool.popleft() if self.pool else None
        lease_id = next(self._lease_ids)
        waiting = self._leases[lease_id] = AsyncResult()
        self.runner.send_message(LEASE_MESSAGE, {"lease": lease_id})
        answer = waiting.get(timeout=LEASE_TIMEOUT_S)  # the master's answer wakes us
        return FleetDevice.from_json(answer) if answer else None

    def leased(self, lease_id: int, device: dict[str, Any] | None) -> None:
        waiting = self._leases.pop(lease_id, None)
        if waiting is not None:
            waiting.set(device)

    def tally(self, device_id: str) -> Tally:
        return self.tallies.setdefault(device_id, Tally())

    def tallies_json(self) -> dict[str, list[Any]]:
        return {d: [t.onboarded, t.polls, t.errors] for d, t in self.tallies.items()}


FLEET = FleetState()


# -- Locust wiring: leases over messages, tallies with worker reports, the measured window ----


def master_answers_leases(environment: Any, msg: Any, **_: Any) -> None:
    device = FLEET.pool.popleft() if FLEET.pool else None
    environment.runner.send_message(
        DEVICE_MESSAGE, {"lease": msg.data["lease"], "device": asdict(device) if device else None},
        client_id=msg.node_id,
    )


def worker_receives_lease(environment: Any, msg: Any, **_: Any) -> None:
    FLEET.leased(msg.data["lease"], msg.data["device"])


@events.report_to_master.add_listener
def _attach_tallies(client_id: str, data: dict[str, Any], **_: Any) -> None:
    data[TALLY_KEY] = FLEET.tallies_json()


@events.worker_report.add_listener
def _collect_tallies(client_id: str, data: dict[str, Any], **_: Any) -> None:
    for device_id, (onboarded, polls, errors) in data.get(TALLY_KEY, {}).items():
        FLEET.tallies[device_id] = Tally(onboarded, polls, errors)


@events.spawning_complete.add_listener
def _start_measuring(user_count: int, **_: Any) -> None:
    if FLEET.measuring_since is None:
        FLEET.measuring_since = time.time()


def wire_runner(runner: Any, mode: str) -> None:
    """Register the lease messages for this process's role (master or worker)."""
    if mode == "master":
        runner.register_message(LEASE_MESSAGE, master_answers_leases)
    elif mode == "worker":
        FLEET.runner = runner
        runner.register_message(DEVICE_MESSAGE, worker_receives_lease)


# -- the device ----------------------------------------------------------------------------


class MargoDevice(FastHttpUser):
    """One simulated device; `fleet.runner` sets `wait_time` to the poll interval."""

    wait_time = constant_pacing(1.0)
    # One connection per device, kept alive, as an agent with a long-lived HTTP client does.
    concurrency = 1

    device: FleetDevice
    access_token: str
    git_token: str
    repository: str
    report_index: int = 0

    def on_start(self) -> None:
        device = FLEET.lease()
        if device is None:
            raise StopUser()  # more users than registered devices: nothing to simulate
        self.device = device
        tally = FLEET.tally(device.device_id)
        if not (self.onboard() and self.obtain_token() and self.report_capabilities()):
            raise StopUser()  # its failed request is in the statistics; the device is not sustained
        tally.onboarded = True

    def onboard(self) -> bool:
        device = self.device
        body = device.onboarding_body if device.onboarding_body is not None else {
            "apiVersion": ONBOARDING_API_VERSION, "kind": "OnboardingRequest",
            "deviceId": device.device_id, "onboardingKey": device.onboarding_key}
        with self.client.post(device.onboarding_path, json=body, name=ONBOARD, catch_response=True) as reply:
            answer = _json(reply)
            if reply.status_code != 201 or not isinstance(answer, dict):
                reply.failure(f"onboarding answered {reply.status_code}")
                return False
            pointers = device.answer_pointers
            faults = [f"{ONBOARDING_REQUIREMENTS[name]}: {fault}" for name, pointer in pointers.items()
                      if (fault := member_fault(answer, pointer, str)) is not None]
            if faults:
                reply.failure("the onboarding answer " + "; ".join(faults))
                return False
            member = {name: value_at(answer, pointer) for name, pointer in pointers.items()}
            self.client_id, self.client_secret = member["client_id"], member["client_secret"]
            self.token_path = urlsplit(member["token_endpoint"]).path
            self.git_token = member["git_token"]
            self.repository = urlsplit(member["repository_url"]).path
        return True

    def obtain_token(self) -> bool:
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret}
        with self.client.post(self.token_path, data=form, name=TOKEN, catch_response=True) as reply:
            answer = _json(reply)
            token = answer.get("access_token") if isinstance(answer, dict) else None
            if reply.status_code != 200 or not isinstance(token, str):
                reply.failure(f"token endpoint answered {reply.status_code}")
                return False
            self.access_token = token
        return True

    def report_capabilities(self) -> bool:
        path = f"/device/{self.device.device_id}/capabilities"
        document = valid_capabilities(self.device.device_id)
        with self.client.post(path, json=document, headers=self._bearer(), name=CAPABILITIES,
                              catch_response=True) as reply:
            if not 200 <= reply.status_code < 300:
                reply.failure(f"capabilities answered {reply.status_code}")
                return False
        return True

    @task
    def poll_and_report(self) -> None:
        ok = self.poll() and self.report_status()
        if FLEET.measuring():
            tally = FLEET.tally(self.device.device_id)
            tally.polls += 1 if ok else 0
            tally.errors += 0 if ok else 1

    def poll(self) -> bool:
        """What `git fetch` sends when nothing changed: the v2 advertisement, then ls-refs."""
        auth = {"Authorization": bearer(self.git_token)}
        with self.client.get(advertise_path(self.repository), headers={**ADVERTISE_HEADERS, **auth},
                             name=ADVERTISE, catch_response=True) as reply:
            if reply.status_code != 200:
                reply.failure(f"info/refs answered {reply.status_code}")
                return False
        # The captured bytes as they are (FastHttpSession sends bytes unchanged; its hint says str).
        with self.client.post(ls_refs_path(self.repository), data=LS_REFS_BODY,  # type: ignore[arg-type]
                              headers={**LS_REFS_HEADERS, **auth}, name=LS_REFS,
                              catch_response=True) as reply:
            if reply.status_code != 200:
                reply.failure(f"ls-refs answered {reply.status_code}")
                return False
            if not parse_ls_refs(reply.content or b""):
                reply.failure("ls-refs listed no refs")
                return False
        return True

    def report_status(self) -> bool:
        state = STATES[min(self.report_index, len(STATES) - 1)]
        self.report_index += 1
        device = self.device
        path = f"/device/{device.device_id}/deployment/{device.deployment_id}/status"
        document = status_report(device.deployment_id, list(device.components), state)
        with self.client.post(path, json=document, headers=self._bearer(), name=STATUS,
                              catch_response=True) as reply:
            if not 200 <= reply.status_code < 300:
                reply.failure(f"status answered {reply.status_code}")
                return False
        return True

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": bearer(self.access_token)}


def _json(reply: Any) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None
