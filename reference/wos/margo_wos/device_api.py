"""The device-facing API (docs/v24-wire-contract.md): onboarding, tokens, reports, Git.

The PR1 routes (/api/v1/..., margo_wos/pr1_api.py) are served by the same application.

Authentication and validation run in a fixed order, so a request gets the status of its
first problem: 401 no or bad token, 404 unknown device or deployment, 403 another device's
token, 413 a body over MAX_BODY_BYTES, 400 not JSON, 422 schema violations. An invalid
document never replaces what the WOS already holds.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import traceback
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from margo_wos import validate
from margo_wos.githttp import serve_git
from margo_wos.pr1_api import pr1_routes
from margo_wos.service import Wos
from margo_wos.store import Device, same_secret
from margo_wos.web import (
    MAX_BODY_BYTES,
    NotJson,
    RequestLog,
    TooLarge,
    json_body,
    log,
    problem,
    read_body,
)

ONBOARDING_API_VERSION = "onboarding.margo/v1"
FORM = "application/x-www-form-urlencoded"
API_REALM = 'Bearer realm="margo-wos"'
#: How long a report waits in the shared slot under the status-crosstalk fault (a slow store).
CROSSTALK_WINDOW_S = 0.05

Handler = Callable[[Wos, Request], Awaitable[Response]]


# -- onboarding (CRT-001, ONB-002..ONB-004) -------------------------------------------------


async def root_certificate(wos: Wos, request: Request) -> Response:
    return JSONResponse({"certificate": base64.b64encode(wos.root_ca_pem).decode("ascii")})


async def document_or_refusal(wos: Wos, request: Request) -> Any:
    """The JSON body, or the Response refusing it: 413 too large, 400 not JSON."""
    try:
        return await json_body(request)
    except TooLarge as exc:
        if "oversized-500" in wos.config.faults:
            return _fault_500("oversized-500", request, exc)
        return problem(413, f"{exc}; no Margo document needs that much")
    except NotJson as exc:
        if "crash-on-malformed-json" in wos.config.faults:
            return _fault_500("crash-on-malformed-json", request, exc)
        return problem(400, f"the body is not JSON: {exc}")


def _fault_500(fault: str, request: Request, exc: Exception) -> Response:
    """What an unhandled parser error would give, without dropping the connection."""
    log("fault", f"{fault}: {request.method} {request.url.path}: {type(exc).__name__}: {exc}")
    return problem(500, "internal error; see the WOS log")


async def onboard(wos: Wos, request: Request) -> Response:
    document = await document_or_refusal(wos, request)
    if isinstance(document, Response):
        return document
    violations = validate.onboarding_request(document)
    if violations:
        return problem(400, "the body is not an OnboardingRequest", violations)
    device = wos.store.device(document["deviceId"])
    if (
        device is None
        or device.profile != "V24"  # a PR1 device has no key; it onboards at /api/v1/onboarding
        or not same_secret(document["onboardingKey"], device.onboarding_key)
    ):
        # One answer for both cases, so the endpoint does not reveal which device ids exist.
        return problem(403, "unknown device or wrong onboarding key")
    if not device.onboarded:
        device.onboarded = True
        wos.store.save(device)
        log("onboarding", f"device {device.device_id} onboarded")
    # Onboarding again with the same key hands out the same credentials: a device whose
    # first answer got lost must not be locked out.
    return JSONResponse(_onboarding_response(wos, device), status_code=201)


async def onboard_vendor_style(wos: Wos, request: Request) -> Response:
    """The `vendor` onboarding style: `{"device": "<id>"}` in, no key; credentials in a layout of
    this WOS's own. V24 leaves both open, so a SUT file declares them (interop.onboarding)."""
    document = await document_or_refusal(wos, request)
    if isinstance(document, Response):
        return document
    device_id = document.get("device") if isinstance(document, dict) else None
    if not isinstance(device_id, str) or not device_id:
        return problem(400, "the body is not {\"device\": \"<device id>\"}")
    device = wos.store.device(device_id)
    if device is None or device.profile != "V24":
        return problem(403, "no device of that id is expected")
    if not device.onboarded:
        device.onboarded = True
        wos.store.save(device)
        log("onboarding", f"device {device.device_id} onboarded (vendor style)")
    return JSONResponse(
        {
            "credentials": {"id": device.client_id, "secret": device.client_secret},
            "oauthTokenUrl": wos.url("/oauth/token"),
            "gitops": {"repository": wos.url(f"/git/{device.device_id}.git"), "token": device.git_token},
        },
        status_code=201,
    )


