"""The placeholders a SUT file's `env`, `command`, `process.command` and build args may use, where
each is filled, and filling them."""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType

from margo_conformance.base.errors import ConfigError

#: Placeholders a SUT file may use in `env`, `command` and build args (where: PLACEHOLDER_SCOPES).
PLACEHOLDERS: Mapping[str, str] = MappingProxyType(
    {
        "wos_url": "root URL of the emulated WOS, as the container reaches it",
        "public_url": "root URL of the WOS under test, as the suite (the device) reaches it",
        "device_id": "the device identity the WOS registered for this scenario",
        "onboarding_key": "the one-time key the end user enters on the device",
        "serial_number": "the serial number the device should report",
        "poll_interval_s": "desired-state polling interval in seconds",
        "poll_interval_ms": "desired-state polling interval in milliseconds",
        "workload_labels": "comma-separated k=v labels to put on workload containers",
        "downtime_window": "a downtime window as an ISO 8601 interval <start>/<end> in UTC; empty: none",
        "run_id": "identifier of this conformance run",
        "profile": "the spec profile this scenario speaks (V24 or PR1)",
        "base_image": "the base image the suite's own images are built from",
        "workload_image": "an image present on the engine that workloads may use",
        "python": "launcher: process: the interpreter the suite runs on (a reference implementation's)",
        "state_dir": "launcher: process: a fresh empty directory for this scenario's SUT",
        "port": "a WOS's API port as the WOS listens on it (the container's; launcher: process: the suite's pick)",
        "control_port": "a WOS's control port as it listens on it (like {port})",
    }
)

#: Placeholders that only mean something to a process on the suite's own machine.
PROCESS_PLACEHOLDERS = frozenset({"python", "state_dir"})
CONTAINER, PROCESS, URL = "container", "process", "url"
LAUNCHERS = (CONTAINER, PROCESS, URL)

#: Which placeholders are filled where: in `env` and `command` per scenario, by role (a WOS
#: SUT knows no device of its own), and in `build.args` once per build, before any scenario.
#: Any other use is refused when the SUT file is loaded.
PLACEHOLDER_SCOPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "agent": frozenset(PLACEHOLDERS) - {"public_url", "port", "control_port"},
        "wos": frozenset({"public_url", "run_id", "profile", "base_image", "workload_image", "port", "control_port"})
        | PROCESS_PLACEHOLDERS,
        "build": frozenset({"base_image"}),
    }
)


def template_fields(template: str) -> list[str]:
    """Placeholder names used in a template; `{{` and `}}` are literal braces."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"bad placeholder syntax in {template!r}: {exc}") from exc


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill a template's placeholders; unknown names were rejected at load time."""
    return template.format_map(values)
