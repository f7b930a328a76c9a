"""WOS robustness vocabulary: bad requests before each valid one, and what the answers say.

V24 states only that a failed request is answered with a 4xx or 5xx status (ERR-001): that, and
that a bad request is not accepted and the WOS keeps serving, are requirement checks. Which of
4xx or 5xx, the error body and a size limit are the suite's choices (docs/v24-wire-contract.md
section 8): those checks are advisory, reported and never counted.
"""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from margo_conformance.base.errors import StepOrderError
from margo_conformance.checks.expect import advise, expect, not_tested
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_bad_request_walk import (
    REQUIREMENT,
    SIGNALLING,
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
    refusal_requirements,
    refusals_without_problem_body,
    walk,
)
from margo_conformance.scenario.wos_bad_requests import ENDPOINTS, kinds_named


def _walk(wos: WosUnderTest) -> Walk:
    if wos.walk is None:
        raise StepOrderError(
            "no bad requests were sent: add 'When the device sends ... before each of its requests'"
        )
    return wos.walk


@when(parsers.parse("the device sends {bad_request} before each of its requests"))
def the_device_sends_a_bad_request_before_each_of_its_requests(
    wos: WosUnderTest, bad_request: str
) -> None:
    wos.walk = walk(wos, kinds_named(bad_request))


def _advise_on_open_requests(unstated: Walk) -> None:
    """Bad requests where V24 leaves the answer open (the onboarding body, the apiVersion value,
    the body size): the suite's advice is a 4xx; whatever came back never fails."""
    if not unstated.exchanges:
        return
    loose = not_refused_as_client_errors(unstated)
    advise(
        sorted({SIGNALLING} | {REQUIREMENT[e.endpoint] for e in unstated.exchanges}),
        not loose,
        f"bad requests where V24 leaves the answer open ({'; '.join(open_reasons(unstated))}) are best "
        f"refused with a 4xx; {len(loose)} of "
        f"{len(unstated.exchanges)} were not: {'; '.join(loose) or 'none'}",
        ambiguities=open_ambiguities(unstated),
        observed=unstated.answers(),
    )


@then("the orchestrator refuses every bad request")
def the_orchestrator_refuses_every_bad_request(wos: WosUnderTest) -> None:
    whole = _walk(wos)
    _advise_on_open_requests(open_part(whole))
    record = judged_part(whole)
    if not record.bad():
        return  # every bad request of this kind went where V24 leaves the answer open: advisory only
    wrong = not_refused(record)
    expect(
        not_refused_requirements(record) or refusal_requirements(record),
        not wrong,
        f"a bad request must be refused with a 4xx or 5xx status, never accepted or left unanswered; "
        f"{len(wrong)} of {len(record.bad())} were not: {'; '.join(wrong)}",
        observed=record.answers(),
    )


@then("each refusal is a client error, as the suite advises")
def each_refusal_is_a_client_error_as_the_suite_advises(wos: WosUnderTest) -> None:
    record = judged_part(_walk(wos))
    if not record.bad():
        return  # nothing judged here: the open requests were advised on above
    server = answered_with_server_errors(record)
    advise(
        SIGNALLING,
        not server,
        f"a bad request is the device's fault, so the suite advises a 4xx (V24 allows any 4xx or 5xx); "
        f"{len(server)} of {len(record.bad())} got a 5xx: {'; '.join(server) or 'none'}",
        observed=record.answers(),
    )


@then("the valid request after each refusal succeeds")
def the_valid_request_after_each_refusal_succeeds(wos: WosUnderTest) -> None:
    record = _walk(wos)
    failed = failed_follow_ups(record)
    expect(
        sorted({REQUIREMENT[e] for e in failed_endpoints(record) or [v.endpoint for v in record.valid()] or ENDPOINTS}),
        not failed,
        "the orchestrator must keep serving after refusing a bad request, but " + "; ".join(failed),
        observed=record.answers(),
    )


@then("every refusal carries a problem body that matches its status, as the suite advises")
def every_refusal_carries_a_problem_body_as_the_suite_advises(wos: WosUnderTest) -> None:
    record = judged_part(_walk(wos))
    for endpoint in endpoints_without_refusal(record):
        not_tested(SIGNALLING, f"no refusal to read a problem body from at the {endpoint}")
    bare = refusals_without_problem_body(record)
    advise(
        SIGNALLING,
        not bare,
        "V24 defines no error body; the suite advises an RFC 9457 problem body (docs/v24-wire-contract.md "
        f"section 8; at the token endpoint an OAuth error body will do); {len(bare)} refusal(s) had none: "
        f"{'; '.join(bare) or 'none'}",
        observed=[{"refusal": line} for line in bare],
    )
