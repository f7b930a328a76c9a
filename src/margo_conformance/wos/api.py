"""The emulated WOS's device-facing HTTP API (profile V24), as fixed in docs/v24-wire-contract.md.

It behaves as a strict, conforming WOS would: it checks bearer tokens, validates every
document against the schemas and answers 4xx with an RFC 9457 problem body when something is
wrong. It also remembers what it received so steps can judge the agent.
"""

from __future__ import annotations

import base64
import json
import string
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from margo_conformance.schemas import ROOT_PATH, validation_errors
from margo_conformance.wos.git_http import handle_git
from margo_conformance.wos.pki import certificate_field
from margo_conformance.wos.recording import RecordingMiddleware
from margo_conformance.wos.state import TOKEN_LIFETIME_S, DeviceRecord, ReceivedDocument, Refusal, WosState

ONBOARDING_API_VERSION = "onboarding.margo/v1"
FORM = "application/x-www-form-urlencoded"


def problem(status: int, title: str, detail: str = "", errors: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [_field_error(e) for e in errors]
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _field_error(line: str) -> dict[str, str]:
    """`validation_errors` lines read `path: message`; problem bodies split them (ERR-018)."""
    where, _, message = line.partition(": ")
    return {"field": where, "message": message or where}


def oauth_error(status: int, error: str, description: str = "") -> Response:
    """An RFC 6749 error answer; `description` names the member of the request that is wrong."""
    headers = {"WWW-Authenticate": 'Basic realm="token"'} if status == 401 else None
    body = {"error": error} | ({"error_description": description} if description else {})
    return JSONResponse(body, status_code=status, headers=headers)


class WosApi:
    """Request handlers bound to one `WosState`; `public_url` is how containers reach us."""

    def __init__(
        self, state: WosState, ca_pem: bytes, artifacts_dir: Path, artifact_values: Mapping[str, str]
    ) -> None:
        self.state = state
        self.ca_pem = ca_pem
        self.artifacts_dir = artifacts_dir
        self.artifact_values = dict(artifact_values)
        self.public_url = ""

    # -- onboarding ---------------------------------------------------------------------

    async def root_certificate(self, request: Request) -> Response:
        return JSONResponse({"certificate": certificate_field(self.ca_pem)})

    async def onboard(self, request: Request) -> Response:
        document = await _json_body(request)
        if document is None:
            return problem(400, "Bad Request", "the body is not JSON")
        errors = validation_errors(document, "v24/onboarding-request")
        if errors:
            return problem(400, "Bad Request", "not an OnboardingRequest", errors)
        device = self.state.device(document["deviceId"])
        request.scope["margo.device"] = device
        if device is None or document["onboardingKey"] != device.onboarding_key:
            return problem(403, "Forbidden", "unknown device or wrong onboarding key")
        device.onboarded_at = time.time()
        return JSONResponse(self._onboarding_response(device), status_code=201)

    def _onboarding_response(self, device: DeviceRecord) -> dict[str, Any]:
        public_url = device.public_url or self.public_url
        return {
            "apiVersion": ONBOARDING_API_VERSION,
            "kind": "OnboardingResponse",
            "deviceId": device.device_id,
            "clientId": device.client_id,
            "clientSecret": device.client_secret,
            "tokenEndpoint": f"{public_url}/oauth/token",
            "desiredState": {
                "type": "git",
                "url": f"{public_url}/git/{device.device_id}.git",
                "branch": "main",
                "accessToken": device.git_token,
            },
        }

    async def token(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != FORM:
            return oauth_error(400, "invalid_request", f"the request is {content_type or 'untyped'}, not {FORM}")
        try:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", errors="strict")).items()}
        except UnicodeDecodeError:  # found by tests/unit/test_emulator_fuzz.py
            return oauth_error(400, "invalid_request", "the form is not UTF-8")
        client_id, client_secret = _client_credentials(form, request.headers.get("authorization"))
        device = self.state.device_by_client_id(client_id or "")
        request.scope["margo.device"] = device
        if form.get("grant_type") != "client_credentials":
            grant = form.get("grant_type")
            return oauth_error(400, "unsupported_grant_type",
                               f"grant_type is {'missing' if grant is None else repr(grant)}, not client_credentials")
        if device is None or client_secret != device.client_secret:
            return oauth_error(401, "invalid_client")
        token = device.issue_access_token()
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S},
            headers={"Cache-Control": "no-store"},
        )

    # -- device API ---------------------------------------------------------------------

    async def capabilities(self, request: Request) -> Response:
        device, refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        assert device is not None
        received = await receive_document(request, "v24/device-capabilities")
        device.capabilities.append(received)
        return refusal_of(received, "DeviceCapabilities") or Response(status_code=201)

    async def deployment_status(self, request: Request) -> Response:
        device, refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        assert device is not None
        deployment_id = request.path_params["deployment_id"]
        if deployment_id not in device.assigned_deployments:
            return refuse_unassigned(request, device, deployment_id, "STS-003")
        received = await receive_document(request, "v24/deployment-status")
        device.statuses.setdefault(deployment_id, []).append(received)
        return refusal_of(received, "DeploymentStatus") or Response(status_code=201)

    def _authenticate(self, request: Request) -> tuple[DeviceRecord | None, Response | None]:
        """Bearer-token check for the device named in the path (TOK-001, TOK-005)."""
        path_device = self.state.device(request.path_params["device_id"])
        request.scope["margo.device"] = path_device
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None, _unauthorized("a bearer token is required")
        holder = self.state.device_by_access_token(token.strip())
        if holder is None or not holder.token_is_valid(token.strip()):
            return None, _unauthorized("the token is unknown or expired", "invalid_token")
        if path_device is None or holder.device_id != path_device.device_id:
            request.scope["margo.device"] = holder  # evidence belongs to whoever sent it
            return None, problem(403, "Forbidden", "the token belongs to another device")
        return path_device, None

    # -- workload artifacts -------------------------------------------------------------

    async def artifact(self, request: Request) -> Response:
        name = request.path_params["name"]
        path = self.artifacts_dir / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return problem(404, "Not Found", f"no artifact {name!r}")
        text = string.Template(path.read_text()).safe_substitute(self.artifact_values)
        return PlainTextResponse(text, media_type="application/yaml")

    async def git(self, request: Request) -> Response:
        return await handle_git(request, self.state)


