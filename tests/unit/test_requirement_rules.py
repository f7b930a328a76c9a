"""A capabilities schema error or a manifest problem names the row it breaks; each request of the WOS
role names the rows its answer verifies."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.base.schemas import validation_errors
from margo_conformance.checks import capability_rules, manifest_rules, status_rules
from margo_conformance.dialects import PR1
from margo_conformance.scenario.wos_documents import (
    CAPABILITY_DEFECTS,
    application_components,
    defective_capabilities,
    status_report,
    status_report_with_undefined_state,
    valid_capabilities,
)
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


def test_a_manifest_problem_names_its_row() -> None:
    digest = "sha256:" + "a" * 64
    assert manifest_rules.requirements_of(["DSA-004: ETag 'W/x' is weak"], "DSA-001") == ("DSA-004",)
    assert manifest_rules.requirements_of(["schema: bundle: 'bundle' is a required property"], "DSA-001") == (
        "DSA-008",)
    # A URL that fails its pattern only because the digest in it is malformed breaks DSA-011.
    uppercase = "schema: deployments.0.url: '/api/v1/clients/c/deployments/d/sha256:ABC' does not match 'x'"
    assert manifest_rules.requirements_of([uppercase], "DSA-001") == ("DSA-011",)
    layout = f"schema: deployments.0.url: '/elsewhere/{digest}' does not match 'x'"
    assert manifest_rules.requirements_of([layout], "DSA-001") == ("DSA-010",)
    assert manifest_rules.requirements_of(["schema: bundle.url: 'u' does not match 'x'"], "DSA-001") == ("DSA-009",)
    assert manifest_rules.requirements_of(["expected 200 with the manifest, got 500"], "DSA-001") == ("DSA-001",)
    assert manifest_rules.requirements_of([], "DSA-012") == ("DSA-012",)


def test_a_status_schema_error_names_the_members_row_or_the_states_row_of_its_profile() -> None:
    assert status_rules.requirement_of("status.state: 'Sleeping' is not one of ['Pending']") == "STS-004"
    assert status_rules.requirement_of("components.1.state: 'Done' is not one of ['Pending']") == "STS-004"
    assert status_rules.requirement_of("status: 'status' is a required property") == "STS-003"
    pr1 = PR1.requirements.status_rows
    assert status_rules.requirement_of("status.state: 'Installed' is not one of ['installed']", pr1) == "STS-013"
    assert status_rules.requirement_of("kind: 'X' was expected", pr1) == "STS-012"
    assert status_rules.requirements_of([], pr1) == ("STS-012", "STS-013")
