"""The robustness walk: a device taking a WOS through its life with bad requests on the way.

`walk` takes the device through onboarding, access token, capabilities report and status
report, sending the chosen bad requests (wos_bad_requests.py) before the valid request at
each, and keeps every answer. The verdict functions below read the walk; they say what was
observed, so a failure message is evidence on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from margo_conformance.base import redaction
from margo_conformance.base.errors import StepOrderError
from margo_conformance.base.evidence import NOTE
from margo_conformance.base.schemas import validation_errors
from margo_conformance.emulated_device.client import Answer
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_bad_requests import (
    CAPABILITIES,
    ENDPOINTS,
    ONBOARDING,
    OVERSIZED,
    STATUS,
    TOKEN,
    Request,
    bad_requests,
)
from margo_conformance.scenario.wos_device import access_token_of
from margo_conformance.scenario.wos_documents import application_components, status_report, valid_capabilities

#: The answer a valid request gets, and the requirement that says so.
SUCCESS = {ONBOARDING: 201, TOKEN: 200, CAPABILITIES: 201, STATUS: 201}
REQUIREMENT = {ONBOARDING: "ONB-003", TOKEN: "TOK-003", CAPABILITIES: "CAP-002", STATUS: "STS-002"}
#: A bad request the WOS accepted breaks the rules of what is sent there (a capabilities document
#: without a serial number, CAP-003); one it answered with a 5xx or not at all breaks ERR-001.
ACCEPTED_BREAKS = {ONBOARDING: "ONB-003", TOKEN: "TOK-003", CAPABILITIES: "CAP-003", STATUS: "STS-003"}
SIGNALLING = "ERR-001"
#: Requests whose body the spec leaves open: the V24 onboarding body is "TBD" (I-20), so what a
#: WOS does with bad onboarding requests is reported as advisory, never as a failure.
OPEN_ENDPOINTS: dict[str, tuple[str, ...]] = {ONBOARDING: ("I-20",)}
#: Kinds of bad request the spec does not make bad: V24 spells apiVersion differently on every
#: page and no schema constrains it (I-13: never fail on the value), so an empty one is advisory;
#: V24 sets no size limit, so what a WOS does with a 2 MiB request (refuse it, accept it, fail
#: on it) is advisory too (ERR-001 names no limit, and no I-row speaks of one).
OPEN_KINDS: dict[str, tuple[str, ...]] = {"a document of the wrong apiVersion": ("I-13",), OVERSIZED: ()}
#: Why the answer is open, for the advisory message (endpoint or kind -> reason).
OPEN_WHY = {
    ONBOARDING: "the onboarding body is TBD (I-20)",
    "a document of the wrong apiVersion": "no V24 schema constrains apiVersion (I-13)",
    OVERSIZED: "V24 sets no size limit",
}
PROBLEM_MEDIA_TYPE = "application/problem+json"
#: The application deployed to the device so it has a deployment to report on.
APPLICATION = "hello-compose"


@dataclass(frozen=True)
class Exchange:
    endpoint: str
    kind: str | None  # the kind of bad request, None for the valid request
    answer: Answer

    def describe(self) -> str:
        what = self.kind or "the valid request"
        return f"{self.endpoint} with {what}: {_status_text(self.answer)}"

    def row(self) -> dict[str, str]:
        return {"request": self.endpoint, "sent": self.kind or "the valid request", "answer": _status_text(self.answer)}


@dataclass
class Walk:
    kinds: list[str]
    exchanges: list[Exchange] = field(default_factory=list)
    #: endpoint -> why the device could not get there (an earlier valid request failed)
    not_reached: dict[str, str] = field(default_factory=dict)

    def bad(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.kind is not None]

    def valid(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.kind is None]

    def summary(self) -> str:
        return "; ".join(e.describe() for e in self.exchanges)

    def answers(self) -> list[dict[str, str]]:
        """Every exchange of the walk as a row (request, what was sent, the answer): a check's
        `observed`, which the report shows as a table rather than a run-on line."""
        return [e.row() for e in self.exchanges]


def walk(wos: WosUnderTest, kinds: Sequence[str]) -> Walk:
    """Onboard, get a token, report capabilities and status, each after the bad requests."""
    record = Walk(list(kinds))
    device = wos.device()
    deployment_id: str | None = None
    for endpoint in ENDPOINTS:
        missing = _missing_prerequisite(endpoint, device.onboarding_answer, device.access_token)
        if missing:
            record.not_reached[endpoint] = missing
            continue
        if endpoint == STATUS and deployment_id is None:
            deployment_id = wos.deploy(APPLICATION)
        valid = valid_request(wos, endpoint, deployment_id)
        for kind in kinds:
            for request in bad_requests(kind, endpoint, valid):
                wos.evidence.record(NOTE, f"bad request: {endpoint} with {kind}", bad_request=kind)
                record.exchanges.append(Exchange(endpoint, kind, _send(wos, request)))
        answer = _send(wos, valid)
        record.exchanges.append(Exchange(endpoint, None, answer))
        _keep_what_the_device_was_given(wos, endpoint, answer)
    return record


def _send(wos: WosUnderTest, request: Request) -> Answer:
    return wos.send(request.method, request.path, **request.send_arguments())


def valid_request(wos: WosUnderTest, endpoint: str, deployment_id: str | None) -> Request:
    device = wos.device()
    if endpoint == ONBOARDING:
        values = {"device_id": device.device_id, "onboarding_key": device.onboarding_key,
                  "serial_number": f"SN-{device.device_id}"}
        return Request("POST", device.exchange.path, json_body=device.exchange.request_body(values))
    if endpoint == TOKEN:
        # The onboarding answer is read member by member: a wrong shape fails ONB-003 here.
        return Request(
            "POST",
            device.member("token_endpoint"),
            form={
                "grant_type": "client_credentials",
                "client_id": device.member("client_id"),
                "client_secret": device.member("client_secret"),
            },
        )
    if endpoint == CAPABILITIES:
        return Request(
            "POST",
            f"/device/{device.device_id}/capabilities",
            json_body=valid_capabilities(device.device_id),
            token=device.access_token,
        )
    if deployment_id is None:
        raise StepOrderError("a status report needs a deployment")
    report = status_report(deployment_id, application_components(APPLICATION), "Installing")
    return Request(
        "POST",
        f"/device/{device.device_id}/deployment/{deployment_id}/status",
        json_body=report,
        token=device.access_token,
    )


def _missing_prerequisite(endpoint: str, onboarding: object, access_token: str | None) -> str:
    if endpoint != ONBOARDING and onboarding is None:
        return "the device has no client credentials: its valid onboarding request failed"
    if endpoint in (CAPABILITIES, STATUS) and access_token is None:
        return "the device has no access token: its valid token request failed"
    return ""


def _keep_what_the_device_was_given(wos: WosUnderTest, endpoint: str, answer: Answer) -> None:
    if endpoint == ONBOARDING and answer.status == 201:
        wos.device().onboarding_answer = answer
    if endpoint == TOKEN and answer.status == 200:
        wos.device().access_token = access_token_of(answer)


# -- verdicts ---------------------------------------------------------------------------------


def _is_open(exchange: Exchange) -> bool:
    return exchange.kind is not None and (exchange.endpoint in OPEN_ENDPOINTS or exchange.kind in OPEN_KINDS)


def _open_rows(exchange: Exchange) -> tuple[str, ...]:
    return OPEN_ENDPOINTS.get(exchange.endpoint, ()) + OPEN_KINDS.get(exchange.kind or "", ())


def judged_part(record: Walk) -> Walk:
    """The walk without the bad requests sent where the spec leaves the body open: what the
    requirement checks judge."""
    kept = [e for e in record.exchanges if not _is_open(e)]
    return Walk(record.kinds, kept, dict(record.not_reached))


def open_part(record: Walk) -> Walk:
    """Only the bad requests sent where the spec leaves the body open: judged as advisory."""
    return Walk(record.kinds, [e for e in record.exchanges if _is_open(e)])


def open_ambiguities(record: Walk) -> tuple[str, ...]:
    return tuple(sorted({a for e in record.exchanges for a in _open_rows(e)}))


def open_reasons(record: Walk) -> list[str]:
    """Why V24 leaves the answers of these bad requests open, each reason once, in walk order."""
    reasons = [OPEN_WHY[key] for e in record.exchanges for key in (e.endpoint, e.kind) if key in OPEN_WHY]
    return list(dict.fromkeys(reasons))


def not_refused_as_client_errors(record: Walk) -> list[str]:
    """Bad requests that did not get a 4xx (the suite's choice where V24 allows any 4xx or 5xx)."""
    return [e.describe() for e in record.bad() if not _is_client_error(e.answer.status)]


def answered_with_server_errors(record: Walk) -> list[str]:
    """Bad requests refused with a 5xx: V24 allows it (ERR-001), the suite advises a 4xx."""
    return [e.describe() for e in record.bad() if _is_server_error(e.answer.status)]


def not_refused(record: Walk) -> list[str]:
    """Bad requests that V24 does not let pass: accepted (an answer below 400) or not answered
    with a status at all. A 4xx or a 5xx is a refusal as V24 states it (ERR-001)."""
    return [e.describe() for e in record.bad() if not _is_refusal(e.answer.status)]


def not_refused_requirements(record: Walk) -> list[str]:
    """What the bad requests `not_refused` lists break: the rules of their endpoint when they
    were accepted; when they got no answer, ERR-001 (a failure is answered with a status), or
    the endpoint's own requirement when its valid request failed too (it was not serving)."""
    down = set(failed_endpoints(record))

    def broken(exchange: Exchange) -> str:
        if exchange.answer.status is not None and exchange.answer.status < 400:
            return ACCEPTED_BREAKS[exchange.endpoint]
        return REQUIREMENT[exchange.endpoint] if exchange.endpoint in down else SIGNALLING

    return sorted({broken(e) for e in record.bad() if not _is_refusal(e.answer.status)})


def refusal_requirements(record: Walk) -> list[str]:
    """What refusing every bad request of the walk verifies: ERR-001 and the rules of each
    endpoint that got bad requests."""
    return sorted({SIGNALLING} | {ACCEPTED_BREAKS[e.endpoint] for e in record.bad()})


def failed_endpoints(record: Walk) -> list[str]:
    """The endpoints whose valid request, sent after the bad ones, did not succeed."""
    return sorted({e.endpoint for e in record.valid() if e.answer.status != SUCCESS[e.endpoint]})


def failed_follow_ups(record: Walk) -> list[str]:
    """Valid requests after the bad ones that did not succeed, and requests never reached."""
    failed = [
        f"{REQUIREMENT[e.endpoint]}: {e.describe()} (expected {SUCCESS[e.endpoint]})"
        for e in record.valid()
        if e.answer.status != SUCCESS[e.endpoint]
    ]
    return failed + [f"{endpoint} not sent: {why}" for endpoint, why in record.not_reached.items()]


def refusals_without_problem_body(record: Walk) -> list[str]:
    """Refusals (answers of 400 or more to bad requests) whose body does not say what is wrong."""
    found = []
    for exchange in record.bad():
        if exchange.answer.status is not None and exchange.answer.status >= 400:
            fault = problem_body_fault(exchange.endpoint, exchange.answer)
            if fault:
                found.append(f"{exchange.endpoint} with {exchange.kind}: {fault}")
    return found


def endpoints_without_refusal(record: Walk) -> list[str]:
    """Endpoints the walk could not show a refusal for (never reached, or nothing refused)."""
    refused = {
        e.endpoint for e in record.bad() if e.answer.status is not None and e.answer.status >= 400
    }
    return [
        f"{endpoint}: {record.not_reached.get(endpoint, 'no bad request was refused')}"
        for endpoint in ENDPOINTS
        if endpoint not in refused and endpoint not in OPEN_ENDPOINTS
    ]


def problem_body_fault(endpoint: str, answer: Answer) -> str:
    """'' if the answer's body says what is wrong the way the suite expects, else what is off.

    An RFC 9457 problem body (`application/problem+json`, the members of
    schemas/v24/problem-details, `status` equal to the answer's status); the token endpoint may
    answer an RFC 6749 error body (`{"error": "invalid_request", ...}`) instead.
    """
    body = answer.json()
    oauth_error = isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
    if endpoint == TOKEN and oauth_error:
        return ""
    media_type = _header(answer.headers, "content-type").split(";")[0].strip().lower()
    if media_type != PROBLEM_MEDIA_TYPE:
        shown = media_type or "(none)"
        return f"{answer.status} as {shown}, not {PROBLEM_MEDIA_TYPE}: {_body_text(answer)}"
    errors = validation_errors(body, "v24/problem-details")
    if errors:
        return f"{answer.status} with a problem body that {'; '.join(errors)}: {_body_text(answer)}"
    if body.get("status") != answer.status:
        return f"{answer.status} with a problem body whose status is {body.get('status')!r}"
    return ""


def _is_client_error(status: int | None) -> bool:
    return status is not None and 400 <= status < 500


def _is_server_error(status: int | None) -> bool:
    return status is not None and 500 <= status < 600


def _is_refusal(status: int | None) -> bool:
    return _is_client_error(status) or _is_server_error(status)


def _status_text(answer: Answer) -> str:
    if answer.status is None:
        return f"no usable answer after {answer.elapsed_s:.1f}s ({answer.problem})"
    return str(answer.status)


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _body_text(answer: Answer, limit: int = 120) -> str:
    text = redaction.redact_text(answer.body.decode("utf-8", errors="replace"))[:limit]  # redacted, then cut
    return repr(text + ("..." if len(answer.body) > limit else ""))
