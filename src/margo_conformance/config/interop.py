"""Interop choices: how a product does what the spec leaves open, declared in its SUT file.

The suite needs an answer to talk to a product at all where the spec is silent (how an agent is
told a downtime window, how its workload containers can be found, what it does with a deployment
that breaks the schema). Each such answer has a
documented default here; a SUT file declares its own in its `interop:` section
(`schemas/sut.schema.json`). A check never fails a verdict on the choice itself: it follows what
was declared.
"""

from __future__ import annotations

import datetime
import fnmatch
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from margo_conformance.base.errors import ConfigError

#: The default: an ISO 8601 time interval in UTC, to the second.
ISO_INTERVAL = "{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"
WINDOW_FIELDS = ("start", "end", "start_epoch", "end_epoch", "duration_s")

#: Placeholders a workload selector may use (they are known before the agent starts).
SELECTOR_FIELDS = ("device_id", "run_id")

SUITE_LABELS = "suite-labels"  # default: the labels of {workload_labels}, when the SUT file maps it
LABELS = "labels"
NAME = "name"
ANY = "any"
NONE = "none"

#: PR1 capabilities routes (I-15): /capabilities/{deviceId} (newest PR1 text) or /capabilities.
PER_DEVICE = "per-device"
PER_CLIENT = "per-client"


@dataclass(frozen=True)
class WorkloadFinder:
    """How the suite tells the containers of the scenario's device on the Docker engine."""

    how: str = SUITE_LABELS
    labels: Mapping[str, str] = field(default_factory=dict)
    name: str = ""
    reason: str = ""  # how == none: why the workloads cannot be seen

    @property
    def declared(self) -> bool:
        return self.how != SUITE_LABELS

    def describe(self) -> str:
        if self.how == LABELS:
            return "containers labelled " + ", ".join(f"{k}={v}" for k, v in self.labels.items())
        if self.how == NAME:
            return f"containers named {self.name}"
        if self.how == ANY:
            return "every container started through the engine during the scenario"
        if self.how == NONE:
            return f"not observed: {self.reason}"
        return "containers carrying the suite's {workload_labels}"

    def rendered(self, values: Mapping[str, str]) -> WorkloadFinder:
        """The finder with its placeholders filled for one scenario."""
        return WorkloadFinder(
            self.how,
            MappingProxyType({k: v.format_map(values) for k, v in self.labels.items()}),
            self.name.format_map(values),
            self.reason,
        )

    def engine_filters(self) -> dict[str, Any]:
        """Filters for the engine's event stream; names and `any` are matched on our side."""
        filters: dict[str, Any] = {"type": "container"}
        if self.how == LABELS:
            filters["label"] = [f"{k}={v}" for k, v in self.labels.items()]
        return filters

    def matches(self, container_name: str, labels: Mapping[str, str]) -> bool:
        """Does a container of an engine event belong to the device (after `rendered`)?"""
        if self.how == LABELS:
            return all(labels.get(k) == v for k, v in self.labels.items())
        if self.how == NAME:
            return fnmatch.fnmatchcase(container_name.lstrip("/"), self.name)
        return self.how == ANY


#: V24 onboarding (the pre-draft leaves the body TBD): the suite's default exchange.
DEFAULT_ONBOARDING_PATH = "/onboarding/"
DEFAULT_ONBOARDING_REQUEST: Mapping[str, Any] = MappingProxyType(
    {
        "apiVersion": "onboarding.margo/v1",
        "kind": "OnboardingRequest",
        "deviceId": "{device_id}",
        "onboardingKey": "{onboarding_key}",
    }
)
DEFAULT_ONBOARDING_ANSWER: Mapping[str, str] = MappingProxyType(
    {
        "client_id": "/clientId",
        "client_secret": "/clientSecret",
        "token_endpoint": "/tokenEndpoint",
        "repository_url": "/desiredState/url",
        "git_token": "/desiredState/accessToken",
    }
)
ONBOARDING_FIELDS = ("device_id", "onboarding_key", "serial_number")


