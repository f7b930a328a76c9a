"""Fault switches: deliberate, opt-in violations of the standard.

The conformance suite turns these on to prove that it notices each violation. They are
all off unless named in MARGO_AGENT_FAULTS. Adding a switch means adding its name to
KNOWN_FAULTS and a predicate to `Faults`; nothing else in the agent parses the names.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_AT_START = "exit-at-start"
SKIP_INSTALLING = "skip-installing"
NEVER_FETCH = "never-fetch"

KNOWN_FAULTS: frozenset[str] = frozenset({EXIT_AT_START, SKIP_INSTALLING, NEVER_FETCH})


def parse_faults(text: str) -> frozenset[str]:
    """Parse a comma separated list; an unknown name is an error, not silently ignored,
    because a mistyped switch would make a "the suite catches it" test pass vacuously."""
    names = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(names - KNOWN_FAULTS)
    if unknown:
        known = ", ".join(sorted(KNOWN_FAULTS))
        raise ValueError(f"unknown fault switch(es) {', '.join(unknown)}; known: {known}")
    return names


@dataclass(frozen=True)
class Faults:
    active: frozenset[str] = frozenset()

    @property
    def exit_at_start(self) -> bool:
        """Exit with status 3 before doing anything (the device never comes up)."""
        return EXIT_AT_START in self.active

    @property
    def skip_installing(self) -> bool:
        """Never report the Installing state (violates STS-001/STS-005)."""
        return SKIP_INSTALLING in self.active

    @property
    def never_fetch(self) -> bool:
        """Onboard and report capabilities but never contact the Git server (GIT-003)."""
        return NEVER_FETCH in self.active
