"""The emulated WOS's Margo 1.0 device API (profile PR1): onboarding, capabilities, the state
manifest with its content-addressed deployments and bundles, and status reports.

See docs/pr1-wire-contract.md for what the suite takes from the 1.0.0 OpenAPI and what it
does not check yet (request signing). Like the V24 API it behaves as a strict WOS: documents
are validated against schemas/pr1 and refused with a problem body when wrong.
"""

from __future__ import annotations

import binascii
import time

from cryptography.hazmat.primitives import serialization
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from margo_conformance.base import message_signatures
from margo_conformance.base.exchanges import Operation
from margo_conformance.base.schemas import validation_errors
from margo_conformance.dialects import PR1
from margo_conformance.emulated_wos.answers import accept_capabilities, accept_status_report, json_body, problem
from margo_conformance.emulated_wos.api import WosApi
from margo_conformance.emulated_wos.manifest import (
    BUNDLE_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    digest_of,
    etag_of,
)
from margo_conformance.emulated_wos.pki import certificate_field, parse_certificate_field
from margo_conformance.emulated_wos.state import DeviceRecord

IMMUTABLE = "public, max-age=31536000, immutable"
#: Where a handler leaves the verdict on a request's signature for the recorder.
SIGNATURE_SCOPE = "margo.signature"


async def note_signature(request: Request, certificate_field: str | None) -> None:
    """Verify the request's RFC 9421 signature against the client's certificate and leave the
    verdict for the evidence (SEC-011, ONB-014). Nothing is refused on that ground: an agent
    whose signatures fail loses the signing requirements only, not every scenario."""
    verdict: dict[str, object]
    try:
        certificate = parse_certificate_field(certificate_field or "")
    except (ValueError, binascii.Error):
        verdict = {"ok": False, "fault": "no certificate to verify with (the client's does not parse)"}
    else:
        found = message_signatures.verify(certificate.public_bytes(serialization.Encoding.DER), request.method,
                                          str(request.url), request.headers, await request.body())
        verdict = {"ok": found.ok, "fault": found.fault, "algorithm": found.algorithm, "key_id": found.key_id}
    request.scope[SIGNATURE_SCOPE] = verdict


class ManifestApi:
    """PR1 handlers sharing the V24 API's state, certificate and evidence."""

    def __init__(self, api: WosApi) -> None:
        self.api = api
        self.state = api.state

    async def root_certificate(self, request: Request) -> Response:
        return JSONResponse({"certificate": certificate_field(self.api.ca_pem)})

    async def onboard(self, request: Request) -> Response:
        # The device is not known by any identifier yet: it belongs to the scenario under way.
        device = self.state.active_device()
        request.scope["margo.device"] = device
        document = await json_body(request)
        if document is None:
            return problem(400, "Bad Request", "the body is not JSON")
        errors = validation_errors(document, PR1.schema("onboarding-request"))
        if errors:
            return problem(400, "Bad Request", "not an OnboardingRequest", errors)
        try:
            parse_certificate_field(document["certificate"])
        except (ValueError, binascii.Error) as exc:
            return problem(400, "Bad Request", f"the certificate does not parse: {exc}")
        # Signed with the key of the certificate it carries: the WFM knows no other yet (I-21).
        await note_signature(request, document["certificate"])
        if device is None:
            return problem(403, "Forbidden", "no device is expected to onboard now")
        device.onboarded_at = time.time()
        device.client_certificate = document["certificate"]
        return JSONResponse({"clientId": device.client_id}, status_code=201)

    async def _client(self, request: Request) -> DeviceRecord | Response:
        device = self.state.device_by_client_id(request.path_params["client_id"])
        request.scope["margo.device"] = device
        if device is None or device.onboarded_at is None:
            return problem(404, "Not Found", "unknown clientId")
        await note_signature(request, device.client_certificate)
        return device

    async def capabilities(self, request: Request) -> Response:
        device = await self._client(request)
        if isinstance(device, Response):
            return device
        return await accept_capabilities(request, device, PR1)

    async def state_manifest(self, request: Request) -> Response:
        device = await self._client(request)
        if isinstance(device, Response):
            return device
        if not _accepts_manifest(request.headers.get("accept")):
            return problem(406, "Not Acceptable", f"only {MANIFEST_MEDIA_TYPE} is served")
        body = device.desired_state().manifest_body()
        etag = etag_of(body)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=MANIFEST_MEDIA_TYPE, headers=headers)

    async def deployment_yaml(self, request: Request) -> Response:
        device = await self._client(request)
        if isinstance(device, Response):
            return device
        digest = request.path_params["digest"]
        body = device.desired_state().deployment_body(request.path_params["deployment_id"], digest)
        if body is None:
            return problem(404, "Not Found", "no deployment with that digest")
        headers = {"ETag": f'"{digest}"', "Cache-Control": IMMUTABLE}
        return Response(body, media_type="application/yaml", headers=headers)

    async def bundle(self, request: Request) -> Response:
        device = await self._client(request)
        if isinstance(device, Response):
            return device
        desired = device.desired_state()
        archive = desired.bundle() if desired.deployments else b""
        # Withheld content is withheld in the bundle too, so bundle users meet the 404 (DSA-035).
        if not archive or desired.withheld or digest_of(archive) != request.path_params["digest"]:
            return problem(404, "Not Found", "no bundle with that digest")
        return Response(desired.served_bundle(), media_type=BUNDLE_MEDIA_TYPE,
                        headers={"ETag": etag_of(archive), "Cache-Control": IMMUTABLE})

    async def deployment_status(self, request: Request) -> Response:
        device = await self._client(request)
        if isinstance(device, Response):
            return device
        return await accept_status_report(request, device, PR1)


def _accepts_manifest(accept: str | None) -> bool:
    """DSA-002: absent Accept gets the manifest; otherwise it must admit the manifest type."""
    if not accept:
        return True
    ranges = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(r in (MANIFEST_MEDIA_TYPE, "application/*", "*/*") for r in ranges)


def manifest_routes(api: WosApi) -> list[Route]:
    """The PR1 device API: the dialect's routes plus the content-addressed documents and bundles."""
    pr1, routes = ManifestApi(api), PR1.routes
    assert routes.state_manifest is not None
    client = "/api/v1/clients/{client_id}"
    return [
        Route(routes.root_certificate, pr1.root_certificate, methods=["GET"], name=Operation.ROOT_CERTIFICATE),
        Route(routes.onboarding, pr1.onboard, methods=["POST"], name=Operation.ONBOARDING),
        Route(routes.capabilities, pr1.capabilities, methods=["POST", "PUT"], name=Operation.CAPABILITIES),
        Route(f"{routes.capabilities}/{{device_id}}", pr1.capabilities, methods=["POST", "PUT"],
              name=Operation.CAPABILITIES),
        Route(routes.state_manifest, pr1.state_manifest, methods=["GET"], name=Operation.STATE_MANIFEST),
        Route(routes.deployment_status, pr1.deployment_status, methods=["POST"], name=Operation.STATUS_REPORT),
        Route(f"{client}/deployments/{{deployment_id}}/{{digest}}", pr1.deployment_yaml, methods=["GET"],
              name=Operation.DEPLOYMENT_DOCUMENT),
        Route(f"{client}/bundles/{{digest}}", pr1.bundle, methods=["GET"], name=Operation.BUNDLE),
    ]
