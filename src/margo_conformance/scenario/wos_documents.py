"""The documents the suite's device sends a WOS: valid and deliberately broken ones.

Capabilities documents and status reports (V24, the profile the WOS scenarios and the fleet
speak), the defects and undefined states the features name, and the application a deploy
request carries, made from a deployment fixture.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from margo_conformance.base.errors import StepOrderError
from margo_conformance.dialects import V24, Dialect

PAYLOADS = V24.payloads
APPLICATIONS = V24.deployments

#: Capabilities defects named in the Gherkin -> corpus file breaking exactly that rule.
CAPABILITY_DEFECTS = {
    "without a serial number": "missing-serialNumber.json",
    "with memory given as text": "memory-as-string.json",
    "of the wrong kind": "kind-wrong.json",
    "without a CPU architecture": "missing-cpuArchitecture.json",
    "with a role Margo does not define": "role-unknown.json",
    "with resources given as a list": "resources-as-array.json",
}

#: The V24 states in the table's spelling and the lowercase of the pre-draft's example (I-6).
DEFINED_STATE_SPELLINGS = (
    "Pending", "pending", "Installing", "installing", "Installed", "installed", "Failed", "failed"
)
#: Status reports with a state V24 does not define, named in the Gherkin -> (overall, component)
#: states; the component state is given to the last component, the others are Installing.
UNDEFINED_STATES = {
    "a state Margo does not define": ("Sleeping", "Sleeping"),
    "one component in a state Margo does not define": ("Installing", "Sleeping"),
    # Margo 1.0.0 added update and removal states (I-6); V24 has none of them.
    "a state from a later Margo version": ("Updating", "Updating"),
}


#: PR1 capabilities defects named in the Gherkin -> corpus file breaking exactly that rule.
PR1_CAPABILITY_DEFECTS = {
    "without a serial number": "missing-serialNumber.json",
    "with a CPU architecture Margo does not define": "architecture-x86_64.json",
    "with memory in decimal units": "memory-decimal-unit.json",
    "of the wrong kind": "kind-wrong.json",
    "that host workloads without a deployment type": "hosting-without-supportedDeploymentTypes.json",
}
#: An extension member no WOS knows (CAP-017: ignored, never a failure).
UNKNOWN_EXTENSION = {"x-conformance-extensions": {"rack": "B4", "checkedBy": "margo-conformance"}}
#: A body that is no JSON at all: the start of an object, cut off.
NOT_JSON = b'{"apiVersion": "cut off'


def valid_capabilities(device_id: str, variant: int = 0, dialect: Dialect = V24) -> dict[str, Any]:
    """A valid capabilities document of the profile (V24 unless told: the fleet speaks V24)."""
    return dialect.capabilities(device_id, variant)


def defective_capabilities(device_id: str, defect: str, dialect: Dialect = V24) -> dict[str, Any]:
    defects = PR1_CAPABILITY_DEFECTS if dialect.client_scoped else CAPABILITY_DEFECTS
    if defect not in defects:
        raise StepOrderError(f"unknown {dialect.name} capabilities defect {defect!r}; known: {sorted(defects)}")
    folder = dialect.payloads / "device-capabilities" / "invalid"
    document = json.loads((folder / defects[defect]).read_text())
    if isinstance(document.get("properties"), dict):
        document["properties"]["id"] = device_id
    return document


def status_report(deployment_id: str, components: list[str], state: str) -> dict[str, Any]:
    """A V24 DeploymentStatus with the deployment and every component in `state` (the scenarios
    that send one speak V24; so does the fleet)."""
    return V24.status_report(deployment_id, "", components, state)


def status_report_with_undefined_state(
    deployment_id: str, components: list[str], which: str
) -> dict[str, Any]:
    """A DeploymentStatus breaking only STS-004 the way `which` (a key of UNDEFINED_STATES) says."""
    if which not in UNDEFINED_STATES:
        raise StepOrderError(f"unknown undefined state {which!r}; known: {list(UNDEFINED_STATES)}")
    overall, last_component = UNDEFINED_STATES[which]
    report = status_report(deployment_id, components, "Installing")
    report["status"]["state"] = overall
    report["components"][-1]["state"] = last_component
    return report


def application_request(name: str) -> dict[str, Any]:
    """The `application` of the deploy verb: a deployment fixture minus what the WOS assigns."""
    text = (APPLICATIONS / f"{name}.yaml").read_text()
    document = yaml.safe_load(text.replace("${DEPLOYMENT_ID}", "unassigned").replace(
        "${ARTIFACTS}", "http://artifacts.invalid"))
    return {
        "applicationId": document["metadata"]["annotations"]["applicationId"],
        "name": document["metadata"]["name"],
        "namespace": document["metadata"]["namespace"],
        "deploymentProfile": copy.deepcopy(document["spec"]["deploymentProfile"]),
        "parameters": copy.deepcopy(document["spec"]["parameters"]),
    }


def application_components(name: str) -> list[str]:
    return [c["name"] for c in application_request(name)["deploymentProfile"]["components"]]
