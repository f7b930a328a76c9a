"""The bad requests the robustness feature sends a WOS, the walk that sends them, and the
verdicts read from it: the table on its own, then the walk against the reference WOS running
in this process, with and without its robustness faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.base.schemas import validation_errors
from margo_conformance.emulated_device.client import Answer
from margo_conformance.scenario.wos_bad_request_walk import (
    Exchange,
    Walk,
    answered_with_server_errors,
    endpoints_without_refusal,
    failed_endpoints,
    failed_follow_ups,
    judged_part,
    not_refused,
    not_refused_as_client_errors,
    not_refused_requirements,
    open_ambiguities,
    open_part,
    open_reasons,
    problem_body_fault,
    refusal_requirements,
    refusals_without_problem_body,
    valid_request,
    walk,
)
from margo_conformance.scenario.wos_bad_requests import (
    BAD_REQUESTS,
    CAPABILITIES,
    ENDPOINTS,
    EVERY_KIND,
    ONBOARDING,
    OVERSIZED_BYTES,
    STATUS,
    TOKEN,
    bad_requests,
    kinds_named,
)
from margo_conformance.scenario.wos_device import SimulatedDevice
from tests.reference_wos import wos_under_test

DEPLOYMENT_ID = "0b7e2a4c-2f1d-4a55-9d53-7f43c1e0a111"
SCHEMA = {
    ONBOARDING: "v24/onboarding-request",
    CAPABILITIES: "v24/device-capabilities",
    STATUS: "v24/deployment-status",
}
DOCUMENT_DEFECTS = (
    "a document of the wrong kind",
    "a document of the wrong apiVersion",
    "a document with a field of the wrong type",
    "a document without a required field",
)


class _Device:
    """Just enough of WosUnderTest for `valid_request`."""

    def __init__(self) -> None:
        self.simulated = SimulatedDevice(
            "dev-1",
            "k-1",
            _answer(
                201,
                {"clientId": "client-1", "clientSecret": "s", "tokenEndpoint": "http://wos/oauth/token"},
                "application/json",
            ),
            access_token="t-1",
        )

    def device(self, role: str = "device") -> SimulatedDevice:
        return self.simulated


def _valid(endpoint: str) -> Any:
    return valid_request(_Device(), endpoint, DEPLOYMENT_ID)  # type: ignore[arg-type]


def _answer(
    status: int | None, body: Any = b"", content_type: str = "application/problem+json"
) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer("POST", "http://wos/x", status, {"content-type": content_type}, raw, 0.01)


# -- the table ----------------------------------------------------------------------------


def test_every_kind_applies_to_every_request_but_the_two_a_form_cannot_carry() -> None:
    missing = {
        (kind, endpoint)
        for kind in BAD_REQUESTS
        for endpoint in ENDPOINTS
        if endpoint not in BAD_REQUESTS[kind]
    }
    assert missing == {
        ("a document of the wrong apiVersion", TOKEN),
        ("a document with a field of the wrong type", TOKEN),
    }
    assert kinds_named(EVERY_KIND) == list(BAD_REQUESTS)
    assert kinds_named("a body that is not JSON") == ["a body that is not JSON"]


@pytest.mark.parametrize("endpoint", [ONBOARDING, CAPABILITIES, STATUS])
def test_valid_documents_pass_their_schema(endpoint: str) -> None:
    assert validation_errors(_valid(endpoint).json_body, SCHEMA[endpoint]) == []


@pytest.mark.parametrize("kind", DOCUMENT_DEFECTS)
@pytest.mark.parametrize("endpoint", [ONBOARDING, CAPABILITIES, STATUS])
def test_document_defects_break_exactly_one_rule(kind: str, endpoint: str) -> None:
    valid = _valid(endpoint)
    (bad,) = bad_requests(kind, endpoint, valid)
    errors = validation_errors(bad.json_body, SCHEMA[endpoint])
    assert len(errors) == 1, errors
    assert (bad.path, bad.token) == (valid.path, valid.token)  # only the body changes
    assert validation_errors(valid.json_body, SCHEMA[endpoint]) == []  # the valid one is untouched


@pytest.mark.parametrize("endpoint", [ONBOARDING, CAPABILITIES, STATUS])
def test_a_body_that_is_not_json_is_cut_short_json(endpoint: str) -> None:
    (bad,) = bad_requests("a body that is not JSON", endpoint, _valid(endpoint))
    assert bad.json_body is None and bad.headers == {"Content-Type": "application/json"}
    assert bad.raw_body is not None and bad.raw_body.startswith(b"{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.raw_body)


def test_token_requests_go_wrong_the_way_a_form_can() -> None:
    valid = _valid(TOKEN)
    assert valid.form == {
        "grant_type": "client_credentials",
        "client_id": "client-1",
        "client_secret": "s",
    }
    (not_a_form,) = bad_requests("a body that is not JSON", TOKEN, valid)
    assert not_a_form.form is None and not_a_form.json_body == valid.form
    (other_grant,) = bad_requests("a document of the wrong kind", TOKEN, valid)
    assert other_grant.form is not None and other_grant.form["grant_type"] == "password"
    (no_grant,) = bad_requests("a document without a required field", TOKEN, valid)
    assert no_grant.form is not None and "grant_type" not in no_grant.form
    (unknown,) = bad_requests(
        "a request for a device or deployment the orchestrator does not know", TOKEN, valid
    )
    assert unknown.form is not None and unknown.form["client_id"].startswith("client-unknown-")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_larger_than_a_megabyte_is_otherwise_valid(endpoint: str) -> None:
    valid = _valid(endpoint)
    (bad,) = bad_requests("a body larger than a megabyte", endpoint, valid)
    if endpoint == TOKEN:
        assert bad.form is not None and len(bad.form["padding"]) == OVERSIZED_BYTES
        assert {k: v for k, v in bad.form.items() if k != "padding"} == valid.form
    else:
        assert len(json.dumps(bad.json_body)) > OVERSIZED_BYTES > 1024 * 1024
        assert validation_errors(bad.json_body, SCHEMA[endpoint]) == []


def test_unknown_devices_and_deployments_are_named_consistently() -> None:
    kind = "a request for a device or deployment the orchestrator does not know"
    (onboarding,) = bad_requests(kind, ONBOARDING, _valid(ONBOARDING))
    assert onboarding.json_body["deviceId"].startswith("dev-unknown-")
    (capabilities,) = bad_requests(kind, CAPABILITIES, _valid(CAPABILITIES))
    device_in_path = capabilities.path.split("/")[2]
    assert device_in_path.startswith("dev-unknown-")
    assert capabilities.json_body["properties"]["id"] == device_in_path  # valid for that device
    other_device, other_deployment = bad_requests(kind, STATUS, _valid(STATUS))
    assert other_device.path.split("/")[2].startswith("dev-unknown-")
    assert other_device.path.endswith(f"/deployment/{DEPLOYMENT_ID}/status")
    unknown = other_deployment.json_body["deploymentId"]
    assert unknown != DEPLOYMENT_ID
    assert other_deployment.path == f"/device/dev-1/deployment/{unknown}/status"


# -- verdicts -------------------------------------------------------------------------------


def _problem_corpus(verdict: str) -> list[Path]:
    return sorted((FIXTURES_DIR / "payloads" / "v24" / "problem-details" / verdict).glob("*.json"))


@pytest.mark.parametrize("path", _problem_corpus("valid"), ids=lambda p: p.stem)
def test_a_problem_body_matching_its_status_is_enough(path: Path) -> None:
    body = json.loads(path.read_text())
    assert problem_body_fault(CAPABILITIES, _answer(body["status"], body)) == ""
    mismatched = problem_body_fault(CAPABILITIES, _answer(body["status"] + 1, body))
    assert "whose status is" in mismatched


@pytest.mark.parametrize("path", _problem_corpus("invalid"), ids=lambda p: p.stem)
def test_a_body_breaking_the_problem_schema_is_named(path: Path) -> None:
    body = json.loads(path.read_text())
    assert problem_body_fault(STATUS, _answer(422, body)).startswith("422 with a problem body that")


def test_a_bare_or_mislabelled_refusal_is_named() -> None:
    assert problem_body_fault(ONBOARDING, _answer(400, b"Bad Request", "text/plain")) == (
        "400 as text/plain, not application/problem+json: 'Bad Request'"
    )
    body = {"type": "about:blank", "title": "Bad Request", "status": 400}
    assert "as application/json, not" in problem_body_fault(
        STATUS, _answer(400, body, "application/json")
    )


def test_the_token_endpoint_may_answer_an_oauth_error_body() -> None:
    oauth = {"error": "invalid_client", "error_description": "unknown client"}
    assert problem_body_fault(TOKEN, _answer(401, oauth, "application/json")) == ""
    assert problem_body_fault(CAPABILITIES, _answer(401, oauth, "application/json")) != ""
    assert problem_body_fault(TOKEN, _answer(401, b"nope", "text/plain")) != ""


def test_verdicts_read_a_walk() -> None:
    record = Walk(
        ["a body that is not JSON"],
        [
            Exchange(
                ONBOARDING,
                "a body that is not JSON",
                _answer(400, {"type": "about:blank", "title": "Bad Request", "status": 400}),
            ),
            Exchange(ONBOARDING, None, _answer(201, {})),
            Exchange(TOKEN, "a body that is not JSON", _answer(500, b"boom", "text/plain")),
            Exchange(TOKEN, None, _answer(None)),
        ],
        not_reached={CAPABILITIES: "no token", STATUS: "no token"},
    )
    assert not_refused_as_client_errors(record) == [
        "token request with a body that is not JSON: 500"
    ]
    assert failed_follow_ups(record) == [
        "TOK-003: token request with the valid request: no usable answer after 0.0s () "
        "(expected 200)",
        "capabilities report not sent: no token",
        "status report not sent: no token",
    ]
    assert refusals_without_problem_body(record) == [
        "token request with a body that is not JSON: 500 as text/plain, "
        "not application/problem+json: 'boom'"
    ]
    assert endpoints_without_refusal(record) == [
        "capabilities report: no token",
        "status report: no token",
    ]
    assert record.summary().startswith("onboarding request with a body that is not JSON: 400; ")
    # A 500 is a refusal as V24 states it (ERR-001 allows any 4xx or 5xx): advised against, not failed.
    assert answered_with_server_errors(record) == ["token request with a body that is not JSON: 500"]
    assert not_refused(record) == []
    assert not_refused_requirements(record) == []
    assert refusal_requirements(record) == ["ERR-001", "ONB-003", "TOK-003"]
    assert failed_endpoints(record) == [TOKEN]


# -- the walk against the reference WOS, in this process ------------------------------------


def _walk(tmp_path: Path, faults: str, kinds: list[str]) -> Walk:
    with wos_under_test(tmp_path, faults) as wos:
        wos.register_device()
        return walk(wos, kinds)


def test_the_reference_wos_refuses_every_bad_request_and_keeps_serving(tmp_path: Path) -> None:
    record = _walk(tmp_path, "", kinds_named(EVERY_KIND))
    assert len(record.bad()) == 3 * 7 + 5 + 1  # the status report has two unknowns
    assert [e.answer.status for e in record.valid()] == [201, 200, 201, 201]
    assert not_refused_as_client_errors(record) == []
    assert failed_follow_ups(record) == []
    assert refusals_without_problem_body(record) == []
    assert endpoints_without_refusal(record) == []


@pytest.mark.parametrize(
    "fault,kind,verdict,expected",
    [
        (
            "crash-on-malformed-json",
            "a body that is not JSON",
            not_refused_as_client_errors,
            [f"{e} with a body that is not JSON: 500" for e in (ONBOARDING, CAPABILITIES, STATUS)],
        ),
        (
            "oversized-500",
            "a body larger than a megabyte",
            not_refused_as_client_errors,
            [f"{e} with a body larger than a megabyte: 500" for e in ENDPOINTS],
        ),
        (
            "refusal-locks-device",
            "a document of the wrong kind",
            failed_follow_ups,
            [
                f"{r}: {e} with the valid request: 503 (expected 201)"
                for r, e in (("CAP-002", CAPABILITIES), ("STS-002", STATUS))
            ],
        ),
    ],
)
def test_each_robustness_fault_shows_in_its_verdict(
    tmp_path: Path, fault: str, kind: str, verdict: Any, expected: list[str]
) -> None:
    assert verdict(_walk(tmp_path, fault, [kind])) == expected


@pytest.mark.parametrize(
    "fault,kind,expected",
    [
        # A 500 is a refusal as V24 states it: nothing broken (the 4xx is advised, not required).
        ("crash-on-malformed-json", "a body that is not JSON", []),
        ("accept-capabilities-without-serial", "a document without a required field", ["CAP-003"]),
    ],
)
def test_a_bad_request_not_refused_names_what_it_breaks(tmp_path: Path, fault: str, kind: str,
                                                        expected: list[str]) -> None:
    # Accepted: the rules of what was sent (a capabilities document without a serial number, CAP-003).
    assert not_refused_requirements(judged_part(_walk(tmp_path, fault, [kind]))) == expected


def test_an_unanswered_bad_request_breaks_err_001_unless_its_endpoint_stopped_serving() -> None:
    silent = Exchange(CAPABILITIES, "a body that is not JSON", _answer(None))
    serving = Walk(["a body that is not JSON"], [silent, Exchange(CAPABILITIES, None, _answer(201, {}))])
    assert not_refused_requirements(serving) == ["ERR-001"]
    down = Walk(["a body that is not JSON"], [silent, Exchange(CAPABILITIES, None, _answer(None))])
    assert not_refused_requirements(down) == ["CAP-002"]


def test_what_v24_leaves_open_is_set_apart_for_advice() -> None:
    kinds = ["a document of the wrong apiVersion", "a body larger than a megabyte", "a body that is not JSON"]
    record = Walk(kinds, [
        Exchange(ONBOARDING, "a body that is not JSON", _answer(500, b"", "text/plain")),
        Exchange(CAPABILITIES, "a document of the wrong apiVersion", _answer(201, {})),
        Exchange(STATUS, "a body larger than a megabyte", _answer(500, b"", "text/plain")),
        Exchange(STATUS, "a body that is not JSON", _answer(400, {})),
    ])
    assert [e.endpoint for e in open_part(record).exchanges] == [ONBOARDING, CAPABILITIES, STATUS]
    assert open_ambiguities(open_part(record)) == ("I-13", "I-20")
    assert open_reasons(open_part(record)) == [
        "the onboarding body is TBD (I-20)", "no V24 schema constrains apiVersion (I-13)", "V24 sets no size limit"]
    assert [e.describe() for e in judged_part(record).exchanges] == ["status report with a body that is not JSON: 400"]


def test_refusals_without_a_problem_body_are_listed_per_request(tmp_path: Path) -> None:
    record = _walk(tmp_path, "no-problem-body", ["a document of the wrong kind"])
    assert not_refused_as_client_errors(record) == []
    assert refusals_without_problem_body(record) == [
        "onboarding request with a document of the wrong kind: 400 as text/plain, not "
        "application/problem+json: 'Bad Request'",
        "token request with a document of the wrong kind: 400 as text/plain, not "
        "application/problem+json: 'Bad Request'",
        "capabilities report with a document of the wrong kind: 422 as text/plain, not "
        "application/problem+json: 'Unprocessable Entity'",
        "status report with a document of the wrong kind: 422 as text/plain, not "
        "application/problem+json: 'Unprocessable Entity'",
    ]


def test_a_device_that_cannot_onboard_stops_the_walk_and_says_why(tmp_path: Path) -> None:
    with wos_under_test(tmp_path) as wos:
        wos.register_device().onboarding_key = "not-the-key"
        record = walk(wos, ["a body that is not JSON"])
    assert [e.endpoint for e in record.exchanges] == [ONBOARDING, ONBOARDING]
    assert (
        failed_follow_ups(record)[0]
        == "ONB-003: onboarding request with the valid request: 403 (expected 201)"
    )
    assert set(record.not_reached) == {TOKEN, CAPABILITIES, STATUS}


# -- the steps' checks: what V24 states is a requirement, the suite's choices are advisory ----


class _WalkedWos:
    """Just enough of WosUnderTest for the robustness Then steps: the walk they read."""

    def __init__(self, record: Walk) -> None:
        self.walk = record


def _checks_of_steps(record: Walk) -> list[Any]:
    from steps.wos.robustness import (
        each_refusal_is_a_client_error_as_the_suite_advises,
        every_refusal_carries_a_problem_body_as_the_suite_advises,
        the_orchestrator_refuses_every_bad_request,
        the_valid_request_after_each_refusal_succeeds,
    )

    from margo_conformance.checks.expect import scenario_ledger

    wos: Any = _WalkedWos(record)
    with scenario_ledger() as ledger:
        the_orchestrator_refuses_every_bad_request(wos)
        each_refusal_is_a_client_error_as_the_suite_advises(wos)
        every_refusal_carries_a_problem_body_as_the_suite_advises(wos)
        the_valid_request_after_each_refusal_succeeds(wos)
    return ledger.checks


def _served(endpoint: str, kind: str, bad: Answer) -> list[Exchange]:
    return [Exchange(endpoint, kind, bad), Exchange(endpoint, None, _answer(201 if endpoint != TOKEN else 200, {}))]


@pytest.mark.parametrize(
    "kind,bad",
    [
        ("a body that is not JSON", _answer(500, b"Internal Server Error", "text/plain")),  # crash-on-malformed-json
        ("a document of the wrong kind", _answer(422, b"Unprocessable Entity", "text/plain")),  # no-problem-body
        ("a body larger than a megabyte", _answer(500, b"Internal Server Error", "text/plain")),  # oversized-500
        ("a body larger than a megabyte", _answer(201, {})),  # V24 sets no size limit: accepting is not wrong
    ],
)
def test_the_suites_v24_choices_are_advisory_never_failures(kind: str, bad: Answer) -> None:
    from margo_conformance.checks.expect import ADVISORY

    checks = _checks_of_steps(Walk([kind], _served(CAPABILITIES, kind, bad)))
    assert all(c.passed for c in checks if c.kind != ADVISORY)
    findings = [c for c in checks if c.kind == ADVISORY and not c.passed]
    assert findings and all("ERR-001" in c.requirements for c in findings)


def test_a_bad_request_accepted_or_unanswered_still_fails_what_v24_states() -> None:
    from margo_conformance.checks.expect import CheckFailed

    accepted = Walk(["a document without a required field"],
                    _served(CAPABILITIES, "a document without a required field", _answer(201, {})))
    with pytest.raises(CheckFailed) as failure:
        _checks_of_steps(accepted)
    assert failure.value.requirements == ("CAP-003",)
    unanswered = Walk(["a body that is not JSON"], _served(STATUS, "a body that is not JSON", _answer(None)))
    with pytest.raises(CheckFailed) as failure:
        _checks_of_steps(unanswered)
    assert failure.value.requirements == ("ERR-001",)


def test_a_wos_that_stops_serving_after_a_refusal_fails_the_endpoints_requirement() -> None:
    from margo_conformance.checks.expect import CheckFailed

    kind = "a body that is not JSON"
    record = Walk([kind], [Exchange(STATUS, kind, _answer(400, {})), Exchange(STATUS, None, _answer(503))])
    with pytest.raises(CheckFailed) as failure:
        _checks_of_steps(record)
    assert failure.value.requirements == ("STS-002",)
