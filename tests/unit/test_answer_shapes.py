"""Wrong shapes are failures: every parser of what a SUT sent, given each kind of wrong shape.

WOS role: each parser of a WOS answer must raise `CheckFailed` naming the member it reads and
the requirement that hands it out, never a KeyError, TypeError or JSONDecodeError (which would
end the scenario in ERROR and hide what the WOS got wrong). Control-adapter answers are the
adapter's contract, not Margo's: a wrong shape blocks the scenario (`ControlError`), naming the
member. Agent role: the emulated WOS answers each wrongly shaped document with a 4xx (never a
5xx) and keeps the document with an error naming the member, for the step that judges it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from steps.agent.status import the_agent_reported_the_status_of_no_deployment_the_orchestrator_never_assigned as step

from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.message_signatures import new_identity
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.checks.expect import CheckFailed
from margo_conformance.checks.shapes import member_fault, pointer_tokens, read_member
from margo_conformance.config.run_config import RunConfig, load_sut_file
from margo_conformance.dialects import PR1, dialect_for
from margo_conformance.emulated_device.client import Answer
from margo_conformance.emulated_device.control import ControlError, _json_object
from margo_conformance.emulated_device.git_reader import parse_yaml_files
from margo_conformance.emulated_device.pr1 import (
    bundle_problems,
    document_problems,
    listed_ids,
    manifest_of,
    manifest_version,
    onboarding_request,
)
from margo_conformance.emulated_wos.manifest import BUNDLE_MEDIA_TYPE, digest_of
from margo_conformance.emulated_wos.server import EmulatedWos
from margo_conformance.emulated_wos.state import DeviceRecord, Refusal
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_bad_request_walk import problem_body_fault
from margo_conformance.scenario.wos_bad_requests import CAPABILITIES as CAPABILITIES_REPORT
from margo_conformance.scenario.wos_device import SimulatedDevice, access_token_of

# -- the defects ------------------------------------------------------------------------------

MISSING = "missing member"
WRONG_TYPE = "wrong type"
EXTRA_NESTING = "extra nesting"
NOT_JSON = "not JSON"
EMPTY = "empty body"
TOP_LEVEL = "wrong top-level type"
DEFECTS = (MISSING, WRONG_TYPE, EXTRA_NESTING, NOT_JSON, EMPTY, TOP_LEVEL)


def _parent(document: Any, tokens: list[str]) -> Any:
    for token in tokens:
        document = document[int(token)] if isinstance(document, list) else document[token]
    return document


def _set(container: Any, token: str, value: Any) -> None:
    if isinstance(container, list):
        container[int(token)] = value
    else:
        container[token] = value


def broken_body(document: Any, pointer: str, defect: str) -> bytes:
    """The bytes of `document` with `defect` at the member `pointer`."""
    if defect == NOT_JSON:
        return json.dumps(document).encode()[:-3] + b"{,"
    if defect == EMPTY:
        return b""
    if defect == TOP_LEVEL:
        return json.dumps([document]).encode()
    document = copy.deepcopy(document)
    tokens = pointer_tokens(pointer)
    parent = _parent(document, tokens[:-1])
    if defect == MISSING:
        parent.pop(int(tokens[-1])) if isinstance(parent, list) else parent.pop(tokens[-1])
    elif defect == WRONG_TYPE:
        value = _parent(parent, tokens[-1:])
        _set(parent, tokens[-1], {"items": value} if isinstance(value, list) else [value])
    elif len(tokens) == 1:  # extra nesting of a top-level member: the whole answer one level down
        document = {"data": document}
    else:  # extra nesting: the member's object wrapped in one more
        grandparent = _parent(document, tokens[:-2])
        _set(grandparent, tokens[-2], {"nested": parent})
    return json.dumps(document).encode()


def _container(pointer: str) -> str:
    """The pointer of the object holding the member at `pointer` ("" for a top-level member)."""
    return pointer.rpartition("/")[0]


def _answer(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer("GET", "http://wos/x", status, headers or {"content-type": "application/json"}, body, 0.01)


# -- the parsers of WOS answers -----------------------------------------------------------------

CLIENT_ID = "client-1"
DEPLOYMENT_YAML = b"apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\nid: d-1\n"
DEPLOYMENT_DIGEST = digest_of(DEPLOYMENT_YAML)

V24_ONBOARDING = {
    "apiVersion": "onboarding.margo/v1", "kind": "OnboardingResponse", "deviceId": "dev-1",
    "clientId": CLIENT_ID, "clientSecret": "secret", "tokenEndpoint": "http://wos/oauth/token",
    "desiredState": {"type": "git", "url": "http://wos/git/dev-1.git", "branch": "main", "accessToken": "git-t"},
}
TOKEN_ANSWER = {"access_token": "t-1", "token_type": "Bearer", "expires_in": 3600}
PR1_ONBOARDING = {"clientId": CLIENT_ID}
MANIFEST = {
    "manifestVersion": 2,
    "bundle": {"mediaType": BUNDLE_MEDIA_TYPE, "digest": "sha256:" + "0" * 64,
               "url": f"/api/v1/clients/{CLIENT_ID}/bundles/sha256:{'0' * 64}"},
    "deployments": [{"deploymentId": "d-1", "digest": DEPLOYMENT_DIGEST,
                     "url": f"/api/v1/clients/{CLIENT_ID}/deployments/d-1/{DEPLOYMENT_DIGEST}"}],
}


def _served(url: str) -> Answer:
    return _answer(DEPLOYMENT_YAML, headers={"content-type": "application/yaml", "etag": f'"{DEPLOYMENT_DIGEST}"'})


def _v24_device(body: bytes) -> SimulatedDevice:
    return SimulatedDevice("dev-1", "k-1", _answer(body, 201))


def _pr1_device(body: bytes) -> SimulatedDevice:
    return SimulatedDevice("dev-1", "", _answer(body, 201), dialect=PR1)


@dataclass(frozen=True)
class Parser:
    """One parser of a WOS answer: how it is given a body, the valid body, the member it reads."""

    name: str
    parse: Callable[[bytes], object]
    valid: Any
    pointer: str
    requirement: str


PARSERS = [
    Parser("onboarding clientId", lambda b: _v24_device(b).member("client_id"), V24_ONBOARDING, "/clientId", "ONB-003"),
    Parser("onboarding clientSecret", lambda b: _v24_device(b).member("client_secret"), V24_ONBOARDING, "/clientSecret",
           "ONB-003"),
    Parser("onboarding tokenEndpoint", lambda b: _v24_device(b).member("token_endpoint"), V24_ONBOARDING,
           "/tokenEndpoint", "ONB-003"),
    Parser("onboarding repository url", lambda b: _v24_device(b).member("repository_url"), V24_ONBOARDING,
           "/desiredState/url", "ONB-004"),
    Parser("onboarding git token", lambda b: _v24_device(b).member("git_token"), V24_ONBOARDING,
           "/desiredState/accessToken", "ONB-004"),
    Parser("token answer", lambda b: access_token_of(_answer(b)), TOKEN_ANSWER, "/access_token", "TOK-003"),
    Parser("PR1 onboarding clientId", lambda b: _pr1_device(b).member("client_id"), PR1_ONBOARDING, "/clientId",
           "ONB-011"),
    Parser("manifest version", lambda b: manifest_version(_answer(b)), MANIFEST, "/manifestVersion", "DSA-007"),
    Parser("manifest deployments", lambda b: listed_ids(_answer(b)), MANIFEST, "/deployments", "DSA-010"),
    Parser("manifest deploymentId", lambda b: listed_ids(_answer(b)), MANIFEST, "/deployments/0/deploymentId",
           "DSA-010"),
    Parser("manifest documents", lambda b: document_problems(manifest_of(_answer(b)), CLIENT_ID, _served), MANIFEST,
           "/deployments/0/url", "DSA-010"),
    Parser("manifest digests", lambda b: document_problems(manifest_of(_answer(b)), CLIENT_ID, _served), MANIFEST,
           "/deployments/0/digest", "DSA-010"),
    Parser("manifest bundle", lambda b: bundle_problems(manifest_of(_answer(b)), CLIENT_ID, {}, _served), MANIFEST,
           "/bundle", "DSA-008"),
    Parser("manifest bundle url", lambda b: bundle_problems(manifest_of(_answer(b)), CLIENT_ID, {}, _served),
           MANIFEST, "/bundle/url", "DSA-009"),
]
_TOP_LEVEL_REQUIREMENT = {"DSA-007": "DSA-001", "DSA-008": "DSA-001", "DSA-009": "DSA-001", "DSA-010": "DSA-001"}


@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
def test_a_valid_answer_reads_without_a_failure(parser: Parser) -> None:
    parser.parse(json.dumps(parser.valid).encode())


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
def test_a_wrong_shape_fails_the_requirement_naming_the_member(parser: Parser, defect: str) -> None:
    body = broken_body(parser.valid, parser.pointer, defect)
    try:
        parser.parse(body)
    except CheckFailed as raised:
        failure, message = raised, str(raised)
    except Exception as exc:  # noqa: BLE001 - any other exception is the defect this test exists for
        pytest.fail(f"{parser.name} with a {defect}: {type(exc).__name__}: {exc} instead of a CheckFailed")
    else:
        pytest.fail(f"{parser.name} with a {defect} read without a failure")
    # A manifest that is not an object fails where it is read as one (DSA-001), before any member.
    expected = {parser.requirement, _TOP_LEVEL_REQUIREMENT.get(parser.requirement, parser.requirement)}
    assert failure.requirements[0] in expected and message.startswith(failure.requirements[0]), message
    if defect == NOT_JSON:
        assert "is not JSON" in message, message
    elif defect == EMPTY:
        assert "empty body" in message, message
    elif defect == TOP_LEVEL:
        assert "an array" in message and (parser.pointer in message or "(root)" in message), message
    elif defect == EXTRA_NESTING:
        # The first member read in the wrapped object is named, with where it sits instead.
        assert _container(parser.pointer) in message and "instead" in message, message
    else:
        assert parser.pointer in message, message


def test_a_v24_onboarding_answer_of_the_wrong_shape_says_whose_shape_it_is() -> None:
    device = _v24_device(json.dumps({k: v for k, v in V24_ONBOARDING.items() if k != "desiredState"}).encode())
    with pytest.raises(CheckFailed) as failure:
        _ = device.member("repository_url")
    message = str(failure.value)
    assert message.startswith("ONB-004: the onboarding answer has no member /desiredState (its members are ")
    assert "a string is expected at /desiredState/url" in message and "suite's documented V24 shape" in message


def test_member_fault_shows_names_and_types_never_values() -> None:
    fault = member_fault({"clientSecret": 12345, "other": "s3cr3t"}, "/clientSecret", str)
    assert fault == "has /clientSecret as an integer, not a string"
    assert "s3cr3t" not in (member_fault({"other": "s3cr3t"}, "/clientSecret", str) or "")


def test_a_boolean_is_no_integer() -> None:
    with pytest.raises(CheckFailed, match="/manifestVersion as a boolean"):
        read_member({"manifestVersion": True}, "/manifestVersion", int, requirement="DSA-007", what="the manifest")


# -- control-adapter answers: the adapter's contract, a wrong shape blocks the scenario -----------


class _Control:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def call(self, verb: str, request: dict[str, Any]) -> dict[str, Any]:
        return self.answer


def _wos(answer: dict[str, Any], tmp_path: Path) -> WosUnderTest:
    run = RunConfig(sut=load_sut_file(FIXTURES_DIR / "sut" / "reference-wos.yaml"), report_dir=tmp_path, run_id="t")
    wos = WosUnderTest(run=run, evidence=EvidenceLog(), workdir=tmp_path)
    wos._control = _Control(answer)
    wos.devices["device"] = SimulatedDevice("dev-1", "k-1")
    wos.deployments["hello-compose"] = "d-1"
    return wos


CONTROL = [
    ("register-device", lambda wos: wos.register_device(), {"onboardingKey": "k-1"}, "/onboardingKey"),
    ("deploy", lambda wos: wos.deploy("hello-compose"), {"deploymentId": "d-1"}, "/deploymentId"),
    ("deployment-status state", lambda wos: wos.shown_status("hello-compose"),
     {"state": "Installed", "components": [{"name": "a", "state": "Installed"}]}, "/state"),
    ("deployment-status components", lambda wos: wos.shown_status("hello-compose"),
     {"state": "Installed", "components": [{"name": "a", "state": "Installed"}]}, "/components"),
    ("deployment-status component", lambda wos: wos.shown_status("hello-compose"),
     {"state": "Installed", "components": [{"name": "a", "state": "Installed"}]}, "/components/0"),
]


# An empty components list is a valid answer, so a missing component is no defect.
CONTROL_DEFECTS = [
    pytest.param(*case, defect, id=f"{case[0]}-{defect}")
    for case in CONTROL
    for defect in (MISSING, WRONG_TYPE, EXTRA_NESTING)
    if (case[3], defect) != ("/components/0", MISSING)
]


@pytest.mark.parametrize(("verb", "call", "valid", "pointer", "defect"), CONTROL_DEFECTS)
def test_a_control_answer_of_the_wrong_shape_blocks_naming_the_member(
    verb: str, call: Callable[[WosUnderTest], object], valid: dict[str, Any], pointer: str, defect: str,
    tmp_path: Path,
) -> None:
    call(_wos(valid, tmp_path))  # the valid answer reads
    with pytest.raises(ControlError) as blocked:
        call(_wos(json.loads(broken_body(valid, pointer, defect)), tmp_path))
    message = str(blocked.value)
    assert message.startswith(f"control verb {verb.split()[0]}: "), message
    named = _container(pointer) if defect == EXTRA_NESTING else pointer
    assert named in message, message


@pytest.mark.parametrize("defect", (NOT_JSON, EMPTY, TOP_LEVEL))
def test_a_control_answer_that_is_no_json_object_blocks(defect: str) -> None:
    with pytest.raises(ControlError, match="not JSON|not a JSON object"):
        _json_object("deploy", broken_body({"deploymentId": "d-1"}, "/deploymentId", defect).decode())


# -- the agent role: what the emulated WOS reads from the agent ---------------------------------

PAYLOADS = FIXTURES_DIR / "payloads"
DEPLOYMENT_ID = "5b3f0d1e-7c2a-4e8f-9a6b-1d2c3e4f5a6b"


def _payload(profile: str, kind: str) -> Any:
    return json.loads(sorted((PAYLOADS / profile / kind / "valid").glob("*.json"))[0].read_text())


@pytest.fixture
def http(wos: EmulatedWos) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=wos.url_for_host, timeout=5) as client:
        yield client


def _v24_token(http: httpx.Client, device: DeviceRecord) -> dict[str, str]:
    body = {"apiVersion": "onboarding.margo/v1", "kind": "OnboardingRequest", "deviceId": device.device_id,
            "onboardingKey": device.onboarding_key}
    assert http.post("/onboarding/", json=body).status_code == 201
    token = http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": device.client_id,
                                             "client_secret": device.client_secret}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _certificate(device: DeviceRecord) -> bytes:
    return new_identity(device.device_id).certificate_der


def _pr1_onboard(http: httpx.Client, device: DeviceRecord) -> dict[str, str]:
    request = onboarding_request(_certificate(device))
    assert http.post("/api/v1/onboarding", json=request).status_code == 201
    return {}


#: Agent requests the emulated WOS reads: (profile, document kind, route, how the device authenticates,
#: a member of the document the defect is put at).
AGENT_REQUESTS = [
    ("v24", "device-capabilities", "/device/{device}/capabilities", _v24_token, "/properties/serialNumber"),
    ("v24", "device-capabilities", "/device/{device}/capabilities", _v24_token, "/properties/resources/memory"),
    ("v24", "deployment-status", "/device/{device}/deployment/{deployment}/status", _v24_token, "/status/state"),
    ("v24", "deployment-status", "/device/{device}/deployment/{deployment}/status", _v24_token, "/deploymentId"),
    ("pr1", "device-capabilities", "/api/v1/clients/{client}/capabilities", _pr1_onboard, "/properties/id"),
    ("pr1", "deployment-status", "/api/v1/clients/{client}/deployments/{deployment}/status", _pr1_onboard,
     "/status/state"),
]


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize(("profile", "kind", "route", "authenticate", "pointer"), AGENT_REQUESTS,
                         ids=[f"{r[0]}-{r[1]}-{r[4]}" for r in AGENT_REQUESTS])
def test_the_emulated_wos_refuses_a_wrong_shape_with_a_4xx_and_keeps_it_naming_the_member(
    wos: EmulatedWos, http: httpx.Client, evidence: EvidenceLog, profile: str, kind: str, route: str,
    authenticate: Callable[[httpx.Client, DeviceRecord], dict[str, str]], pointer: str, defect: str,
) -> None:
    device = wos.state.register_device(evidence)
    device.assign(DEPLOYMENT_ID)
    headers = authenticate(http, device) | {"Content-Type": "application/json"}
    document = _payload(profile, kind)
    if kind == "deployment-status":
        document["deploymentId"] = DEPLOYMENT_ID
    if kind == "device-capabilities":
        document["properties"]["id"] = device.device_id
    path = route.format(device=device.device_id, client=device.client_id, deployment=DEPLOYMENT_ID)
    assert http.post(path, content=json.dumps(document), headers=headers).status_code in (200, 201)

    response = http.post(path, content=broken_body(document, pointer, defect), headers=headers)

    assert 400 <= response.status_code < 500, f"{defect}: {response.status_code} {response.text[:200]}"
    assert response.headers["content-type"] == "application/problem+json"
    received = (device.capabilities if kind == "device-capabilities" else device.statuses[DEPLOYMENT_ID])[-1]
    assert received.errors, "the refused document is kept with what is wrong with it"
    named = " ".join(received.errors)
    if defect in (NOT_JSON, EMPTY, TOP_LEVEL):
        assert named.startswith("(root): "), named
    else:
        dotted = ".".join(pointer_tokens(pointer))
        top = pointer_tokens(pointer)[0]
        assert dotted in named or (defect == EXTRA_NESTING and top in named), named


ONBOARDING_REQUESTS = [
    ("/onboarding/", lambda device: {"apiVersion": "onboarding.margo/v1", "kind": "OnboardingRequest",
                                     "deviceId": device.device_id, "onboardingKey": device.onboarding_key},
     "/onboardingKey"),
    ("/api/v1/onboarding", lambda device: onboarding_request(_certificate(device)), "/certificate"),
]


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize(("path", "valid", "pointer"), ONBOARDING_REQUESTS, ids=["v24", "pr1"])
def test_an_onboarding_request_of_the_wrong_shape_gets_a_4xx_whose_problem_names_the_member(
    wos: EmulatedWos, http: httpx.Client, evidence: EvidenceLog, path: str,
    valid: Callable[[DeviceRecord], dict[str, Any]], pointer: str, defect: str,
) -> None:
    device = wos.state.register_device(evidence)
    response = http.post(path, content=broken_body(valid(device), pointer, defect),
                         headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, f"{defect}: {response.status_code} {response.text[:200]}"
    problem = response.json()
    fields = [e["field"] for e in problem.get("errors", [])]
    if defect in (NOT_JSON, EMPTY):
        assert "not JSON" in problem["detail"], problem
    elif defect == TOP_LEVEL:
        assert fields == ["(root)"], problem
    else:
        assert pointer.lstrip("/") in fields or defect == EXTRA_NESTING and fields, problem


@pytest.mark.parametrize(("form", "named"), [
    (None, "application/json"),
    ({"client_id": "c", "client_secret": "s"}, "grant_type is missing"),
    ({"grant_type": ["client_credentials"], "client_id": "c"}, None),
])
def test_a_token_request_of_the_wrong_shape_gets_a_400_saying_what_is_wrong(
    http: httpx.Client, form: dict[str, Any] | None, named: str | None
) -> None:
    if form is None:
        response = http.post("/oauth/token", json={"grant_type": "client_credentials"})
    else:
        response = http.post("/oauth/token", data=form)
    assert response.status_code in (400, 401), response.text
    if named is not None:
        assert named in response.json()["error_description"]


# -- git reading: whatever a WOS commits, every file is kept, parsed or saying why not -----------


def test_a_repository_of_odd_files_is_read_without_an_exception(tmp_path: Path) -> None:
    (tmp_path / "deployments").mkdir()
    (tmp_path / "deployments" / "binary.yaml").write_bytes(b"\xff\xfe\x00kind: x")
    (tmp_path / "deployments" / "broken.yaml").write_text("a: [unclosed")
    (tmp_path / "deployments" / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "deployments" / "folder.yaml").mkdir()
    documents = parse_yaml_files(tmp_path)
    assert documents["deployments/binary.yaml"] == "not YAML: the file is not UTF-8 text"
    assert str(documents["deployments/broken.yaml"]).startswith("not YAML: ")
    assert documents["deployments/list.yaml"] == ["a", "b"]
    assert "deployments/folder.yaml" not in documents


class _Agent:
    def __init__(self, profile: str, device: DeviceRecord) -> None:
        self.dialect = dialect_for(profile)
        self.device = device


@pytest.mark.parametrize(("profile", "requirement"), [("V24", "STS-003"), ("PR1", "STS-012")])
def test_the_status_step_fails_an_agent_that_reported_on_a_deployment_never_assigned(
    wos: EmulatedWos, evidence: EvidenceLog, profile: str, requirement: str
) -> None:
    device = wos.state.register_device(evidence)
    step(_Agent(profile, device))  # nothing refused: the check holds
    device.refuse(Refusal(0.0, "POST", "/device/d/deployment/x/status", 404, requirement,
                          "the route's {deploymentId}", "deployment x was never assigned to device d"))
    with pytest.raises(CheckFailed) as failure:
        step(_Agent(profile, device))
    assert failure.value.requirements == (requirement,)
    assert "{deploymentId}" in str(failure.value) and "never assigned" in str(failure.value)


PROBLEM = {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "the body is not JSON"}


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize("pointer", ["/title", "/status"])
def test_a_problem_body_of_the_wrong_shape_is_a_fault_naming_the_member(pointer: str, defect: str) -> None:
    answer = _answer(broken_body(PROBLEM, pointer, defect), 400, {"content-type": "application/problem+json"})
    fault = problem_body_fault(CAPABILITIES_REPORT, answer)
    assert fault, f"{defect} at {pointer} passed as a problem body"
    member = pointer.lstrip("/")
    assert member in fault or "(root)" in fault, fault
