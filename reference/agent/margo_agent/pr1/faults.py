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
WRONG_CLIENT_ID = "pr1-wrong-client-id"
CAPABILITIES_WITHOUT_SERIAL = "pr1-capabilities-without-serial"
NO_OTEL_COLLECTOR = "pr1-no-otel-collector"
REJECT_DEPLOYMENT_EXTENSIONS = "reject-deployment-extensions"
ACCEPT_UNKNOWN_DIGEST_ALGORITHM = "accept-unknown-digest-algorithm"
SIGN_NOTHING = "pr1-sign-nothing"
UNSIGNED_ONBOARDING = "pr1-unsigned-onboarding"
STALE_SIGNATURES = "pr1-stale-signatures"
NO_CONTENT_DIGEST = "pr1-no-content-digest"

PR1_FAULTS: frozenset[str] = frozenset(
    {
        IGNORE_DIGESTS,
        ACCEPT_ROLLBACK,
        NO_ETAG,
        REMOVE_ON_404,
        KEEP_UNLISTED,
        CAPITALISED_STATES,
        WRONG_CLIENT_ID,
        CAPABILITIES_WITHOUT_SERIAL,
        NO_OTEL_COLLECTOR,
        REJECT_DEPLOYMENT_EXTENSIONS,
        ACCEPT_UNKNOWN_DIGEST_ALGORITHM,
        SIGN_NOTHING,
        UNSIGNED_ONBOARDING,
        STALE_SIGNATURES,
        NO_CONTENT_DIGEST,
    }
)
