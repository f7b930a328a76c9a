"""Reading the evidence of an agent scenario: which recorded requests are which, and what they say.

Pure functions over recorded events and received documents, shared by the observations, the
orchestrator's outages and the onboarding scene; none of them waits or judges.
"""

from __future__ import annotations

import json

from margo_conformance.base.evidence import CONTAINER, Event
from margo_conformance.base.exchanges import Operation

#: The credentials a repository read may present (a revoked one is refused).
READ_AUTH = ("bearer", "basic")
#: The device API calls that need the device's access token (V24).
DEVICE_API = (Operation.CAPABILITIES, Operation.STATUS_REPORT)
#: The requests a 1.0 client makes without its client id: before it has one, and its packages.
CLIENTLESS = (Operation.ROOT_CERTIFICATE, Operation.ONBOARDING, Operation.ARTIFACT, Operation.GIT)


def manifest_version(body: object) -> int:
    try:
        version = json.loads(str(body)).get("manifestVersion")
    except (ValueError, AttributeError):
        return 0
    return version if isinstance(version, int) else 0


def path_of(event: Event) -> str:
    return str(event.data.get("path", "")).split("?")[0]


def container_exited(events: list[Event]) -> bool:
    return any(e.kind == CONTAINER and "exit_code" in e.data for e in events)


def overall_state(document: object) -> str:
    """A status report's overall state, lowercase ("" when it has none)."""
    if isinstance(document, dict) and isinstance(document.get("status"), dict):
        state = document["status"].get("state")
        return state.lower() if isinstance(state, str) else ""
    return ""


def is_final(document: object) -> bool:
    """Does the report end a deployment's installation (Installed or Failed)?"""
    return overall_state(document) in ("installed", "failed")
