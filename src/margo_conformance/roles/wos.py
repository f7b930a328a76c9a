"""Testing a WOS: the suite plays the device (and, through the control adapter, the operator).

`WosUnderTest` is what the WOS steps talk to. It starts the WOS container with its device API
published on a free host port, registers devices through the control adapter, and keeps
what the device was given (credentials, tokens, repository) and the last answer it got.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from margo_conformance import capability_rules, redaction, status_rules
from margo_conformance.config import RunConfig
from margo_conformance.control import ControlAdapter, ControlError, adapter_for
from margo_conformance.device.client import Answer, DeviceClient
from margo_conformance.device.git_reader import GitRead, read_repository
from margo_conformance.errors import StepOrderError, SutError
from margo_conformance.evidence import NOTE, EvidenceLog
from margo_conformance.interop import V24Onboarding
from margo_conformance.paths import FIXTURES_DIR
from margo_conformance.schemas import validation_errors
from margo_conformance.shapes import V24_ONBOARDING_SHAPE, json_document, member_fault, read_member, value_at
from margo_conformance.sut import SutContainer, docker_host_address, free_host_port

if TYPE_CHECKING:
    from margo_conformance.roles.wos_bad_requests import Walk
    from margo_conformance.roles.wos_isolation import ReportsAtOnce

PAYLOADS = FIXTURES_DIR / "payloads" / "v24"
APPLICATIONS = FIXTURES_DIR / "deployments"
ONBOARDING_API_VERSION = "onboarding.margo/v1"
MANIFEST_ACCEPT = "application/vnd.margo.manifest.v1+json"
#: Docker's refusal when a host port the suite picked was taken before the container bound it.
PORT_TAKEN = "port is already allocated"
PORT_ATTEMPTS = 3
V24_ONBOARDING_ANSWER = "the onboarding answer"
PR1_ONBOARDING_ANSWER = "the PR1 onboarding answer"
TOKEN_ANSWER = "the token answer"

#: Capabilities defects named in the Gherkin -> corpus file breaking exactly that rule.
CAPABILITY_DEFECTS = {
    "without a serial number": "missing-serialNumber.json",
    "with memory given as text": "memory-as-string.json",
    "of the wrong kind": "kind-wrong.json",
    "without a CPU architecture": "missing-cpuArchitecture.json",
    "with a role Margo does not define": "role-unknown.json",
    "with resources given as a list": "resources-as-array.json",
}

#: The V24 states in the table's spelling and the lowercase of the pre-draft's example (I-6).
DEFINED_STATE_SPELLINGS = (
    "Pending", "pending", "Installing", "installing", "Installed", "installed", "Failed", "failed"
)
#: Status reports with a state V24 does not define, named in the Gherkin -> (overall, component)
#: states; the component state is given to the last component, the others are Installing.
UNDEFINED_STATES = {
    "a state Margo does not define": ("Sleeping", "Sleeping"),
    "one component in a state Margo does not define": ("Installing", "Sleeping"),
    # Margo 1.0.0 added update and removal states (I-6); V24 has none of them.
    "a state from a later Margo version": ("Updating", "Updating"),
}


#: The requirement that hands out each member of the V24 onboarding answer; where the answer
#: carries it is the SUT file's interop choice (the pre-draft leaves the body open; default:
#: docs/v24-wire-contract.md section 2).
ONBOARDING_REQUIREMENTS: dict[str, str] = {
    "client_id": "ONB-003",
    "client_secret": "ONB-003",
    "token_endpoint": "ONB-003",
    "repository_url": "ONB-004",
    "git_token": "ONB-004",
}
DECLARED_ONBOARDING_SHAPE = "the shape the SUT file declares (interop.onboarding)"
#: PR1: the onboarding answer is `{clientId}` (ONB-011).
PR1_CLIENT_ID = ("/clientId", "ONB-011")


@dataclass
class SimulatedDevice:
    """A device the suite plays: its identity and what the WOS gave it.

    The WOS's answers are kept as they came and read member by member when the device needs
    one (`shapes.read_member`), so an answer of the wrong shape fails the requirement that
    hands out that member, naming it, in the step that needs it.
    """

    device_id: str
    onboarding_key: str
    #: The WOS's 201 answer to the device's onboarding request.
    onboarding_answer: Answer | None = None
    access_token: str | None = None
    profile: str = "V24"
    #: The V24 onboarding exchange the WOS declared (or the suite's default).
    exchange: V24Onboarding = field(default_factory=V24Onboarding)

    @property
    def client_id(self) -> str | None:
        """The client id the WOS assigned (None before onboarding)."""
        if self.onboarding_answer is None:
            return None
        if self.profile == "PR1":
            pointer, requirement = PR1_CLIENT_ID
            document = json_document(self.onboarding_answer.body, requirement=requirement, what=PR1_ONBOARDING_ANSWER)
            return read_member(document, pointer, str, requirement=requirement, what=PR1_ONBOARDING_ANSWER)
        return self.onboarding_member("client_id")

    @property
    def client_secret(self) -> str:
        return self.onboarding_member("client_secret")

    @property
    def token_endpoint(self) -> str:
        return self.onboarding_member("token_endpoint")

    @property
    def repository_url(self) -> str:
        return self.onboarding_member("repository_url")

    @property
    def git_token(self) -> str:
        return self.onboarding_member("git_token")

    def onboarding_member(self, name: str) -> str:
        """A string member of the V24 onboarding answer, or a failed check naming it."""
        pointer, requirement = self.exchange.answer[name], ONBOARDING_REQUIREMENTS[name]
        shape = DECLARED_ONBOARDING_SHAPE if self.exchange.declared else V24_ONBOARDING_SHAPE
        document = json_document(self._onboarded().body, requirement=requirement, what=V24_ONBOARDING_ANSWER,
                                 shape=shape)
        return read_member(document, pointer, str, requirement=requirement, what=V24_ONBOARDING_ANSWER, shape=shape)

    def declared_credentials(self) -> list[tuple[str, str]]:
        """(kind, value) of the credentials at the members the onboarding exchange declares,
        read without judging (a member missing or of the wrong type is judged where it is used)."""
        if self.onboarding_answer is None or self.profile == "PR1":
            return []
        document = self.onboarding_answer.json()
        found = [(kind, pointer_value(document, self.exchange.answer.get(name, ""))) for name, kind in
                 (("client_secret", redaction.CLIENT_SECRET), ("git_token", redaction.GIT_TOKEN))]
        return [(kind, value) for kind, value in found if isinstance(value, str)]

    def issued_credentials(self) -> list[tuple[str, str]]:
        """(kind, value) of every credential the WOS under test gave this device."""
        issued = [(redaction.ONBOARDING_KEY, self.onboarding_key), *self.declared_credentials()]
        if self.onboarding_answer is not None:
            issued += redaction.document_credentials(self.onboarding_answer.json())
        return issued + ([(redaction.ACCESS_TOKEN, self.access_token)] if self.access_token else [])

    def _onboarded(self) -> Answer:
        if self.onboarding_answer is None:
            raise StepOrderError("the device has not onboarded: add 'And the device has onboarded'")
        return self.onboarding_answer


def pointer_value(document: object, pointer: str) -> object:
    """The value at a JSON pointer (RFC 6901), or None where there is none."""
    if not pointer.startswith("/"):
        return None
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(document, dict):
            document = document.get(token)
        elif isinstance(document, list) and token.isdigit() and int(token) < len(document):
            document = document[int(token)]
        else:
            return None
    return document


def access_token_of(answer: Answer) -> str:
    """The bearer token of a 200 token answer (TOK-003), or a failed check naming the member."""
    document = json_document(answer.body, requirement="TOK-003", what=TOKEN_ANSWER)
    return read_member(document, "/access_token", str, requirement="TOK-003", what=TOKEN_ANSWER)


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
    _sut: SutContainer | None = None
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
        testcontainers says; the fleet profile keeps its load on 127.0.0.1)."""
        sut = self.run.sut
        if sut.port is None or sut.control is None:
            raise SutError("a WOS SUT file needs `port` and `control`")
        host = host or docker_host_address()
        published, public_url = self._start_on_free_ports(host)
        timeout = sut.timeouts.request
        self._client = DeviceClient(public_url, self.evidence, timeout)
        control_base = (f"http://{host}:{published[sut.control.http_port]}"
                        if sut.control.http_port is not None else None)
        self._control = adapter_for(sut.control, self._sut, control_base, self.evidence, timeout)

    def placeholder_values(self, public_url: str) -> dict[str, str]:
        """What the SUT file's placeholders are filled with (config.PLACEHOLDER_SCOPES["wos"])."""
        return {
            "public_url": public_url,
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
            values = self.placeholder_values(public_url)
            self._sut = SutContainer(sut, values, self.evidence, self.run.run_id, published)
            try:
                self._sut.start()
                return published, public_url
            except SutError as exc:
                if PORT_TAKEN not in str(exc) or attempt == PORT_ATTEMPTS:
                    raise
                self.evidence.record(NOTE, f"a host port was taken between pick and bind ({exc}); new ports")
        raise AssertionError("unreachable")

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
        request = {"deviceId": device_id} | ({"profile": "PR1"} if self.profile == "PR1" else {})
        answer = self.control.call("register-device", request)
        if self.profile == "PR1":  # PR1 has no onboarding key: the operator expects the device
            self.devices[role] = SimulatedDevice(device_id, "", profile="PR1")
            return self.devices[role]
        exchange = self.run.sut.interop.onboarding
        key = ""
        if exchange.keys:  # a WOS without onboarding keys (declared) gives none
            key = control_member("register-device", answer, "/onboardingKey", str)
            redaction.learn(redaction.ONBOARDING_KEY, key)
            if not key:
                raise ControlError("control verb register-device gave an empty onboardingKey")
        self.devices[role] = SimulatedDevice(device_id, key, exchange=exchange)
        return self.devices[role]

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

    def send(self, method: str, path: str, judged_by: tuple[str, ...] = (), **kwargs: Any) -> Answer:
        """Send a device request; `judged_by` names the requirements its answer verifies."""
        self.judged_by = judged_by
        self.last_answer = self.client.request(method, path, **kwargs)
        return self.last_answer

    def download_root_certificate(self) -> Answer:
        return self.send("GET", "/onboarding/certificate", ("CRT-001",))

    def onboard(self, role: str = "device", key: str | None = None) -> Answer:
        device = self.device(role)
        if self.profile == "PR1":
            return onboard_pr1(self, device)
        body = device.exchange.request_body({
            "device_id": device.device_id,
            "onboarding_key": key if key is not None else device.onboarding_key,
            "serial_number": f"SN-{device.device_id}",
        })
        answer = self.send("POST", device.exchange.path, ("ONB-003",), json_body=body)
        if answer.status == 201:  # its members are read (and judged) when the device needs them
            device.onboarding_answer = answer
            for kind, value in device.declared_credentials():  # wherever the WOS declared them
                redaction.learn(kind, value)
            repository = pointer_value(answer.json(), device.exchange.answer.get("repository_url", ""))
            redaction.current().learn_url(repository)
        return answer

    def request_token(self, role: str = "device", secret: str | None = None) -> Answer:
        """Ask for a token with the device's client credentials; a 200 must carry one (TOK-003)."""
        device = self.device(role)
        form = {"grant_type": "client_credentials", "client_id": str(device.client_id),
                "client_secret": secret if secret is not None else device.client_secret}
        # A wrong secret must be refused like any invalid credential (TOK-005); a right one gets a token.
        judged_by = ("TOK-003",) if secret is None else ("TOK-005",)
        answer = self.send("POST", device.token_endpoint, judged_by, form=form)
        if answer.status == 200:
            device.access_token = access_token_of(answer)
        return answer

    def report_capabilities(self, document: Any, method: str = "POST", with_token: bool = True) -> Answer:
        device = self.device()
        self.sent_violations = validation_errors(document, "v24/device-capabilities")
        token = device.access_token if with_token else None
        # Accepting is CAP-002's; refusing a document that breaks the schema is the rows it breaks;
        # refusing a missing token is TOK-005's.
        broken = tuple(capability_rules.requirements_of(self.sent_violations))
        judged_by = ("TOK-005",) if not with_token else broken or ("CAP-002",)
        return self.send(method, f"/device/{device.device_id}/capabilities", judged_by, json_body=document,
                         token=token)

    def report_status(self, deployment_id: str, document: Any) -> Answer:
        device = self.device()
        self.sent_violations = validation_errors(document, "v24/deployment-status")
        path = f"/device/{device.device_id}/deployment/{deployment_id}/status"
        # A state Margo does not define breaks STS-004, any other schema error STS-003; a report
        # for a deployment never assigned, or a valid one, is the route's (STS-002).
        judged_by = status_rules.requirements_of(self.sent_violations) if self.sent_violations else ("STS-002",)
        if deployment_id not in self.deployments.values():
            judged_by = ("STS-002",)
        return self.send("POST", path, judged_by, json_body=document, token=device.access_token)

    def report_each_state(self, application: str) -> list[StateReport]:
        """Report every V24 state in both spellings, reading what is shown after each; stop at
        the first report that is not accepted."""
        deployment_id = self.deployment_id(application)
        components = application_components(application)
        self.state_reports = []
        for state in DEFINED_STATE_SPELLINGS:
            answer = self.report_status(deployment_id, status_report(deployment_id, components, state))
            shown = self.shown_status(application) if answer.status == 201 else None
            self.state_reports.append(StateReport(state, answer, shown))
            if shown is None:
                break
        return self.state_reports

    def read_repository(self, role: str = "device", as_role: str | None = "device") -> GitRead:
        """Clone `role`'s repository presenting the git token of `as_role` (None: no token)."""
        token = self.device(as_role).git_token if as_role is not None else None
        destination = self.workdir / f"read-{uuid.uuid4().hex[:6]}"
        self.last_read = read_repository(self.device(role).repository_url, token, destination, self.evidence,
                                         self.run.sut.timeouts.request)
        return self.last_read


def fetch_manifest(
    wos: WosUnderTest, accept: str | None = MANIFEST_ACCEPT, if_none_match: str | None = None
) -> Answer:
    """PR1: GET the device's state manifest; remembered in `wos.manifests` when it is a 200."""
    device = wos.device()
    client_id = device.client_id
    if client_id is None:
        raise StepOrderError("the device has not onboarded: add 'And the device has onboarded' (PR1)")
    headers = {k: v for k, v in (("Accept", accept), ("If-None-Match", if_none_match)) if v is not None}
    answer = wos.send("GET", f"/api/v1/clients/{client_id}/deployments", ("DSA-001",), headers=headers)
    if answer.status == 200:
        wos.manifests.append(answer)
    return answer


def onboard_pr1(wos: WosUnderTest, device: SimulatedDevice) -> Answer:
    """PR1 onboarding: the device presents its own (fresh, self-signed) X.509 certificate."""
    from margo_conformance.device.pr1 import onboarding_request

    answer = wos.send("POST", "/api/v1/onboarding", ("ONB-011",), json_body=onboarding_request(device.device_id))
    if answer.status == 201:  # `device.client_id` reads (and judges) it
        device.onboarding_answer = answer
    return answer


def control_member(verb: str, answer: dict[str, Any], pointer: str, kind: type | tuple[type, ...]) -> Any:
    """A member of a control verb's answer; a wrong shape is the adapter's fault, not a Margo
    failure (docs/control-adapter.md): the scenario is blocked (ERROR) naming the member."""
    fault = member_fault(answer, pointer, kind)
    if fault is not None:
        raise ControlError(f"control verb {verb}: the answer {fault} (docs/control-adapter.md)")
    return value_at(answer, pointer)


# -- documents the device sends ------------------------------------------------------------


def valid_capabilities(device_id: str, variant: int = 0) -> dict[str, Any]:
    files = sorted((PAYLOADS / "device-capabilities" / "valid").glob("*.json"))
    document = json.loads(files[variant % len(files)].read_text())
    document["properties"]["id"] = device_id
    return document


def defective_capabilities(device_id: str, defect: str) -> dict[str, Any]:
    if defect not in CAPABILITY_DEFECTS:
        raise StepOrderError(f"unknown capabilities defect {defect!r}; known: {sorted(CAPABILITY_DEFECTS)}")
    document = json.loads((PAYLOADS / "device-capabilities" / "invalid" / CAPABILITY_DEFECTS[defect]).read_text())
    if isinstance(document.get("properties"), dict):
        document["properties"]["id"] = device_id
    return document


def status_report(deployment_id: str, components: list[str], state: str) -> dict[str, Any]:
    """A V24 DeploymentStatus with the deployment and every component in `state`."""
    report: dict[str, Any] = {
        "apiVersion": "deployment.margo/v1",
        "kind": "DeploymentStatus",
        "deploymentId": deployment_id,
        "status": {"state": state},
        "components": [{"name": name, "state": state} for name in components],
    }
    if state.lower() == "failed":
        report["status"]["error"] = {"code": "E1", "message": "failed on purpose"}
    return report


def status_report_with_undefined_state(
    deployment_id: str, components: list[str], which: str
) -> dict[str, Any]:
    """A DeploymentStatus breaking only STS-004 the way `which` (a key of UNDEFINED_STATES) says."""
    if which not in UNDEFINED_STATES:
        raise StepOrderError(f"unknown undefined state {which!r}; known: {list(UNDEFINED_STATES)}")
    overall, last_component = UNDEFINED_STATES[which]
    report = status_report(deployment_id, components, "Installing")
    report["status"]["state"] = overall
    report["components"][-1]["state"] = last_component
    return report


def application_request(name: str) -> dict[str, Any]:
    """The `application` of the deploy verb: a deployment fixture minus what the WOS assigns."""
    text = (APPLICATIONS / f"{name}.yaml").read_text()
    document = yaml.safe_load(text.replace("${DEPLOYMENT_ID}", "unassigned").replace(
        "${ARTIFACTS}", "http://artifacts.invalid"))
    return {
        "applicationId": document["metadata"]["annotations"]["applicationId"],
        "name": document["metadata"]["name"],
        "namespace": document["metadata"]["namespace"],
        "deploymentProfile": copy.deepcopy(document["spec"]["deploymentProfile"]),
        "parameters": copy.deepcopy(document["spec"]["parameters"]),
    }


def application_components(name: str) -> list[str]:
    return [c["name"] for c in application_request(name)["deploymentProfile"]["components"]]