def _onboarding_response(wos: Wos, device: Device) -> dict[str, object]:
    return {
        "apiVersion": ONBOARDING_API_VERSION,
        "kind": "OnboardingResponse",
        "deviceId": device.device_id,
        "clientId": device.client_id,
        "clientSecret": device.client_secret,
        "tokenEndpoint": wos.url("/oauth/token"),
        "desiredState": {
            "type": "git",
            "url": wos.url(f"/git/{device.device_id}.git"),
            "branch": "main",
            "accessToken": device.git_token,
        },
    }


# -- access tokens (TOK-001..TOK-003) --------------------------------------------------------


def oauth_error(status: int, error: str, description: str) -> Response:
    """RFC 6749 error members, plus the RFC 9457 ones so generic clients can read it too."""
    body = {
        "error": error,
        "error_description": description,
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    headers = {"WWW-Authenticate": 'Basic realm="margo-wos-token"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def issue_token(wos: Wos, request: Request) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        return oauth_error(400, "invalid_request", f"the body must be {FORM}")
    try:
        raw = await read_body(request)
    except TooLarge as exc:
        if "oversized-500" in wos.config.faults:
            return _fault_500("oversized-500", request, exc)
        too_large = f"the body is larger than {MAX_BODY_BYTES} bytes"
        return oauth_error(413, "invalid_request", too_large)
    try:
        form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        return oauth_error(400, "invalid_request", "the body is not UTF-8")
    if "grant_type" not in form:
        return oauth_error(400, "invalid_request", "grant_type is required")
    if form["grant_type"] != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    client_id, secret = _client_credentials(form, request.headers.get("authorization", ""))
    device = wos.store.device_by_client_id(client_id)
    secret_ok = device is not None and same_secret(secret, device.client_secret)
    if device is None or not (secret_ok or "token-accepts-bad-secret" in wos.config.faults):
        return oauth_error(401, "invalid_client", "unknown client or wrong secret")
    token = wos.store.issue_token(device.device_id, wos.config.token_lifetime_s)
    return JSONResponse(
        {"access_token": token, "token_type": "Bearer", "expires_in": wos.config.token_lifetime_s},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _client_credentials(form: dict[str, str], authorization: str) -> tuple[str, str]:
    """From HTTP Basic client authentication when present (RFC 6749 2.3.1), else the form."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
            return user, password
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
    return form.get("client_id", ""), form.get("client_secret", "")


# -- reports from the device ---------------------------------------------------------------


def authenticate(wos: Wos, request: Request, any_device: bool = False) -> Device | Response:
    """The device of the route, if the bearer token was issued to it (TOK-005).

    `any_device` is the capabilities-cross-device fault: any device's token will do.
    """
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem(401, "a bearer token is required", headers={"WWW-Authenticate": API_REALM})
    holder = wos.store.token_owner(token.strip())
    if holder is None:
        return problem(
            401,
            "the token is unknown or expired",
            headers={"WWW-Authenticate": f'{API_REALM}, error="invalid_token"'},
        )
    device = wos.store.device(request.path_params["device_id"])
    if device is None:
        return problem(404, f"no device {request.path_params['device_id']!r}")
    if holder != device.device_id and not any_device:
        return problem(403, "the token belongs to another device")
    return device


def lock(wos: Wos, device: Device) -> Response | None:
    """The refusal-locks-device fault: a report marks its device busy until it succeeds, and
    the refusals forget to clear the mark, so every later report of the device gets 503."""
    if "refusal-locks-device" not in wos.config.faults:
        return None
    if device.device_id in wos.busy_devices:
        return problem(503, f"device {device.device_id!r} is busy with an earlier report")
    wos.busy_devices.add(device.device_id)
    return None


def unlock(wos: Wos, device: Device) -> None:
    wos.busy_devices.discard(device.device_id)


async def report_capabilities(wos: Wos, request: Request) -> Response:
    cross_device = "capabilities-cross-device" in wos.config.faults
    device = authenticate(wos, request, any_device=cross_device)
    if isinstance(device, Response):
        return device
    busy = lock(wos, device)
    if busy is not None:
        return busy
    document = await document_or_refusal(wos, request)
    if isinstance(document, Response):
        return document
    violations = validate.device_capabilities(document, device.device_id)
    if "accept-capabilities-without-serial" in wos.config.faults:
        violations = [v for v in violations if v.field != "properties.serialNumber"]
    if violations:
        return problem(422, "the body is not a valid DeviceCapabilities document", violations)
    device.capabilities = document
    wos.store.save(device)
    unlock(wos, device)
    return Response(status_code=201)


async def report_status(wos: Wos, request: Request) -> Response:
    device = authenticate(wos, request)
    if isinstance(device, Response):
        return device
    busy = lock(wos, device)
    if busy is not None:
        return busy
    deployment_id = request.path_params["deployment_id"]
    deployment = device.deployments.get(deployment_id)
    if deployment is None:
        return problem(
            404, f"deployment {deployment_id!r} was never assigned to device {device.device_id!r}"
        )
    document = await document_or_refusal(wos, request)
    if isinstance(document, Response):
        return document
    violations = validate.deployment_status(document, deployment_id)
    if "status-any-state" in wos.config.faults:
        violations = [v for v in violations if not v.field.endswith("state")]
    if violations:
        return problem(422, "the body is not a valid DeploymentStatus document", violations)
    # The status faults hit only reports that would be accepted: refusing bad ones is a
    # different requirement (STS-003), which they must leave intact.
    if "status-500" in wos.config.faults:
        return problem(500, "fault switch status-500 is on")
    if "status-hang" in wos.config.faults:
        return await _never_answer(request)
    if "status-crosstalk" in wos.config.faults:
        # One slot shared by every request, read back after a slow step: a report arriving
        # meanwhile takes the slot, and this device gets that one filed under its deployment.
        wos.parked_report = document
        await asyncio.sleep(CROSSTALK_WINDOW_S)
        document = wos.parked_report
    deployment.status = document
    wos.store.save(device)
    unlock(wos, device)
    log(
        "status",
        f"device {device.device_id} deployment {deployment_id}: {document['status']['state']}",
    )
    return Response(status_code=201)


async def _never_answer(request: Request) -> Response:
    """Hold the request until the client gives up; whatever is returned then goes nowhere."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    log("fault", f"status-hang: dropped {request.url.path} unanswered")
    return Response(status_code=HTTPStatus.SERVICE_UNAVAILABLE)


# -- the application -----------------------------------------------------------------------


def _bind(wos: Wos, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(wos, request)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return problem(status, f"{request.method} {request.url.path}")


async def _crash(request: Request, exc: Exception) -> Response:
    log("error", f"{request.method} {request.url.path}: {traceback.format_exc(limit=5)!r}")
    return problem(500, "internal error; see the WOS log")


def _onboarding_routes(wos: Wos) -> list[Route]:
    if wos.config.onboarding_style == "vendor":
        return [Route("/api/devices/onboard", _bind(wos, onboard_vendor_style), methods=["POST"])]
    return [
        Route("/onboarding/", _bind(wos, onboard), methods=["POST"]),
        Route("/onboarding", _bind(wos, onboard), methods=["POST"]),
    ]


def device_app(wos: Wos) -> ASGIApp:
    routes = [
        Route("/onboarding/certificate", _bind(wos, root_certificate), methods=["GET"]),
        *_onboarding_routes(wos),
        Route("/oauth/token", _bind(wos, issue_token), methods=["POST"]),
        Route(
            "/device/{device_id}/capabilities",
            _bind(wos, report_capabilities),
            methods=["POST", "PUT"],
        ),
        Route(
            "/device/{device_id}/deployment/{deployment_id}/status",
            _bind(wos, report_status),
            methods=["POST"],
        ),
        Route("/git/{path:path}", _bind(wos, serve_git), methods=["GET", "POST"]),
        *pr1_routes(wos),
    ]
    handlers = {HTTPException: _http_error, Exception: _crash}
    app: ASGIApp = Starlette(routes=routes, exception_handlers=handlers)
    if "no-problem-body" in wos.config.faults:
        app = BareErrors(app)
    return RequestLog(app, "api")


class BareErrors:
    """The no-problem-body fault: every error answer of the V24 device API (Git aside) loses
    its body and says only its reason phrase, as text/plain. PR1 routes are left alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/git/", "/api/")):
            await self.app(scope, receive, send)
            return
        replaced = False

        async def bare_send(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] >= 400:
                replaced = True
                text = HTTPStatus(message["status"]).phrase.encode()
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (b"content-type", b"content-length")
                ]
                headers += [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(text)).encode()),
                ]
                await send({**message, "headers": headers})
                await send({"type": "http.response.body", "body": text})
            elif not (replaced and message["type"] == "http.response.body"):
                await send(message)

        await self.app(scope, receive, bare_send)