def _unauthorized(detail: str, error: str | None = None) -> Response:
    response = problem(401, "Unauthorized", detail)
    challenge = "Bearer" + (f' error="{error}"' if error else "")
    response.headers["WWW-Authenticate"] = challenge
    return response


async def receive_document(request: Request, schema: str) -> ReceivedDocument:
    """The device's document with its schema verdict; a body that is not JSON is kept too, with
    one error at the root saying so (the step judging the report names it)."""
    body = await request.body()
    try:
        document, errors, parsed = json.loads(body), [], True
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        reason = "the body is empty" if not body.strip() else f"the body is not JSON ({_decode_error(exc)})"
        document, errors, parsed = None, [f"{ROOT_PATH}: {reason}"], False
    if parsed:
        errors = validation_errors(document, schema)
    return ReceivedDocument(time.time(), request.method, request.url.path, document, errors, parsed)


def refusal_of(received: ReceivedDocument, kind: str) -> Response | None:
    """400 for a body that is not JSON, 422 for a document that breaks the schema, else None."""
    if not received.parsed:
        return problem(400, "Bad Request", received.errors[0].partition(": ")[2], received.errors)
    if received.errors:
        return problem(422, "Unprocessable Content", f"invalid {kind}", received.errors)
    return None


def refuse_unassigned(request: Request, device: DeviceRecord, deployment_id: str, requirement: str) -> Response:
    """404 for a status report on a deployment the WOS never assigned to this device, recorded
    as the device's fault: a report names one of its own deployments (`requirement`)."""
    reason = f"deployment {deployment_id} was never assigned to device {device.device_id}"
    device.refuse(Refusal(time.time(), request.method, request.url.path, 404, requirement,
                          "the route's {deploymentId}", reason))
    return problem(404, "Not Found", reason)


def _decode_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at character {exc.pos}"
    return "not UTF-8"


async def _json_body(request: Request) -> Any | None:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _client_credentials(form: dict[str, str], authorization: str | None) -> tuple[str | None, str | None]:
    """client_id/secret from the form, or from HTTP Basic client authentication (RFC 6749)."""
    if authorization and authorization.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            return user, password
        except (ValueError, UnicodeDecodeError):
            return None, None
    return form.get("client_id"), form.get("client_secret")


def build_app(api: WosApi) -> RecordingMiddleware:
    from margo_conformance.wos.manifest_api import manifest_routes  # PR1 routes build on this module

    routes = [
        Route("/onboarding/certificate", api.root_certificate, methods=["GET"]),
        Route("/onboarding/", api.onboard, methods=["POST"]),
        Route("/onboarding", api.onboard, methods=["POST"]),
        Route("/oauth/token", api.token, methods=["POST"]),
        Route("/device/{device_id}/capabilities", api.capabilities, methods=["POST", "PUT"]),
        Route(
            "/device/{device_id}/deployment/{deployment_id}/status",
            api.deployment_status,
            methods=["POST"],
        ),
        Route("/artifacts/{name}", api.artifact, methods=["GET"]),
        Route("/git/{repo}.git/{rest:path}", api.git, methods=["GET", "POST"]),
        *manifest_routes(api),
    ]
    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        return problem(status, getattr(exc, "detail", "") or "Error", f"{request.method} {request.url.path}")

    app = Starlette(routes=routes, exception_handlers={404: http_error, 405: http_error})
    return RecordingMiddleware(app, api.state)
