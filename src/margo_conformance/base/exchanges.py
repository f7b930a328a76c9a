"""Typed records of the exchanges with the emulated WOS: what each request *was*, not its path.

The emulated WOS names every route it serves by the operation it performs (`Operation`), and
the recorder writes that name into each HTTP event. Steps and observations ask for operations
(`Exchange.of(event)`, `is_operation`), so a profile that moves a route (V24 `/onboarding`,
PR1 `/api/v1/onboarding`) changes the dialect's routes and nothing that reads the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from margo_conformance.base.evidence import HTTP, Event


class Operation(StrEnum):
    ROOT_CERTIFICATE = "root_certificate"
    ONBOARDING = "onboarding"
    TOKEN = "token"
    CAPABILITIES = "capabilities"
    STATUS_REPORT = "status_report"
    ARTIFACT = "artifact"
    GIT = "git"
    STATE_MANIFEST = "state_manifest"
    DEPLOYMENT_DOCUMENT = "deployment_document"
    BUNDLE = "bundle"


@dataclass(frozen=True)
class Exchange:
    """One request to the emulated WOS and its answer, as recorded."""

    event: Event
    operation: Operation | None  # None: no route served it (a 404 for an unknown path)
    method: str
    path: str  # without the query
    status: int
    params: dict[str, str]  # the route's path parameters (device_id, deployment_id, digest, ...)

    @property
    def at(self) -> float:
        return self.event.at

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.event.data)

    @classmethod
    def of(cls, event: Event) -> Exchange:
        data = event.data
        name = data.get("operation")
        return cls(
            event=event,
            operation=Operation(name) if name in Operation.__members__.values() else None,
            method=str(data.get("method", "")),
            path=str(data.get("path", "")).split("?")[0],
            status=int(data.get("status", 0) or 0),
            params=dict(data.get("params") or {}),
        )


def is_operation(
    event: Event, operation: Operation | tuple[Operation, ...], method: str | None = None, **params: str
) -> bool:
    """Is the event an HTTP exchange of this operation (one of them, for a tuple), with this
    method and these path parameters (`deployment_id=...`) when given?"""
    data = event.data
    operations = operation if isinstance(operation, tuple) else (operation,)
    if event.kind != HTTP or data.get("operation") not in operations:
        return False
    if method is not None and data.get("method") != method:
        return False
    given = data.get("params") or {}
    return all(given.get(name) == value for name, value in params.items())
