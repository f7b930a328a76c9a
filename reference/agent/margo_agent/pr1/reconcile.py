"""Desired deployments from the state manifest versus what runs (DSA-036).

New or changed deployments (by digest) are installed with the V24 helpers
(`reconciler.apply_deployment` / `reject_deployment`, the Docker runtime of
`margo_agent.workloads`), their V24 reports turned into PR1 documents. Deployments the
manifest no longer lists are removed and reported `removing`, then `removed` (STS-011).
What was applied is kept in a JSON file, with the component names a removal report needs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from margo_agent.faults import Faults
from margo_agent.gitops import Deployment
from margo_agent.pr1 import status
from margo_agent.reconciler import WorkloadRuntime, apply_deployment, reject_deployment, write_json_atomically
from margo_agent.workloads import WorkloadError

log = logging.getLogger(__name__)

Report = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class AppliedDeployment:
    digest: str
    installed: bool
    components: tuple[str, ...]
    name: str = ""


class Pr1Reconciler:
    def __init__(
        self,
        runtime: WorkloadRuntime,
        report: Report,
        state_file: Path,
        faults: Faults | None = None,
    ) -> None:
        self._runtime = runtime
        self._report = report
        self._state_file = state_file
        self._faults = faults or Faults()
        self._applied = _load(state_file)

    @property
    def applied(self) -> Mapping[str, AppliedDeployment]:
        return dict(self._applied)

    def reconcile(self, desired: Mapping[str, Deployment | None]) -> bool:
        """One pass over the deployments a manifest lists. None for a listed deployment means
        "its content is not at hand": it is left exactly as it is, never removed (DSA-035).
        True when everything reached its desired state; False when a removal must be retried."""
        complete = True
        for deployment_id in sorted(set(self._applied) - set(desired)):
            if self._faults.keep_unlisted:
                log.warning("fault: keep-unlisted: %s is no longer listed, keeping it", deployment_id)
                continue
            complete &= self._remove(deployment_id)
        for deployment_id in sorted(desired):
            deployment = desired[deployment_id]
            if deployment is None:
                continue
            previous = self._applied.get(deployment_id)
            if previous is not None and previous.digest == deployment.digest:
                continue
            log.info(
                "reconcile: %s deployment %s (%s), digest %s",
                "changed" if previous else "new",
                deployment.id,
                deployment.name,
                deployment.digest,
            )
            if previous is not None:
                self._stop_old_version(deployment_id)
            installed = self._apply(deployment)
            self._applied[deployment_id] = AppliedDeployment(
                deployment.digest, installed, tuple(c.name for c in deployment.components), deployment.name
            )
            self._save()
        return complete

    def _apply(self, deployment: Deployment) -> bool:
        def report_v24(document: dict[str, Any]) -> None:
            self._report(status.to_pr1(document))

        if deployment.problems:
            reject_deployment(deployment, report_v24, self._faults)
            return False
        return apply_deployment(deployment, self._runtime.install, report_v24, faults=self._faults)

    def _stop_old_version(self, deployment_id: str) -> None:
        try:
            self._runtime.remove_deployment(deployment_id)
        except WorkloadError as exc:
            log.warning("reconcile: stopping the old version of %s failed: %s", deployment_id, exc)

    def _remove(self, deployment_id: str) -> bool:
        """Removing, stop the containers, removed; failed (and retried) when that breaks."""
        components = self._applied[deployment_id].components
        self._report(status.removal_document(deployment_id, components, status.REMOVING))
        try:
            count = self._runtime.remove_deployment(deployment_id)
        except WorkloadError as exc:
            log.error("reconcile: removing deployment %s failed, will retry: %s", deployment_id, exc)
            error = {"code": exc.code, "message": exc.message or exc.code}
            self._report(status.removal_document(deployment_id, components, status.FAILED, error))
            return False
        log.info("reconcile: deployment %s removed, %d container(s) stopped", deployment_id, count)
        self._report(status.removal_document(deployment_id, components, status.REMOVED))
        del self._applied[deployment_id]
        self._save()
        return True

    def _save(self) -> None:
        write_json_atomically(self._state_file, {key: asdict(value) for key, value in self._applied.items()})


def _load(path: Path) -> dict[str, AppliedDeployment]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {
            key: AppliedDeployment(
                str(value["digest"]),
                bool(value["installed"]),
                tuple(str(name) for name in value["components"]),
                str(value.get("name", "")),
            )
            for key, value in document.items()
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("reconcile: ignoring unreadable %s (%s); deployments will be re-applied", path, exc)
        return {}
