"""WOS request-signing vocabulary (PR1): requests signed badly on purpose, the refusals they
must get, and each PR1 algorithm accepted."""

from __future__ import annotations

import re

from pytest_bdd import given, parsers, then, when

from margo_conformance.base.message_signatures import ALGORITHMS
from margo_conformance.checks.expect import advise, blocked, expect
from margo_conformance.emulated_device.signing import Signing
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import valid_capabilities
from margo_conformance.scenario.wos_manifest import fetch_manifest

_DEFECTS = "|".join(re.escape(s.value) for s in Signing if s is not Signing.SIGNED)
_ALGORITHMS = "|".join(map(re.escape, ALGORITHMS))
#: I-33: PR1's rsa-pss-sha256 is no registered RFC 9421 algorithm; refusing it is advisory.
UNREGISTERED = "rsa-pss-sha256"
#: The answers that refuse a request for its signature (SEC-012..SEC-014).
SIGNATURE_REFUSALS = (400, 401, 403)


@given(parsers.re(rf"the device signs with (?P<algorithm>{_ALGORITHMS})$"))
def the_device_signs_with(wos: WosUnderTest, algorithm: str) -> None:
    wos.renew_identity(algorithm=algorithm)


@when(parsers.re(rf"the device reports valid capabilities (?P<how>{_DEFECTS})$"))
def the_device_reports_valid_capabilities_signed_badly(wos: WosUnderTest, how: str) -> None:
    wos.report_capabilities(valid_capabilities(wos.device().device_id, dialect=wos.dialect), signing=Signing(how))


@when(parsers.re(rf"the device fetches its state manifest (?P<how>{_DEFECTS})$"))
def the_device_fetches_its_state_manifest_signed_badly(wos: WosUnderTest, how: str) -> None:
    fetch_manifest(wos, signing=Signing(how))


@then("the orchestrator refuses the request as not signed by the client")
def the_orchestrator_refuses_the_request_as_not_signed_by_the_client(wos: WosUnderTest) -> None:
    # SEC-012 names 401; a key the client never onboarded may also be refused as untrusted (403).
    answer = wos.answer()
    expect(wos.answer_judges(), answer.status in (401, 403),
           f"a request whose signature does not hold with the client's certificate must be refused with 401; "
           f"{answer.describe()}")


@then("the orchestrator holds no capabilities of the device")
def the_orchestrator_holds_no_capabilities_of_the_device(wos: WosUnderTest) -> None:
    held = wos.held_capabilities()
    expect(wos.answer_judges(), held is None,
           f"a refused report must change nothing: the orchestrator holds capabilities it refused: {held!r:.200}")


@when("the device onboards and reports valid capabilities")
def the_device_onboards_and_reports_valid_capabilities(wos: WosUnderTest) -> None:
    # Both requests are signed with the algorithm: a WOS that cannot verify it refuses the
    # onboarding already, and that refusal is the finding (SEC-016), not a missing prerequisite.
    if wos.onboard().status == 201:
        wos.report_capabilities(valid_capabilities(wos.device().device_id, dialect=wos.dialect))


@then("the orchestrator accepts the onboarding and the capabilities signed with that algorithm")
def the_orchestrator_accepts_the_onboarding_and_the_capabilities_signed_with_that_algorithm(
    wos: WosUnderTest,
) -> None:
    identity, answer = wos.device().identity, wos.answer()
    algorithm = identity.algorithm if identity is not None else "?"
    step = "capabilities" if wos.device().onboarded else "onboarding"
    # Only a refusal is about the signature; any other answer that is not 201 is the route's
    # own fault, which its scenarios judge.
    if answer.status != 201 and answer.status not in SIGNATURE_REFUSALS:
        blocked(f"an accepted {step}", f"the {step} request was answered {answer.describe()}",
                requirement="CAP-010" if wos.device().onboarded else "ONB-011")
    message = f"an {step} request signed with {algorithm} must be accepted (201); {answer.describe()}"
    if algorithm == UNREGISTERED:
        advise("SEC-016", answer.status == 201, message, ambiguities=("I-33",))
        return
    expect("SEC-016", answer.status == 201, message)
