"""Agent configuration: the process environment, validated once into a frozen object."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from margo_agent.downtime import FORMATS, ISO_8601, DowntimeWindow, parse_window
from margo_agent.faults import FIXED_POLL_INTERVAL_S, TIGHT_RETRY_S, Faults, parse_faults

DEFAULT_POLL_INTERVAL_S = 30.0
DEFAULT_STATE_DIR = "/var/lib/margo-agent"


class ConfigError(ValueError):
    """The environment does not describe a usable agent; the message is one line."""


@dataclass(frozen=True)
class AgentConfig:
    wos_url: str
    device_id: str
    onboarding_key: str = field(repr=False)
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    workload_labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    serial_number: str | None = None
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    downtime_window: DowntimeWindow | None = None
    faults: Faults = Faults()
    #: V24 (Git desired state) or PR1 (state manifest, margo_agent/pr1).
    profile: str = "V24"
    #: Where workloads run: `docker` (containers on the engine) or `ledger` (recorded in the state
    #: directory, for running the agent as a plain process without Docker; margo_agent/ledger.py).
    runtime: str = "docker"
    #: ledger only: the images the device holds (a service whose image is not listed fails).
    device_images: frozenset[str] = frozenset()

    @property
    def poll_s(self) -> float:
        """The interval the agent polls at: the configured one, unless fixed-poll-interval is on."""
        return FIXED_POLL_INTERVAL_S if self.faults.fixed_poll_interval else self.poll_interval_s

    @property
    def retry_cap_s(self) -> float:
        """Retries back off up to one poll interval (the tight-retry fault hardly waits at all)."""
        return TIGHT_RETRY_S if self.faults.tight_retry else self.poll_interval_s


PROFILES = ("V24", "PR1")


def load_config(env: Mapping[str, str]) -> AgentConfig:
    """Build the configuration from environment variables (see README for the table)."""
    wos_url = _required(env, "MARGO_WOS_URL")
    if not wos_url.startswith(("http://", "https://")):
        raise ConfigError(f"MARGO_WOS_URL must be an http(s) URL, got {wos_url!r}")
    try:
        faults = Faults(parse_faults(env.get("MARGO_AGENT_FAULTS", "")))
    except ValueError as exc:
        raise ConfigError(f"MARGO_AGENT_FAULTS: {exc}") from None
    return AgentConfig(
        wos_url=wos_url.rstrip("/"),
        device_id=_required(env, "MARGO_DEVICE_ID"),
        onboarding_key=_required(env, "MARGO_ONBOARDING_KEY"),
        poll_interval_s=_poll_interval(env.get("MARGO_POLL_INTERVAL_S", "")),
        workload_labels=MappingProxyType(_labels(env.get("MARGO_WORKLOAD_LABELS", ""))),
        serial_number=env.get("MARGO_SERIAL_NUMBER", "").strip() or None,
        state_dir=Path(env.get("MARGO_STATE_DIR", "").strip() or DEFAULT_STATE_DIR),
        downtime_window=_window(env.get("MARGO_DOWNTIME_WINDOW", ""), env.get("MARGO_DOWNTIME_FORMAT", "")),
        faults=faults,
        profile=_profile(env.get("MARGO_PROFILE", "")),
        runtime=_runtime(env.get("MARGO_AGENT_RUNTIME", "")),
        device_images=frozenset(i.strip() for i in env.get("MARGO_AGENT_DEVICE_IMAGES", "").split(",") if i.strip()),
    )


RUNTIMES = ("docker", "ledger")


def _runtime(text: str) -> str:
    runtime = text.strip() or "docker"
    if runtime not in RUNTIMES:
        raise ConfigError(f"MARGO_AGENT_RUNTIME must be one of {', '.join(RUNTIMES)}, got {text!r}")
    return runtime


def _profile(text: str) -> str:
    profile = text.strip().upper() or "V24"
    if profile not in PROFILES:
        raise ConfigError(f"MARGO_PROFILE must be one of {', '.join(PROFILES)}, got {text!r}")
    return profile


def _window(text: str, form: str) -> DowntimeWindow | None:
    form = form.strip() or ISO_8601
    if form not in FORMATS:
        raise ConfigError(f"MARGO_DOWNTIME_FORMAT must be one of {', '.join(FORMATS)}, got {form!r}")
    try:
        return parse_window(text, form)
    except ValueError as exc:
        raise ConfigError(f"MARGO_DOWNTIME_WINDOW: {exc}") from None


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"missing required environment variable {name}")
    return value


def _poll_interval(text: str) -> float:
    if not text.strip():
        return DEFAULT_POLL_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"MARGO_POLL_INTERVAL_S must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"MARGO_POLL_INTERVAL_S must be positive, got {text!r}")
    return value


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"MARGO_WORKLOAD_LABELS entries must be key=value, got {item!r}")
        labels[key.strip()] = value.strip()
    return labels
