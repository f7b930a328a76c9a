"""The PR1 client signs its requests (SEC-011, ONB-014) and its signing faults break what they name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, InvalidSignature, algorithms
from margo_agent.faults import Faults, parse_faults
from margo_agent.pr1 import identity
from margo_agent.pr1.signing import RequestSigner

URL = "http://wos.test/api/v1/clients/c-1/capabilities/dev-1"
BODY = b'{"kind": "DeviceCapabilitiesManifest"}'


class _Key(HTTPSignatureKeyResolver):  # type: ignore[misc]
    def __init__(self, key: Any) -> None:
        self.key = key

    def resolve_public_key(self, key_id: str) -> Any:
        return self.key


class _Message:
    def __init__(self, method: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, URL, headers


def _verify(cert_file: Path, headers: dict[str, str], body: bytes = BODY, method: str = "PUT") -> None:
    public_key = x509.load_pem_x509_certificate(cert_file.read_bytes()).public_key()
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ECDSA_P256_SHA256, key_resolver=_Key(public_key))
    verifier.verify(_Message(method, headers), max_age=dt.timedelta(minutes=5),
                    require_components=("@method", "@target-uri"), body=body)


def _signer(tmp_path: Path, faults: str = "") -> tuple[RequestSigner, Path]:
    client = identity.ensure_identity(tmp_path, "dev-1")
    return RequestSigner(client.key_file, Faults(parse_faults(faults))), client.cert_file


def test_requests_are_signed_with_the_key_of_the_onboarding_certificate(tmp_path: Path) -> None:
    signer, cert = _signer(tmp_path)
    headers = signer.headers("PUT", URL, BODY)
    assert 'sig1=("@method" "@target-uri" "content-digest")' in headers["Signature-Input"]
    _verify(cert, headers)
    with pytest.raises(InvalidSignature):
        _verify(cert, headers, b'{"kind": "changed"}')


@pytest.mark.parametrize(("fault", "onboarding_signed", "later_signed"), [
    ("pr1-sign-nothing", False, False),
    ("pr1-unsigned-onboarding", False, True),
])
def test_unsigned_faults(tmp_path: Path, fault: str, onboarding_signed: bool, later_signed: bool) -> None:
    signer, _ = _signer(tmp_path, fault)
    assert bool(signer.headers("POST", URL, BODY, onboarding=True)) is onboarding_signed
    assert bool(signer.headers("PUT", URL, BODY)) is later_signed


@pytest.mark.parametrize("fault", ["pr1-stale-signatures", "pr1-no-content-digest"])
def test_faulty_signatures_do_not_verify_after_onboarding(tmp_path: Path, fault: str) -> None:
    signer, cert = _signer(tmp_path, fault)
    _verify(cert, signer.headers("POST", URL, BODY, onboarding=True), method="POST")
    with pytest.raises(InvalidSignature):
        _verify(cert, signer.headers("PUT", URL, BODY))
