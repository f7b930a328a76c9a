"""PR1 request signing: RFC 9421 HTTP Message Signatures over @method, @target-uri and
Content-Digest (RFC 9530), made and checked with the `http-message-signatures` library.

The suite signs as a device (testing a WOS) and verifies as the WFM (testing an agent). The
key is the one of the X.509 certificate the device onboarded with; the algorithm follows from
its key type (SEC-016). What the texts leave open follows REQUIREMENTS.md: `keyid` is any
string (I-30), a bodiless request may carry an empty-body digest or none (I-31), component
names are lowercase and `alg` optional (I-32), `rsa-pss-sha256` is RSASSA-PSS with SHA-256,
MGF1-SHA-256 and a 32-byte salt (I-33).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

#: The signature label the suite writes (any label is read).
LABEL = "sig1"
#: What every PR1 signature covers (SEC-011); content-digest is added for a body.
COVERED = ("@method", "@target-uri")
#: I-34: a created older than this, or later than the skew, is stale.
DEFAULT_WINDOW = dt.timedelta(minutes=5)
CLOCK_SKEW = dt.timedelta(seconds=30)


class RsaPssSha256(algorithms.HTTPSignatureAlgorithm):
    """`rsa-pss-sha256` as PR1 names it (not registered by RFC 9421, I-33): RSASSA-PSS with
    SHA-256, MGF1-SHA-256 and a 32-byte salt."""

    algorithm_id = "rsa-pss-sha256"

    def __init__(self, public_key: Any = None, private_key: Any = None) -> None:
        self.public_key, self.private_key = public_key, private_key

    def _padding(self) -> padding.PSS:
        return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message, self._padding(), hashes.SHA256())  # type: ignore[no-any-return]

    def verify(self, signature: bytes, message: bytes) -> None:
        self.public_key.verify(signature, message, self._padding(), hashes.SHA256())


#: The four PR1 algorithms (SEC-016) by their names.
ALGORITHMS: dict[str, type[algorithms.HTTPSignatureAlgorithm]] = {
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "ecdsa-p384-sha384": algorithms.ECDSA_P384_SHA384,
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
    "rsa-pss-sha256": RsaPssSha256,
}
DEFAULT_ALGORITHM = "ecdsa-p256-sha256"


@dataclass(frozen=True)
class SigningIdentity:
    """A device's key pair and the self-signed certificate it onboards with."""

    key: Any
    certificate_der: bytes
    algorithm: str = DEFAULT_ALGORITHM

    @property
    def key_id(self) -> str:
        """Margo's toolkit's keyid (I-30): the hex SHA-256 of the public key."""
        return key_id_of(self.key.public_key())


def key_id_of(public_key: Any) -> str:
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def _new_key(algorithm: str) -> Any:
    if algorithm == "ecdsa-p256-sha256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ecdsa-p384-sha384":
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_identity(common_name: str, algorithm: str = DEFAULT_ALGORITHM) -> SigningIdentity:
    """A fresh key of the algorithm's kind and a self-signed certificate for it (RFC 5280)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown PR1 signature algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    key = _new_key(algorithm)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=7))
        .sign(key, hashes.SHA256())
    )
    return SigningIdentity(key, certificate.public_bytes(serialization.Encoding.DER), algorithm)


@dataclass
class Message:
    """The parts of a request RFC 9421 signs: what the library reads and writes."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


class _OneKey(HTTPSignatureKeyResolver):  # type: ignore[misc]
    """Whatever `keyid` says, the key is the one bound to the client (I-30)."""

    def __init__(self, private_key: Any = None, public_key: Any = None) -> None:
        self.private_key, self.public_key = private_key, public_key

    def resolve_private_key(self, key_id: str) -> Any:
        return self.private_key

    def resolve_public_key(self, key_id: str) -> Any:
        return self.public_key


def signature_headers(identity: SigningIdentity, method: str, url: str, body: bytes,
                      created: dt.datetime | None = None, with_digest: bool = True) -> dict[str, str]:
    """Content-Digest, Signature-Input and Signature for one request (SEC-011). `with_digest`
    False signs without a digest, as a defective device would."""
    message = Message(method, url)
    signer = HTTPMessageSigner(signature_algorithm=ALGORITHMS[identity.algorithm],
                               key_resolver=_OneKey(private_key=identity.key))
    signer.sign(message, key_id=identity.key_id, created=created or dt.datetime.now(dt.UTC), label=LABEL,
                covered_component_ids=COVERED, body=body if with_digest else None)
    return message.headers


@dataclass(frozen=True)
class Verdict:
    """What verifying one request found: `fault` is "" for a good signature, else why not;
    `digest_fault` marks a missing or wrong Content-Digest (SEC-014: 400, not 401)."""

    fault: str = ""
    digest_fault: bool = False
    algorithm: str = ""
    key_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.fault


def algorithm_for(public_key: Any, named: str | None) -> str:
    """The PR1 algorithm a certificate's key signs with; for RSA the `alg` parameter picks
    between the two RSA algorithms (v1.5 when it names none)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ecdsa-p384-sha384" if public_key.curve.name == "secp384r1" else "ecdsa-p256-sha256"
    return named if named in ("rsa-v1_5-sha256", "rsa-pss-sha256") else "rsa-v1_5-sha256"


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def verify(certificate_der: bytes, method: str, url: str, headers: Mapping[str, str], body: bytes,
           window: dt.timedelta = DEFAULT_WINDOW) -> Verdict:
    """Verify a request against the certificate bound to its client (SEC-012..SEC-014, SEC-016)."""
    lowered = _lower(headers)
    if "signature" not in lowered or "signature-input" not in lowered:
        return Verdict("the request carries no Signature and Signature-Input")
    public_key = x509.load_der_x509_certificate(certificate_der).public_key()
    named = _named_algorithm(lowered["signature-input"])
    algorithm = algorithm_for(public_key, named)
    verifier = HTTPMessageVerifier(signature_algorithm=ALGORITHMS[algorithm],
                                   key_resolver=_OneKey(public_key=public_key))
    verifier.max_clock_skew = CLOCK_SKEW
    message = Message(method, url, lowered)
    try:
        results = verifier.verify(message, max_age=window, require_components=COVERED)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        return Verdict(f"the signature does not hold ({algorithm}, the key of the client's certificate): {exc}",
                       algorithm=algorithm)
    key_id = str(results[0].parameters.get("keyid", ""))
    digest = _digest_fault(verifier, message, results, body)
    if digest:
        return Verdict(digest, digest_fault=True, algorithm=algorithm, key_id=key_id)
    return Verdict(algorithm=algorithm, key_id=key_id)


def _digest_fault(verifier: HTTPMessageVerifier, message: Message, results: Any, body: bytes) -> str:
    """Why the body is not what the signature covers, or "" (I-31: an empty body may go without)."""
    if body and "content-digest" not in message.headers:
        return "the request has a body but no Content-Digest"
    try:
        verifier.verify_body(message, results, body)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        return f"the Content-Digest is not that of the body, or is not signed: {exc}"
    return ""


def _named_algorithm(signature_input: str) -> str | None:
    """The `alg` parameter of the signature, when it names one (read loosely: the verifier
    parses the header properly)."""
    marker = ';alg="'
    if marker not in signature_input:
        return None
    return signature_input.split(marker, 1)[1].split('"', 1)[0]
