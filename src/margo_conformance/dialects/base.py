"""What a profile dialect is: the members every profile fills in its own way.

A dialect is data plus a few builders. The emulated WOS takes its routes, schemas and document
kinds from it; the suite playing the device takes its requests, payloads and onboarding answer
reading from it; the agent role takes its fixture folders and desired-state transport from it;
the steps take from it which requirement a check shared by the profiles names.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from margo_conformance.base.errors import StepOrderError

if TYPE_CHECKING:
    from margo_conformance.base.evidence import EvidenceLog
    from margo_conformance.checks.capability_rules import CapabilityRules
    from margo_conformance.config.interop import V24Onboarding
    from margo_conformance.emulated_wos.desired_state import Publisher
    from margo_conformance.emulated_wos.state import DeviceRecord


@dataclass(frozen=True)
class Requirements:
    """The requirement a check the profiles share names in this profile."""

    #: The onboarding exchange and the answer the device reads its identity from.
    onboarding: str
    #: The root certificate a device downloads before it onboards.
    root_certificate: str
    #: The capabilities route: a valid report accepted and kept.
    capabilities_route: str
    #: The status route: a valid report accepted and shown to the operator.
    status_route: str
    #: The agent read desired state that carries a new deployment.
    desired_state_fetched: str
    #: A fetched deployment was applied: some status came for it.
    deployment_applied: str
    #: Deployment and component states reported in their order.
    status_sequence: tuple[str, ...]
    #: The members of a status document (and the deployment it names).
    status_document: str
    #: The state values a status document may carry.
    status_states: str
    #: One component entry per published component.
    status_components: str
    #: The overall state follows from the component states.
    overall_state: str

    @property
    def status_rows(self) -> tuple[str, str]:
        """(members, state values): the rows a status document's schema errors break (status_rules)."""
        return self.status_document, self.status_states


@dataclass(frozen=True)
class Routes:
    """The device-facing routes, in Starlette's path syntax (`{device_id}`, `{client_id}`, ...)."""

    root_certificate: str
    onboarding: str
    capabilities: str
    deployment_status: str
    #: Where desired state is served as a state manifest; None where it is a Git repository.
    state_manifest: str | None = None
    #: Capabilities of one device of a client (PR1's newest form, I-15); None where there is none.
    capabilities_of_device: str | None = None


@dataclass(frozen=True)
class OnboardingCall:
    """The device's onboarding request: where, with what body, and what its answer verifies."""

    path: str
    body: Any
    judged_by: tuple[str, ...]


@dataclass(frozen=True)
class AnswerMember:
    """Where the device reads one member of the onboarding answer and which requirement hands it out."""

    pointer: str
    requirement: str
    #: How messages name the answer ("the onboarding answer").
    what: str
    #: The documented shape a failed read names ("" for the schema's own).
    shape: str = ""


