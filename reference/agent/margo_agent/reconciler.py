"""Desired state versus applied state (GIT-004): apply what is new or changed, remove
what disappeared, and report every state change of a deployment (STS-001..STS-006)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from margo_agent.faults import Faults
from margo_agent.gitops import Component, Deployment
from margo_agent.status import DeploymentProgress, StatusError
from margo_agent.workloads import WorkloadError

log = logging.getLogger(__name__)

Report = Callable[[dict[str, Any]], None]


class WorkloadRuntime(Protocol):
    def install(self, deployment: Deployment, component: Component) -> None: ...

    def remove_deployment(self, deployment_id: str) -> int: ...


INVALID_DEPLOYMENT = "INVALID_DEPLOYMENT"
NO_FAULTS = Faults()
#: Problems listed in one error message, at most: enough to act on, short enough to read.
MESSAGE_PROBLEMS = 5


def _progress(deployment: Deployment, faults: Faults) -> DeploymentProgress:
    return DeploymentProgress(
        deployment.id,
        [c.name for c in deployment.components],
        error_details=not faults.no_error_details,
        overall_from_last_component=faults.overall_from_last_component,
    )


def reject_deployment(deployment: Deployment, report: Report, faults: Faults = NO_FAULTS) -> None:
    """A document that breaks the schema is not applied: Pending (it was received), then
    Failed with INVALID_DEPLOYMENT and the problems for the deployment and every component."""
    progress = _progress(deployment, faults)
    report(progress.document())
    shown = deployment.problems[:MESSAGE_PROBLEMS]
    more = len(deployment.problems) - len(shown)
    message = "the deployment breaks the ApplicationDeployment schema: " + "; ".join(shown)
    progress.rejected(StatusError(INVALID_DEPLOYMENT, message + (f" (and {more} more)" if more else "")))
    log.error("reconcile: deployment %s refused: %s", deployment.id, "; ".join(deployment.problems))
    report(progress.document())


def apply_deployment(
    deployment: Deployment,
    install: Callable[[Deployment, Component], None],
    report: Report,
    *,
    skip_installing: bool = False,
    faults: Faults = NO_FAULTS,
) -> bool:
    """Install the components in order, reporting after each state change:
    Pending; per component Installing (earlier Installed, later Pending); finally
    Installed. On a failure that component and the deployment become Failed with the
    error, later components stay Pending. True when everything was installed."""
    skip_installing = skip_installing or faults.skip_installing
    progress = _progress(deployment, faults)
    report(progress.document())
    for index, component in enumerate(deployment.components):
        progress.installing(index)
        if not skip_installing:
            report(progress.document())
        try:
            install(deployment, component)
        except WorkloadError as exc:
            error = StatusError(exc.code, exc.message or exc.code)
        except Exception as exc:  # the device must report, not crash, whatever broke
            log.exception(
                "workload: unexpected error installing %s/%s", deployment.id, component.name
            )
            error = StatusError("INSTALL_FAILED", f"{type(exc).__name__}: {exc}")
        else:
            progress.installed(index)
            continue
        log.error(
            "workload: %s/%s failed: %s %s",
            deployment.id,
            component.name,
            error.code,
            error.message,
        )
        progress.failed(index, error)
        report(progress.document())
        return False
    report(progress.document())
    return True


@dataclass(frozen=True)
class Applied:
    digest: str
    installed: bool


class Reconciler:
    """Remembers what it applied (in a JSON file, so a restart does not reinstall
    everything) and converges the engine towards the desired deployments."""

    def __init__(
        self,
        runtime: WorkloadRuntime,
        report: Report,
        state_file: Path,
        skip_installing: bool,
        faults: Faults = NO_FAULTS,
    ) -> None:
        self._runtime = runtime
        self._report = report
        self._state_file = state_file
        self._skip_installing = skip_installing
        self._faults = faults
        self._applied: dict[str, Applied] = _load_applied(state_file)

    def reconcile(self, desired: Mapping[str, Deployment]) -> bool:
        """One pass. A deployment that failed is not retried until its document changes.
        Returns False when some removal must be tried again."""
        desired = self._fault_one_deployment_only(desired)
        complete = True
        gone = sorted(set(self._applied) - set(desired))
        if gone and self._faults.ignore_removals:
            log.warning("fault: ignore-removals: leaving %s in place", ", ".join(gone))
            gone = []
        for deployment_id in gone:
            complete &= self._remove(deployment_id)
        anything_changed = bool(gone) or any(
            self._applied.get(d.id) is None or self._applied[d.id].digest != d.digest
            for d in desired.values()
        )
        for deployment in sorted(desired.values(), key=lambda d: (d.source, d.id)):
            previous = self._applied.get(deployment.id)
            if previous is not None and previous.digest == deployment.digest:
                if not (self._faults.reapply_all_on_change and anything_changed):
                    continue
                log.warning("fault: reapply-all-on-change: reinstalling %s", deployment.id)
            elif previous is not None and self._faults.ignore_updates:
                log.warning("fault: ignore-updates: not applying the change to %s", deployment.id)
                continue
            verb = "changed" if previous else "new"
            log.info(
                "reconcile: %s deployment %s (%s) from %s",
                verb,
                deployment.id,
                deployment.name,
                deployment.source,
            )
            if previous is not None:
                self._stop_old_version(deployment.id)
            if deployment.problems:
                reject_deployment(deployment, self._report, self._faults)
                installed = False
            else:
                installed = apply_deployment(
                    deployment,
                    self._runtime.install,
                    self._report,
                    skip_installing=self._skip_installing,
                    faults=self._faults,
                )
            self._applied[deployment.id] = Applied(deployment.digest, installed)
            self._save()
        return complete

    def _fault_one_deployment_only(self, desired: Mapping[str, Deployment]) -> Mapping[str, Deployment]:
        if not self._faults.one_deployment_only or len(desired) < 2:
            return desired
        first = min(desired.values(), key=lambda d: (d.source, d.id))
        log.warning("fault: one-deployment-only: ignoring all but %s", first.source)
        return {first.id: first}

    def _stop_old_version(self, deployment_id: str) -> None:
        """A changed deployment is reinstalled from scratch, so containers of components
        that the new version dropped do not linger."""
        try:
            self._runtime.remove_deployment(deployment_id)
        except WorkloadError as exc:
            log.warning("reconcile: stopping the old version of %s failed: %s", deployment_id, exc)

    def _remove(self, deployment_id: str) -> bool:
        try:
            count = self._runtime.remove_deployment(deployment_id)
        except WorkloadError as exc:
            log.error(
                "reconcile: removing deployment %s failed, will retry: %s", deployment_id, exc
            )
            return False
        log.info("reconcile: deployment %s removed, %d container(s) stopped", deployment_id, count)
        del self._applied[deployment_id]
        self._save()
        return True

    def _save(self) -> None:
        write_json_atomically(self._state_file, {key: asdict(value) for key, value in self._applied.items()})


def write_json_atomically(path: Path, document: object) -> None:
    """Replace `path` in one step, so a crash never leaves half a state file."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
    temporary.replace(path)


def _load_applied(path: Path) -> dict[str, Applied]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {key: Applied(**value) for key, value in document.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning(
            "reconcile: ignoring unreadable %s (%s); deployments will be re-applied", path, exc
        )
        return {}
