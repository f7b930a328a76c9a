"""What an agent's `git fetch` sends when it polls and nothing changed, as bytes on the wire.

Captured once from a real `git fetch` (git 2.39.5, protocol v2) against the emulated WOS:
a GET of `info/refs?service=git-upload-pack` with `Git-Protocol: version=2` (the capability
advertisement), then a POST to `git-upload-pack` with an `ls-refs` command. When the refs
match what the client has, git stops there. The fleet profile and the emulator benchmark
replay exactly these requests, so a simulated poll costs the server what a real one does.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

GIT_AGENT = "git/2.39.5"
UPLOAD_PACK = "git-upload-pack"
ADVERTISE_QUERY = f"service={UPLOAD_PACK}"

#: The ls-refs request body git 2.39.5 sent on a fetch of `main` (pkt-lines, flush-terminated).
LS_REFS_BODY = (
    b"0014command=ls-refs\n"
    b"0014agent=git/2.39.5"
    b"0016object-format=sha1"
    b"0001"
    b"0009peel\n"
    b"000csymrefs\n"
    b"000bunborn\n"
    b"001bref-prefix refs/heads/\n"
    b"001fref-prefix refs/heads/main\n"
    b"001aref-prefix refs/tags/\n"
    b"0000"
)

#: Headers git sent with each request (besides Host, Authorization and Content-Length).
ADVERTISE_HEADERS = {
    "User-Agent": GIT_AGENT,
    "Accept": "*/*",
    "Pragma": "no-cache",
    "Git-Protocol": "version=2",
}
LS_REFS_HEADERS = {
    "User-Agent": GIT_AGENT,
    "Content-Type": f"application/x-{UPLOAD_PACK}-request",
    "Accept": f"application/x-{UPLOAD_PACK}-result",
    "Git-Protocol": "version=2",
}


def advertise_path(repository_path: str) -> str:
    """`/git/dev-1.git` -> the advertisement request's path and query."""
    return f"{repository_path.rstrip('/')}/info/refs?{ADVERTISE_QUERY}"


def ls_refs_path(repository_path: str) -> str:
    return f"{repository_path.rstrip('/')}/{UPLOAD_PACK}"


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(token: str, user: str = "device") -> str:
    """Basic credentials carrying the token as password (what git sends from a URL)."""
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def pkt_lines(payload: bytes) -> Iterator[bytes]:
    """The data of each pkt-line; flush (0000), delimiter (0001) and end (0002) packets skipped."""
    position = 0
    while position + 4 <= len(payload):
        try:
            length = int(payload[position : position + 4], 16)
        except ValueError as exc:
            raise ValueError(f"not a pkt-line at byte {position}: {payload[position:position + 4]!r}") from exc
        if length < 4:
            position += 4
            continue
        yield payload[position + 4 : position + length]
        position += length


def parse_ls_refs(payload: bytes) -> dict[str, str]:
    """An ls-refs answer -> {ref name: object id}; symref and peeled attributes dropped."""
    refs: dict[str, str] = {}
    for line in pkt_lines(payload):
        fields = line.rstrip(b"\n").decode("utf-8", errors="replace").split(" ")
        if len(fields) >= 2 and len(fields[0]) == 40:
            refs[fields[1]] = fields[0]
    return refs
