"""The PR1 dialect: the Margo 1.0.0 REST API (device certificates, clientId-scoped routes,
desired state as a content-addressed state manifest), as fixed in docs/pr1-wire-contract.md."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from margo_conformance.base.errors import StepOrderError
from margo_conformance.base.evidence import COMMIT, HTTP
from margo_conformance.base.message_signatures import new_identity
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.checks.capability_rules import PR1_RULES
from margo_conformance.dialects.base import AnswerMember, Dialect, OnboardingCall, Requirements, Routes
from margo_conformance.emulated_device.pr1 import onboarding_request
from margo_conformance.emulated_wos.desired_state import ManifestPublisher
from margo_conformance.emulated_wos.manifest import MANIFEST_MEDIA_TYPE

if TYPE_CHECKING:
    from margo_conformance.base.evidence import EvidenceLog
    from margo_conformance.config.interop import V24Onboarding
    from margo_conformance.emulated_wos.desired_state import Publisher
    from margo_conformance.emulated_wos.state import DeviceRecord

ONBOARDING_ANSWER = "the PR1 onboarding answer"
#: The onboarding answer is `{clientId}` (ONB-011): the device's only member.
ANSWER_POINTERS = {"client_id": "/clientId"}
STATUS_API_VERSION = "deployment.margo.org/v1alpha1"


@dataclass(frozen=True)
class Pr1Dialect(Dialect):
    def register_request(self, device_id: str, certificate_der: bytes = b"") -> dict[str, Any]:
        # The operator expects a device that onboards with its own certificate, not with a key,
        # and enters that certificate (a WOS shared by parallel scenarios tells them apart by it).
        request = {"deviceId": device_id, "profile": self.name}
        if certificate_der:
            request["certificate"] = base64.b64encode(certificate_der).decode("ascii")
        return request

    def onboarding_call(self, device_id: str, key: str, exchange: V24Onboarding,
                        certificate_der: bytes = b"") -> OnboardingCall:
        # The device presents its own self-signed X.509 certificate; no key, no exchange.
        certificate = certificate_der or new_identity(device_id).certificate_der
        return OnboardingCall(self.routes.onboarding, onboarding_request(certificate), (self.requirements.onboarding,))

    def answer_member(self, name: str, exchange: V24Onboarding) -> AnswerMember:
        if name not in ANSWER_POINTERS:
            raise StepOrderError(f"a {self.name} onboarding answer carries no {name} (only the clientId)")
        return AnswerMember(ANSWER_POINTERS[name], self.requirements.onboarding, ONBOARDING_ANSWER)

    def status_report(self, deployment_id: str, device_id: str, components: Sequence[str],
                      state: str) -> dict[str, Any]:
        ids = {"deploymentId": deployment_id, "deviceId": device_id}
        return self._status_document(STATUS_API_VERSION, ids, components, state)

    def capabilities(self, device_id: str, variant: int = 0) -> dict[str, Any]:
        """A workload-hosting device's capabilities: the spec's example, its odd variants with
        more memory and another serial number, so an update changes what the WOS must keep. No
        extension members: the scenario about those adds its own."""
        example = self.payloads / "device-capabilities" / "valid" / "spec-example-hosting-device.json"
        document = json.loads(example.read_text())
        document["properties"]["id"] = device_id
        if variant % 2:
            document["properties"].update(memory="118Gi", serialNumber=f"{document['properties']['serialNumber']}-B")
        return document

    def capabilities_refusal(self, errors: Sequence[str]) -> str:
        # The row the report broke (CAP-012 for a hosting device that says it hosts nothing).
        broken = PR1_RULES.requirements_of(errors)
        return broken[0] if broken else "CAP-011"

    def publisher(self, device: DeviceRecord, clone: Path, evidence: EvidenceLog) -> Publisher:
        return ManifestPublisher(device.desired_state(), evidence)


_CLIENT = "/api/v1/clients/{client_id}"

PR1 = Pr1Dialect(
    name="PR1",
    schema_folder="pr1",
    routes=Routes(
        root_certificate="/api/v1/onboarding/certificate",
        onboarding="/api/v1/onboarding",
        capabilities=f"{_CLIENT}/capabilities",
        deployment_status=f"{_CLIENT}/deployments/{{deployment_id}}/status",
        state_manifest=f"{_CLIENT}/deployments",
        capabilities_of_device=f"{_CLIENT}/capabilities/{{device_id}}",
    ),
    requirements=Requirements(
        onboarding="ONB-011",
        root_certificate="CRT-010",
        capabilities_route="CAP-010",
        status_route="STS-010",
        desired_state_fetched="DSA-030",
        deployment_applied="DSA-036",
        status_sequence=("STS-001", "STS-011"),
        status_document="STS-012",
        status_states="STS-013",
        status_components="STS-014",
        overall_state="STS-015",
    ),
    payloads=FIXTURES_DIR / "payloads" / "pr1",
    deployments=FIXTURES_DIR / "deployments" / "pr1",
    broken_deployments=None,
    desired_state_evidence=(HTTP, COMMIT),
    manifest_media_type=MANIFEST_MEDIA_TYPE,
    capabilities_kind="DeviceCapabilitiesManifest",
    status_kind="DeploymentStatusManifest",
    status_accepted=200,
    issues_onboarding_key=False,
    onboarding_credentials=(),
    onboarding_urls=(),
    capability_rules=PR1_RULES,
)
