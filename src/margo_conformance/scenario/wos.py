"""Testing a WOS: the suite plays the device (and, through the control adapter, the operator).

`WosUnderTest` is what the WOS steps talk to. It starts the WOS container with its device API
published on a free host port, registers devices through the control adapter, and keeps
what the device was given (credentials, tokens, repository) and the last answer it got.
The device itself is wos_device.py, the documents it sends wos_documents.py; the robustness
walk (wos_bad_requests.py, wos_bad_request_walk.py) and the isolation checks (wos_isolation.py)
work on a `WosUnderTest`.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from margo_conformance.base import credentials, redaction
from margo_conformance.base.errors import StepOrderError, SutError
from margo_conformance.base.evidence import NOTE, EvidenceLog
from margo_conformance.base.message_signatures import DEFAULT_ALGORITHM, new_identity
from margo_conformance.base.schemas import validation_errors
from margo_conformance.checks import capability_rules, status_rules
from margo_conformance.checks.shapes import member_fault, value_at
from margo_conformance.config.interop import PER_DEVICE
from margo_conformance.config.run_config import RunConfig, UrlSpec
from margo_conformance.dialects import Dialect, dialect_for
from margo_conformance.emulated_device.client import Answer, DeviceClient
from margo_conformance.emulated_device.control import ControlAdapter, ControlError, HttpControl, adapter_for
from margo_conformance.emulated_device.git_reader import GitRead, read_repository
from margo_conformance.emulated_device.signing import REFUSAL_ROWS, Signing, request_signer
from margo_conformance.engine.launch import RunningSut, sut_instance
from margo_conformance.engine.sut import docker_host_address, free_host_port
from margo_conformance.scenario.wos_device import SimulatedDevice, access_token_of, pointer_value
from margo_conformance.scenario.wos_documents import (
    application_request,
)

if TYPE_CHECKING:
    from margo_conformance.scenario.wos_bad_request_walk import Walk
    from margo_conformance.scenario.wos_isolation import ReportsAtOnce

#: Docker's refusal when a host port the suite picked was taken before the container bound it,
#: and a process's own words when it could not bind the port it was given.
PORT_TAKEN = ("port is already allocated", "address already in use")
PORT_ATTEMPTS = 3


@dataclass(frozen=True)
class StateReport:
    state: str
    answer: Answer
    shown: dict[str, Any] | None  # None: not read, because the report was not accepted


@dataclass
class WosUnderTest:
    run: RunConfig
    evidence: EvidenceLog
    workdir: Path
    profile: str = "V24"
    _sut: RunningSut | None = None
    _client: DeviceClient | None = None
    _control: ControlAdapter | None = None
    devices: dict[str, SimulatedDevice] = field(default_factory=dict)
    deployments: dict[str, str] = field(default_factory=dict)  # application name -> deployment id
    deployed_to: dict[str, str] = field(default_factory=dict)  # application name -> device role
    last_answer: Answer | None = None
    manifests: list[Answer] = field(default_factory=list)  # PR1: every 200 manifest, in order
    last_read: GitRead | None = None
    accepted_capabilities: dict[str, Any] | None = None
    #: Schema violations of the last document sent on purpose, for refusal messages.
    sent_violations: list[str] = field(default_factory=list)
    #: The requirements the last request sent judges: what its refusal or acceptance verifies.
    judged_by: tuple[str, ...] = ()
    #: Robustness: the walk through the device-facing requests with bad ones before each.
    walk: Walk | None = None
    #: Isolation: what the orchestrator held for the device before a refused report.
    held_before: Any = None
    #: Isolation: two devices reporting at the same time.
    reports_at_once: ReportsAtOnce | None = None
    #: Status states: each state reported, its answer, and what the orchestrator showed then.
    state_reports: list[StateReport] = field(default_factory=list)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, host: str | None = None) -> None:
        """Start the WOS; `host` is where its published ports are reached (default: where
        testcontainers says, or this machine for a local process; the fleet profile keeps its
        load on 127.0.0.1)."""
        sut = self.run.sut
        if sut.url is not None:
            self._use_running_wos(sut.url)
            return
        if sut.port is None or sut.control is None:
            raise SutError("a WOS SUT file needs `port` and `control`")
        host = host or (docker_host_address() if sut.in_containers else "127.0.0.1")
        published, public_url = self._start_on_free_ports(host)
        timeout = sut.timeouts.request
        self._client = DeviceClient(public_url, self.evidence, timeout)
        control_base = (f"http://{host}:{published[sut.control.http_port]}"
                        if sut.control.http_port is not None else None)
        self._control = adapter_for(sut.control, self._sut, control_base, self.evidence, timeout)

    def _use_running_wos(self, url: UrlSpec) -> None:
        """`launcher: url`: the WOS already runs; every scenario shares it with devices of its own."""
        self._sut = sut_instance(self.run.sut, {}, self.evidence, self.run.run_id)
        self._sut.start()
        timeout = self.run.sut.timeouts.request
        self._client = DeviceClient(url.api, self.evidence, timeout)
        self._control = HttpControl(url.control, self.evidence, timeout)

    def placeholder_values(self, public_url: str, published: dict[int, int] | None = None) -> dict[str, str]:
        """What the SUT file's placeholders are filled with (config.PLACEHOLDER_SCOPES["wos"]).
        `{port}`/`{control_port}`: where the WOS listens: the container's own ports, or for a
        local process the host ports the suite picked (`published`)."""
        sut = self.run.sut
        listens = (lambda port: port) if sut.in_containers else (lambda port: (published or {}).get(port, port))
        control_port = sut.control.http_port if sut.control is not None else None
        return {
            "public_url": public_url,
            "port": str(listens(sut.port)) if sut.port is not None else "",
            "control_port": str(listens(control_port)) if control_port is not None else "",
            "python": sys.executable,
            "state_dir": str(self.sut_state_dir()),
            "run_id": self.run.run_id,
            "profile": self.profile,
            "base_image": self.run.base_image or "",
            "workload_image": self.run.workload_image or "",
        }

    def _start_on_free_ports(self, host: str) -> tuple[dict[int, int], str]:
        """Start the SUT with its ports published on free host ports; (ports, public URL).

        The WOS must know its public URL before it starts, so the suite picks the host ports
        rather than Docker. Another run on the engine can take a port between the pick and the
        bind; the engine then refuses the container, and new ports are picked.
        """
        sut = self.run.sut
        assert sut.port is not None and sut.control is not None
        for attempt in range(1, PORT_ATTEMPTS + 1):
            published = {sut.port: free_host_port()}
            if sut.control.http_port is not None:
                published[sut.control.http_port] = free_host_port()
            public_url = f"http://{host}:{published[sut.port]}"
            values = self.placeholder_values(public_url, published)
            self._sut = sut_instance(sut, values, self.evidence, self.run.run_id, published)
            try:
                self._sut.start()
                return published, public_url
            except SutError as exc:
                if not any(words in str(exc).lower() for words in PORT_TAKEN) or attempt == PORT_ATTEMPTS:
                    raise
                self.evidence.record(NOTE, f"a host port was taken between pick and bind ({exc}); new ports")
        raise AssertionError("unreachable")

    def sut_state_dir(self) -> Path:
        """A directory for a local process's data, fresh for each start (a fresh WOS per scenario)."""
        return Path(tempfile.mkdtemp(prefix="sut-state-", dir=self.workdir))

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._sut is not None:
            self._sut.stop()

    @property
    def client(self) -> DeviceClient:
        if self._client is None:
            raise StepOrderError(
                "the WOS has not been started: add 'Given the orchestrator has a device registered by its owner'"
            )
        return self._client

    @property
    def control(self) -> ControlAdapter:
        if self._control is None:
            raise StepOrderError("the WOS has not been started")
        return self._control

    @property
    def dialect(self) -> Dialect:
        """What this scenario's profile makes of routes, payloads and requirement ids."""
        return dialect_for(self.profile)

    def device(self, role: str = "device") -> SimulatedDevice:
        if role not in self.devices:
            raise StepOrderError(f"no {role!r} registered in this scenario")
        return self.devices[role]

    def answer(self) -> Answer:
        if self.last_answer is None:
            raise StepOrderError("no request was sent yet in this scenario")
        return self.last_answer

    def answer_judges(self) -> tuple[str, ...]:
        """The requirements the answer to the last request verifies (its refusal or acceptance)."""
        if not self.judged_by:
            raise StepOrderError("the last request names no requirement its answer verifies")
        return self.judged_by

    # -- the operator (control adapter) ---------------------------------------------------

    def register_device(self, role: str = "device") -> SimulatedDevice:
        device_id = f"dev-{uuid.uuid4().hex[:10]}"
        dialect = self.dialect
        if not dialect.issues_onboarding_key:  # the operator expects the device to bring its own identity
            self.devices[role] = SimulatedDevice(device_id, "", dialect=dialect)
            self.renew_identity(role)
            return self.devices[role]
        answer = self.control.call("register-device", dialect.register_request(device_id))
        exchange = self.run.sut.interop.onboarding
        key = ""
        if exchange.keys:  # a WOS without onboarding keys (declared) gives none
            key = control_member("register-device", answer, "/onboardingKey", str)
            redaction.learn(credentials.ONBOARDING_KEY, key)
            if not key:
                raise ControlError("control verb register-device gave an empty onboardingKey")
        self.devices[role] = SimulatedDevice(device_id, key, dialect=dialect, exchange=exchange)
        return self.devices[role]

    def renew_identity(self, role: str = "device", algorithm: str = DEFAULT_ALGORITHM) -> None:
        """A 1.0 device's new key and certificate (`algorithm`'s kind), entered by its operator
        before it onboards (a registration repeated with the new certificate)."""
        device = self.device(role)
        device.identity = new_identity(device.device_id, algorithm)
        request = device.dialect.register_request(device.device_id, device.identity.certificate_der)
        self.control.call("register-device", request)

    def deploy(self, application: str, role: str = "device") -> str:
        device_id = self.device(role).device_id
        request = {"deviceId": device_id, "application": application_request(application)}
        deployment_id = control_member("deploy", self.control.call("deploy", request), "/deploymentId", str)
        if not deployment_id:
            raise ControlError(f"control verb deploy gave an empty deploymentId for {application!r}")
        self.deployments[application] = deployment_id
        self.deployed_to[application] = role
        return deployment_id

    def remove(self, application: str) -> None:
        deployment_id = self.deployment_id(application)
        self.control.call("remove", {"deviceId": self.device().device_id, "deploymentId": deployment_id})

    def deployment_id(self, application: str) -> str:
        if application not in self.deployments:
            raise StepOrderError(f"application {application!r} was not deployed in this scenario")
        return self.deployments[application]

    def shown_status(self, application: str) -> dict[str, Any]:
        device = self.device(self.deployed_to.get(application, "device"))
        request = {"deviceId": device.device_id, "deploymentId": self.deployment_id(application)}
        shown = self.control.call("deployment-status", request)
        control_member("deployment-status", shown, "/state", (str, type(None)))
        for index, _ in enumerate(control_member("deployment-status", shown, "/components", list)):
            control_member("deployment-status", shown, f"/components/{index}", dict)
        return shown

    def held_capabilities(self, role: str = "device") -> Any:
        request = {"deviceId": self.device(role).device_id}
        return self.control.call("device-capabilities", request).get("capabilities")

    # -- the device (Margo interface) ---------------------------------------------------

    def send(self, method: str, path: str, judged_by: tuple[str, ...] = (), *, role: str = "device",
             signing: Signing = Signing.SIGNED, **kwargs: Any) -> Answer:
        """Send a device request; `judged_by` names the requirements its answer verifies."""
        self.judged_by = judged_by
        self.last_answer = self.request(method, path, role=role, signing=signing, **kwargs)
        return self.last_answer

    def request(self, method: str, path: str, *, role: str = "device", signing: Signing = Signing.SIGNED,
                **kwargs: Any) -> Answer:
        """A request of the device playing `role`: signed as 1.0 asks (SEC-011) unless `signing`
        says otherwise; V24 signs nothing."""
        device = self.devices.get(role)
        sign = None
        if self.dialect.client_scoped and device is not None and device.identity is not None:
            sign = request_signer(device.identity, signing)
        return self.client.request(method, path, sign=sign, **kwargs)

    def download_root_certificate(self) -> Answer:
        # 1.0 serves it to a device that signs nothing (CRT-010).
        return self.send("GET", self.dialect.routes.root_certificate, (self.dialect.requirements.root_certificate,),
                         signing=Signing.UNSIGNED)

    def onboard_with(self, body: Any = None, raw_body: bytes | None = None, role: str = "device") -> Answer:
        """A deliberately malformed 1.0 onboarding request; refusing it is ONB-012's."""
        self.device(role)
        if raw_body is not None:
            return self.send("POST", self.dialect.routes.onboarding, ("ONB-012",), raw_body=raw_body,
                             headers={"Content-Type": "application/json"})
        return self.send("POST", self.dialect.routes.onboarding, ("ONB-012",), json_body=body)

    def onboard(self, role: str = "device", key: str | None = None) -> Answer:
        device = self.device(role)
        certificate = device.identity.certificate_der if device.identity is not None else b""
        call = device.dialect.onboarding_call(device.device_id, key if key is not None else device.onboarding_key,
                                              device.exchange, certificate)
        answer = self.send("POST", call.path, call.judged_by, role=role, json_body=call.body)
        if answer.status == 201:  # its members are read (and judged) when the device needs them
            device.onboarding_answer = answer
            for kind, value in device.declared_credentials():  # wherever the WOS declared them
                redaction.learn(kind, value)
            for name in device.dialect.onboarding_urls:
                redaction.current().learn_url(pointer_value(answer.json(), device.exchange.answer.get(name, "")))
        return answer

    def request_token(self, role: str = "device", secret: str | None = None) -> Answer:
        """Ask for a token with the device's client credentials; a 200 must carry one (TOK-003)."""
        device = self.device(role)
        form = {"grant_type": "client_credentials", "client_id": device.member("client_id"),
                "client_secret": secret if secret is not None else device.member("client_secret")}
        # A wrong secret must be refused like any invalid credential (TOK-005); a right one gets a token.
        judged_by = ("TOK-003",) if secret is None else ("TOK-005",)
        answer = self.send("POST", device.member("token_endpoint"), judged_by, form=form)
        if answer.status == 200:
            device.access_token = access_token_of(answer)
        return answer

    def report_capabilities(self, document: Any, method: str = "POST", with_token: bool = True,
                            raw_body: bytes | None = None, signing: Signing = Signing.SIGNED) -> Answer:
        """Send a capabilities report (`raw_body`: bytes sent instead of the document; `signing`:
        how a 1.0 device signs it)."""
        if self.dialect.client_scoped:
            return self._report_client_capabilities(document, method, raw_body, signing)
        device = self.device()
        self.sent_violations = validation_errors(document, self.dialect.schema("device-capabilities"))
        token = device.access_token if with_token else None
        # Accepting is CAP-002's; refusing a document that breaks the schema is the rows it breaks;
        # refusing a missing token is TOK-005's.
        broken = tuple(capability_rules.requirements_of(self.sent_violations))
        judged_by = ("TOK-005",) if not with_token else broken or ("CAP-002",)
        return self.send(method, self.dialect.capabilities_path(device.device_id), judged_by, json_body=document,
                         token=token)

    def _report_client_capabilities(self, document: Any, method: str, raw_body: bytes | None,
                                    signing: Signing) -> Answer:
        """1.0: under the client id, on the route the SUT file declares (I-15); every answer,
        201 or 4xx, is the route's (CAP-010), or the signature rule's a defective signature breaks."""
        device = self.device()
        self.sent_violations = [] if raw_body is not None else validation_errors(
            document, self.dialect.schema("device-capabilities"))
        per_device = self.run.sut.interop.pr1_capabilities_route == PER_DEVICE
        path = self.dialect.client_capabilities_path(device.member("client_id"), device.device_id, per_device)
        judged_by = (REFUSAL_ROWS.get(signing, self.dialect.requirements.capabilities_route),)
        if raw_body is not None:
            return self.send(method, path, judged_by, raw_body=raw_body, headers={"Content-Type": "application/json"})
        return self.send(method, path, judged_by, signing=signing, json_body=document)

    def report_status(self, deployment_id: str, document: Any, raw_body: bytes | None = None) -> Answer:
        """Send a status report (`raw_body`: bytes sent instead of the document)."""
        device = self.device()
        self.sent_violations = [] if raw_body is not None else validation_errors(
            document, self.dialect.schema("deployment-status"))
        owner = device.member("client_id") if self.dialect.client_scoped else device.device_id
        path = self.dialect.deployment_status_path(owner, deployment_id)
        judged_by = self._status_judged_by(deployment_id, raw_body is not None)
        if raw_body is not None:
            return self.send("POST", path, judged_by, raw_body=raw_body, headers={"Content-Type": "application/json"})
        return self.send("POST", path, judged_by, json_body=document, token=device.access_token)

    def _status_judged_by(self, deployment_id: str, unparsable: bool) -> tuple[str, ...]:
        """V24: a state Margo does not define breaks STS-004, any other schema error STS-003; a
        report for a deployment never assigned, or a valid one, is the route's (STS-002).
        1.0: a body that breaks the schema or does not parse is STS-020's, the rest STS-010's."""
        route = (self.dialect.requirements.status_route,)
        if deployment_id not in self.deployments.values():
            return route
        if self.dialect.client_scoped:
            return ("STS-020",) if unparsable or self.sent_violations else route
        rows = self.dialect.requirements.status_rows
        return status_rules.requirements_of(self.sent_violations, rows) if self.sent_violations else route

    def read_repository(self, role: str = "device", as_role: str | None = "device") -> GitRead:
        """Clone `role`'s repository presenting the git token of `as_role` (None: no token)."""
        token = self.device(as_role).member("git_token") if as_role is not None else None
        destination = self.workdir / f"read-{uuid.uuid4().hex[:6]}"
        self.last_read = read_repository(self.device(role).member("repository_url"), token, destination, self.evidence,
                                         self.run.sut.timeouts.request)
        return self.last_read


def control_member(verb: str, answer: dict[str, Any], pointer: str, kind: type | tuple[type, ...]) -> Any:
    """A member of a control verb's answer; a wrong shape is the adapter's fault, not a Margo
    failure (docs/control-adapter.md): the scenario is blocked (ERROR) naming the member."""
    fault = member_fault(answer, pointer, kind)
    if fault is not None:
        raise ControlError(f"control verb {verb}: the answer {fault} (docs/control-adapter.md)")
    return value_at(answer, pointer)
