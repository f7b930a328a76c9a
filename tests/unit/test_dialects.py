"""Profile dialects: no profile-name branches outside them, and each dialect's members."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from margo_conformance.base.errors import ConfigError, StepOrderError
from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.base.requirements import load_catalogue
from margo_conformance.base.schemas import validation_errors
from margo_conformance.config.interop import V24Onboarding
from margo_conformance.dialects import DIALECTS, PR1, V24, Dialect, dialect_for
from margo_conformance.emulated_wos.api import WosApi
from margo_conformance.emulated_wos.app import build_app
from margo_conformance.emulated_wos.desired_state import DeviceRepository, ManifestPublisher
from margo_conformance.emulated_wos.state import WosState

ROOT = Path(__file__).resolve().parents[2]
SCANNED = (ROOT / "src", ROOT / "steps")
DIALECTS_DIR = ROOT / "src" / "margo_conformance" / "dialects"
PROFILE_NAMES = {"V24", "PR1", "PR2"}
ALL = list(DIALECTS.values())


# -- no profile branches outside the dialects ---------------------------------------------


def _names_a_profile(node: ast.expr) -> bool:
    """`profile`, `x.profile`, `x_profile` or a profile tag such as "PR1"."""
    if isinstance(node, ast.Constant):
        return node.value in PROFILE_NAMES
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name == "profile" or name.endswith("_profile")


def profile_comparisons(source: str) -> list[int]:
    """Lines of `==`/`!=` comparisons with a profile on either side."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops) \
                and any(_names_a_profile(side) for side in [node.left, *node.comparators]):
            lines.append(node.lineno)
    return lines


def test_the_scan_finds_the_branches_it_forbids() -> None:
    source = 'a = x.profile == "PR1"\nb = "V24" != p\nc = self.profile != other\nd = kind == "PR1x"\n'
    assert profile_comparisons(source) == [1, 2, 3]


def test_no_profile_comparison_outside_the_dialects() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in SCANNED
        for path in sorted(folder.rglob("*.py"))
        if DIALECTS_DIR not in path.parents
        for line in profile_comparisons(path.read_text())
    ]
    assert not found, "profile branches outside src/margo_conformance/dialects/ (ask the dialect instead): " + \
        ", ".join(found)


# -- choosing a dialect ---------------------------------------------------------------------


def test_each_profile_tag_has_its_dialect() -> None:
    assert dialect_for("V24") is V24 and dialect_for("PR1") is PR1
    assert all(name == dialect.name for name, dialect in DIALECTS.items())


def test_a_profile_without_a_dialect_is_a_configuration_error_naming_those_there_are() -> None:
    with pytest.raises(ConfigError, match="PR2.*V24, PR1"):
        dialect_for("PR2")


# -- members ------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
def test_every_requirement_a_dialect_names_is_in_the_catalogue_for_its_profile(dialect: Dialect) -> None:
    catalogue = load_catalogue()
    requirements = dialect.requirements
    named = {requirements.onboarding, requirements.desired_state_fetched, requirements.deployment_applied,
             *requirements.status_sequence, requirements.status_document, requirements.status_states,
             requirements.status_components, requirements.overall_state, dialect.capabilities_refusal([])}
    wrong = sorted(r for r in named if r not in catalogue or dialect.name not in catalogue[r].profiles)
    assert not wrong, f"{dialect.name} names requirements not catalogued for it: {wrong}"


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
@pytest.mark.parametrize("document", ["onboarding-request", "device-capabilities", "deployment-status",
                                      "application-deployment"])
def test_each_schema_a_dialect_names_exists(dialect: Dialect, document: str) -> None:
    assert (ROOT / "schemas" / f"{dialect.schema(document)}.schema.json").is_file()


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
def test_the_fixture_folders_hold_the_profiles_documents(dialect: Dialect) -> None:
    assert list((dialect.payloads / "device-capabilities" / "valid").glob("*.json"))
    templates = list(dialect.deployments.glob("*.yaml"))
    assert (dialect.deployments / "hello-compose.yaml") in templates
    if dialect.broken_deployments is not None:
        assert list(dialect.broken_deployments.glob("*.yaml"))


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
def test_the_capabilities_builder_gives_a_valid_document_for_the_device(dialect: Dialect) -> None:
    for variant in range(2):
        document = dialect.capabilities("dev-1", variant)
        assert document["properties"]["id"] == "dev-1"
        assert validation_errors(document, dialect.schema("device-capabilities")) == []


@pytest.mark.parametrize(("dialect", "states"), [(V24, ("Pending", "installing", "Installed", "Failed")),
                                                 (PR1, ("pending", "installing", "installed", "failed"))],
                         ids=["V24", "PR1"])
def test_the_status_builder_gives_a_valid_report_in_each_state(dialect: Dialect, states: tuple[str, ...]) -> None:
    deployment_id = "ad9b614e-8912-45f4-a523-372358765def"
    for state in states:
        report = dialect.status_report(deployment_id, "dev-1", ["a", "b"], state)
        assert report["kind"] == dialect.status_kind and report["deploymentId"] == deployment_id
        assert [c["state"] for c in report["components"]] == [state, state]
        assert validation_errors(report, dialect.schema("deployment-status")) == [], state


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
def test_the_onboarding_request_is_valid_for_the_profile(dialect: Dialect) -> None:
    call = dialect.onboarding_call("dev-1", "key-1", V24Onboarding())
    assert call.judged_by == (dialect.requirements.onboarding,)
    assert validation_errors(call.body, dialect.schema("onboarding-request")) == []


