"""Which V24 capabilities requirement a schema error of a DeviceCapabilities document breaks.

Both roles judge capabilities documents against the same schema: the agent role the documents
an agent sends, the WOS role the defective ones the suite sends on purpose. A check that fails
on such a document names the rows its errors break, not every capabilities row.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Every row a valid capabilities document satisfies (what a passing schema check verifies).
ALL = ("CAP-003", "CAP-004", "CAP-005")
RULES = {
    "CAP-004": "V24 roles are Standalone Cluster, Cluster Leader and Standalone Device",
    "CAP-005": "memory and storage are whole GB, CPU frequency whole GHz, all integers",
}


def requirement_of(error: str) -> str:
    """The requirement one `validation_errors` line (`path: message`) breaks: roles are CAP-004,
    units CAP-005, the rest (missing members included) CAP-003."""
    path, _, message = error.partition(":")
    if "is a required property" in message:
        return "CAP-003"
    if path.startswith("properties.roles"):
        return "CAP-004"
    if path in ("properties.resources.memory", "properties.resources.storage") or (
        path.startswith("properties.resources.cpus.") and path.endswith(".frequency")
    ):
        return "CAP-005"
    return "CAP-003"


def requirements_of(errors: Iterable[str]) -> list[str]:
    """The requirements a document's schema errors break, sorted; empty for a valid document."""
    return sorted({requirement_of(e) for e in errors})
