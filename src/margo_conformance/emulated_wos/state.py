"""What the emulated WOS knows: registered devices, the credentials it issued, what it received.

Each scenario registers a fresh device, so scenarios never share identities, tokens or
repositories. Each device carries the scenario's evidence log: whatever the WOS sees about
that device is recorded there.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from margo_conformance.base import credentials, redaction
from margo_conformance.base.evidence import NOTE, EvidenceLog
from margo_conformance.emulated_wos.manifest import ClientDesiredState

TOKEN_LIFETIME_S = 3600


@dataclass
class ReceivedDocument:
    """A capabilities or status document as the WOS received it, with its schema verdict.

    A body that is not JSON (or is empty) is kept too, as `document` None with the one error
    saying so at the root, so the step judging the report fails naming it (not "no report").
    """

    at: float
    method: str
    path: str
    document: Any
    errors: list[str]
    parsed: bool = True  # False: the body was not JSON


@dataclass(frozen=True)
class Refusal:
    """A request of the device the WOS refused for what it named, and the requirement it broke."""

    at: float
    method: str
    path: str
    status: int
    requirement: str
    member: str  # where in the request the fault is, e.g. "the route's {deploymentId}"
    reason: str

    def describe(self) -> str:
        return f"{self.method} {self.path} -> {self.status}: {self.member}: {self.reason}"


@dataclass
class DeviceRecord:
    device_id: str
    onboarding_key: str
    evidence: EvidenceLog
    repo_path: Path
    client_id: str = field(default_factory=lambda: f"client-{uuid.uuid4().hex[:12]}")
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    git_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    git_access_allowed: bool = True
    onboarded_at: float | None = None
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch s)
    issued_access_tokens: list[str] = field(default_factory=list)  # every one, revoked ones too
    capabilities: list[ReceivedDocument] = field(default_factory=list)
    statuses: dict[str, list[ReceivedDocument]] = field(default_factory=dict)
    #: Refused for what they named (a deployment never assigned to this device), in order.
    refusals: list[Refusal] = field(default_factory=list)
    #: Every deployment id the WOS ever assigned to this device (kept after a removal: a device
    #: reports on removed deployments too).
    assigned_deployments: set[str] = field(default_factory=set)
    client_certificate: str | None = None  # PR1: what the client onboarded with
    #: The WOS's root URL as this device reaches it (its own network link, wos/link.py), when
    #: that differs from the WOS's; onboarding hands out token and Git URLs under it.
    public_url: str | None = None
    _desired: ClientDesiredState | None = None

    def __post_init__(self) -> None:
        # Learned as issued, before any of them can reach an evidence log or a SUT's output.
        redaction.learn(credentials.ONBOARDING_KEY, self.onboarding_key)
        redaction.learn(credentials.CLIENT_SECRET, self.client_secret)
        redaction.learn(credentials.GIT_TOKEN, self.git_token)

    def desired_state(self) -> ClientDesiredState:
        """PR1: the deployments the WOS serves this client through its state manifest."""
        if self._desired is None:
            self._desired = ClientDesiredState(self.client_id)
        return self._desired

    def assign(self, deployment_id: str) -> None:
        """The WOS hands this device a deployment: status reports for it are accepted from now on."""
        self.assigned_deployments.add(deployment_id)

    def refuse(self, refusal: Refusal) -> None:
        self.refusals.append(refusal)
        self.evidence.record(NOTE, f"the orchestrator refused {refusal.describe()}", requirement=refusal.requirement,
                             refused=refusal.path, member=refusal.member)

    def issued_credentials(self) -> list[tuple[str, str]]:
        """(kind, value) of every credential the WOS issued this device."""
        issued = [(credentials.ONBOARDING_KEY, self.onboarding_key), (credentials.CLIENT_SECRET, self.client_secret),
                  (credentials.GIT_TOKEN, self.git_token)]
        return issued + [(credentials.ACCESS_TOKEN, token) for token in self.issued_access_tokens]

    def issue_access_token(self) -> str:
        token = secrets.token_urlsafe(32)
        redaction.learn(credentials.ACCESS_TOKEN, token)
        self.issued_access_tokens.append(token)
        self.access_tokens[token] = time.time() + TOKEN_LIFETIME_S
        return token

    def token_is_valid(self, token: str) -> bool:
        expiry = self.access_tokens.get(token)
        return expiry is not None and expiry > time.time()

    def expire_access_tokens(self) -> int:
        """End the lifetime of every access token issued so far (they are known, but expired)."""
        now = time.time()
        live = [t for t, expiry in self.access_tokens.items() if expiry > now]
        for token in live:
            self.access_tokens[token] = now
        self.evidence.record(NOTE, f"the orchestrator let {len(live)} access token(s) of {self.device_id} expire",
                             tokens=len(live), change="expired")
        return len(live)

    def revoke_access_tokens(self) -> int:
        """Forget every access token issued so far: the WOS no longer knows them."""
        count = len(self.access_tokens)
        self.access_tokens.clear()
        self.evidence.record(NOTE, f"the orchestrator revoked {count} access token(s) of {self.device_id}",
                             tokens=count, change="revoked")
        return count


class WosState:
    """Thread-safe registry of devices; the HTTP handlers and the steps both use it."""

    def __init__(self, repos_root: Path) -> None:
        self.repos_root = repos_root
        self._lock = threading.Lock()
        self._devices: dict[str, DeviceRecord] = {}
        self.unattributed = EvidenceLog()
        # Scenarios run one at a time per process, so a request that names no device (the
        # root-certificate download) belongs to the scenario whose device registered last.
        self._active: DeviceRecord | None = None

    def active_device(self) -> DeviceRecord | None:
        with self._lock:
            return self._active

    def evidence_for_unattributed(self) -> EvidenceLog:
        with self._lock:
            return self._active.evidence if self._active is not None else self.unattributed

    def register_device(self, evidence: EvidenceLog, device_id: str | None = None) -> DeviceRecord:
        device_id = device_id or f"dev-{uuid.uuid4().hex[:10]}"
        record = DeviceRecord(
            device_id=device_id,
            onboarding_key=secrets.token_urlsafe(16),
            evidence=evidence,
            repo_path=self.repos_root / f"{device_id}.git",
        )
        with self._lock:
            self._devices[device_id] = record
            self._active = record
        return record

    def forget_device(self, device_id: str) -> None:
        with self._lock:
            self._devices.pop(device_id, None)
            if self._active is not None and self._active.device_id == device_id:
                self._active = None

    def device(self, device_id: str) -> DeviceRecord | None:
        with self._lock:
            return self._devices.get(device_id)

    def device_by_client_id(self, client_id: str) -> DeviceRecord | None:
        with self._lock:
            return next((d for d in self._devices.values() if d.client_id == client_id), None)

    def device_by_access_token(self, token: str) -> DeviceRecord | None:
        with self._lock:
            return next((d for d in self._devices.values() if token in d.access_tokens), None)

    def device_by_git_token(self, token: str) -> DeviceRecord | None:
        with self._lock:
            return next((d for d in self._devices.values() if d.git_token == token), None)