def test_v24_onboarding_follows_the_exchange_the_sut_file_declares() -> None:
    exchange = V24Onboarding(path="/api/onboard", request={"id": "{device_id}", "key": "{onboarding_key}"},
                             declared=True)
    call = V24.onboarding_call("dev-1", "key-1", exchange)
    assert (call.path, call.body) == ("/api/onboard", {"id": "dev-1", "key": "key-1"})
    member = V24.answer_member("git_token", exchange)
    assert member.requirement == "ONB-004" and "interop.onboarding" in member.shape


def test_pr1_onboarding_presents_a_certificate_at_the_profiles_route() -> None:
    call = PR1.onboarding_call("dev-1", "", V24Onboarding())
    assert call.path == PR1.routes.onboarding and set(call.body) >= {"certificate"}


def test_the_onboarding_answer_members_each_profile_reads() -> None:
    default = V24Onboarding()
    assert V24.answer_member("client_id", default).requirement == "ONB-003"
    assert V24.answer_member("repository_url", default).requirement == "ONB-004"
    assert (PR1.answer_member("client_id", default).pointer, PR1.answer_member("client_id", default).requirement) \
        == ("/clientId", "ONB-011")
    with pytest.raises(StepOrderError, match="client_secret"):
        PR1.answer_member("client_secret", default)
    assert [name for name, _ in V24.onboarding_credentials] == ["client_secret", "git_token"]
    assert PR1.onboarding_credentials == () and PR1.onboarding_urls == ()


def test_registration_and_keys() -> None:
    assert V24.register_request("d") == {"deviceId": "d"} and V24.issues_onboarding_key
    assert PR1.register_request("d") == {"deviceId": "d", "profile": "PR1"} and not PR1.issues_onboarding_key
    # The certificate the device will onboard with, as its operator enters it.
    assert PR1.register_request("d", b"\x30\x01")["certificate"] == "MAE="


def test_a_refused_capabilities_report_names_the_profiles_rule() -> None:
    defect = json.loads((V24.payloads / "device-capabilities" / "invalid" / "role-unknown.json").read_text())
    assert V24.capabilities_refusal(validation_errors(defect, V24.schema("device-capabilities"))) == "CAP-004"
    assert V24.capabilities_refusal([]) == "CAP-003"  # a body that is not JSON is no capabilities document
    assert PR1.capabilities_refusal(["anything"]) == "CAP-011"


def test_the_status_rows_are_members_then_states() -> None:
    assert V24.requirements.status_rows == ("STS-003", "STS-004")
    assert PR1.requirements.status_rows == ("STS-012", "STS-013")


def test_only_a_profile_with_a_state_manifest_has_its_route_and_media_type() -> None:
    assert PR1.serves_state_manifest and PR1.state_manifest_path("c-1") == "/api/v1/clients/c-1/deployments"
    assert PR1.manifest_media_type == "application/vnd.margo.manifest.v1+json"
    assert not V24.serves_state_manifest and V24.manifest_media_type is None
    with pytest.raises(StepOrderError, match="PR1 scenario"):
        V24.state_manifest_path("c-1")


def test_report_routes_are_filled_with_the_devices_identity() -> None:
    assert V24.capabilities_path("d") == "/device/d/capabilities"
    assert V24.deployment_status_path("d", "x") == "/device/d/deployment/x/status"
    assert PR1.capabilities_path("c") == "/api/v1/clients/c/capabilities"
    assert PR1.deployment_status_path("c", "x") == "/api/v1/clients/c/deployments/x/status"


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
def test_the_emulated_wos_serves_every_route_of_every_dialect(dialect: Dialect, tmp_path: Path) -> None:
    app = build_app(WosApi(WosState(tmp_path), b"", tmp_path, {}))
    served = {route.path for route in app.app.routes}  # type: ignore[attr-defined]
    routes = dialect.routes
    wanted = {routes.root_certificate, routes.onboarding, routes.capabilities, routes.deployment_status}
    assert wanted | ({routes.state_manifest} if routes.state_manifest else set()) <= served


@pytest.mark.parametrize(("dialect", "kind"), [(V24, DeviceRepository), (PR1, ManifestPublisher)],
                         ids=["V24", "PR1"])
def test_each_profile_publishes_desired_state_its_own_way(dialect: Dialect, kind: type, tmp_path: Path) -> None:
    evidence = EvidenceLog()
    device = WosState(tmp_path / "repos").register_device(evidence)
    assert isinstance(dialect.publisher(device, tmp_path / "clone", evidence), kind)


def test_fixture_folders_are_under_the_fixtures() -> None:
    assert all(FIXTURES_DIR in d.payloads.parents and FIXTURES_DIR in d.deployments.parents for d in ALL)
