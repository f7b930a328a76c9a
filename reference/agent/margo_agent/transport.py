"""Minimal HTTP over the standard library, with errors folded into two outcomes.

Callers want "a response with a status code" or "the network failed"; urllib mixes
both into exceptions, so this module separates them once.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from margo_agent import __version__

USER_AGENT = f"margo-reference-agent/{__version__}"
TIMEOUT_S = 15.0


class TransportError(Exception):
    """The request never produced an HTTP response (DNS, refused, reset, timeout, TLS)."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def summary(self, limit: int = 300) -> str:
        """Status plus the start of the body: enough to diagnose a problem document."""
        text = self.body.decode("utf-8", "replace").replace("\n", " ").strip()
        return f"HTTP {self.status}" + (f" {text[:limit]}" if text else "")


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpResponse:
    all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=body, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S, context=ssl_context) as resp:
            return HttpResponse(resp.status, resp.read(), resp.headers.get("Content-Type", ""))
    except urllib.error.HTTPError as err:
        with err:
            return HttpResponse(err.code, err.read(), err.headers.get("Content-Type", ""))
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise TransportError(f"{method} {url}: {reason}") from err


def json_body(document: Any) -> tuple[bytes, dict[str, str]]:
    return json.dumps(document).encode("utf-8"), {"Content-Type": "application/json"}