@dataclass(frozen=True)
class V24Onboarding:
    """How a V24 device onboards with this WOS: where, with what body, and where the answer
    carries the credentials and the repository."""

    path: str = DEFAULT_ONBOARDING_PATH
    request: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_ONBOARDING_REQUEST)
    answer: Mapping[str, str] = field(default_factory=lambda: DEFAULT_ONBOARDING_ANSWER)
    keys: bool = True
    declared: bool = False

    def request_body(self, values: Mapping[str, str]) -> Any:
        """The request body for one device: every string of the template filled."""
        return _fill(self.request, values)

    def describe(self) -> str:
        if not self.declared:
            return "the suite's V24 exchange, with one-time onboarding keys (default)"
        members = ", ".join(f"{name} at {pointer}" for name, pointer in self.answer.items())
        keys = "with" if self.keys else "without"
        return f"POST {self.path} {keys} one-time onboarding keys; the answer carries {members}"


def _fill(template: Any, values: Mapping[str, str]) -> Any:
    if isinstance(template, str):
        return template.format_map(values)
    if isinstance(template, Mapping):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    return template


def _strings(template: Any) -> list[str]:
    if isinstance(template, str):
        return [template]
    if isinstance(template, Mapping):
        return [s for value in template.values() for s in _strings(value)]
    if isinstance(template, list):
        return [s for item in template for s in _strings(item)]
    return []


@dataclass(frozen=True)
class InvalidDeployments:
    """What an agent does with an ApplicationDeployment that breaks the schema: the pre-draft is
    silent, so refusing it and reporting it Failed is the suite's default, not a requirement."""

    reported_failed: bool = True
    instead: str = ""  # what the agent does instead, when it does not report them Failed
    declared: bool = False

    def describe(self) -> str:
        if self.reported_failed:
            default = "" if self.declared else " (default)"
            return f"not installed, reported Failed with an error code and message{default}"
        return "not reported Failed" + (f": {self.instead}" if self.instead else "")


@dataclass(frozen=True)
class Interop:
    """The interop choices of one SUT file (defaults where it declares none)."""

    workloads: WorkloadFinder = field(default_factory=WorkloadFinder)
    downtime_format: str = ISO_INTERVAL
    onboarding: V24Onboarding = field(default_factory=V24Onboarding)
    invalid_deployments: InvalidDeployments = field(default_factory=InvalidDeployments)
    #: PR1: which capabilities route the WOS serves (I-15).
    pr1_capabilities_route: str = PER_DEVICE

    def declared(self) -> dict[str, Any]:
        """What the SUT file chose, as reports echo it (defaults marked as such)."""
        return {
            "workloads": self.workloads.describe() + ("" if self.workloads.declared else " (default)"),
            "downtime_window": self.downtime_format + ("" if self.downtime_format != ISO_INTERVAL else " (default)"),
            "onboarding": self.onboarding.describe(),
            "invalid_deployments": self.invalid_deployments.describe(),
            "pr1_capabilities_route": self.pr1_capabilities_route
            + (" (default)" if self.pr1_capabilities_route == PER_DEVICE else ""),
        }


def format_window(template: str, opens: int, closes: int) -> str:
    """`{downtime_window}` for one window, whole seconds since the epoch, in the declared format."""
    utc = datetime.UTC
    return template.format(
        start=datetime.datetime.fromtimestamp(opens, utc),
        end=datetime.datetime.fromtimestamp(closes, utc),
        start_epoch=opens,
        end_epoch=closes,
        duration_s=closes - opens,
    )


def parse_interop(where: str, data: Mapping[str, Any] | None) -> Interop:
    """The `interop:` section (already schema-valid) as frozen choices; bad templates are ConfigError."""
    if not data:
        return Interop()
    downtime = str((data.get("downtime_window") or {}).get("format", ISO_INTERVAL))
    _check_fields(f"{where}: interop.downtime_window.format", downtime, WINDOW_FIELDS)
    try:
        format_window(downtime, 0, 1)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: interop.downtime_window.format: {exc}") from exc
    return Interop(
        _workload_finder(where, data.get("workloads")),
        downtime,
        _onboarding(where, data.get("onboarding")),
        _invalid_deployments(data.get("invalid_deployments")),
        str(data.get("pr1_capabilities_route", PER_DEVICE)),
    )


