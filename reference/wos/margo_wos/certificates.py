"""Reading the X.509 certificate a PR1 client onboards with (ONB-011, ONB-012, I-22).

The certificate arrives as standard Base64 of DER or of PEM text. The openssl CLI (already
in the image for the root CA) decides whether it is a certificate; what comes back is its
DER, so the same certificate sent either way is recognised as the same one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

OPENSSL_TIMEOUT_S = 10


class NotACertificate(ValueError):
    pass


async def certificate_der(field: str) -> bytes:
    """The DER of the one certificate `field` (Base64 of DER or PEM) holds, or NotACertificate."""
    try:
        raw = base64.b64decode(field, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NotACertificate(f"the certificate is not Base64: {exc}") from exc
    if not raw:
        raise NotACertificate("the certificate is empty")
    form = "PEM" if raw.lstrip().startswith(b"-----BEGIN") else "DER"
    process = await asyncio.create_subprocess_exec(
        "openssl", "x509", "-inform", form, "-outform", "DER",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        der, errors = await asyncio.wait_for(process.communicate(raw), OPENSSL_TIMEOUT_S)
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise NotACertificate("reading the certificate took too long") from exc
    if process.returncode != 0 or not der:
        reason = errors.decode(errors="replace").strip().splitlines()
        detail = f" ({reason[0][:160]})" if reason else ""
        raise NotACertificate(f"the certificate is not an X.509 certificate in {form}{detail}")
    return der
