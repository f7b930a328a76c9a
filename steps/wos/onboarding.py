"""WOS onboarding vocabulary: root certificate, onboarding answer, token endpoint."""

from __future__ import annotations

import base64
import binascii
import re

from pytest_bdd import then, when

from margo_conformance.base.schemas import validation_errors
from margo_conformance.checks.expect import advise, blocked, expect
from margo_conformance.checks.shapes import json_document, read_member
from margo_conformance.emulated_device.client import Answer
from margo_conformance.emulated_device.pr1 import onboarding_request
from margo_conformance.emulated_wos.pki import parse_certificate_field
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import NOT_JSON


@when("the device downloads the orchestrator's root certificate")
def the_device_downloads_the_orchestrators_root_certificate(wos: WosUnderTest) -> None:
    wos.download_root_certificate()


@then("the orchestrator answers with a certificate the device can parse")
def the_orchestrator_answers_with_a_certificate_the_device_can_parse(wos: WosUnderTest) -> None:
    answer, row = wos.answer(), wos.dialect.requirements.root_certificate
    # 1.0 serves it without a request signature (CRT-010): the device sent none.
    expect(row, answer.status == 200, f"the certificate download must answer 200; {answer.describe()}")
    body = answer.json()
    errors = validation_errors(body, wos.dialect.schema("root-certificate-response"))
    expect(row, not errors, f"the answer must be {{\"certificate\": <Base64>}}; {'; '.join(errors)}")
    try:
        certificate = parse_certificate_field(body["certificate"])
    except (ValueError, binascii.Error) as exc:
        expect(row, False, f"the certificate must decode as X.509 (Base64 of PEM or DER, I-22); {exc}")
        return
    expect(row, certificate.subject is not None, "the certificate must name its subject; it names none")


@when("the device onboards with its onboarding key")
def the_device_onboards_with_its_onboarding_key(wos: WosUnderTest) -> None:
    wos.onboard()


@when("the device onboards with a wrong onboarding key")
def the_device_onboards_with_a_wrong_onboarding_key(wos: WosUnderTest) -> None:
    wos.onboard(key=wos.device().onboarding_key + "-wrong")


@then("the orchestrator answers with the device's client credentials and token endpoint")
def the_orchestrator_answers_with_the_devices_client_credentials_and_token_endpoint(wos: WosUnderTest) -> None:
    answer = wos.answer()
    expect("ONB-003", answer.status == 201, f"onboarding a registered device must answer 201; {answer.describe()}")
    device = wos.device()
    # The V24 body is "TBD" (I-20): each credential is read where the SUT file declares it (or at
    # the suite's default place), and a missing one fails ONB-003 naming it.
    token_endpoint = device.member("token_endpoint")
    expect("ONB-003", bool(device.member("client_id") and device.member("client_secret")),
           "the onboarding answer must hand out a client id and a client secret; one of them is empty")
    public_url = wos.client.base_url
    # Everything beyond those members is the suite's documented shape, not the spec's: advisory.
    if not device.exchange.declared:
        errors = validation_errors(answer.json(), "v24/onboarding-response")
        advise("ONB-003", not errors, "the onboarding answer matches the suite's documented V24 shape "
               "(docs/v24-wire-contract.md section 2)", ambiguities=("I-20",), observed="; ".join(errors))
    advise("ONB-003", token_endpoint.startswith(public_url),
           f"the token endpoint is under the WOS's own address {public_url!r}", ambiguities=("I-20",),
           observed=token_endpoint)


@then("the answer names the device's desired-state repository and an access token for it")
def the_answer_names_the_devices_desired_state_repository_and_an_access_token_for_it(
    wos: WosUnderTest,
) -> None:
    read = wos.read_repository()
    expect(
        "ONB-004",
        read.ok,
        f"the repository the WOS named ({wos.device().member('repository_url')}) must be readable with the "
        f"access token it issued; {read.detail}",
    )


@when("the device asks for an access token with its client credentials")
def the_device_asks_for_an_access_token_with_its_client_credentials(wos: WosUnderTest) -> None:
    wos.request_token()


@when("the device asks for an access token with a wrong client secret")
def the_device_asks_for_an_access_token_with_a_wrong_client_secret(wos: WosUnderTest) -> None:
    wos.request_token(secret="not-the-secret")


