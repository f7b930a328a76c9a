"""HTTP for the PR1 agent: `margo_agent.transport`, plus the response headers.

The state manifest needs the `ETag` response header, which `transport.HttpResponse` does not
keep. This wraps the same standard-library request with the same user agent, timeout and
error folding (a network failure is a `transport.TransportError`, an HTTP error status is a
response), so the V24 retry and status code handles both alike.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from margo_agent import transport
from margo_agent.transport import HttpResponse, TransportError


@dataclass(frozen=True)
class Response(HttpResponse):
    #: Header names in lowercase.
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Response:
    all_headers = {"User-Agent": transport.USER_AGENT, "Accept": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=body, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=transport.TIMEOUT_S, context=ssl_context) as resp:
            return _response(resp.status, resp.read(), resp.headers)
    except urllib.error.HTTPError as err:
        with err:
            return _response(err.code, err.read(), err.headers)
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise TransportError(f"{method} {url}: {reason}") from err


def _response(status: int, body: bytes, headers: object) -> Response:
    items = headers.items() if hasattr(headers, "items") else []  # type: ignore[union-attr]
    lowered = MappingProxyType({str(k).lower(): str(v) for k, v in items})
    return Response(status, body, lowered.get("content-type", ""), lowered)
