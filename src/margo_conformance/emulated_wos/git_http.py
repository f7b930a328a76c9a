"""Git smart HTTP for the desired-state repositories: git's own `git http-backend` behind auth.

The backend is git's CGI program, so clients meet the real protocol (v0, v1 and v2, shallow
clones, fetch negotiation). This module adds what the WOS owns: token authentication per
device repository (GIT-003, GIT-006) and a record of each operation, including which commits
a client asked for, so steps can tell a poll from a fetch of new desired state.

An agent polls by asking for the capability advertisement and then for the refs (ls-refs),
and both answers change only when the WOS publishes a commit. Forking `git http-backend` for
each of them caps the emulator far below a fleet polling once a second, so `PollCache` keeps
those two answers per repository, keyed on the repository's publication count
(`desired_state.publication_count`): a publication invalidates them. Authentication and
evidence happen for every request as before; fetches of objects always reach http-backend.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import re
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from margo_conformance.emulated_wos.desired_state import publication_count
from margo_conformance.emulated_wos.state import DeviceRecord, WosState

REALM = "margo-desired-state"
_WANT = re.compile(rb"want ([0-9a-f]{40})")
_UPLOAD_PACK = "git-upload-pack"
#: Protocol phases whose answer depends only on the refs, so a publication is all that changes it.
CACHEABLE_PHASES = ("advertise", "ls-refs")
POLL_CACHE_ENTRIES = 16384  # two per polling device, with room to spare


@dataclass(frozen=True)
class CachedAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def response(self) -> Response:
        return Response(self.body, status_code=self.status, headers=dict(self.headers))


PollKey = tuple[str, str, str, str, str, str, bytes]


class PollCache:
    """http-backend's answers to the poll requests, per repository and publication count."""

    def __init__(self, max_entries: int = POLL_CACHE_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[PollKey, tuple[int, CachedAnswer]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: PollKey, version: int) -> CachedAnswer | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: PollKey, version: int, answer: CachedAnswer) -> None:
        with self._lock:
            self._entries[key] = (version, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


#: One per process: keys carry the repository's absolute path, so WOS instances never mix.
POLL_CACHE = PollCache()


def poll_key(request: Request, repo_path: Path, rest: str, body: bytes) -> PollKey:
    """Everything http-backend's answer to a poll request depends on, besides the refs."""
    headers = request.headers
    return (
        str(repo_path),
        request.method,
        rest,
        request.url.query,
        headers.get("git-protocol", ""),
        headers.get("content-encoding", ""),
        body,
    )


@dataclass
class GitOperation:
    """What one HTTP request meant in git terms; recorded as evidence."""

    repo: str
    service: str  # git-upload-pack (read) or git-receive-pack (write)
    phase: str  # advertise, ls-refs, fetch, negotiate
    auth: str  # bearer, basic, none, invalid, wrong-device, revoked
    wants: list[str] = field(default_factory=list)

    def describe(self, status: int) -> str:
        wants = f" want {','.join(w[:7] for w in self.wants)}" if self.wants else ""
        return f"{self.phase} {self.repo} auth={self.auth}{wants} -> {status}"


def presented_token(authorization: str | None) -> tuple[str, str | None]:
    """(scheme, token) from an Authorization header; Basic carries the token as password."""
    if not authorization:
        return "none", None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return "bearer", value.strip() or None
    if scheme.lower() == "basic":
        try:
            _, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "basic", None
        return "basic", password or None
    return scheme.lower(), None


def classify(service: str, method: str, body: bytes) -> tuple[str, list[str]]:
    """Name the protocol phase of a request and list the commits it wants."""
    if method == "GET":
        return "advertise", []
    wants = [w.decode() for w in _WANT.findall(body)]
    if b"command=ls-refs" in body:
        return "ls-refs", []
    if wants:
        return "fetch", wants
    return "negotiate", []


def _decoded_body(body: bytes, encoding: str | None) -> bytes:
    """The request body as git wrote it before compression (for inspection only)."""
    if encoding == "gzip":
        try:
            return gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            return b""
    return body


def _service_of(request: Request, rest: str) -> str:
    if rest == "info/refs":
        return request.query_params.get("service", "")
    return rest


def authorize(state: WosState, repo: str, authorization: str | None) -> tuple[str, DeviceRecord | None]:
    """Decide access to one device's repository: (auth verdict, the repository's owner)."""
    owner = state.device(repo)
    scheme, token = presented_token(authorization)
    if token is None:
        return ("none" if scheme == "none" else "invalid"), owner
    holder = state.device_by_git_token(token)
    if holder is None:
        return "invalid", owner
    if owner is None or holder.device_id != owner.device_id:
        return "wrong-device", holder
    if not owner.git_access_allowed:
        return "revoked", owner
    return scheme, owner


async def handle_git(request: Request, state: WosState) -> Response:
    repo = request.path_params["repo"]
    rest = request.path_params["rest"]
    service = _service_of(request, rest)
    body = await request.body()
    inspected = _decoded_body(body, request.headers.get("content-encoding"))
    phase, wants = classify(service, request.method, inspected)
    auth, device = authorize(state, repo, request.headers.get("authorization"))
    op = GitOperation(repo=repo, service=service, phase=phase, auth=auth, wants=wants)
    request.scope["margo.git"] = op
    request.scope["margo.device"] = device

    if service != _UPLOAD_PACK:
        # Desired state is written by the WOS only; devices never push (GIT-005).
        return Response("pushes are not accepted\n", status_code=403)
    if auth in ("none", "invalid"):
        return Response(
            "authentication required\n",
            status_code=401,
            headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
        )
    if auth in ("wrong-device", "revoked"):
        return Response("access to this repository is refused\n", status_code=403)
    assert device is not None  # authorize() returns the owner for every accepted scheme
    if phase not in CACHEABLE_PHASES:
        return await run_http_backend(request, state.repos_root, f"/{repo}.git/{rest}", body, device)
    return await answer_poll(request, state, repo, rest, body, device)


async def answer_poll(
    request: Request, state: WosState, repo: str, rest: str, body: bytes, device: DeviceRecord
) -> Response:
    """An advertisement or ls-refs answer from the cache, or from http-backend (then cached)."""
    repo_path = state.repos_root / f"{repo}.git"
    key = poll_key(request, repo_path, rest, body)
    # Read the count before asking http-backend: an answer computed while a publication lands
    # is filed under the older count, which that publication has already made stale.
    version = publication_count(repo_path)
    cached = POLL_CACHE.get(key, version)
    if cached is not None:
        return cached.response()
    response = await run_http_backend(request, state.repos_root, f"/{repo}.git/{rest}", body, device)
    if response.status_code == 200:
        headers = tuple((k, v) for k, v in response.headers.items() if k != "content-length")
        POLL_CACHE.put(key, version, CachedAnswer(200, headers, bytes(response.body)))
    return response


async def run_http_backend(
    request: Request, project_root: Path, path_info: str, body: bytes, device: DeviceRecord
) -> Response:
    env = {
        "GIT_PROJECT_ROOT": str(project_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        # Set only now that authentication succeeded: http-backend trusts it.
        "REMOTE_USER": device.device_id,
        "REMOTE_ADDR": request.client.host if request.client else "",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(project_root),
    }
    if "git-protocol" in request.headers:
        env["GIT_PROTOCOL"] = request.headers["git-protocol"]
    if "content-encoding" in request.headers:
        env["HTTP_CONTENT_ENCODING"] = request.headers["content-encoding"]
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(body)
    if proc.returncode != 0 and not out:
        return Response(f"git http-backend failed: {err.decode(errors='replace')}", status_code=500)
    return cgi_response(out)


def cgi_response(output: bytes) -> Response:
    """Turn CGI output (headers, blank line, body) into a response."""
    head, sep, payload = output.partition(b"\r\n\r\n")
    if not sep:
        head, _, payload = output.partition(b"\n\n")
    status = 200
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name.strip()] = value.strip()
    return Response(payload, status_code=status, headers=headers)
