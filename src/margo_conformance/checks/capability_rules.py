"""Which capabilities requirement a schema error of a capabilities document breaks, per profile.

Both roles judge capabilities documents against the same schemas: the agent role the documents
an agent sends, the WOS role the defective ones the suite sends on purpose. A check that fails
on such a document names the rows its errors break, not every capabilities row. V24 reads its
DeviceCapabilities errors with `requirement_of`; PR1 its DeviceCapabilitiesManifest errors with
`pr1_requirement_of`; each dialect holds its profile's `CapabilityRules`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

#: Every row a valid capabilities document satisfies (what a passing schema check verifies).
ALL = ("CAP-003", "CAP-004", "CAP-005")
RULES = {
    "CAP-004": "V24 roles are Standalone Cluster, Cluster Leader and Standalone Device",
    "CAP-005": "memory and storage are whole GB, CPU frequency whole GHz, all integers",
}
#: PR1: the members a workload-hosting device must report with a value that says it hosts (CAP-012).
PR1_HOSTING = ("properties.otelCollector", "properties.supportedRuntimes", "properties.supportedDeploymentTypes")
PR1_RULES_TEXT = {
    "CAP-012": "a workload-hosting device reports otelCollector: true, at least one runtime and one deployment type",
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


def pr1_requirement_of(error: str) -> str:
    """The PR1 row one `validation_errors` line breaks: an OTEL collector, runtimes or deployment
    types missing, false or empty are CAP-012; the rest (an item outside its enumeration
    included) CAP-011."""
    path, _, _ = error.partition(":")
    return "CAP-012" if path in PR1_HOSTING else "CAP-011"


def requirements_of(errors: Iterable[str]) -> list[str]:
    """The V24 requirements a document's schema errors break, sorted; empty for a valid document."""
    return sorted({requirement_of(e) for e in errors})


@dataclass(frozen=True)
class CapabilityRules:
    """One profile's reading of a capabilities document's schema errors."""

    #: The rows a valid document satisfies.
    all: tuple[str, ...]
    #: Row -> the rule in words, for failure messages.
    explanations: Mapping[str, str]
    requirement_of: Callable[[str], str]
    #: The catalogued inconsistencies (I-rows) the profile's schema reading rests on.
    ambiguities: tuple[str, ...] = ()

    def requirements_of(self, errors: Iterable[str]) -> list[str]:
        """The rows a document's schema errors break, sorted; empty for a valid document."""
        return sorted({self.requirement_of(e) for e in errors})

    def explain(self, rows: Iterable[str]) -> str:
        return "".join(f" ({self.explanations[r]})" for r in rows if r in self.explanations)


V24_RULES = CapabilityRules(ALL, RULES, requirement_of)
#: PR1 follows the rc.2 shape (cpu[], apiVersion and kind required, I-5) and never judges the
#: apiVersion value (I-13).
PR1_RULES = CapabilityRules(("CAP-011", "CAP-012"), PR1_RULES_TEXT, pr1_requirement_of, ("I-5", "I-13"))


def hosting_gaps(document: object) -> list[str]:
    """What a PR1 capabilities document of a workload-hosting device lacks to say it hosts
    (CAP-012): each gap names its member and what was there; empty when nothing is missing."""
    properties = document.get("properties") if isinstance(document, dict) else None
    if not isinstance(properties, dict):
        return [f"no properties object (properties: {_shown(properties)})"]
    gaps = []
    if properties.get("otelCollector") is not True:
        gaps.append(f"properties.otelCollector {_shown(properties.get('otelCollector'))}, not true")
    for member in ("supportedRuntimes", "supportedDeploymentTypes"):
        value = properties.get(member)
        if not isinstance(value, list) or not value:
            gaps.append(f"properties.{member} {_shown(value)}, not a list of at least one")
    return gaps


def _shown(value: object) -> str:
    return "missing" if value is None else repr(value)[:80]