def _invalid_deployments(data: Mapping[str, Any] | None) -> InvalidDeployments:
    if not data:
        return InvalidDeployments()
    return InvalidDeployments(bool(data["reported_failed"]), str(data.get("instead", "")), declared=True)


def _onboarding(where: str, data: Mapping[str, Any] | None) -> V24Onboarding:
    if not data:
        return V24Onboarding()
    keys = bool(data.get("keys", True))
    request = data.get("request", DEFAULT_ONBOARDING_REQUEST)
    for template in _strings(request):
        _check_fields(f"{where}: interop.onboarding.request", template, ONBOARDING_FIELDS)
        if not keys and "onboarding_key" in _fields(template):
            raise ConfigError(f"{where}: interop.onboarding.request uses {{onboarding_key}} but keys is false")
    answer = {**DEFAULT_ONBOARDING_ANSWER, **data.get("answer", {})}
    return V24Onboarding(
        path=str(data.get("path", DEFAULT_ONBOARDING_PATH)),
        request=MappingProxyType(dict(request)),
        answer=MappingProxyType(answer),
        keys=keys,
        declared=True,
    )


def _workload_finder(where: str, data: Mapping[str, Any] | None) -> WorkloadFinder:
    if not data:
        return WorkloadFinder()
    if LABELS in data:
        labels = {str(k): str(v) for k, v in data[LABELS].items()}
        for key, value in labels.items():
            _check_fields(f"{where}: interop.workloads.labels.{key}", value, SELECTOR_FIELDS)
        return WorkloadFinder(LABELS, labels=MappingProxyType(labels))
    if NAME in data:
        _check_fields(f"{where}: interop.workloads.name", str(data[NAME]), SELECTOR_FIELDS)
        return WorkloadFinder(NAME, name=str(data[NAME]))
    if ANY in data:
        return WorkloadFinder(ANY)
    return WorkloadFinder(NONE, reason=str(data[NONE]))


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def _check_fields(where: str, template: str, allowed: tuple[str, ...]) -> None:
    try:
        names = _fields(template)
    except ValueError as exc:
        raise ConfigError(f"{where}: bad placeholder syntax in {template!r}: {exc}") from exc
    for name in names:
        if name not in allowed:
            raise ConfigError(f"{where}: unknown placeholder {{{name}}} (known here: {', '.join(allowed)})")


#: Prefix of the skip reason of a scenario that a declared choice makes inapplicable (a WOS
#: without onboarding keys has no wrong key to refuse): shown, not held against the SUT.
NOT_APPLICABLE = "not applicable:"

def _instead(interop: Interop) -> str:
    instead = interop.invalid_deployments.instead
    return f" (it {instead})" if instead else ""


#: Scenario tags that name a choice the scenario depends on -> (does it not apply?, why not).
DEPENDS_ON = {
    "needs_onboarding_keys": (
        lambda interop: not interop.onboarding.keys,
        lambda interop: "the SUT file declares that this WOS hands out no one-time onboarding keys "
        "(interop.onboarding.keys)",
    ),
    "needs_device_capabilities_route": (
        lambda interop: interop.pr1_capabilities_route != PER_DEVICE,
        lambda interop: "the SUT file declares that this WOS serves capabilities per client, the 1.0.0 OpenAPI's "
        "route, which names no child device (interop.pr1_capabilities_route, I-15)",
    ),
    "needs_invalid_deployments_reported": (
        lambda interop: not interop.invalid_deployments.reported_failed,
        lambda interop: "the SUT file declares that this agent does not report a deployment that breaks the "
        f"schema as Failed{_instead(interop)} (interop.invalid_deployments)",
    ),
}


def not_applicable(tags: frozenset[str] | set[str], interop: Interop) -> str | None:
    """Why a scenario with these tags does not apply to a SUT that made these choices, or None."""
    for tag, (excluded, why) in DEPENDS_ON.items():
        if tag in tags and excluded(interop):
            return f"{NOT_APPLICABLE} {why(interop)}"
    return None
