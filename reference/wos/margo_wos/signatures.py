"""PR1 request verification (SEC-011..SEC-016): RFC 9421 signatures over @method,
@target-uri and Content-Digest, checked with the `http-message-signatures` library against
the certificate bound to the client.

A request is refused 401 when its signature is missing, does not verify with the client's key
or was created outside the window (SEC-012, SEC-013), and 400 when its body has no Content-Digest
or one that does not match (SEC-014). `keyid` is not used to find the key (I-30): the clientId
in the path names the certificate. A bodiless request may carry an empty-body digest or none
(I-31). The four PR1 algorithms are verified; the key type of the certificate and, for RSA, the
`alg` parameter say which (SEC-016; rsa-pss-sha256 as I-33 reads it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from margo_wos.faults import Faults

REQUIRED = ("@method", "@target-uri")
WINDOW = dt.timedelta(minutes=5)
SKEW = dt.timedelta(seconds=30)


class RsaPssSha256(algorithms.HTTPSignatureAlgorithm):
    """rsa-pss-sha256 (I-33): RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt."""

    algorithm_id = "rsa-pss-sha256"

    def __init__(self, public_key: Any = None, private_key: Any = None) -> None:
        self.public_key = public_key

    def sign(self, message: bytes) -> bytes:
        raise NotImplementedError("the WOS only verifies")

    def verify(self, signature: bytes, message: bytes) -> None:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        self.public_key.verify(signature, message, pss, hashes.SHA256())


ALGORITHMS: dict[str, type[algorithms.HTTPSignatureAlgorithm]] = {
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "ecdsa-p384-sha384": algorithms.ECDSA_P384_SHA384,
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
    "rsa-pss-sha256": RsaPssSha256,
}


class _Unchecked(algorithms.HTTPSignatureAlgorithm):
    """The pr1-signature-not-verified fault: any signature value passes."""

    algorithm_id = "unchecked"

    def __init__(self, public_key: Any = None, private_key: Any = None) -> None:
        pass

    def verify(self, signature: bytes, message: bytes) -> None:
        return None


class Refused(Exception):
    """Why a request is not accepted, and with which status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class _Message:
    method: str
    url: str
    headers: dict[str, str]


class _ClientKey(HTTPSignatureKeyResolver):  # type: ignore[misc]
    def __init__(self, public_key: Any) -> None:
        self.public_key = public_key

    def resolve_public_key(self, key_id: str) -> Any:
        return self.public_key


def _algorithm(public_key: Any, signature_input: str, faults: Faults) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name == "secp384r1":
            if "pr1-only-ecdsa-p256" in faults:
                raise Refused(401, "only ecdsa-p256-sha256 signatures are verified here")
            return "ecdsa-p384-sha384"
        return "ecdsa-p256-sha256"
    if "pr1-only-ecdsa-p256" in faults:
        raise Refused(401, "only ecdsa-p256-sha256 signatures are verified here")
    return "rsa-pss-sha256" if 'alg="rsa-pss-sha256"' in signature_input else "rsa-v1_5-sha256"


def check(certificate_der: bytes, method: str, url: str, headers: Mapping[str, str], body: bytes,
          faults: Faults) -> None:
    """Raise Refused unless the request is signed by the key of `certificate_der`."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if "signature" not in lowered or "signature-input" not in lowered:
        if "pr1-accept-unsigned" in faults:
            return
        raise Refused(401, "the request is not signed (RFC 9421 Signature and Signature-Input)")
    public_key = x509.load_der_x509_certificate(certificate_der).public_key()
    algorithm = _algorithm(public_key, lowered["signature-input"], faults)
    verifying = ALGORITHMS[algorithm]
    if "pr1-signature-not-verified" in faults:
        verifying = type("Unchecked", (_Unchecked,), {"algorithm_id": algorithm})
    verifier = HTTPMessageVerifier(signature_algorithm=verifying, key_resolver=_ClientKey(public_key))
    verifier.max_clock_skew = dt.timedelta(days=3650) if "pr1-ignore-created" in faults else SKEW
    message = _Message(method, url, lowered)
    window = None if "pr1-ignore-created" in faults else WINDOW
    try:
        results = verifier.verify(message, max_age=window, require_components=REQUIRED)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        raise Refused(401, f"the signature does not verify ({algorithm}): {exc}") from exc
    if "pr1-ignore-digest" in faults:
        return
    if body and "content-digest" not in lowered:
        raise Refused(400, "the request has a body but no Content-Digest")
    try:
        verifier.verify_body(message, results, body)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        raise Refused(400, f"the Content-Digest does not match the body or is not signed: {exc}") from exc
