"""Which status requirement a schema error of a deployment status document breaks.

A state outside the profile's enumeration breaks the row of state values (V24 STS-004, 1.0
STS-013); any other schema error the row of the document's members (V24 STS-003, 1.0 STS-012).
Both roles use it: the agent role on the reports an agent sends, the WOS role on the defective
reports the suite sends on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable

#: (the document's members, its state values) in V24; each dialect names its own
#: (`Requirements.status_rows`).
V24_ROWS = ("STS-003", "STS-004")


def requirement_of(error: str, rows: tuple[str, str] = V24_ROWS) -> str:
    """The row one `validation_errors` line (`path: message`) breaks."""
    members, states = rows
    path, _, message = error.partition(": ")
    is_state = path.split(".")[-1] == "state" and ("is not one of" in message or "was expected" in message)
    return states if is_state else members


def requirements_of(errors: Iterable[str], rows: tuple[str, str] = V24_ROWS) -> tuple[str, ...]:
    """The rows a document's schema errors break; both rows for a valid one (what the check verified)."""
    found = {requirement_of(e, rows) for e in errors}
    return tuple(sorted(found or set(rows)))
