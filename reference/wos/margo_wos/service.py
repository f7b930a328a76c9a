"""The WOS as one object: configuration, state, repositories and root CA, shared by both servers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from margo_wos.config import Config
from margo_wos.gitrepo import Repositories
from margo_wos.rootca import load_or_create_root_ca
from margo_wos.store import Store


@dataclass
class Wos:
    config: Config
    store: Store
    repos: Repositories
    root_ca_pem: bytes
    # Only the fault switches use these (margo_wos/faults.py): refusal-locks-device marks
    # devices busy, status-crosstalk parks reports in one shared slot.
    busy_devices: set[str] = field(default_factory=set)
    parked_report: Any = None
    # PR1, in memory only: the rendered manifest of each device with the key it was rendered
    # for (a cache; margo_wos/pr1_api.py), and what the etag-stale and manifest-version-stuck
    # faults pin: the ETag and version of the first manifest served to each client.
    rendered: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    first_etag: dict[str, str] = field(default_factory=dict)
    first_version: dict[str, int] = field(default_factory=dict)
    first_client_id: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """An absolute URL as devices reach this WOS (the configured public root + path)."""
        return f"{self.config.public_url}{path}"


def open_wos(config: Config) -> Wos:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    return Wos(
        config=config,
        store=Store(config.data_dir),
        repos=Repositories(config.data_dir),
        root_ca_pem=load_or_create_root_ca(config.data_dir / "ca"),
    )
