"""Bad requests a device may send a WOS: what each kind the robustness feature names is.

The robustness feature names each kind of bad request in domain words ("a body that is not
JSON"); `BAD_REQUESTS` says what it is at each device-facing request, as one change to the
valid request the device would send there (docs/v24-wire-contract.md section 8 has the same
table). A kind that cannot apply to a request (a token request is a form, not a document)
has no entry for it. The walk that sends them, and its verdicts, are wos_bad_request_walk.py.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from margo_conformance.base.errors import StepOrderError

ONBOARDING = "onboarding request"
TOKEN = "token request"
CAPABILITIES = "capabilities report"
STATUS = "status report"
#: The device-facing requests in the order a device sends them.
ENDPOINTS = (ONBOARDING, TOKEN, CAPABILITIES, STATUS)
#: "A body larger than a megabyte": twice the 1 MiB the suite allows a WOS to refuse above.
OVERSIZED_BYTES = 2 * 1024 * 1024
EVERY_KIND = "every kind of bad request"
#: The kind whose answer V24 leaves open: no size limit is set (the walk reports it as advisory).
OVERSIZED = "a body larger than a megabyte"


@dataclass(frozen=True)
class Request:
    """One HTTP request of the device, as `WosUnderTest.send` takes it."""

    method: str
    path: str
    json_body: Any = None
    raw_body: bytes | None = None
    form: Mapping[str, str] | None = None
    token: str | None = None
    headers: Mapping[str, str] | None = None

    def send_arguments(self) -> dict[str, Any]:
        arguments = {
            "json_body": self.json_body,
            "raw_body": self.raw_body,
            "form": self.form,
            "token": self.token,
            "headers": self.headers,
        }
        return {k: v for k, v in arguments.items() if v is not None}


Defect = Callable[[Request], list[Request]]


# -- the changes that make a valid request bad -----------------------------------------------


def _document(request: Request) -> dict[str, Any]:
    return copy.deepcopy(request.json_body)


def _with(request: Request, change: Callable[[dict[str, Any]], None]) -> list[Request]:
    document = _document(request)
    change(document)
    return [replace(request, json_body=document)]


def _holds(request: Request, pointer: str) -> bool:
    """Does the valid document have this member (dotted path)? A body the SUT file declares
    (interop.onboarding) may not: then the kind of bad request that changes it is not sent."""
    target: Any = request.json_body
    for name in pointer.split("."):
        if not isinstance(target, dict) or name not in target:
            return False
        target = target[name]
    return True


def _set(pointer: str, value: Any) -> Defect:
    """Set a member (dotted path) of the valid document."""
    *parents, name = pointer.split(".")

    def change(document: dict[str, Any]) -> None:
        target = document
        for parent in parents:
            target = target[parent]
        target[name] = value(target[name]) if callable(value) else value

    return lambda request: _with(request, change) if _holds(request, pointer) else []


def _drop(pointer: str) -> Defect:
    *parents, name = pointer.split(".")

    def change(document: dict[str, Any]) -> None:
        target = document
        for parent in parents:
            target = target[parent]
        del target[name]

    return lambda request: _with(request, change) if _holds(request, pointer) else []


def _form(change: Callable[[dict[str, str]], object]) -> Defect:
    def defect(request: Request) -> list[Request]:
        form = dict(request.form or {})
        change(form)
        return [replace(request, form=form)]

    return defect


def _truncated_json(request: Request) -> list[Request]:
    text = json.dumps(request.json_body)
    return [
        replace(
            request,
            json_body=None,
            raw_body=text[: len(text) // 2].encode(),
            headers={"Content-Type": "application/json"},
        )
    ]


def _json_instead_of_form(request: Request) -> list[Request]:
    return [replace(request, form=None, json_body=dict(request.form or {}))]


def _padded_document(request: Request) -> list[Request]:
    # A valid document with one extension member (V24 tolerates unknown members): only its
    # size is wrong.
    return _with(request, lambda d: d.__setitem__("padding", "x" * OVERSIZED_BYTES))


def _padded_form(request: Request) -> list[Request]:
    return _form(lambda f: f.__setitem__("padding", "x" * OVERSIZED_BYTES))(request)


def _unknown_id(prefix: str) -> str:
    return f"{prefix}-unknown-{uuid.uuid4().hex[:8]}"


def _other_device_in_path(request: Request) -> Request:
    _, device, device_id, rest = request.path.split("/", 3)
    return replace(request, path=f"/{device}/{_unknown_id('dev')}/{rest}")


def _unknown_device_capabilities(request: Request) -> list[Request]:
    moved = _other_device_in_path(request)
    document = _document(request)
    document["properties"]["id"] = moved.path.split("/")[2]
    return [replace(moved, json_body=document)]


def _unknown_device_or_deployment_status(request: Request) -> list[Request]:
    unknown = str(uuid.uuid4())
    document = _document(request)
    document["deploymentId"] = unknown
    head, _, _ = request.path.rpartition("/deployment/")
    return [
        _other_device_in_path(request),
        replace(request, path=f"{head}/deployment/{unknown}/status", json_body=document),
    ]


#: Kind of bad request (as the features name it) -> request -> how the valid request is changed.
BAD_REQUESTS: dict[str, dict[str, Defect]] = {
    "a body that is not JSON": {
        ONBOARDING: _truncated_json,
        TOKEN: _json_instead_of_form,  # the token endpoint takes a form (RFC 6749)
        CAPABILITIES: _truncated_json,
        STATUS: _truncated_json,
    },
    "a document of the wrong kind": {
        ONBOARDING: _set("kind", "OnboardingResponse"),
        TOKEN: _form(lambda f: f.__setitem__("grant_type", "password")),  # another kind of grant
        CAPABILITIES: _set("kind", "DeviceCapabilitiesManifest"),
        STATUS: _set("kind", "DeploymentStatusManifest"),
    },
    "a document of the wrong apiVersion": {
        ONBOARDING: _set("apiVersion", "onboarding.margo/v0"),
        # V24 spells apiVersion differently on every page (I-13): only an empty one is wrong.
        CAPABILITIES: _set("apiVersion", ""),
        STATUS: _set("apiVersion", ""),
    },
    "a document with a field of the wrong type": {
        ONBOARDING: _set("onboardingKey", lambda key: [key]),
        CAPABILITIES: _set("properties.resources.memory", str),
        STATUS: _set("status", lambda status: [status]),
    },
    "a document without a required field": {
        ONBOARDING: _drop("onboardingKey"),
        TOKEN: _form(lambda f: f.pop("grant_type")),
        CAPABILITIES: _drop("properties.serialNumber"),
        STATUS: _drop("status"),
    },
    "a request for a device or deployment the orchestrator does not know": {
        ONBOARDING: _set("deviceId", lambda _: _unknown_id("dev")),
        TOKEN: _form(lambda f: f.__setitem__("client_id", _unknown_id("client"))),
        CAPABILITIES: _unknown_device_capabilities,
        STATUS: _unknown_device_or_deployment_status,
    },
    OVERSIZED: {
        ONBOARDING: _padded_document,
        TOKEN: _padded_form,
        CAPABILITIES: _padded_document,
        STATUS: _padded_document,
    },
}


def kinds_named(name: str) -> list[str]:
    """The kinds of bad request a feature's phrase names: one, or every kind."""
    if name == EVERY_KIND:
        return list(BAD_REQUESTS)
    if name not in BAD_REQUESTS:
        raise StepOrderError(f"unknown kind of bad request {name!r}; known: {sorted(BAD_REQUESTS)}")
    return [name]


def bad_requests(kind: str, endpoint: str, valid: Request) -> list[Request]:
    defect = BAD_REQUESTS[kind].get(endpoint)
    return defect(valid) if defect is not None else []
