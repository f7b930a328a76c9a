"""ASGI middleware that records every exchange with the emulated WOS as evidence.

Handlers say which device a request concerns (`scope["margo.device"]`) and, for Git, what
the request meant (`scope["margo.git"]`); the middleware writes one event per exchange to that
device's evidence log, or to the unattributed log when no device could be named.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from margo_conformance.base import redaction
from margo_conformance.base.evidence import GIT, HTTP
from margo_conformance.emulated_wos.state import WosState

BODY_LIMIT = 8192


def _text(body: bytes) -> str:
    # Redacted before it is cut: a credential across the cut would otherwise leave a prefix.
    shown = redaction.redact_text(body.decode("utf-8", errors="replace"))[:BODY_LIMIT]
    return shown + (f"... ({len(body)} bytes)" if len(body) > BODY_LIMIT else "")


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Headers for the record, as sent: credentials in them are replaced by placeholders when
    the evidence is written (margo_conformance.base.redaction), which learns them here."""
    return {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in raw}


def learn_credentials(
    request_headers: dict[str, str], request_body: bytes, response_body: bytes, git: bool
) -> None:
    """Every credential of one exchange, in either direction: Authorization headers, secrets
    in a form or JSON body, tokens and keys in the answer. Git bodies are pack protocol, never
    recorded, and can be large: only their headers are read."""
    redactor = redaction.current()
    redactor.learn_headers(request_headers)
    if not git:
        redactor.learn_body(request_body, request_headers.get("content-type", ""))
        redactor.learn_body(response_body)


class RecordingMiddleware:
    def __init__(self, app: ASGIApp, state: WosState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.time()
        request_body = bytearray()
        response: dict[str, Any] = {"status": 0, "body": bytearray(), "headers": []}

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        recorded = False
        held_start: list[Message] = []

        async def recording_send(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = message.get("headers", [])
                # Hold the headers back: with an empty body they alone complete the response,
                # and the evidence must be recorded before the client can see any of it.
                held_start.append(message)
                return
            if message["type"] == "http.response.body":
                response["body"].extend(message.get("body", b""))
                if not message.get("more_body", False):
                    recorded = True
                    self._record(scope, bytes(request_body), response, started)
            while held_start:
                await send(held_start.pop())
            await send(message)

        try:
            await self.app(scope, recording_receive, recording_send)
        finally:
            if not recorded:
                self._record(scope, bytes(request_body), response, started)

    def _record(self, scope: Scope, body: bytes, response: dict[str, Any], started: float) -> None:
        device = scope.get("margo.device")
        log = device.evidence if device is not None else self.state.evidence_for_unattributed()
        status = response["status"]
        path = scope["path"] + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
        request_headers = _headers(scope.get("headers", []))
        git_op = scope.get("margo.git")
        learn_credentials(request_headers, body, bytes(response["body"]), git=git_op is not None)
        route = scope.get("route")  # the route that served it, named by its operation (base/exchanges.py)
        common = {
            "operation": str(route.name) if getattr(route, "name", None) else None,
            "params": {str(k): str(v) for k, v in scope.get("path_params", {}).items()},
            "method": scope["method"],
            "path": path,
            "status": status,
            "duration_ms": round((time.time() - started) * 1000, 1),
            "request_headers": request_headers,
            "device": device.device_id if device is not None else None,
            "client": scope["client"][0] if scope.get("client") else None,
        }
        if git_op is not None:
            log.record(
                GIT,
                git_op.describe(status),
                repo=git_op.repo,
                service=git_op.service,
                phase=git_op.phase,
                auth=git_op.auth,
                wants=list(git_op.wants),
                **common,
            )
            return
        signature = scope.get("margo.signature")  # PR1: the verdict on its RFC 9421 signature
        log.record(
            HTTP,
            f"{scope['method']} {path} -> {status}",
            request_body=_text(body),
            response_body=_text(bytes(response["body"])),
            **({"signature": signature} if signature is not None else {}),
            **common,
        )
