"""The V24 document rules, written out in Python.

They follow the pre-draft field tables as the suite reads them (its schemas/v24/*.schema.json):
every required member, its type, enumerations and the few cross-field rules. Unknown
members are tolerated everywhere, as those schemas do. Each check appends `Violation`s
instead of stopping at the first one, so a 422 can list everything that is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Violation:
    field: str  # dotted path of the offending member, with [i] for array items
    message: str


Check = Callable[[Any, str, list[Violation]], None]

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
APPLICATION_ID = re.compile(r"^[a-z0-9-]{1,200}$")
DEVICE_ID = re.compile(r"^[A-Za-z0-9._~-]+$")
STATES = ("Pending", "Installing", "Installed", "Failed")
ROLES = ("Standalone Cluster", "Cluster Leader", "Standalone Device")


def _at(path: str, member: str | int) -> str:
    if isinstance(member, int):
        return f"{path}[{member}]"
    return f"{path}.{member}" if path else member


# -- building blocks ---------------------------------------------------------------------


def text(min_length: int = 0, pattern: re.Pattern[str] | None = None, what: str = "") -> Check:
    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, str):
            out.append(Violation(path, "must be a string"))
        elif len(value) < min_length:
            out.append(Violation(path, "must not be empty"))
        elif pattern is not None and not pattern.search(value):
            out.append(Violation(path, f"must be {what or 'of the form ' + pattern.pattern}"))
    return check


def integer(minimum: int) -> Check:
    def check(value: Any, path: str, out: list[Violation]) -> None:
        # JSON has one number type; 4.0 counts as an integer (as JSON Schema says), true does not.
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole:
            out.append(Violation(path, "must be an integer"))
        elif value < minimum:
            out.append(Violation(path, f"must be at least {minimum}"))
    return check


def one_of(*allowed: str) -> Check:
    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not (isinstance(value, str) and value in allowed):
            out.append(Violation(path, f"must be one of {', '.join(allowed)}"))
    return check


def not_null(value: Any, path: str, out: list[Violation]) -> None:
    if value is None:
        out.append(Violation(path, "must not be null"))


def obj(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            out.append(Violation(path or "(document)", "must be an object"))
            return
        for name, member in required.items():
            if name not in value:
                out.append(Violation(_at(path, name), "is required"))
            else:
                member(value[name], _at(path, name), out)
        for name, member in (optional or {}).items():
            if name in value:
                member(value[name], _at(path, name), out)
    return check


def map_of(values: Check, key_min_length: int = 0) -> Check:
    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            out.append(Violation(path, "must be an object"))
            return
        for key, item in value.items():
            if len(key) < key_min_length:
                out.append(Violation(path, "member names must not be empty"))
            values(item, _at(path, key), out)
    return check


def array(items: Check, min_items: int = 0, unique: bool = False) -> Check:
    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, list):
            out.append(Violation(path, "must be an array"))
            return
        if len(value) < min_items:
            out.append(Violation(path, f"must have at least {min_items} item(s)"))
        if unique and len({json.dumps(v, sort_keys=True) for v in value}) < len(value):
            out.append(Violation(path, "must not repeat an item"))
        for index, item in enumerate(value):
            items(item, _at(path, index), out)
    return check


def any_value(value: Any, path: str, out: list[Violation]) -> None:
    """Members whose presence is required but whose content V24 leaves open."""


NON_EMPTY = text(min_length=1)
OBJECT = map_of(any_value)

# -- DeviceCapabilities (CAP-003..CAP-005) -------------------------------------------------

_HARDWARE_ITEM = obj({"name": NON_EMPTY, "type": NON_EMPTY, "modelNumber": text(),
                      "properties": map_of(text())})
_CPU = obj({"cpuArchitecture": NON_EMPTY, "cores": integer(1), "frequency": integer(0)})

_CAPABILITIES = obj({
    "apiVersion": NON_EMPTY,
    "kind": one_of("DeviceCapabilities"),
    "properties": obj({
        "id": NON_EMPTY,
        "vendor": NON_EMPTY,
        "modelNumber": NON_EMPTY,
        "serialNumber": NON_EMPTY,
        # The table's capitalisation or all lowercase (I-9); nothing in between.
        "roles": array(one_of(*ROLES, *(r.lower() for r in ROLES)), min_items=1, unique=True),
        "resources": obj({"cpus": array(_CPU, min_items=1),
                          "memory": integer(0), "storage": integer(0)}),
        "peripherals": array(_HARDWARE_ITEM),
        "interfaces": array(_HARDWARE_ITEM),
    }),
})


def device_capabilities(document: Any, device_id: str) -> list[Violation]:
    out: list[Violation] = []
    _CAPABILITIES(document, "", out)
    # properties.id names the device (wire contract section 4): a report about another
    # device through this device's route would be stored under the wrong name.
    properties = document.get("properties") if isinstance(document, dict) else None
    reported_id = properties.get("id") if isinstance(properties, dict) else None
    if isinstance(reported_id, str) and reported_id and reported_id != device_id:
        out.append(Violation("properties.id", f"must be the device id {device_id!r} of the route"))
    return out


# -- DeploymentStatus (STS-003..STS-006) ---------------------------------------------------

_STATE = one_of(*STATES, *(s.lower() for s in STATES))  # I-6: the example's lowercase too
_ERROR = obj({"code": text(), "message": text()})
_COMPONENT = obj({"name": NON_EMPTY, "state": _STATE}, {"error": _ERROR})
_STATUS_SHAPE = obj({"state": _STATE}, {"error": _ERROR})


def _overall_status(value: Any, path: str, out: list[Violation]) -> None:
    _STATUS_SHAPE(value, path, out)
    if not isinstance(value, dict) or value.get("state") not in ("Failed", "failed"):
        return
    # A failure must say what went wrong (STS-006): empty code or message say nothing.
    error = value.get("error")
    if "error" not in value:
        out.append(Violation(_at(path, "error"), "is required when the state is Failed"))
    elif isinstance(error, dict):
        for member in ("code", "message"):
            if error.get(member) == "":
                where = _at(_at(path, "error"), member)
                out.append(Violation(where, "must not be empty when the state is Failed"))


_STATUS = obj({
    "apiVersion": NON_EMPTY,
    "kind": one_of("DeploymentStatus"),
    "deploymentId": text(pattern=UUID, what="a UUID"),
    "status": _overall_status,
    "components": array(_COMPONENT, min_items=1),
})


def deployment_status(document: Any, deployment_id: str) -> list[Violation]:
    out: list[Violation] = []
    _STATUS(document, "", out)
    reported_id = document.get("deploymentId") if isinstance(document, dict) else None
    is_uuid = isinstance(reported_id, str) and UUID.search(reported_id) is not None
    if is_uuid and str(reported_id).lower() != deployment_id.lower():
        message = f"must be the deployment id {deployment_id!r} of the route"
        out.append(Violation("deploymentId", message))
    return out


# -- ApplicationDeployment (GIT-008, GIT-009): checked before the WOS commits one ------------

_TARGET = obj({"pointer": NON_EMPTY, "components": array(NON_EMPTY, min_items=1)})
_APPLICATION_DEPLOYMENT = obj({
    "apiVersion": NON_EMPTY,
    "kind": one_of("ApplicationDeployment"),
    "metadata": obj({
        "annotations": obj({
            "id": text(pattern=UUID, what="a UUID"),
            "applicationId": text(pattern=APPLICATION_ID,
                                  what="1-200 lowercase letters, digits or dashes"),
        }),
        "name": NON_EMPTY,
        "namespace": NON_EMPTY,
    }),
    "spec": obj({
        "deploymentProfile": obj({
            "type": one_of("helm.v3", "docker-compose"),
            "components": array(obj({"name": NON_EMPTY, "properties": OBJECT}), min_items=1),
        }),
        "parameters": map_of(obj({"value": not_null, "targets": array(_TARGET, min_items=1)}),
                             key_min_length=1),
    }),
})


def application_deployment(document: Any) -> list[Violation]:
    out: list[Violation] = []
    _APPLICATION_DEPLOYMENT(document, "", out)
    return out


# -- OnboardingRequest (suite interpretation, wire contract section 2) -------------------------

_ONBOARDING_REQUEST = obj({
    "apiVersion": one_of("onboarding.margo/v1"),
    "kind": one_of("OnboardingRequest"),
    "deviceId": text(pattern=DEVICE_ID, what="letters, digits, '.', '_', '~' or '-'"),
    "onboardingKey": NON_EMPTY,
})


def onboarding_request(document: Any) -> list[Violation]:
    out: list[Violation] = []
    _ONBOARDING_REQUEST(document, "", out)
    return out
