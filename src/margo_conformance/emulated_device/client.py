"""An HTTP client for a WOS's device-facing API that records every exchange as evidence.

It sends exactly what a step asks for, valid or deliberately broken, and never retries:
the WOS's answer is the observation. A WOS that does not answer within the request timeout
produces a `NoAnswer` result with the elapsed time, not an exception.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from margo_conformance.base import redaction, trust
from margo_conformance.base.evidence import HTTP, EvidenceLog
from margo_conformance.emulated_device.signing import Signer

BODY_LIMIT = 8192


@dataclass(frozen=True)
class Answer:
    """What the WOS answered (status None: no answer within the timeout, or no connection)."""

    method: str
    url: str
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    elapsed_s: float
    problem: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def describe(self) -> str:
        if self.status is None:
            return f"{self.method} {self.url}: no usable answer after {self.elapsed_s:.1f}s ({self.problem})"
        return f"{self.method} {self.url} -> {self.status} {_shorten(self.body, 300)}"


class DeviceClient:
    def __init__(self, base_url: str, evidence: EvidenceLog, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.evidence = evidence
        self._http = httpx.Client(timeout=timeout_s, verify=trust.public_roots())

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        raw_body: bytes | None = None,
        form: Mapping[str, str] | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        sign: Signer | None = None,
    ) -> Answer:
        """Send one request; `sign` (PR1) adds the signature headers over the final URL and body."""
        url = self.url(path)
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        content: bytes | None = raw_body
        if json_body is not None:
            content = json.dumps(json_body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        if sign is not None:
            signature, signed_body = sign(method, url, content or b"")
            sent_headers.update(signature)
            content = signed_body if content is not None or signed_body else None
        started = time.monotonic()
        try:
            with self.evidence.waiting():
                response = self._http.request(method, url, content=content, data=form, headers=sent_headers)
            answer = Answer(method, url, response.status_code, dict(response.headers), response.content,
                            time.monotonic() - started)
        except httpx.HTTPError as exc:
            answer = Answer(method, url, None, {}, b"", time.monotonic() - started, _reason(exc))
        sent = content if content is not None else _form_text(form)
        learn_credentials(sent_headers, sent, answer)
        self._record(answer, sent_headers, sent)
        return answer

    def _record(self, answer: Answer, sent_headers: Mapping[str, str], body: bytes | None) -> None:
        # As sent: the credentials in them become placeholders when the evidence is written.
        shown = {k.lower(): v for k, v in sent_headers.items()}
        status = answer.status if answer.status is not None else "no answer"
        self.evidence.record(
            HTTP,
            f"{answer.method} {answer.url.removeprefix(self.base_url)} -> {status}",
            method=answer.method,
            path=answer.url.removeprefix(self.base_url),
            status=answer.status,
            duration_ms=round(answer.elapsed_s * 1000, 1),
            request_headers=shown,
            request_body=_shorten(body or b"", BODY_LIMIT),
            response_headers=dict(answer.headers),
            response_body=_shorten(answer.body, BODY_LIMIT),
            problem=answer.problem,
            direction="suite->sut",
        )


def learn_credentials(sent_headers: Mapping[str, str], sent: bytes | None, answer: Answer) -> None:
    """Every credential of one exchange, both ways: what the device presented and what the WOS
    handed it (client secrets, access and Git tokens, keys)."""
    redactor = redaction.current()
    redactor.learn_headers(sent_headers)
    redactor.learn_body(sent, sent_headers.get("Content-Type", "form" if sent else ""))
    redactor.learn_body(answer.body)


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def _form_text(form: Mapping[str, str] | None) -> bytes | None:
    if not form:
        return None
    return urlencode(dict(form)).encode()


def _shorten(body: bytes, limit: int) -> str:
    # Redacted before it is cut: a credential across the cut would otherwise leave a prefix.
    text = redaction.redact_text(body.decode("utf-8", errors="replace"))[:limit]
    return text + (f"... ({len(body)} bytes)" if len(body) > limit else "")
