"""Fault switches: each one breaks exactly one requirement, so the suite can show it notices.

All are off unless named in MARGO_WOS_FAULTS. Code asks `"status-500" in faults`; asking
for a name that is not declared here is a programming error, caught by the assert.
"""

from __future__ import annotations

from dataclasses import dataclass

KNOWN_FAULTS: dict[str, str] = {
    "accept-capabilities-without-serial": "capabilities without serial number accepted (CAP-003)",
    "shared-repositories": "any device's git token reads any device's repository (GIT-006)",
    "status-500": "the status endpoint answers 500 to every valid report (STS-002)",
    "status-hang": "the status endpoint never answers a valid report (STS-002)",
    "token-accepts-bad-secret": "the token endpoint ignores the client secret (TOK-003, TOK-005)",
}


@dataclass(frozen=True)
class Faults:
    active: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Faults:
        names = frozenset(name.strip() for name in text.split(",") if name.strip())
        unknown = sorted(names - KNOWN_FAULTS.keys())
        if unknown:
            known = ", ".join(sorted(KNOWN_FAULTS))
            raise ValueError(f"unknown fault switch(es) {', '.join(unknown)}; known: {known}")
        return cls(names)

    def __contains__(self, name: object) -> bool:
        assert name in KNOWN_FAULTS, f"undeclared fault switch {name!r}"
        return name in self.active
