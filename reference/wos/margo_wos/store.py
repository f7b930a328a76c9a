"""What the WOS knows, kept as JSON files under the data directory so a restart loses nothing.

    devices/<deviceId>.json   registration (profile V24 or PR1), credentials, last accepted
                              capabilities, and the deployments of the device with the latest
                              accepted status of each; for PR1 also the client certificate,
                              the manifest version and each deployment's YAML
    tokens.json               issued OAuth access tokens: owner device and expiry

Every write replaces a whole file atomically (temporary file, fsync, rename), so a crash
leaves either the old or the new state, never half of it. The server mutates the store only
from its event loop, which is why there is no lock.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROFILES = ("V24", "PR1")


@dataclass
class Deployment:
    deployment_id: str
    application_id: str
    name: str
    path: str  # V24: the document's path inside the device's repository ("" for PR1)
    removed: bool = False
    status: dict[str, Any] | None = None  # latest accepted DeploymentStatus(Manifest)
    #: PR1: the exact ApplicationDeployment YAML served in the state manifest (digested as
    #: UTF-8 bytes); kept in the record so a restart serves the same bytes and digests.
    document: str | None = None


@dataclass
class Device:
    device_id: str
    onboarding_key: str
    client_id: str = field(default_factory=lambda: f"client-{uuid.uuid4().hex[:16]}")
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    git_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    onboarded: bool = False
    capabilities: dict[str, Any] | None = None
    deployments: dict[str, Deployment] = field(default_factory=dict)
    #: Which device-facing interface the device speaks. A record written before PR1 existed
    #: has no such member and is V24.
    profile: str = "V24"
    #: When the operator registered the device: PR1 onboarding is first come, first served
    #: among the devices waiting for it, in this order.
    registered_at: float = field(default_factory=time.time)
    #: PR1: Base64 of the DER of the certificate the client onboarded with.
    client_certificate: str | None = None
    #: PR1: the certificate the operator entered at registration (Base64 of its DER), when
    #: they did: only that certificate onboards as this device.
    expected_certificate: str | None = None
    #: PR1: the version of the client's current state manifest (DSA-007). 1 when the client
    #: onboards; every later deploy or removal adds 1, in the same write as the change.
    manifest_version: int = 1

    @property
    def active_deployments(self) -> dict[str, Deployment]:
        return {k: d for k, d in self.deployments.items() if not d.removed}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Device:
        deployments = {
            key: Deployment(**value) for key, value in data.pop("deployments", {}).items()
        }
        return cls(**data, deployments=deployments)


@dataclass
class IssuedToken:
    device_id: str
    expires_at: float


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing does not leak how much of a secret matched."""
    return hmac.compare_digest(given.encode(), expected.encode())


class Store:
    def __init__(self, data_dir: Path) -> None:
        self._devices_dir = data_dir / "devices"
        self._tokens_file = data_dir / "tokens.json"
        self._devices_dir.mkdir(parents=True, exist_ok=True)
        self.devices: dict[str, Device] = {}
        for path in sorted(self._devices_dir.glob("*.json")):
            device = Device.from_json(json.loads(path.read_text()))
            self.devices[device.device_id] = device
        self.tokens: dict[str, IssuedToken] = {}
        if self._tokens_file.exists():
            raw = json.loads(self._tokens_file.read_text())
            self.tokens = {token: IssuedToken(**value) for token, value in raw.items()}

    # -- devices ----------------------------------------------------------------------

    def device(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    def save(self, device: Device) -> None:
        self.devices[device.device_id] = device
        _write_json(self._devices_dir / f"{device.device_id}.json", asdict(device))

    def device_by_client_id(self, client_id: str, profile: str = "V24") -> Device | None:
        """The onboarded device of that profile holding `client_id` (a V24 OAuth client or a
        PR1 client); a client id of the other profile is unknown here."""
        return next(
            (
                d
                for d in self.devices.values()
                if d.onboarded and d.profile == profile and d.client_id == client_id
            ),
            None,
        )

    def device_by_git_token(self, token: str) -> Device | None:
        return next(
            (
                d
                for d in self.devices.values()
                if d.onboarded and d.profile == "V24" and same_secret(token, d.git_token)
            ),
            None,
        )

    def device_by_certificate(self, certificate: str) -> Device | None:
        """The PR1 device that onboarded with this certificate (Base64 of its DER)."""
        return next(
            (
                d
                for d in self.devices.values()
                if d.onboarded and d.profile == "PR1" and d.client_certificate == certificate
            ),
            None,
        )

    def next_waiting_for_pr1(self, certificate: str) -> Device | None:
        """The device waiting for a PR1 onboarding with this certificate: the one the operator
        registered it for, else the one registered first among those registered without one."""
        waiting = [d for d in self.devices.values() if d.profile == "PR1" and not d.onboarded]
        expected = next((d for d in waiting if d.expected_certificate == certificate), None)
        if expected is not None:
            return expected
        open_ = [d for d in waiting if d.expected_certificate is None]
        return min(open_, key=lambda d: (d.registered_at, d.device_id), default=None)

    # -- access tokens ----------------------------------------------------------------

    def issue_token(self, device_id: str, lifetime_s: int) -> str:
        now = time.time()
        # Forget expired tokens here, the one place the file is rewritten anyway.
        self.tokens = {t: i for t, i in self.tokens.items() if i.expires_at > now}
        token = secrets.token_urlsafe(32)
        self.tokens[token] = IssuedToken(device_id, now + lifetime_s)
        _write_json(self._tokens_file, {t: asdict(i) for t, i in self.tokens.items()})
        return token

    def token_owner(self, token: str) -> str | None:
        """The device a still valid access token was issued to."""
        issued = self.tokens.get(token)
        if issued is None or issued.expires_at <= time.time():
            return None
        return issued.device_id


def _write_json(path: Path, data: Any) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    # 0600: these files hold client secrets and tokens.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
