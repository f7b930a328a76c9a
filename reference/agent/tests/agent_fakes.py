"""Test doubles shared by the agent's unit tests (imported by name, so the name is
specific enough not to clash with other test trees)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int
    body: object = None
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, (bytes, str)):
            return self.body.encode() if isinstance(self.body, str) else self.body
        return json.dumps(self.body).encode()


Route = Callable[[Recorded], Reply]


@dataclass
class FakeServer:
    """Routes are keyed by "METHOD /path"; unknown routes answer 404."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def route(self, key: str, handler: Route) -> None:
        self.routes[key] = handler
