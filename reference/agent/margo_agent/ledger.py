"""Workloads recorded instead of run: the runtime of the agent started as a plain process.

`MARGO_AGENT_RUNTIME=ledger` lets the reference agent run without a Docker engine (the suite's
quick tier starts it as a local process). A component is installed exactly as with Docker up to
the point of starting containers: its package is fetched and parsed, and a service whose image
the device does not hold (`MARGO_AGENT_DEVICE_IMAGES`) fails it with IMAGE_NOT_FOUND. Its
services are then entries in a JSON file in the state directory, which a restart reads again.
Nothing runs, so the suite cannot watch workloads here: its SUT file does not offer them.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Set
from pathlib import Path

from margo_agent.gitops import Component, Deployment
from margo_agent.workloads import WorkloadError, component_services

log = logging.getLogger(__name__)

LEDGER_FILE = "workloads.json"


class LedgerRuntime:
    def __init__(self, state_dir: Path, device_images: Set[str], ssl_context: ssl.SSLContext | None = None) -> None:
        self._path = state_dir / LEDGER_FILE
        self._images = device_images
        self._ssl_context = ssl_context

    def install(self, deployment: Deployment, component: Component) -> None:
        services = component_services(deployment, component, self._ssl_context)
        for service in services:
            if service.image not in self._images:
                raise WorkloadError(
                    "IMAGE_NOT_FOUND", f"image {service.image} of service {service.name} is not on the device"
                )
        entries = [e for e in self._entries() if (e["deployment"], e["component"]) != (deployment.id, component.name)]
        entries += [
            {"deployment": deployment.id, "component": component.name, "service": s.name, "image": s.image}
            for s in services
        ]
        self._save(entries)
        log.info("workload: %s/%s recorded (%d service(s))", deployment.id, component.name, len(services))

    def remove_deployment(self, deployment_id: str) -> int:
        entries = self._entries()
        kept = [e for e in entries if e["deployment"] != deployment_id]
        self._save(kept)
        return len(entries) - len(kept)

    def _entries(self) -> list[dict[str, str]]:
        try:
            return list(json.loads(self._path.read_text()))
        except FileNotFoundError:
            return []

    def _save(self, entries: list[dict[str, str]]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._path.with_suffix(".partial")
        partial.write_text(json.dumps(entries, indent=1))
        partial.replace(self._path)