@then("the orchestrator issues a bearer token with its lifetime")
def the_orchestrator_issues_a_bearer_token_with_its_lifetime(wos: WosUnderTest) -> None:
    answer = wos.answer()
    expect("TOK-003", answer.status == 200, f"valid client credentials must get a token (200); {answer.describe()}")
    errors = validation_errors(answer.json(), "v24/token-response")
    expect("TOK-003", not errors, "the token answer must match its schema; it violates it: " + "; ".join(errors))


# -- 1.0: onboarding with the device's own certificate (ONB-011..ONB-013, ERR-002) -------------

#: RFC 3986 unreserved characters: what a client id may hold to sit in a path as it is (ONB-013).
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
ONBOARDING_ANSWER = "the onboarding answer"


@when("the device onboards with its certificate")
def the_device_onboards_with_its_certificate(wos: WosUnderTest) -> None:
    wos.onboard()


@when("another device onboards with its own certificate")
def another_device_onboards_with_its_own_certificate(wos: WosUnderTest) -> None:
    wos.register_device("other")
    wos.onboard("other")


@when("the device onboards with a certificate that is not X.509")
def the_device_onboards_with_a_certificate_that_is_not_x509(wos: WosUnderTest) -> None:
    identity = wos.device().identity
    request = onboarding_request(identity.certificate_der if identity is not None else b"")
    request["certificate"] = base64.b64encode(b"this is not a certificate").decode("ascii")
    wos.onboard_with(request)


@when("the device onboards with a body that is not JSON")
def the_device_onboards_with_a_body_that_is_not_json(wos: WosUnderTest) -> None:
    wos.onboard_with(raw_body=NOT_JSON)


def _client_id(answer: Answer) -> str:
    """The clientId of a 201 onboarding answer, or a failed ONB-011 naming what is wrong."""
    document = json_document(answer.body, requirement="ONB-011", what=ONBOARDING_ANSWER)
    return read_member(document, "/clientId", str, requirement="ONB-011", what=ONBOARDING_ANSWER)


@then("the orchestrator answers with a client id that is safe in a URL")
def the_orchestrator_answers_with_a_client_id_that_is_safe_in_a_url(wos: WosUnderTest) -> None:
    answer = wos.answer()
    expect("ONB-011", answer.status == 201,
           f"onboarding with a valid certificate must answer 201 with the clientId; {answer.describe()}")
    client_id = _client_id(answer)
    expect("ONB-011", bool(client_id), "the clientId must not be empty")
    expect("ONB-013", URL_SAFE.match(client_id) is not None,
           f"the clientId must be URL-safe (RFC 3986 unreserved characters only); it is {client_id!r}")


@then("the two devices hold different client ids")
def the_two_devices_hold_different_client_ids(wos: WosUnderTest) -> None:
    first_answer, other = wos.device().onboarding_answer, wos.answer()
    if first_answer is None or first_answer.status != 201:
        blocked("two onboarded devices", "the first device's onboarding was refused", requirement="ONB-011")
    if other.status != 201:
        blocked("two onboarded devices", "the second device's onboarding was refused", requirement="ONB-011")
    first, second = _client_id(first_answer), _client_id(other)
    expect("ONB-013", first != second,
           f"each client must get a clientId of its own; both devices were given {first!r}")


@then("the orchestrator refuses the onboarding as malformed")
def the_orchestrator_refuses_the_onboarding_as_malformed(wos: WosUnderTest) -> None:
    answer = wos.answer()
    expect("ONB-012", answer.status == 400,
           f"an onboarding request with a malformed certificate or body must be refused with 400; "
           f"{answer.describe()}")


@then("the refusal says what was wrong in an error member")
def the_refusal_says_what_was_wrong_in_an_error_member(wos: WosUnderTest) -> None:
    answer = wos.answer()
    if answer.status is None or answer.status < 400:
        blocked("an onboarding refusal", f"the request was not refused: {answer.describe()}", requirement="ONB-012")
    content_type = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    document = answer.json()
    message = document.get("error") if isinstance(document, dict) else None
    expect("ERR-002", content_type == "application/json" or content_type.endswith("+json"),
           f"an onboarding refusal's body must be JSON; Content-Type is {content_type!r}")
    expect("ERR-002", isinstance(message, str) and bool(message),
           f"an onboarding refusal must carry a string member 'error' (the 1.0.0 OpenAPI's shape); "
           f"the body is {answer.body[:200]!r}")
