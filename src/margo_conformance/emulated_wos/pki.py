"""The emulated WOS's root CA: a real, freshly generated X.509 certificate (CRT-001)."""

from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def generate_root_ca(common_name: str = "margo-conformance emulated WOS root CA") -> bytes:
    """A self-signed CA certificate in PEM; the key is discarded (nothing is signed with it yet)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_field(pem: bytes) -> str:
    """The `certificate` member of the download response: Base64 of the PEM text."""
    return base64.b64encode(pem).decode("ascii")


def parse_certificate_field(value: str) -> x509.Certificate:
    """Decode a certificate download in either encoding the spec allows (I-22: PEM or DER)."""
    raw = base64.b64decode(value, validate=True)
    if raw.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(raw)
    return x509.load_der_x509_certificate(raw)
