"""What the WOS knows, kept as JSON files under the data directory so a restart loses nothing.

    devices/<deviceId>.json   registration, credentials, last accepted capabilities, and the
                              deployments of the device with the latest accepted status of each
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


@dataclass
class Deployment:
    deployment_id: str
    application_id: str
    name: str
    path: str  # the document's path inside the device's repository
    removed: bool = False
    status: dict[str, Any] | None = None  # latest accepted DeploymentStatus


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

    def device_by_client_id(self, client_id: str) -> Device | None:
        return next(
            (d for d in self.devices.values() if d.onboarded and d.client_id == client_id), None
        )

    def device_by_git_token(self, token: str) -> Device | None:
        return next(
            (d for d in self.devices.values() if d.onboarded and same_secret(token, d.git_token)),
            None,
        )

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
