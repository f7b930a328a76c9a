"""HTTP pieces both servers share: logging, RFC 9457 problem bodies, JSON bodies."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from margo_wos.validate import Violation


def log(prefix: str, message: str) -> None:
    """One line on stdout; the prefix is a stable word so logs can be grepped by topic."""
    sys.stdout.write(f"{prefix}: {message}\n")
    sys.stdout.flush()


def problem(
    status: int,
    detail: str = "",
    violations: Iterable[Violation] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    errors = [{"field": v.field, "message": v.message} for v in violations]
    if errors:
        body["errors"] = errors
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


#: The largest request body the WOS reads. No V24 document comes near it; a larger body is
#: refused with 413 (docs/v24-wire-contract.md section 8).
MAX_BODY_BYTES = 1024 * 1024
#: How much of a too-large body is read and thrown away so the client sees the 413 instead of
#: a connection reset while it is still sending; beyond this the connection is dropped.
DISCARD_LIMIT_BYTES = 16 * MAX_BODY_BYTES


class NotJson(ValueError):
    pass


class TooLarge(ValueError):
    """The request body is larger than MAX_BODY_BYTES."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or TooLarge after reading (and discarding) what the client sends."""
    declared = request.headers.get("content-length", "")
    too_large = declared.isdigit() and int(declared) > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            too_large = True
            chunks.clear()
        if too_large:
            if size > DISCARD_LIMIT_BYTES:
                break
            continue
        chunks.append(chunk)
    if too_large:
        raise TooLarge(f"the body is larger than {limit} bytes")
    return b"".join(chunks)


async def json_body(request: Request) -> Any:
    """The parsed JSON body; NotJson if it is not JSON, TooLarge if it is too large."""
    return parse_json(await read_body(request))


def parse_json(raw: bytes) -> Any:
    """The JSON document `raw` holds; NotJson if it holds none."""
    try:
        # NaN and Infinity are Python's extensions, not JSON.
        return json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotJson(str(exc)) from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class RequestLog:
    """ASGI middleware: one line per request, `<prefix>: METHOD path -> status (ms)`."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            elapsed_ms = (time.monotonic() - started) * 1000
            log(
                self.prefix,
                f"{scope['method']} {target} -> {status or 'no answer'} ({elapsed_ms:.0f} ms)",
            )
