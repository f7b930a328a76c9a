"""The PR1 client identity: a P-256 key, a self-signed certificate and the clientId the WOS
gave for it (ONB-011..ONB-013), all kept in the state directory.

The key pair is made with the `openssl` command line tool, which the agent's base images
carry (Debian's ca-certificates depends on it), so the agent needs no extra wheel. The
certificate travels as Base64 of its DER encoding.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KEY_FILE = "pr1-client-key.pem"
CERT_FILE = "pr1-client-cert.pem"
CLIENT_FILE = "pr1-client.json"
CERT_DAYS = 3650
OPENSSL_TIMEOUT_S = 60.0


class IdentityError(Exception):
    """The key pair or the certificate could not be made."""


@dataclass(frozen=True)
class ClientIdentity:
    key_file: Path
    cert_file: Path

    @property
    def certificate_pem(self) -> str:
        return self.cert_file.read_text(encoding="ascii")

    @property
    def certificate_field(self) -> str:
        """The OnboardingRequest's `certificate`: Base64 of the certificate's DER bytes."""
        der = ssl.PEM_cert_to_DER_cert(self.certificate_pem)
        return base64.b64encode(der).decode("ascii")


def ensure_identity(state_dir: Path, common_name: str) -> ClientIdentity:
    """The saved key and certificate, or new ones (written atomically, the key mode 0600)."""
    identity = ClientIdentity(state_dir / KEY_FILE, state_dir / CERT_FILE)
    if identity.key_file.is_file() and identity.cert_file.is_file():
        try:
            identity.certificate_field  # noqa: B018 - it must still parse
            return identity
        except (OSError, ValueError) as exc:
            log.warning("onboarding: saved client certificate unusable (%s), making a new one", exc)
    state_dir.mkdir(parents=True, exist_ok=True)
    openssl = shutil.which("openssl")
    if openssl is None:
        raise IdentityError("the openssl command is not installed")
    with tempfile.TemporaryDirectory(dir=state_dir, prefix=".identity-") as tmp:
        key, cert = Path(tmp) / "key.pem", Path(tmp) / "cert.pem"
        argv = [
            openssl, "req", "-x509", "-new", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256", "-nodes",
            "-days", str(CERT_DAYS), "-subj", f"/CN={_cn(common_name)}",
            "-keyout", str(key), "-out", str(cert),
        ]  # fmt: skip
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise IdentityError(f"openssl failed: {exc}") from None
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise IdentityError(f"openssl exited {result.returncode}: {last}")
        key.chmod(0o600)
        key.replace(identity.key_file)
        cert.replace(identity.cert_file)
    log.info("onboarding: made a P-256 key and a self-signed certificate in %s", state_dir)
    return identity


def _cn(name: str) -> str:
    """A subject common name openssl's -subj accepts: no / or =, at most 64 characters."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)[:64] or "margo-client"


def load_client_id(state_dir: Path, wos_url: str, device_id: str) -> str | None:
    """The clientId saved for this WOS and device, if any."""
    path = state_dir / CLIENT_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if (document.get("wosUrl"), document.get("deviceId")) != (wos_url, device_id):
            return None
        client_id = document["clientId"]
        return client_id if isinstance(client_id, str) and client_id else None
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("onboarding: ignoring unreadable %s (%s)", path, exc)
        return None


def save_client_id(state_dir: Path, wos_url: str, device_id: str, client_id: str) -> None:
    path = state_dir / CLIENT_FILE
    document = {"wosUrl": wos_url, "deviceId": device_id, "clientId": client_id}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle)


def forget_client_id(state_dir: Path) -> None:
    (state_dir / CLIENT_FILE).unlink(missing_ok=True)
