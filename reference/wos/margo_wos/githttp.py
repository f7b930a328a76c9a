"""Git smart HTTP for the desired-state repositories: `git http-backend` behind token checks.

git's own CGI program speaks every protocol version a device's git may choose (v0, v1, v2),
so this module only decides who may read which repository (GIT-001, GIT-006) and translates
between ASGI and CGI. Devices read; nobody pushes over HTTP (the WOS writes locally).
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from starlette.requests import Request
from starlette.responses import Response

from margo_wos.service import Wos
from margo_wos.web import problem

REALM = "margo-desired-state"
PUSH_SERVICE = "git-receive-pack"


def presented_token(authorization: str) -> str | None:
    """The token from `Bearer <token>` or from the password of HTTP Basic (any user name)."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            _, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or None
    return None


def refusal(wos: Wos, device_id: str, authorization: str) -> Response | None:
    """Why this request may not read `device_id`'s repository, or None when it may."""
    token = presented_token(authorization)
    holder = wos.store.device_by_git_token(token) if token else None
    if holder is None:
        # Basic, because that is the challenge a stock git client answers with its credentials.
        return problem(
            401,
            "a valid repository access token is required",
            headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
        )
    owner = wos.store.device(device_id)
    # repository-unreachable: the URL handed out at onboarding leads nowhere, token or not.
    unreachable = "repository-unreachable" in wos.config.faults
    if owner is None or not wos.repos.bare(device_id).exists() or unreachable:
        return problem(404, f"no repository for device {device_id!r}")
    if holder.device_id != owner.device_id and "shared-repositories" not in wos.config.faults:
        return problem(403, "the token belongs to another device's repository")
    return None


async def serve_git(wos: Wos, request: Request) -> Response:
    repository, _, rest = request.path_params["path"].partition("/")
    if not repository.endswith(".git") or not rest or ".." in rest.split("/"):
        return problem(404, "not a repository path")
    device_id = repository[: -len(".git")]
    if rest == PUSH_SERVICE or request.query_params.get("service") == PUSH_SERVICE:
        return problem(403, "desired state is written by the WOS only; pushes are refused")
    denied = refusal(wos, device_id, request.headers.get("authorization", ""))
    if denied is not None:
        return denied
    return await _run_http_backend(wos, request, f"/{repository}/{rest}", device_id)


async def _run_http_backend(wos: Wos, request: Request, path_info: str, reader: str) -> Response:
    body = await request.body()  # uvicorn has already undone chunked transfer encoding
    env = {
        "GIT_PROJECT_ROOT": str(wos.repos.root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(wos.config.data_dir),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PATH_INFO": path_info,
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        # Only now that the token checked out: http-backend trusts REMOTE_USER blindly.
        "REMOTE_USER": reader,
        "REMOTE_ADDR": request.client.host if request.client else "",
    }
    if "git-protocol" in request.headers:
        env["GIT_PROTOCOL"] = request.headers["git-protocol"]  # how a client asks for protocol v2
    if "content-encoding" in request.headers:
        env["HTTP_CONTENT_ENCODING"] = request.headers[
            "content-encoding"
        ]  # git gzips large requests
    process = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await process.communicate(body)
    if process.returncode != 0 and not output:
        return problem(
            500, f"git http-backend failed: {errors.decode(errors='replace').strip()[:200]}"
        )
    return _cgi_response(output)


def _cgi_response(output: bytes) -> Response:
    """CGI output is headers, an empty line, then the body; `Status:` carries the HTTP status."""
    crlf, lf = output.find(b"\r\n\r\n"), output.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf < lf):
        head, payload = output[:crlf], output[crlf + 4 :]
    elif lf != -1:
        head, payload = output[:lf], output[lf + 2 :]
    else:
        head, payload = output, b""
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "status":
            status = int(value.split()[0])
        elif name.strip():
            headers[name.strip()] = value.strip()
    return Response(payload, status_code=status, headers=headers)
