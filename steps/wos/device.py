"""Device vocabulary every WOS feature uses: the device the suite plays, registered and onboarded,
and the verdicts on a request it sends (refused, unauthenticated, created)."""

from __future__ import annotations

from pytest_bdd import given, then

from margo_conformance.checks.expect import advise, blocked, expect
from margo_conformance.scenario.wos import WosUnderTest


def _answer_text(wos: WosUnderTest) -> str:
    sent = f"; the request broke: {'; '.join(wos.sent_violations)}" if wos.sent_violations else ""
    return wos.answer().describe() + sent


@given("the orchestrator has a device registered by its owner")
def the_orchestrator_has_a_device_registered_by_its_owner(wos: WosUnderTest) -> None:
    wos.start()
    wos.register_device()


@given("the device has onboarded")
def the_device_has_onboarded(wos: WosUnderTest) -> None:
    answer = wos.onboard()
    if answer.status != 201:
        blocked("onboarding", f"onboarding a registered device was refused: {answer.describe()}",
                requirement=wos.dialect.requirements.onboarding)


@given("the device has onboarded and holds an access token")
def the_device_has_onboarded_and_holds_an_access_token(wos: WosUnderTest) -> None:
    the_device_has_onboarded(wos)
    answer = wos.request_token()
    if not wos.device().access_token:
        blocked("an access token", f"no access token was issued for valid credentials: {answer.describe()}",
                requirement="TOK-003")


@given("another device has onboarded with the orchestrator")
def another_device_has_onboarded_with_the_orchestrator(wos: WosUnderTest) -> None:
    wos.register_device("other")
    answer = wos.onboard("other")
    if answer.status != 201:
        blocked("a second onboarded device", f"onboarding a second registered device was refused: "
                f"{answer.describe()}", requirement=wos.dialect.requirements.onboarding)


@then("the orchestrator refuses the request")
def the_orchestrator_refuses_the_request(wos: WosUnderTest) -> None:
    # V24 states only that a failed request is answered with a 4xx or 5xx status (ERR-001).
    status = wos.answer().status
    expect(
        wos.answer_judges(),
        status is not None and status >= 400,
        f"an invalid request must be refused (a 4xx or 5xx status); {_answer_text(wos)}",
    )


@then("the refusal is a client error, as the suite advises")
def the_refusal_is_a_client_error_as_the_suite_advises(wos: WosUnderTest) -> None:
    status = wos.answer().status
    advise(
        "ERR-001",
        status is None or status < 500,
        f"a bad request is the device's fault, so the suite advises a 4xx (V24 allows any 4xx or 5xx); "
        f"{_answer_text(wos)}",
    )


@then("the orchestrator refuses the request as malformed")
def the_orchestrator_refuses_the_request_as_malformed(wos: WosUnderTest) -> None:
    # 1.0 names the status: a body that does not parse, or is no such document, is a 400.
    expect(wos.answer_judges(), wos.answer().status == 400,
           f"a request the orchestrator cannot read must be refused with 400; {_answer_text(wos)}")


@then("the orchestrator refuses the document as unprocessable")
def the_orchestrator_refuses_the_document_as_unprocessable(wos: WosUnderTest) -> None:
    # 1.0 names the status: a document that parses but breaks the rules is a 422.
    expect(wos.answer_judges(), wos.answer().status == 422,
           f"a document that breaks the schema must be refused with 422; {_answer_text(wos)}")


@then("the orchestrator refuses the request as unauthenticated")
def the_orchestrator_refuses_the_request_as_unauthenticated(wos: WosUnderTest) -> None:
    status = wos.answer().status
    expect(
        "TOK-005",
        status in (401, 403),
        f"a request without a valid bearer token must be refused (401); {_answer_text(wos)}",
    )


@then("the orchestrator accepts the report as created")
def the_orchestrator_accepts_the_report_as_created(wos: WosUnderTest) -> None:
    expect(wos.answer_judges(), wos.answer().status == 201, f"a valid report must be answered 201; {_answer_text(wos)}")
