"""PR1 request signing (base/message_signatures.py) and the device's defective signatures
(emulated_device/signing.py): what the suite signs verifies, each defect is found as the
defect it is."""

from __future__ import annotations

import pytest

from margo_conformance.base.message_signatures import ALGORITHMS, new_identity, signature_headers, verify
from margo_conformance.emulated_device.signing import REFUSAL_ROWS, Signing, request_signer

URL = "http://wos.test:8080/api/v1/clients/c-1/capabilities/dev-1"
BODY = b'{"kind": "DeviceCapabilitiesManifest", "properties": {"id": "dev-1"}}'


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_a_signed_request_verifies_with_its_certificate_and_no_other(algorithm: str) -> None:
    identity = new_identity("dev-1", algorithm)
    headers = signature_headers(identity, "PUT", URL, BODY)
    assert 'sig1=("@method" "@target-uri" "content-digest")' in headers["Signature-Input"]
    verdict = verify(identity.certificate_der, "PUT", URL, headers, BODY)
    assert verdict.ok and verdict.algorithm == algorithm and verdict.key_id == identity.key_id
    assert not verify(new_identity("other", algorithm).certificate_der, "PUT", URL, headers, BODY).ok
    assert not verify(identity.certificate_der, "POST", URL, headers, BODY).ok  # the method is covered


def test_a_bodiless_request_verifies_with_or_without_an_empty_digest() -> None:
    identity = new_identity("dev-1")
    with_digest = signature_headers(identity, "GET", URL, b"")
    without = signature_headers(identity, "GET", URL, b"", with_digest=False)
    assert verify(identity.certificate_der, "GET", URL, with_digest, b"").ok
    assert verify(identity.certificate_der, "GET", URL, without, b"").ok  # I-31


@pytest.mark.parametrize("how", [s for s in Signing if s not in (Signing.SIGNED, Signing.UNSIGNED)])
def test_each_defect_is_found_as_the_defect_it_is(how: Signing) -> None:
    identity = new_identity("dev-1")
    sign = request_signer(identity, how)
    assert sign is not None
    headers, body = sign("PUT", URL, BODY)
    verdict = verify(identity.certificate_der, "PUT", URL, headers, body)
    assert not verdict.ok
    assert verdict.digest_fault == (REFUSAL_ROWS[how] == "SEC-014"), verdict.fault


def test_an_unsigned_request_is_said_to_be_unsigned() -> None:
    identity = new_identity("dev-1")
    assert request_signer(identity, Signing.UNSIGNED) is None
    assert "no Signature" in verify(identity.certificate_der, "PUT", URL, {}, BODY).fault
    headers, body = request_signer(identity, Signing.SIGNED)("PUT", URL, BODY)  # type: ignore[misc]
    assert body == BODY and verify(identity.certificate_der, "PUT", URL, headers, body).ok
