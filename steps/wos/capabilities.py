"""WOS capabilities vocabulary: valid, changed and defective reports."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from margo_conformance.checks.expect import blocked, expect
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import (
    NOT_JSON,
    UNKNOWN_EXTENSION,
    defective_capabilities,
    valid_capabilities,
)


@given("the device has reported valid capabilities")
def the_device_has_reported_valid_capabilities(wos: WosUnderTest) -> None:
    document = valid_capabilities(wos.device().device_id, dialect=wos.dialect)
    answer = wos.report_capabilities(document)
    if answer.status != 201:
        blocked("accepted capabilities", f"valid capabilities were refused: {answer.describe()}",
                requirement=wos.dialect.requirements.capabilities_route)
    wos.accepted_capabilities = document


@when("the device reports valid capabilities")
def the_device_reports_valid_capabilities(wos: WosUnderTest) -> None:
    wos.accepted_capabilities = valid_capabilities(wos.device().device_id, dialect=wos.dialect)
    wos.report_capabilities(wos.accepted_capabilities)


@when("the device reports changed capabilities as an update")
def the_device_reports_changed_capabilities_as_an_update(wos: WosUnderTest) -> None:
    wos.accepted_capabilities = valid_capabilities(wos.device().device_id, variant=1, dialect=wos.dialect)
    wos.report_capabilities(wos.accepted_capabilities, method="PUT")


@when("the device reports valid capabilities with an extension the orchestrator does not know")
def the_device_reports_valid_capabilities_with_an_extension_the_orchestrator_does_not_know(
    wos: WosUnderTest,
) -> None:
    document = {**valid_capabilities(wos.device().device_id, dialect=wos.dialect), **UNKNOWN_EXTENSION}
    wos.report_capabilities(document)
    wos.judged_by = ("CAP-017",)  # accepting it is what CAP-017 asks; the route is judged elsewhere


@when("the device reports its capabilities in a body that is not JSON")
def the_device_reports_its_capabilities_in_a_body_that_is_not_json(wos: WosUnderTest) -> None:
    wos.report_capabilities(None, method="PUT", raw_body=NOT_JSON)


@when("the device reports valid capabilities without an access token")
def the_device_reports_valid_capabilities_without_an_access_token(wos: WosUnderTest) -> None:
    wos.report_capabilities(valid_capabilities(wos.device().device_id), with_token=False)


@when(parsers.parse("the device reports capabilities {defect}"))
def the_device_reports_capabilities_with_a_defect(wos: WosUnderTest, defect: str) -> None:
    wos.report_capabilities(defective_capabilities(wos.device().device_id, defect, wos.dialect), method="PUT")


@then("the orchestrator accepts the capabilities")
def the_orchestrator_accepts_the_capabilities(wos: WosUnderTest) -> None:
    # 1.0: 201 when a device's capabilities are first reported; the texts answer an update 201,
    # 200 or 204 (I-7), so any of those.
    first = wos.answer().method == "POST"
    accepted = (201,) if first else (200, 201, 204)
    expect(
        wos.answer_judges(),
        wos.answer().status in accepted,
        f"valid capabilities {'first reported' if first else 'sent as an update'} must be answered "
        f"{' or '.join(map(str, accepted))}; {wos.answer().describe()}",
    )


@then("the orchestrator holds the changed capabilities")
@then("the orchestrator still holds the capabilities reported before")
def the_orchestrator_holds_the_capabilities_last_accepted(wos: WosUnderTest) -> None:
    held = wos.held_capabilities()
    expected = wos.accepted_capabilities
    # After an update that is CAP-002 (PUT accepted and kept); after a defective report, the rows
    # its defect breaks (a refusal that changes nothing).
    expect(
        wos.answer_judges(),
        held == expected,
        f"the orchestrator must hold the last valid capabilities, {_summary(expected)}; it holds {_summary(held)}",
    )


def _summary(document: object) -> str:
    if not isinstance(document, dict):
        return repr(document)
    properties = document.get("properties", {})
    keys = ("id", "serialNumber", "modelNumber")
    return "{" + ", ".join(f"{k}={properties.get(k)!r}" for k in keys if isinstance(properties, dict)) + ", ...}"
