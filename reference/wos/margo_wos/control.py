"""The control verbs (docs/control-adapter.md): what an operator does, as JSON over HTTP.

`POST /control/<verb>` with one JSON object answers 200 with one JSON object, or a 4xx/5xx
problem body whose `detail` is the one-line reason. Served on its own port, never on the
device-facing one, so devices cannot reach it through the address they were given.
"""

from __future__ import annotations

import base64

import copy
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

from margo_wos import validate, validate_pr1
from margo_wos.certificates import NotACertificate, certificate_der
from margo_wos.gitrepo import GitError
from margo_wos.service import Wos
from margo_wos.store import PROFILES, Deployment, Device
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
    """V24 (no profile): a Git repository and an onboarding key. PR1: the device waits for the
    next PR1 onboarding, first come, first served among the devices waiting (pr1_api.onboard)."""
    device_id = _text(request, "deviceId")
    profile = request.get("profile", "V24")
    if profile not in PROFILES:
        raise ControlFailure(400, f"profile must be one of {', '.join(PROFILES)}")
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
        if existing.profile != profile:
            raise ControlFailure(
                409, f"device {device_id!r} is registered for profile {existing.profile} already"
            )
        if existing.onboarded:
            raise ControlFailure(409, f"device {device_id!r} is registered and onboarded already")
        if profile == "PR1" and "certificate" in request:  # the operator entered another one
            existing.expected_certificate = await _certificate(request)
            wos.store.save(existing)
        return _registered(existing)  # a retried registration: same key, same place in line
    if profile == "PR1":
        # No key and no repository: the client is chosen at onboarding (by the certificate the
        # operator entered, if any), and its desired state is the manifest of the device record.
        device = Device(device_id=device_id, onboarding_key="", profile="PR1")
        if "certificate" in request:
            device.expected_certificate = await _certificate(request)
        wos.store.save(device)
        log("control", f"registered device {device_id} (PR1, waiting for onboarding)")
        return _registered(device)
    device = Device(device_id=device_id, onboarding_key=f"k-{secrets.token_urlsafe(18)}")
    await wos.repos.create(device_id)  # before the record, so a registered device always has one
    wos.store.save(device)
    log("control", f"registered device {device_id}")
    return _registered(device, keys=wos.config.onboarding_style == "suite")


async def _certificate(request: dict[str, Any]) -> str:
    """The PR1 certificate the operator entered (Base64 of DER or of PEM), as Base64 of its DER."""
    try:
        return base64.b64encode(await certificate_der(_text(request, "certificate"))).decode("ascii")
    except NotACertificate as exc:
        raise ControlFailure(400, f"certificate: {exc}") from None


def _registered(device: Device, keys: bool = True) -> dict[str, Any]:
    if device.profile == "PR1":
        return {"profile": "PR1"}
    return {"onboardingKey": device.onboarding_key} if keys else {}


async def deploy(wos: Wos, request: dict[str, Any]) -> dict[str, Any]:
    device = _device(wos, request)
    application = request.get("application")
    if not isinstance(application, dict):
        raise ControlFailure(400, "application must be an object")
    deployment_id = str(uuid.uuid4())  # GIT-009: the WOS assigns the id
    if device.profile == "PR1":
        return _deploy_pr1(wos, device, deployment_id, application)
    document = application_deployment(deployment_id, application)
    violations = validate.application_deployment(document)
    if violations:
        reasons = "; ".join(f"{v.field}: {v.message}" for v in violations)
        raise ControlFailure(
            422, f"the application does not make a valid ApplicationDeployment: {reasons}"
        )
    document = _spoiled(wos, document)
    deployment_id = document["metadata"]["annotations"]["id"]
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


def _spoiled(wos: Wos, document: dict[str, Any]) -> dict[str, Any]:
    """The V24 document as the document fault switches (margo_wos/faults.py) spoil it.

    Applied after validation, which would refuse what they make of it.
    """
    faults = wos.config.faults
    if "application-id-uppercase" in faults:
        annotations = document["metadata"]["annotations"]
        annotations["applicationId"] = str(annotations["applicationId"]).upper()
    if "document-without-namespace" in faults:
        del document["metadata"]["namespace"]
    return document


def _spoiled_pr1(wos: Wos, document: dict[str, Any]) -> dict[str, Any]:
    """The PR1 document as the PR1 document fault switches spoil it (after validation)."""
    faults = wos.config.faults
    spoiled = copy.deepcopy(document)
    if "pr1-application-id-uppercase" in faults:
        annotations = spoiled["metadata"]["annotations"]
        annotations["applicationId"] = str(annotations["applicationId"]).upper()
    if "pr1-deployment-without-kind" in faults:
        del spoiled["kind"]
    if "pr1-parameter-without-targets" in faults:
        for parameter in (spoiled["spec"].get("parameters") or {}).values():
            parameter.pop("targets", None)
    return spoiled


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


