"""The emulated WOS's ASGI application: every profile's device API side by side (one server
serves the scenarios of all profiles), the artifacts and Git, behind the evidence recorder."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from margo_conformance.emulated_wos.answers import problem
from margo_conformance.emulated_wos.api import WosApi, v24_routes
from margo_conformance.emulated_wos.manifest_api import manifest_routes
from margo_conformance.emulated_wos.recording import RecordingMiddleware


def build_app(api: WosApi) -> RecordingMiddleware:
    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        return problem(status, getattr(exc, "detail", "") or "Error", f"{request.method} {request.url.path}")

    app = Starlette(routes=[*v24_routes(api), *manifest_routes(api)],
                    exception_handlers={404: http_error, 405: http_error})
    return RecordingMiddleware(app, api.state)
