"""WOS onboarding vocabulary: root certificate, onboarding answer, token endpoint."""

from __future__ import annotations

import binascii

from pytest_bdd import then, when

from margo_conformance.base.schemas import validation_errors
from margo_conformance.checks.expect import advise, expect
from margo_conformance.emulated_wos.pki import parse_certificate_field
from margo_conformance.scenario.wos import WosUnderTest


@when("the device downloads the orchestrator's root certificate")
def the_device_downloads_the_orchestrators_root_certificate(wos: WosUnderTest) -> None:
    wos.download_root_certificate()


@then("the orchestrator answers with a certificate the device can parse")
def the_orchestrator_answers_with_a_certificate_the_device_can_parse(wos: WosUnderTest) -> None:
    answer = wos.answer()
    expect("CRT-001", answer.status == 200, f"the certificate download must answer 200; {answer.describe()}")
    body = answer.json()
    errors = validation_errors(body, "v24/root-certificate-response")
    expect("CRT-001", not errors, f"the answer must be {{\"certificate\": <Base64>}}; {'; '.join(errors)}")
    try:
        certificate = parse_certificate_field(body["certificate"])
    except (ValueError, binascii.Error) as exc:
        expect("CRT-001", False, f"the certificate must decode as X.509 (PEM or DER); {exc}")
        return
    expect("CRT-001", certificate.subject is not None, "the certificate must name its subject; it names none")


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
