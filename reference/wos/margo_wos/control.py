"""The control verbs (docs/control-adapter.md): what an operator does, as JSON over HTTP.

`POST /control/<verb>` with one JSON object answers 200 with one JSON object, or a 4xx/5xx
problem body whose `detail` is the one-line reason. Served on its own port, never on the
device-facing one, so devices cannot reach it through the address they were given.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from margo_wos import validate
from margo_wos.gitrepo import GitError
from margo_wos.service import Wos
from margo_wos.store import Deployment, Device
from margo_wos.web import NotJson, RequestLog, TooLarge, json_body, log, problem

DEPLOYMENT_API_VERSION = "application.margo.org/v1alpha1"
Verb = Callable[[Wos, dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlFailure(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _text(request: dict[str, Any], name: str) -> str:
    value = request.get(name)
    if not isinstance(value, str) or not value:
        raise ControlFailure(400, f"{name} must be a non-empty string")
    return value


def _device(wos: Wos, request: dict[str, Any]) -> Device:
    device_id = _text(request, "deviceId")
    device = wos.store.device(device_id)
    if device is None:
        raise ControlFailure(404, f"no device {device_id!r} is registered")
    return device


def _deployment(device: Device, request: dict[str, Any]) -> Deployment:
    deployment_id = _text(request, "deploymentId")
    deployment = device.deployments.get(deployment_id)
    if deployment is None:
        raise ControlFailure(
            404, f"device {device.device_id!r} has no deployment {deployment_id!r}"
        )
    return deployment


# -- verbs -----------------------------------------------------------------------------------


async def register_device(wos: Wos, request: dict[str, Any]) -> dict[str, Any]:
    device_id = _text(request, "deviceId")
    # The id becomes a URL segment and a file name: unreserved characters, and not a dot path.
    if (
        not validate.DEVICE_ID.search(device_id)
        or device_id in (".", "..")
        or device_id.endswith(".git")
    ):
        raise ControlFailure(
            400, "deviceId must be letters, digits, '.', '_', '~' or '-' (not '.', '..' or *.git)"
        )
    existing = wos.store.device(device_id)
    if existing is not None:
        if existing.onboarded:
            raise ControlFailure(409, f"device {device_id!r} is registered and onboarded already")
        return {"onboardingKey": existing.onboarding_key}  # a retried registration, same key
    device = Device(device_id=device_id, onboarding_key=f"k-{secrets.token_urlsafe(18)}")
    await wos.repos.create(device_id)  # before the record, so a registered device always has one
    wos.store.save(device)
    log("control", f"registered device {device_id}")
    return {"onboardingKey": device.onboarding_key}


async def deploy(wos: Wos, request: dict[str, Any]) -> dict[str, Any]:
    device = _device(wos, request)
    application = request.get("application")
    if not isinstance(application, dict):
        raise ControlFailure(400, "application must be an object")
    deployment_id = str(uuid.uuid4())  # GIT-009: the WOS assigns the id
    document = application_deployment(deployment_id, application)
    violations = validate.application_deployment(document)
    if violations:
        reasons = "; ".join(f"{v.field}: {v.message}" for v in violations)
        raise ControlFailure(
            422, f"the application does not make a valid ApplicationDeployment: {reasons}"
        )
    name = document["metadata"]["name"]
    path = f"deployments/{_file_stem(name)}-{deployment_id[:8]}.yaml"
    header = f"# Desired state written by the Margo reference WOS: deployment {deployment_id}\n"
    text = header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    await wos.repos.write(device.device_id, path, text, f"Deploy {name} ({deployment_id})")
    device.deployments[deployment_id] = Deployment(
        deployment_id, document["metadata"]["annotations"]["applicationId"], name, path
    )
    wos.store.save(device)
    log("control", f"deployed {name} to {device.device_id} as {deployment_id} in {path}")
    return {"deploymentId": deployment_id}


def application_deployment(deployment_id: str, application: dict[str, Any]) -> dict[str, Any]:
    """The V24 document (GIT-008) for an application as the deploy verb names it."""
    return {
        "apiVersion": DEPLOYMENT_API_VERSION,
        "kind": "ApplicationDeployment",
        "metadata": {
            "annotations": {"id": deployment_id, "applicationId": application.get("applicationId")},
            "name": application.get("name"),
            "namespace": application.get("namespace"),
        },
        "spec": {
            "deploymentProfile": application.get("deploymentProfile"),
            # An application without parameters still needs the member (the table requires it).
            "parameters": application.get("parameters", {}),
        },
    }


def _file_stem(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:60] or "deployment"


async def remove(wos: Wos, request: dict[str, Any]) -> dict[str, Any]:
    device = _device(wos, request)
    deployment = _deployment(device, request)
    if deployment.removed:
        return {}  # removing twice is what a retrying operator does; nothing left to delete
    await wos.repos.delete(
        device.device_id, deployment.path, f"Remove {deployment.name} ({deployment.deployment_id})"
    )
    # The record stays: the device may still report on the deployment while it uninstalls.
    deployment.removed = True
    wos.store.save(device)
    log("control", f"removed {deployment.deployment_id} from {device.device_id}")
    return {}


async def deployment_status(wos: Wos, request: dict[str, Any]) -> dict[str, Any]:
    report = _deployment(_device(wos, request), request).status
    if report is None:
        return {"state": None, "components": []}
    shown: dict[str, Any] = {
        "state": _canonical_state(report["status"]["state"]),
        "components": [
            {
                "name": c["name"],
                "state": _canonical_state(c["state"]),
                **({"error": c["error"]} if "error" in c else {}),
            }
            for c in report["components"]
        ],
    }
    if "error" in report["status"]:
        shown["error"] = report["status"]["error"]
    return shown


def _canonical_state(state: str) -> str:
    """Devices may send the example's lowercase (I-6); the operator sees the table spelling."""
    return state.capitalize()


async def device_capabilities(wos: Wos, request: dict[str, Any]) -> dict[str, Any]:
    return {"capabilities": _device(wos, request).capabilities}


VERBS: dict[str, Verb] = {
    "register-device": register_device,
    "deploy": deploy,
    "remove": remove,
    "deployment-status": deployment_status,
    "device-capabilities": device_capabilities,
}


# -- the application -------------------------------------------------------------------------


async def run_verb(wos: Wos, request: Request) -> Response:
    verb = VERBS.get(request.path_params["verb"])
    if verb is None:
        return problem(
            404, f"unknown verb {request.path_params['verb']!r}; known: {', '.join(VERBS)}"
        )
    try:
        body = await json_body(request)
    except NotJson as exc:
        return problem(400, f"the request is not JSON: {exc}")
    except TooLarge as exc:
        return problem(413, str(exc))
    if not isinstance(body, dict):
        return problem(400, "the request must be a JSON object")
    try:
        return JSONResponse(await verb(wos, body))
    except ControlFailure as failure:
        return problem(failure.status, failure.reason)
    except GitError as exc:
        return problem(500, str(exc).splitlines()[0])


def control_app(wos: Wos) -> ASGIApp:
    async def endpoint(request: Request) -> Response:
        return await run_verb(wos, request)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return problem(status, f"{request.method} {request.url.path}: use POST /control/<verb>")

    app = Starlette(
        routes=[Route("/control/{verb}", endpoint, methods=["POST"])],
        exception_handlers={HTTPException: http_error},
    )
    return RequestLog(app, "control")
