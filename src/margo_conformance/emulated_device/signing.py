"""How the suite's PR1 device signs a request (SEC-011): properly, or with one defect a WOS
must refuse (SEC-012..SEC-014).

A signer takes (method, URL, body) and returns the headers to add and the body to send: a
defect may change the body after signing (the digest then no longer matches it).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from enum import Enum

from margo_conformance.base.message_signatures import SigningIdentity, new_identity, signature_headers

Signer = Callable[[str, str, bytes], tuple[dict[str, str], bytes]]
#: I-34: clearly stale and clearly future, whatever window the WOS allows.
HOUR = dt.timedelta(hours=1)


class Signing(Enum):
    """How a request is signed; the values are the Gherkin's words."""

    SIGNED = "signed"
    UNSIGNED = "without a signature"
    TAMPERED_SIGNATURE = "with a signature that does not verify"
    TAMPERED_BODY = "with its body changed after signing"
    NO_DIGEST = "signed without a Content-Digest"
    UNKNOWN_KEY = "signed with a key the orchestrator never onboarded"
    STALE = "signed an hour ago"
    FUTURE = "signed an hour ahead"


#: The requirement a WOS's refusal of each defect verifies.
REFUSAL_ROWS = {
    Signing.UNSIGNED: "SEC-012",
    Signing.TAMPERED_SIGNATURE: "SEC-012",
    Signing.UNKNOWN_KEY: "SEC-012",
    Signing.STALE: "SEC-013",
    Signing.FUTURE: "SEC-013",
    Signing.TAMPERED_BODY: "SEC-014",
    Signing.NO_DIGEST: "SEC-014",
}


def request_signer(identity: SigningIdentity, how: Signing) -> Signer | None:
    """The signer for `how` (None: the request goes unsigned)."""
    if how is Signing.UNSIGNED:
        return None

    def sign(method: str, url: str, body: bytes) -> tuple[dict[str, str], bytes]:
        signer = new_identity("never-onboarded", identity.algorithm) if how is Signing.UNKNOWN_KEY else identity
        created = dt.datetime.now(dt.UTC) + {Signing.STALE: -HOUR, Signing.FUTURE: HOUR}.get(how, dt.timedelta())
        headers = signature_headers(signer, method, url, body, created=created,
                                    with_digest=how is not Signing.NO_DIGEST)
        if how is Signing.TAMPERED_SIGNATURE:
            headers["Signature"] = _flipped(headers["Signature"])
        if how is Signing.TAMPERED_BODY:
            body = body.replace(b"}", b', "x-tampered-extensions": {"after": "signing"}}', 1) if body else b"{}"
        return headers, body

    return sign


def _flipped(signature_field: str) -> str:
    """`sig1=:<base64>:` with one bit of the signature changed."""
    label, value = signature_field.split("=", 1)
    raw = bytearray(base64.b64decode(value.strip(":")))
    raw[len(raw) // 2] ^= 0x01
    return f"{label}=:{base64.b64encode(bytes(raw)).decode('ascii')}:"
