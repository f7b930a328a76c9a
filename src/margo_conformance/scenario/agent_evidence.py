"""Reading the evidence of an agent scenario: which recorded requests are which, and what they say.

Pure functions over recorded events and received documents, shared by the observations, the
orchestrator's outages and the onboarding scene; none of them waits or judges.
"""

from __future__ import annotations

import json
import re

from margo_conformance.base.evidence import CONTAINER, Event

TOKEN_PATH = "/oauth/token"
ONBOARDING_PATHS = ("/onboarding/", "/onboarding", "/api/v1/onboarding")
#: The credentials a repository read may present (a revoked one is refused).
READ_AUTH = ("bearer", "basic")
DEVICE_API = re.compile(r"^/device/[^/]+/(capabilities|deployment/[^/]+/status)$")
CAPABILITIES = re.compile(r"/device/[^/]+/capabilities|/api/v1/clients/[^/]+/capabilities(/[^/]+)?")
MANIFEST = re.compile(r"/api/v1/clients/[^/]+/deployments")


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


def matches(event: Event, method: str | None, path: str | re.Pattern[str] | None) -> bool:
    if method is not None and event.data.get("method") != method:
        return False
    actual = str(event.data.get("path", "")).split("?")[0]
    if path is None:
        return True
    if isinstance(path, re.Pattern):
        return bool(path.fullmatch(actual))
    return actual == path


def overall_state(document: object) -> str:
    """A status report's overall state, lowercase ("" when it has none)."""
    if isinstance(document, dict) and isinstance(document.get("status"), dict):
        state = document["status"].get("state")
        return state.lower() if isinstance(state, str) else ""
    return ""


def is_final(document: object) -> bool:
    """Does the report end a deployment's installation (Installed or Failed)?"""
    return overall_state(document) in ("installed", "failed")
