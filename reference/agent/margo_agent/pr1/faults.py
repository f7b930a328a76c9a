"""Fault switches of the PR1 agent: deliberate violations of the state-manifest rules.

They share MARGO_AGENT_FAULTS with the V24 switches: `margo_agent.faults` adds PR1_FAULTS to
its KNOWN_FAULTS (so a mistyped name is still a configuration error) and has a predicate on
`Faults` for each. This module imports nothing from the agent (the V24 module imports it
while it is itself being imported).
"""

from __future__ import annotations

IGNORE_DIGESTS = "ignore-digests"
ACCEPT_ROLLBACK = "accept-rollback"
NO_ETAG = "no-etag"
REMOVE_ON_404 = "remove-on-404"
KEEP_UNLISTED = "keep-unlisted"
CAPITALISED_STATES = "capitalised-states"

PR1_FAULTS: frozenset[str] = frozenset(
    {IGNORE_DIGESTS, ACCEPT_ROLLBACK, NO_ETAG, REMOVE_ON_404, KEEP_UNLISTED, CAPITALISED_STATES}
)
