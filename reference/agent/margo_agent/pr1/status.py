"""PR1 DeploymentStatusManifest documents (STS-010..STS-016).

Installation reports are made by the V24 code (`reconciler.apply_deployment` with
`status.DeploymentProgress`), so PR1 follows exactly the same ordering rules: pending, then
installing per component with the overall state following the component in progress, then
installed, or failed with an error code and message. `to_pr1` only renames that document and
lowercases its states (I-6). Removal reports, which V24 does not have, are made here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from margo_agent.faults import Faults

API_VERSION = "deployment.margo.org/v1alpha1"
KIND = "DeploymentStatusManifest"
REMOVING, REMOVED, FAILED = "removing", "removed", "failed"


def to_pr1(document: dict[str, Any]) -> dict[str, Any]:
    """A V24 DeploymentStatus document as a PR1 DeploymentStatusManifest."""
    status = dict(document["status"])
    status["state"] = str(status["state"]).lower()
    components = []
    for component in document["components"]:
        component = dict(component)
        component["state"] = str(component["state"]).lower()
        components.append(component)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "deploymentId": document["deploymentId"],
        "status": status,
        "components": components,
    }


def with_faults(document: dict[str, Any], faults: Faults) -> dict[str, Any]:
    """The document as the status fault switches spoil it (unchanged when none is on)."""
    if faults.status_without_components:
        document = {k: v for k, v in document.items() if k != "components"}
    if faults.capitalised_states:
        document = dict(document, status=dict(document["status"], state=document["status"]["state"].capitalize()))
        if "components" in document:
            document["components"] = [dict(c, state=c["state"].capitalize()) for c in document["components"]]
    return document


def removal_document(
    deployment_id: str,
    component_names: Sequence[str],
    state: str,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Every component shares the deployment's removal state; an error goes on both."""
    status: dict[str, Any] = {"state": state}
    components: list[dict[str, Any]] = []
    for name in component_names:
        component: dict[str, Any] = {"name": name, "state": state}
        if error is not None:
            component["error"] = dict(error)
        components.append(component)
    if error is not None:
        status["error"] = dict(error)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "deploymentId": deployment_id,
        "status": status,
        "components": components,
    }