#: V24 deployment profile types and their PR1 names (I-12).
PR1_TYPES = {"docker-compose": "compose", "helm.v3": "helm"}


def pr1_application_deployment(deployment_id: str, application: dict[str, Any]) -> dict[str, Any]:
    """The PR1 document (DSA-050) for an application as the deploy verb names it.

    The id is at the top level (I-11); `docker-compose`/`helm.v3` become `compose`/`helm`
    (I-12); for Compose, a parameter pointer `ENV.X` becomes the bare variable name `X`. A
    Helm pointer is a values path and is left as it is.
    """
    profile = copy.deepcopy(application.get("deploymentProfile"))
    parameters = copy.deepcopy(application.get("parameters", {}))
    if isinstance(profile, dict) and isinstance(profile.get("type"), str):
        profile["type"] = PR1_TYPES.get(profile["type"], profile["type"])
    compose = isinstance(profile, dict) and profile.get("type") == "compose"
    if compose and isinstance(parameters, dict):
        for parameter in parameters.values():
            targets = parameter.get("targets") if isinstance(parameter, dict) else None
            for target in targets if isinstance(targets, list) else []:
                pointer = target.get("pointer") if isinstance(target, dict) else None
                if isinstance(pointer, str) and pointer.startswith("ENV."):
                    target["pointer"] = pointer.removeprefix("ENV.")
    return {
        "apiVersion": DEPLOYMENT_API_VERSION,
        "kind": "ApplicationDeployment",
        "id": deployment_id,
        "metadata": {
            "annotations": {"applicationId": application.get("applicationId")},
            "name": application.get("name"),
            "namespace": application.get("namespace"),
        },
        "spec": {"deploymentProfile": profile, "parameters": parameters},
    }


def _deploy_pr1(
    wos: Wos, device: Device, deployment_id: str, application: dict[str, Any]
) -> dict[str, Any]:
    document = pr1_application_deployment(deployment_id, application)
    violations = validate_pr1.application_deployment(document)
    if violations:
        reasons = "; ".join(f"{v.field}: {v.message}" for v in violations)
        raise ControlFailure(
            422, f"the application does not make a valid PR1 ApplicationDeployment: {reasons}"
        )
    name = document["metadata"]["name"]
    header = f"# Desired state written by the Margo reference WOS: deployment {deployment_id}\n"
    text = header + yaml.safe_dump(_spoiled_pr1(wos, document), sort_keys=False, allow_unicode=True)
    device.deployments[deployment_id] = Deployment(
        deployment_id,
        document["metadata"]["annotations"]["applicationId"],
        name,
        path="",
        document=text,
    )
    _manifest_changed(device)
    wos.store.save(device)  # the document and the new version in one write
    log(
        "control",
        f"deployed {name} to {device.device_id} (PR1) as {deployment_id}, "
        f"manifest version {device.manifest_version}",
    )
    return {"deploymentId": deployment_id}


def _manifest_changed(device: Device) -> None:
    """DSA-007: every change of an onboarded client's deployments is a new manifest version.
    Before onboarding there is no client yet; its first manifest will be version 1."""
    if device.onboarded:
        device.manifest_version += 1


def _file_stem(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:60] or "deployment"


async def remove(wos: Wos, request: dict[str, Any]) -> dict[str, Any]:
    device = _device(wos, request)
    deployment = _deployment(device, request)
    if deployment.removed:
        return {}  # removing twice is what a retrying operator does; nothing left to delete
    if device.profile == "PR1":
        # Absence from the manifest is the removal (DSA-036); the document stays in the
        # record, as the V24 one stays in Git history, for the status reports still to come.
        deployment.removed = True
        _manifest_changed(device)
        wos.store.save(device)
        log(
            "control",
            f"removed {deployment.deployment_id} from {device.device_id} (PR1), "
            f"manifest version {device.manifest_version}",
        )
        return {}
    await wos.repos.delete(
        device.device_id, deployment.path, f"Remove {deployment.name} ({deployment.deployment_id})"
    )
    # The record stays: the device may still report on the deployment while it uninstalls.
    deployment.removed = True
    wos.store.save(device)
    log("control", f"removed {deployment.deployment_id} from {device.device_id}")
    return {}


async def deployment_status(wos: Wos, request: dict[str, Any]) -> dict[str, Any]:
    device = _device(wos, request)
    report = _deployment(device, request).status
    if report is None:
        return {"state": None, "components": []}
    # V24 states are shown as the table spells them; PR1 has only the lowercase ones (I-6).
    spelled = _canonical_state if device.profile == "V24" else str
    shown: dict[str, Any] = {
        "state": spelled(report["status"]["state"]),
        "components": [
            {
                "name": c["name"],
                "state": spelled(c["state"]),
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
