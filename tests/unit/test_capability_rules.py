"""A capabilities schema error names the row it breaks, for both roles' checks; each request of the WOS
role names the rows its answer verifies."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from margo_conformance import capability_rules
from margo_conformance.paths import FIXTURES_DIR
from margo_conformance.roles.wos import (
    CAPABILITY_DEFECTS,
    application_components,
    defective_capabilities,
    status_report,
    status_report_with_undefined_state,
    valid_capabilities,
)
from margo_conformance.schemas import validation_errors
from tests.reference_wos import wos_under_test

INVALID = FIXTURES_DIR / "payloads" / "v24" / "device-capabilities" / "invalid"


def test_roles_units_and_the_rest_are_three_rows() -> None:
    assert capability_rules.requirement_of("properties: 'serialNumber' is a required property") == "CAP-003"
    assert capability_rules.requirement_of("properties.roles.0: 'Edge Device' is not one of [...]") == "CAP-004"
    assert capability_rules.requirement_of("properties.resources.memory: '16Gi' is not of type 'integer'") == "CAP-005"
    assert capability_rules.requirement_of("properties.resources.cpus.0.frequency: 2.5 is not ...") == "CAP-005"
    assert capability_rules.requirement_of("kind: 'X' is not one of ['DeviceCapabilities']") == "CAP-003"
    assert capability_rules.requirements_of([]) == []


def test_each_defect_the_wos_is_sent_breaks_one_row() -> None:
    broken = {
        defect: capability_rules.requirements_of(
            validation_errors(defective_capabilities("dev-1", defect), "v24/device-capabilities"))
        for defect in CAPABILITY_DEFECTS
    }
    assert broken["with a role Margo does not define"] == ["CAP-004"]
    assert broken["with memory given as text"] == ["CAP-005"]
    assert broken["without a serial number"] == ["CAP-003"]
    assert all(len(rows) == 1 for rows in broken.values()), broken
    assert all(json.loads((INVALID / name).read_text()) for name in CAPABILITY_DEFECTS.values())


def test_each_request_of_the_wos_role_says_which_rows_its_answer_verifies(tmp_path: Path) -> None:
    with wos_under_test(tmp_path) as wos:
        wos.register_device()
        wos.onboard()
        assert wos.answer_judges() == ("ONB-003",)
        wos.request_token(secret="wrong")
        assert wos.answer_judges() == ("TOK-005",)
        wos.request_token()
        assert wos.answer_judges() == ("TOK-003",)
        wos.report_capabilities(defective_capabilities(wos.device().device_id, "with a role Margo does not define"))
        assert wos.answer_judges() == ("CAP-004",)
        wos.report_capabilities(valid_capabilities(wos.device().device_id), with_token=False)
        assert wos.answer_judges() == ("TOK-005",)
        wos.report_capabilities(valid_capabilities(wos.device().device_id))
        assert wos.answer_judges() == ("CAP-002",)
        deployment_id = wos.deploy("two-components")
        components = application_components("two-components")
        undefined = status_report_with_undefined_state(deployment_id, components, "a state Margo does not define")
        wos.report_status(deployment_id, undefined)
        assert wos.answer_judges() == ("STS-004",)
        unknown = str(uuid.uuid4())
        wos.report_status(unknown, status_report(unknown, components, "Installed"))
        assert wos.answer_judges() == ("STS-002",)
