"""The V24 dialect: the 2024 pre-draft profile (OAuth2 client credentials, desired state in a
Git repository per device), as fixed in docs/v24-wire-contract.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from margo_conformance.base import credentials
from margo_conformance.base.evidence import COMMIT, GIT
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.checks import capability_rules
from margo_conformance.checks.shapes import V24_ONBOARDING_SHAPE
from margo_conformance.dialects.base import AnswerMember, Dialect, OnboardingCall, Requirements, Routes
from margo_conformance.emulated_wos.desired_state import DeviceRepository

if TYPE_CHECKING:
    from margo_conformance.base.evidence import EvidenceLog
    from margo_conformance.config.interop import V24Onboarding
    from margo_conformance.emulated_wos.desired_state import Publisher
    from margo_conformance.emulated_wos.state import DeviceRecord

ONBOARDING_ANSWER = "the onboarding answer"
DECLARED_ONBOARDING_SHAPE = "the shape the SUT file declares (interop.onboarding)"
#: The requirement that hands out each member of the onboarding answer; where the answer carries
#: it is the SUT file's interop choice (the pre-draft leaves the body open; default:
#: docs/v24-wire-contract.md section 2).
ONBOARDING_REQUIREMENTS: dict[str, str] = {
    "client_id": "ONB-003",
    "client_secret": "ONB-003",
    "token_endpoint": "ONB-003",
    "repository_url": "ONB-004",
    "git_token": "ONB-004",
}
STATUS_API_VERSION = "deployment.margo/v1"


@dataclass(frozen=True)
class V24Dialect(Dialect):
    def register_request(self, device_id: str, certificate_der: bytes = b"") -> dict[str, Any]:
        return {"deviceId": device_id}

    def onboarding_call(self, device_id: str, key: str, exchange: V24Onboarding,
                        certificate_der: bytes = b"") -> OnboardingCall:
        body = exchange.request_body({
            "device_id": device_id,
            "onboarding_key": key,
            "serial_number": f"SN-{device_id}",
        })
        return OnboardingCall(exchange.path, body, (self.requirements.onboarding,))

    def answer_member(self, name: str, exchange: V24Onboarding) -> AnswerMember:
        shape = DECLARED_ONBOARDING_SHAPE if exchange.declared else V24_ONBOARDING_SHAPE
        return AnswerMember(exchange.answer[name], ONBOARDING_REQUIREMENTS[name], ONBOARDING_ANSWER, shape)

    def status_report(self, deployment_id: str, device_id: str, components: Sequence[str],
                      state: str) -> dict[str, Any]:
        return self._status_document(STATUS_API_VERSION, {"deploymentId": deployment_id}, components, state)

    def capabilities_refusal(self, errors: Sequence[str]) -> str:
        # The schema row the report broke; a body that is not JSON is no capabilities document.
        broken = capability_rules.requirements_of(errors)
        return broken[0] if broken else "CAP-003"

    def publisher(self, device: DeviceRecord, clone: Path, evidence: EvidenceLog) -> Publisher:
        return DeviceRepository(device.repo_path, clone, evidence)


V24 = V24Dialect(
    name="V24",
    schema_folder="v24",
    routes=Routes(
        root_certificate="/onboarding/certificate",
        onboarding="/onboarding",
        capabilities="/device/{device_id}/capabilities",
        deployment_status="/device/{device_id}/deployment/{deployment_id}/status",
    ),
    requirements=Requirements(
        onboarding="ONB-003",
        root_certificate="CRT-001",
        capabilities_route="CAP-002",
        status_route="STS-002",
        desired_state_fetched="GIT-004",
        deployment_applied="GIT-004",
        status_sequence=("STS-001",),
        status_document="STS-003",
        status_states="STS-004",
        status_components="STS-003",
        overall_state="STS-005",
    ),
    payloads=FIXTURES_DIR / "payloads" / "v24",
    deployments=FIXTURES_DIR / "deployments",
    broken_deployments=FIXTURES_DIR / "deployments" / "broken",
    desired_state_evidence=(GIT, COMMIT),
    manifest_media_type=None,
    capabilities_kind="DeviceCapabilities",
    status_kind="DeploymentStatus",
    status_accepted=201,
    issues_onboarding_key=True,
    onboarding_credentials=(("client_secret", credentials.CLIENT_SECRET), ("git_token", credentials.GIT_TOKEN)),
    onboarding_urls=("repository_url",),
    capability_rules=capability_rules.V24_RULES,
)
