"""The WOS root CA (CRT-001), created once with the openssl CLI and kept in the data directory.

Nothing is signed with it yet (V24 devices talk plain bearer-token HTTP to this WOS); it is
generated for real so that devices can download and parse it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SUBJECT = "/O=Margo reference WOS/CN=Margo reference WOS root CA"


def load_or_create_root_ca(directory: Path) -> bytes:
    certificate = directory / "root-ca.pem"
    if not certificate.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = directory / "root-ca.key"
        # Written to a temporary name first, so an interrupted run never leaves half a CA.
        partial = directory / ".root-ca.pem.tmp"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(partial),
                "-days",
                "3650",
                "-subj",
                SUBJECT,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            check=True,
            capture_output=True,
        )
        key.chmod(0o600)
        partial.replace(certificate)
    return certificate.read_bytes()
