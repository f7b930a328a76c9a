"""The PR1 document rules (Margo 1.0 preview), written out in Python.

They follow the suite's reading of the PR1 pages (its schemas/pr1/*.schema.json): the rc.2
capabilities shape (I-5), the six lowercase deployment states (I-6), the top-level deployment
id (I-11), `helm`/`compose` (I-12), any non-empty apiVersion (I-13), and specification
extensions named `x-<name>-extensions` where rc.2 declares them (EXT-002). Where those schemas
leave objects open, unknown members are tolerated here too. The building blocks are the V24
ones (margo_wos.validate); this module adds what PR1 needs on top: numbers, booleans, closed
objects with extension members, and the conditional rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from margo_wos.validate import (
    NON_EMPTY,
    UUID,
    Check,
    Violation,
    _at,
    array,
    map_of,
    obj,
    one_of,
    text,
)

#: RFC 3986 unreserved characters, `/` between a gateway and its child devices (CAP-013).
HIERARCHICAL_ID = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")
TARGET_DEVICE_ID = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*(/\*)?$")
APPLICATION_ID = re.compile(r"^[-a-z0-9]{1,200}$")
EXTENSION = re.compile(r"^x-[a-z][a-z0-9-]*-extensions$")
BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
MEMORY = re.compile(r"^[0-9]+ ?(Ki|Mi|Gi)$")
STORAGE = re.compile(r"^[0-9]+ ?(Ki|Mi|Gi|Ti|Pi|Ei)$")
STATES = ("pending", "installing", "installed", "failed", "removing", "removed")
#: The members that make a device a workload-hosting one (CAP-012): all or none.
HOSTING = ("cpu", "memory", "storage", "otelCollector", "supportedRuntimes",
           "supportedDeploymentTypes")


# -- building blocks PR1 adds ---------------------------------------------------------------


def positive_number(value: Any, path: str, out: list[Violation]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        out.append(Violation(path, "must be a number"))
    elif not value > 0:
        out.append(Violation(path, "must be greater than 0"))


def boolean(value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, bool):
        out.append(Violation(path, "must be true or false"))


def true_or_false_text(value: Any, path: str, out: list[Violation]) -> None:
    """A boolean in the OpenAPI, the text "true"/"false" in the LinkML examples."""
    if not (isinstance(value, bool) or value in ("true", "false")):
        out.append(Violation(path, 'must be true, false, "true" or "false"'))


def not_null(value: Any, path: str, out: list[Violation]) -> None:
    if value is None:
        out.append(Violation(path, "must not be null"))


def any_object(value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation(path or "(document)", "must be an object"))


def closed(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    """An object admitting only the named members and specification extensions (EXT-002):
    `x-<name>-extensions`, whose value is an object."""
    shape = obj(required, optional)
    known = set(required) | set(optional or {})

    def check(value: Any, path: str, out: list[Violation]) -> None:
        shape(value, path, out)
        if not isinstance(value, dict):
            return
        for name, member in value.items():
            if name in known:
                continue
            if EXTENSION.search(name):
                any_object(member, _at(path, name), out)
            else:
                out.append(Violation(
                    _at(path, name), "is not allowed here (only x-<name>-extensions may be added)"
                ))
    return check


def _members(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None


# -- DeviceCapabilitiesManifest (CAP-010..CAP-013, CAP-015, CAP-017) --------------------------

_CPU = obj({"cores": positive_number}, {"architecture": one_of("amd64", "arm64", "arm")})
_PERIPHERAL = obj(
    {"type": one_of("gpu", "display", "camera", "microphone", "speaker")},
    {"manufacturer": text(), "model": text()},
)
_INTERFACE = obj({"type": one_of("ethernet", "wifi", "cellular", "bluetooth", "usb", "canbus",
                                 "rs232")})
_PROPERTIES = obj(
    {
        "id": text(pattern=HIERARCHICAL_ID,
                   what="unreserved characters, with '/' between gateway and child ids"),
        "vendor": NON_EMPTY,
        "modelNumber": NON_EMPTY,
        "serialNumber": NON_EMPTY,
    },
    {
        "cpu": array(_CPU, min_items=1),
        "memory": text(pattern=MEMORY, what="a whole amount of Ki, Mi or Gi, such as 59Gi"),
        "storage": text(pattern=STORAGE, what="a whole amount of Ki..Ei, such as 1862Gi"),
        "peripherals": array(_PERIPHERAL),
        "interfaces": array(_INTERFACE),
        "otelCollector": boolean,
        "supportedRuntimes": array(one_of("oci"), min_items=1),
        "supportedDeploymentTypes": array(one_of("helm", "compose"), min_items=1),
    },
)


def _hosting(value: Any, path: str, out: list[Violation]) -> None:
    """CAP-012/CAP-015: a device reporting any hosting member reports them all, and an OTEL
    collector; a see-thru gateway that hosts nothing reports none."""
    if not isinstance(value, dict) or not any(name in value for name in HOSTING):
        return
    for name in HOSTING:
        if name not in value:
            out.append(Violation(_at(path, name), "is required of a workload-hosting device"))
    if "otelCollector" in value and value["otelCollector"] is not True:
        out.append(Violation(_at(path, "otelCollector"),
                             "must be true for a workload-hosting device"))


def _properties(value: Any, path: str, out: list[Violation]) -> None:
    _PROPERTIES(value, path, out)
    _hosting(value, path, out)


_CAPABILITIES = closed({
    "apiVersion": NON_EMPTY,
    "kind": one_of("DeviceCapabilitiesManifest"),
    "properties": _properties,
})


def device_capabilities(document: Any, device_id: str | None = None) -> list[Violation]:
    """The rules of the schema; `device_id` (the route's, when it names one) must also be
    `properties.id`, so a report is never filed under another device's name."""
    out: list[Violation] = []
    _CAPABILITIES(document, "", out)
    reported = _members(_members(document, "properties"), "id")
    if device_id is not None and isinstance(reported, str) and reported != device_id:
        out.append(Violation("properties.id", f"must be the device id {device_id!r} of the route"))
    return out


def extension_members(document: Any) -> list[Violation]:
    """The `x-...-extensions` members of a document, each as if it were forbidden (only the
    pr1-reject-capability-extensions fault asks; CAP-017 says they are ignored)."""
    if not isinstance(document, dict):
        return []
    return [Violation(name, "is an extension this WOS does not know") for name in document
            if name.startswith("x-")]


# -- DeploymentStatusManifest (STS-010..STS-016) ----------------------------------------------

_STATE = one_of(*STATES)  # lowercase only, compared case-sensitively (I-6)
_ERROR = obj({"code": text(), "message": text()}, {"source": text()})
_STATUS = obj({
    "apiVersion": NON_EMPTY,
    "kind": one_of("DeploymentStatusManifest"),
    "deploymentId": text(pattern=UUID, what="a UUID"),
    "status": obj({"state": _STATE}, {"error": _ERROR}),
    "components": array(obj({"name": NON_EMPTY, "state": _STATE}, {"error": _ERROR}),
                        min_items=1),
}, {
    "deviceId": text(pattern=HIERARCHICAL_ID,
                     what="unreserved characters, with '/' between gateway and child ids"),
})


def deployment_status(document: Any, deployment_id: str) -> list[Violation]:
    """The rules of the schema, and `deploymentId` must be the deployment of the route."""
    out: list[Violation] = []
    _STATUS(document, "", out)
    reported = _members(document, "deploymentId")
    is_uuid = isinstance(reported, str) and UUID.search(reported) is not None
    if is_uuid and str(reported).lower() != deployment_id.lower():
        message = f"must be the deployment id {deployment_id!r} of the route"
        out.append(Violation("deploymentId", message))
    return out


# -- ApplicationDeployment (DSA-050..DSA-052): checked before the WOS serves one -------------

_APP_ID = text(pattern=APPLICATION_ID, what="1-200 lowercase letters, digits or dashes")
_COMPONENT_PROPERTIES = obj({}, {
    "repository": NON_EMPTY,
    "revision": text(),
    "packageLocation": NON_EMPTY,
    "keyLocation": text(),
    "timeout": text(),
    "wait": true_or_false_text,
})
_COMPONENT = closed({"name": NON_EMPTY, "properties": _COMPONENT_PROPERTIES})
#: What each deployment type needs in every component's properties.
_NEEDS = {"helm": "repository", "compose": "packageLocation"}


def _deployment_profile(value: Any, path: str, out: list[Violation]) -> None:
    closed({"type": one_of("helm", "compose"), "components": array(_COMPONENT, min_items=1)})(
        value, path, out
    )
    kind = _members(value, "type")
    needed = _NEEDS.get(kind) if isinstance(kind, str) else None
    components = _members(value, "components")
    if needed is None or not isinstance(components, list):
        return
    for index, component in enumerate(components):
        properties = _members(component, "properties")
        if isinstance(properties, dict) and needed not in properties:
            where = _at(_at(_at(path, "components"), index), "properties")
            out.append(Violation(_at(where, needed),
                                 f"is required in a {kind} component"))


_TARGET = obj({"pointer": NON_EMPTY, "components": array(NON_EMPTY, min_items=1)})
_PARAMETER = obj({"value": not_null, "targets": array(_TARGET, min_items=1)})
_APPLICATION_DEPLOYMENT = obj({
    "apiVersion": NON_EMPTY,
    "kind": one_of("ApplicationDeployment"),
    "id": text(pattern=UUID, what="a UUID"),
    "metadata": obj(
        {
            "annotations": obj({"applicationId": _APP_ID}),
            "name": NON_EMPTY,
            "namespace": NON_EMPTY,
        },
        {
            "deviceId": text(pattern=TARGET_DEVICE_ID, what="a hierarchical device id"),
            "labels": map_of(text()),
        },
    ),
    "spec": closed(
        {
            "deploymentProfile": _deployment_profile,
            "parameters": map_of(_PARAMETER, key_min_length=1),
        },
        {"applicationId": _APP_ID},
    ),
})


def application_deployment(document: Any) -> list[Violation]:
    out: list[Violation] = []
    _APPLICATION_DEPLOYMENT(document, "", out)
    return out


# -- OnboardingRequest (ONB-011) ------------------------------------------------------------

_ONBOARDING_REQUEST = obj({
    "apiVersion": NON_EMPTY,
    "kind": one_of("OnboardingRequest"),
    "certificate": text(min_length=4, pattern=BASE64,
                        what="standard padded Base64 without line breaks"),
})


def onboarding_request(document: Any) -> list[Violation]:
    """The shape only; that the certificate parses is margo_wos.certificates' job."""
    out: list[Violation] = []
    _ONBOARDING_REQUEST(document, "", out)
    return out

