"""PR1 request signing (SEC-011, ONB-014): every request to the WOS after the root-certificate
download carries an RFC 9421 signature over @method, @target-uri and Content-Digest (RFC 9530),
made with the client's own key (the one its onboarding certificate holds), by the
`http-message-signatures` library.

`keyid` is the hex SHA-256 of the public key, as Margo's toolkit writes it (I-30); the WOS
finds the certificate by the clientId in the path, so it is informational.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

from margo_agent.faults import Faults

COVERED = ("@method", "@target-uri")
LABEL = "sig1"


@dataclass
class _Message:
    method: str
    url: str
    headers: dict[str, str]


class _OwnKey(HTTPSignatureKeyResolver):  # type: ignore[misc]
    def __init__(self, key: Any) -> None:
        self.key = key

    def resolve_private_key(self, key_id: str) -> Any:
        return self.key


class RequestSigner:
    """Signs the client's requests with the P-256 key in `key_file` (ecdsa-p256-sha256)."""

    def __init__(self, key_file: Path, faults: Faults) -> None:
        self._key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        spki = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = hashlib.sha256(spki).hexdigest()
        self._faults = faults

    def headers(self, method: str, url: str, body: bytes | None, onboarding: bool = False) -> dict[str, str]:
        """Content-Digest, Signature-Input and Signature for one request (none under a fault
        that leaves it unsigned)."""
        if self._faults.pr1_sign_nothing or (onboarding and self._faults.pr1_unsigned_onboarding):
            return {}
        created = dt.datetime.now(dt.UTC)
        if self._faults.pr1_stale_signatures and not onboarding:
            created -= dt.timedelta(hours=1)
        with_digest = not (self._faults.pr1_no_content_digest and not onboarding)
        message = _Message(method, url, {})
        signer = HTTPMessageSigner(signature_algorithm=algorithms.ECDSA_P256_SHA256, key_resolver=_OwnKey(self._key))
        signer.sign(message, key_id=self.key_id, created=created, label=LABEL, covered_component_ids=COVERED,
                    body=(body or b"") if with_digest else None)
        return message.headers
