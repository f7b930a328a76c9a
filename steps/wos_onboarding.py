"""WOS onboarding vocabulary: root certificate, onboarding answer, token endpoint."""

from __future__ import annotations

import binascii

from pytest_bdd import given, then, when

from margo_conformance.roles.wos import WosUnderTest
from margo_conformance.schemas import validation_errors
from margo_conformance.wos.pki import parse_certificate_field


@when("the device downloads the orchestrator's root certificate")
def the_device_downloads_the_orchestrators_root_certificate(wos: WosUnderTest) -> None:
    wos.download_root_certificate()


@then("the orchestrator answers with a certificate the device can parse")
def the_orchestrator_answers_with_a_certificate_the_device_can_parse(wos: WosUnderTest) -> None:
    answer = wos.answer()
    assert answer.status == 200, f"CRT-001: the certificate download failed: {answer.describe()}"
    body = answer.json()
    errors = validation_errors(body, "v24/root-certificate-response")
    assert not errors, f"CRT-001: the answer is not {{\"certificate\": <Base64>}}: {'; '.join(errors)}"
    try:
        certificate = parse_certificate_field(body["certificate"])
    except (ValueError, binascii.Error) as exc:
        raise AssertionError(f"CRT-001: the certificate does not decode as X.509 (PEM or DER): {exc}") from exc
    assert certificate.subject is not None


@when("the device onboards with its onboarding key")
def the_device_onboards_with_its_onboarding_key(wos: WosUnderTest) -> None:
    wos.onboard()


@when("the device onboards with a wrong onboarding key")
def the_device_onboards_with_a_wrong_onboarding_key(wos: WosUnderTest) -> None:
    wos.onboard(key=wos.device().onboarding_key + "-wrong")


@then("the orchestrator answers with the device's client credentials and token endpoint")
def the_orchestrator_answers_with_the_devices_client_credentials_and_token_endpoint(wos: WosUnderTest) -> None:
    answer = wos.answer()
    assert answer.status == 201, f"ONB-003: onboarding a registered device must answer 201: {answer.describe()}"
    errors = validation_errors(answer.json(), "v24/onboarding-response")
    assert not errors, "ONB-003: the onboarding answer violates the schema: " + "; ".join(errors)
    body = answer.json()
    assert body["deviceId"] == wos.device().device_id, (
        f"ONB-003: the answer is for device {body['deviceId']!r}, not {wos.device().device_id!r}"
    )
    public_url = wos.client.base_url
    assert body["tokenEndpoint"].startswith(public_url), (
        f"ONB-003: the token endpoint {body['tokenEndpoint']!r} is not under the WOS's address {public_url!r}"
    )


@then("the answer names the device's desired-state repository and an access token for it")
def the_answer_names_the_devices_desired_state_repository_and_an_access_token_for_it(
    wos: WosUnderTest,
) -> None:
    read = wos.read_repository()
    assert read.ok, (
        f"ONB-004: the repository the WOS named ({wos.device().repository_url}) cannot be read with the "
        f"access token it issued: {read.detail}"
    )


@given("the device has asked for an access token")
@when("the device asks for an access token with its client credentials")
def the_device_asks_for_an_access_token_with_its_client_credentials(wos: WosUnderTest) -> None:
    wos.request_token()


@when("the device asks for an access token with a wrong client secret")
def the_device_asks_for_an_access_token_with_a_wrong_client_secret(wos: WosUnderTest) -> None:
    wos.request_token(secret="not-the-secret")


@then("the orchestrator issues a bearer token with its lifetime")
def the_orchestrator_issues_a_bearer_token_with_its_lifetime(wos: WosUnderTest) -> None:
    answer = wos.answer()
    assert answer.status == 200, f"TOK-003: valid client credentials must get a token: {answer.describe()}"
    errors = validation_errors(answer.json(), "v24/token-response")
    assert not errors, "TOK-003: the token answer violates the schema: " + "; ".join(errors)
