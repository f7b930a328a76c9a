"""Profile dialects: what differs between the Margo profiles the suite speaks, one object per
profile (routes, media types, payload builders, requirement ids, schemas, fixture folders).

Code outside this package asks `dialect_for(profile)` instead of comparing profile names, so
adding a profile is one module here, its features and its schemas (docs/architecture.md,
"Adding a profile").
"""

from __future__ import annotations

from margo_conformance.base.errors import ConfigError
from margo_conformance.dialects.base import AnswerMember, Dialect, OnboardingCall, Requirements, Routes
from margo_conformance.dialects.pr1 import PR1
from margo_conformance.dialects.v24 import V24

#: Every profile the suite speaks, by its tag.
DIALECTS: dict[str, Dialect] = {dialect.name: dialect for dialect in (V24, PR1)}


def dialect_for(profile: str) -> Dialect:
    """The dialect of a profile tag; one the suite does not speak yet is a configuration error."""
    if profile not in DIALECTS:
        raise ConfigError(f"the suite speaks no profile {profile!r} yet; it speaks {', '.join(DIALECTS)}")
    return DIALECTS[profile]


__all__ = ["DIALECTS", "PR1", "V24", "AnswerMember", "Dialect", "OnboardingCall", "Requirements", "Routes",
           "dialect_for"]
