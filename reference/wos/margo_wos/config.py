"""Configuration from the environment, validated once into a frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from margo_wos.faults import Faults


class ConfigError(ValueError):
    """A missing or invalid setting; the process prints it and exits with status 2."""


#: V24 leaves the onboarding messages open (TBD). `suite`: the suite's documented default
#: (docs/v24-wire-contract.md section 2), with one-time onboarding keys; `vendor`: a layout of this
#: WOS's own, without keys, that a SUT file declares to the suite (interop.onboarding).
ONBOARDING_STYLES = ("suite", "vendor")


@dataclass(frozen=True)
class Config:
    public_url: str
    port: int = 8080
    control_port: int = 8081
    data_dir: Path = Path("/var/lib/margo-wos")
    faults: Faults = Faults()
    token_lifetime_s: int = 3600
    onboarding_style: str = "suite"


def load_config(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    return Config(
        public_url=_public_url(env.get("MARGO_WOS_PUBLIC_URL", "")),
        port=_port(env, "MARGO_WOS_PORT", 8080),
        control_port=_port(env, "MARGO_WOS_CONTROL_PORT", 8081),
        data_dir=Path(env.get("MARGO_WOS_DATA_DIR") or "/var/lib/margo-wos"),
        faults=_faults(env.get("MARGO_WOS_FAULTS", "")),
        onboarding_style=_onboarding_style(env.get("MARGO_WOS_ONBOARDING_STYLE", "")),
    )


def _onboarding_style(value: str) -> str:
    style = value.strip() or "suite"
    if style not in ONBOARDING_STYLES:
        raise ConfigError(f"MARGO_WOS_ONBOARDING_STYLE must be one of {', '.join(ONBOARDING_STYLES)}, got {value!r}")
    return style


def _public_url(value: str) -> str:
    if not value:
        raise ConfigError(
            "MARGO_WOS_PUBLIC_URL is required (the root URL devices use to reach this WOS)"
        )
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"MARGO_WOS_PUBLIC_URL must be an http(s) root URL, got {value!r}")
    # Every URL handed out is built by appending a path, so a trailing slash would double up.
    return value.rstrip("/")


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name} must be a TCP port number, got {raw!r}")
    return int(raw)


def _faults(value: str) -> Faults:
    try:
        return Faults.parse(value)
    except ValueError as exc:
        raise ConfigError(f"MARGO_WOS_FAULTS: {exc}") from exc