@dataclass(frozen=True)
class Dialect(ABC):
    """Everything that differs between profiles; one frozen instance per profile."""

    #: The profile's tag in the features and the SUT file (V24, PR1, ...).
    name: str
    #: The folder under schemas/ holding this profile's JSON Schemas.
    schema_folder: str
    routes: Routes
    requirements: Requirements
    #: Example documents: <payloads>/<document>/{valid,invalid}/*.json.
    payloads: Path
    #: Deployment templates the suite, as the WOS, publishes.
    deployments: Path
    #: Deliberately broken desired-state documents; None where the profile publishes none.
    broken_deployments: Path | None
    #: The evidence kinds that show the agent reading desired state (for failure excerpts).
    desired_state_evidence: tuple[str, ...]
    #: The media type a state manifest is served as; None where the profile has none.
    manifest_media_type: str | None
    #: The `kind` of the capabilities and status documents, as refusals name them.
    capabilities_kind: str
    status_kind: str
    #: The status the WOS answers an accepted status report with.
    status_accepted: int
    #: A WOS hands the device a one-time onboarding key at registration.
    issues_onboarding_key: bool
    #: (answer member, redaction kind) of the credentials the onboarding answer carries.
    onboarding_credentials: tuple[tuple[str, str], ...]
    #: Answer members that are URLs which may embed a credential.
    onboarding_urls: tuple[str, ...]
    #: Which capabilities row each schema error of a capabilities document breaks.
    capability_rules: CapabilityRules

    def schema(self, document: str) -> str:
        """The schema name (for `schemas.validation_errors`) of one of this profile's documents."""
        return f"{self.schema_folder}/{document}"

    @property
    def client_scoped(self) -> bool:
        """Are the device's routes under the client id the WOS assigned (1.0), not its device id?"""
        return "{client_id}" in self.routes.capabilities

    @property
    def serves_state_manifest(self) -> bool:
        return self.routes.state_manifest is not None

    def state_manifest_path(self, client_id: str) -> str:
        """Where a device GETs its state manifest; a profile without one is a step-order error."""
        if self.routes.state_manifest is None:
            raise StepOrderError(f"state-manifest steps need a PR1 scenario ({self.name} serves desired state "
                                 "from a Git repository; tag the feature @PR1)")
        return self.routes.state_manifest.format(client_id=client_id)

    def capabilities_path(self, owner: str) -> str:
        """The capabilities route for a device (V24: its device id; 1.0: its client id)."""
        return self.routes.capabilities.format(device_id=owner, client_id=owner)

    def client_capabilities_path(self, client_id: str, device_id: str, per_device: bool) -> str:
        """A 1.0 client's capabilities route for one of its devices: the per-device form, or
        the per-client one (I-15); a profile without client ids is a step-order error."""
        if self.routes.capabilities_of_device is None:
            raise StepOrderError(f"{self.name} has no client-scoped capabilities route; tag the feature @PR1")
        if per_device:
            return self.routes.capabilities_of_device.format(client_id=client_id, device_id=device_id)
        return self.routes.capabilities.format(client_id=client_id)

    def deployment_status_path(self, owner: str, deployment_id: str) -> str:
        return self.routes.deployment_status.format(device_id=owner, client_id=owner, deployment_id=deployment_id)

    def capabilities(self, device_id: str, variant: int = 0) -> dict[str, Any]:
        """A valid capabilities document of this profile, for the device `device_id`."""
        files = sorted((self.payloads / "device-capabilities" / "valid").glob("*.json"))
        document = json.loads(files[variant % len(files)].read_text())
        document["properties"]["id"] = device_id
        return document

    @abstractmethod
    def register_request(self, device_id: str, certificate_der: bytes = b"") -> dict[str, Any]:
        """The control adapter's register-device request for a new device (`certificate_der`:
        the certificate a 1.0 device will onboard with, as its operator enters it)."""

    @abstractmethod
    def onboarding_call(self, device_id: str, key: str, exchange: V24Onboarding,
                        certificate_der: bytes = b"") -> OnboardingCall:
        """The device's onboarding request; `exchange` is the V24 exchange the SUT file declares,
        `certificate_der` the certificate a 1.0 device presents (default: a fresh one)."""

    @abstractmethod
    def answer_member(self, name: str, exchange: V24Onboarding) -> AnswerMember:
        """Where the onboarding answer carries `name` (client_id, client_secret, token_endpoint,
        repository_url, git_token)."""

    @abstractmethod
    def status_report(self, deployment_id: str, device_id: str, components: Sequence[str],
                      state: str) -> dict[str, Any]:
        """A status document with the deployment and every component in `state`."""

    def _status_document(self, api_version: str, ids: dict[str, str], components: Sequence[str],
                         state: str) -> dict[str, Any]:
        """The status document both profiles share; `ids`: what names the deployment (and device)."""
        report: dict[str, Any] = {
            "apiVersion": api_version,
            "kind": self.status_kind,
            **ids,
            "status": {"state": state},
            "components": [{"name": name, "state": state} for name in components],
        }
        if state.lower() == "failed":  # V24 spells it Failed, PR1 failed
            report["status"]["error"] = {"code": "E1", "message": "failed on purpose"}
        return report

    @abstractmethod
    def capabilities_refusal(self, errors: Sequence[str]) -> str:
        """The requirement an agent broke whose capabilities report was refused as invalid
        (`errors`: the schema errors of its first report)."""

    @abstractmethod
    def publisher(self, device: DeviceRecord, clone: Path, evidence: EvidenceLog) -> Publisher:
        """How the suite, as the WOS, changes this device's desired state (`clone`: a working
        folder the publisher may use)."""
