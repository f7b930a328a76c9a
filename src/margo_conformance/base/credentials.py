"""The credentials a run handles: their kinds, the members that hold them, and their shapes.

Redaction (margo_conformance.base.redaction) learns credentials by value. This module says
where values are credentials: the kinds it files them under, the JSON or form member names
that hold one, and the shapes that give one away in any text (Authorization headers, URL
userinfo, PEM private keys). Each shape finder tests for a cheap substring first: most texts
a run writes (evidence, log lines) hold no credential, and a regex scan of them all is slow.
Tests can also have each scenario's issued credentials written down (`audit_issued`).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import unquote

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per run is still consistent
    fcntl = None  # type: ignore[assignment]

#: Tests only: a file (outside the report directory) to which each scenario appends the
#: credentials it was issued, gathered from the emulated WOS's and the simulated device's own
#: records, independently of what the redactor learned on the wire. Unset in normal runs.
AUDIT_ENV = "MARGO_CREDENTIAL_AUDIT"

ONBOARDING_KEY = "onboardingKey"
CLIENT_SECRET = "clientSecret"
ACCESS_TOKEN = "accessToken"
GIT_TOKEN = "gitToken"
BEARER_TOKEN = "bearerToken"
BASIC_CREDENTIALS = "basicCredentials"
PASSWORD = "password"
URL_CREDENTIALS = "urlCredentials"
PRIVATE_KEY = "privateKey"
SUT_SECRET = "sutSecret"

#: JSON or form member names whose string values are credentials, and the kind they are.
#: (V24's onboarding answer names the Git token `desiredState.accessToken`.)
MEMBER_KINDS: Mapping[str, str] = {
    "onboardingkey": ONBOARDING_KEY,
    "onboarding_key": ONBOARDING_KEY,
    "clientsecret": CLIENT_SECRET,
    "client_secret": CLIENT_SECRET,
    "access_token": ACCESS_TOKEN,
    "accesstoken": GIT_TOKEN,
    "refresh_token": "refreshToken",
    "id_token": "idToken",
    "password": PASSWORD,
    "privatekey": PRIVATE_KEY,
    "private_key": PRIVATE_KEY,
}
#: Any other member whose name ends so holds a credential too (kind: the member's name).
_CREDENTIAL_MEMBER = re.compile(r"(secret|password|passwd|token|private_?key|api_?key)$", re.IGNORECASE)

#: An Authorization header as it shows in text: a header line, a Python or JSON mapping, a
#: git `http.extraHeader`. Only after the header's name, so prose ("a bearer token") is not taken.
_AUTHORIZATION = re.compile(
    r"authorization[\"']?\s*[:=]\s*[\"']?(Bearer|Basic)\s+([A-Za-z0-9\-._~+/]{6,}=*)",
    re.IGNORECASE,
)
#: Starts at the literal "://" (the scheme is not needed to find the credentials), so the
#: regex engine can skip ahead to it instead of trying every word of a long evidence text.
_URL_USERINFO = re.compile(r"://([^/\s:@\"'<>]+):([^/\s@\"'<>]+)@")
_FORM = re.compile(r"[^\s&=]+=[^\s&]*(?:&[^\s&=]+=[^\s&]*)*")
_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----"
)


def member_kind(name: str) -> str | None:
    """The credential kind a JSON or form member of this name holds; None: not a credential."""
    lowered = name.lower()
    if lowered in MEMBER_KINDS:
        return MEMBER_KINDS[lowered]
    return name if _CREDENTIAL_MEMBER.search(name) else None


def document_credentials(document: object) -> list[tuple[str, str]]:
    """(kind, value) of every credential member of a JSON-like document, nested."""
    found: list[tuple[str, str]] = []
    if isinstance(document, Mapping):
        for name, value in document.items():
            kind = member_kind(str(name))
            if kind is not None and isinstance(value, str):
                found.append((kind, value))
            else:
                found += document_credentials(value)
    elif isinstance(document, list | tuple):
        for item in document:
            found += document_credentials(item)
    return found


def private_key_blocks(text: str) -> Iterator[str]:
    """Every PEM private key block in `text`, from its BEGIN line to its END line."""
    if "PRIVATE KEY-----" in text:
        for match in _PEM_PRIVATE_KEY.finditer(text):
            yield match.group(0)


def pem_body(block: str) -> str:
    """The base64 body of a PEM block as one line: no BEGIN/END lines, no headers."""
    return "".join(line for line in block.splitlines()[1:-1] if ":" not in line)


def authorization_headers(text: str) -> Iterator[str]:
    """The value (`Bearer x` or `Basic y`) of every Authorization header shown in `text`."""
    # A case-insensitive regex cannot skip ahead; the containment test can.
    if "authorization" in text.lower():
        for match in _AUTHORIZATION.finditer(text):
            yield f"{match.group(1)} {match.group(2)}"


def url_passwords(text: str) -> Iterator[str]:
    """The password of every `scheme://user:password@host` in `text`, percent-decoded."""
    if "@" in text:
        for match in _URL_USERINFO.finditer(text):
            yield unquote(match.group(2))


def base64_text(value: str) -> str | None:
    """`value` base64-decoded to UTF-8 text (padding optional); None when it is not that."""
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def is_form(text: str) -> bool:
    """Does `text` look like a URL-encoded form body (`a=1&b=2`)?"""
    return _FORM.fullmatch(text) is not None


def form_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in text.split("&"):
        name, _, value = pair.partition("=")
        fields[unquote(name.replace("+", " "))] = unquote(value.replace("+", " "))
    return fields


def audit_issued(credentials: Iterable[tuple[str, object]]) -> None:
    """Tests only (`MARGO_CREDENTIAL_AUDIT`): append the credentials a scenario was issued,
    one JSON line each, so a test can search the run's files for them. A no-op otherwise."""
    target = os.environ.get(AUDIT_ENV)
    if not target:
        return
    lines = "".join(
        json.dumps({"kind": kind, "value": value}) + "\n"
        for kind, value in credentials
        if isinstance(value, str) and value
    )
    with open(target, "ab") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(lines.encode("utf-8"))
