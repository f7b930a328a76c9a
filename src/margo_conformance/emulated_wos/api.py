"""The emulated WOS's device-facing HTTP API (profile V24), as fixed in docs/v24-wire-contract.md.

It behaves as a strict, conforming WOS would: it checks bearer tokens, validates every
document against the schemas and answers 4xx with an RFC 9457 problem body when something is
wrong. It also remembers what it received so steps can judge the agent.
"""

from __future__ import annotations

import base64
import string
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from margo_conformance.base.exchanges import Operation
from margo_conformance.base.schemas import validation_errors
from margo_conformance.dialects import V24
from margo_conformance.emulated_wos.answers import accept_capabilities, accept_status_report, json_body, problem
from margo_conformance.emulated_wos.git_http import handle_git
from margo_conformance.emulated_wos.pki import certificate_field
from margo_conformance.emulated_wos.state import TOKEN_LIFETIME_S, DeviceRecord, WosState

ONBOARDING_API_VERSION = "onboarding.margo/v1"
FORM = "application/x-www-form-urlencoded"


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
        document = await json_body(request)
        if document is None:
            return problem(400, "Bad Request", "the body is not JSON")
        errors = validation_errors(document, V24.schema("onboarding-request"))
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
        return await accept_capabilities(request, device, V24)

    async def deployment_status(self, request: Request) -> Response:
        device, refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        assert device is not None
        return await accept_status_report(request, device, V24)

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


def _client_credentials(form: dict[str, str], authorization: str | None) -> tuple[str | None, str | None]:
    """client_id/secret from the form, or from HTTP Basic client authentication (RFC 6749)."""
    if authorization and authorization.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            return user, password
        except (ValueError, UnicodeDecodeError):
            return None, None
    return form.get("client_id"), form.get("client_secret")


def v24_routes(api: WosApi) -> list[Route]:
    """The V24 device API (routes from the dialect), the workload artifacts and Git; each route
    named by its operation, which the evidence records."""
    routes = V24.routes
    return [
        Route(routes.root_certificate, api.root_certificate, methods=["GET"], name=Operation.ROOT_CERTIFICATE),
        Route(f"{routes.onboarding}/", api.onboard, methods=["POST"], name=Operation.ONBOARDING),
        Route(routes.onboarding, api.onboard, methods=["POST"], name=Operation.ONBOARDING),
        Route("/oauth/token", api.token, methods=["POST"], name=Operation.TOKEN),
        Route(routes.capabilities, api.capabilities, methods=["POST", "PUT"], name=Operation.CAPABILITIES),
        Route(routes.deployment_status, api.deployment_status, methods=["POST"], name=Operation.STATUS_REPORT),
        Route("/artifacts/{name}", api.artifact, methods=["GET"], name=Operation.ARTIFACT),
        Route("/git/{repo}.git/{rest:path}", api.git, methods=["GET", "POST"], name=Operation.GIT),
    ]
