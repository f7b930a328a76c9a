"""WOS robustness vocabulary: bad requests before each valid one, and what the answers say."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from margo_conformance.checks import advise, expect
from margo_conformance.errors import StepOrderError
from margo_conformance.roles.wos import WosUnderTest
from margo_conformance.roles.wos_bad_requests import (
    ENDPOINTS,
    REQUIREMENT,
    Walk,
    endpoints_without_refusal,
    failed_endpoints,
    failed_follow_ups,
    judged_part,
    kinds_named,
    not_refused_as_client_errors,
    not_refused_requirements,
    open_ambiguities,
    open_part,
    refusal_requirements,
    refusals_without_problem_body,
    walk,
)


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


@then("the orchestrator refuses every bad request as a client error")
def the_orchestrator_refuses_every_bad_request_as_a_client_error(wos: WosUnderTest) -> None:
    whole = _walk(wos)
    unstated = open_part(whole)
    loose = not_refused_as_client_errors(unstated)
    if unstated.exchanges:
        advise(
            sorted({REQUIREMENT[e.endpoint] for e in unstated.exchanges}),
            not loose,
            f"bad requests where the spec leaves the body open are refused with a 4xx; {len(loose)} of "
            f"{len(unstated.exchanges)} were not: {'; '.join(loose) or 'none'}",
            ambiguities=open_ambiguities(unstated),
            observed=unstated.answers(),
        )
    record = judged_part(whole)
    if not record.bad():
        return  # every bad request of this kind went where the spec leaves it open: advisory only
    wrong = not_refused_as_client_errors(record)
    expect(
        not_refused_requirements(record) or refusal_requirements(record),
        not wrong,
        f"a bad request must be refused with a 4xx status, never a 5xx or no answer; "
        f"{len(wrong)} of {len(record.bad())} were not: {'; '.join(wrong)}",
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


@then("every refusal carries a problem body that matches its status")
def every_refusal_carries_a_problem_body_that_matches_its_status(wos: WosUnderTest) -> None:
    record = judged_part(_walk(wos))
    bare = refusals_without_problem_body(record)
    expect(
        "ERR-001",
        not bare,
        "a refusal must say what is wrong in an RFC 9457 problem body (the suite's choice, "
        "docs/v24-wire-contract.md section 8; at the token endpoint an OAuth error body will do); "
        f"{len(bare)} refusal(s) did not: {'; '.join(bare)}",
    )
    unchecked = endpoints_without_refusal(record)
    expect(
        "ERR-001",
        not unchecked,
        f"every endpoint must refuse some bad request; no refusal to check at: {'; '.join(unchecked)}",
        observed=record.answers(),
    )
