"""The PR1 device API (docs/pr1-wire-contract.md): routes under /api/v1, served next to V24.

    GET  /api/v1/onboarding/certificate                 root CA (CRT-010)
    POST /api/v1/onboarding                             certificate -> clientId (ONB-011..013)
    PUT|POST {client}/capabilities[/{deviceId}]         capabilities (CAP-010..013)
    GET  {client}/deployments                           state manifest (DSA-001..008)
    GET  {client}/deployments/{id}/{digest}             one ApplicationDeployment (DSA-012)
    GET  {client}/bundles/{digest}                      all of them, tar.gz (DSA-014)
    POST {client}/deployments/{id}/status               status report (STS-010..016)

where {client} is /api/v1/clients/{clientId}.

PR1 has no onboarding key, so which device onboards is the operator's decision: a device
registered with `{"profile": "PR1"}` waits for a PR1 onboarding, and each onboarding with a
new certificate takes the device registered first among those still waiting. The same
certificate onboarding again gets the same clientId. Request signing (RFC 9421) is not
implemented, as in the suite's contract: the clientId in the path is the only credential.

Checks run in a fixed order: 404 unknown client (or, for status, a deployment never
assigned to it), 413 a body over MAX_BODY_BYTES, 400 not JSON, 422 (400 for onboarding) a
document that breaks the PR1 rules (margo_wos/validate_pr1.py). A refused document never
replaces what the WOS holds. The V24 fault switches do not touch these routes.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from margo_wos import validate_pr1
from margo_wos.certificates import NotACertificate, certificate_der
from margo_wos.manifest import (
    BUNDLE_MEDIA_TYPE,
    IMMUTABLE,
    MANIFEST_MEDIA_TYPE,
    REVALIDATE,
    Deviations,
    Rendered,
    accepts_manifest,
    matches_if_none_match,
    quoted,
    render,
)
from margo_wos.service import Wos
from margo_wos.store import Device
from margo_wos.web import NotJson, TooLarge, json_body, log, problem

Handler = Callable[[Wos, Request], Awaitable[Response]]


async def _document(request: Request) -> Any:
    """The JSON body, or the Response refusing it: 413 too large, 400 not JSON."""
    try:
        return await json_body(request)
    except TooLarge as exc:
        return problem(413, f"{exc}; no Margo document needs that much")
    except NotJson as exc:
        return problem(400, f"the body is not JSON: {exc}")


def _client(wos: Wos, request: Request) -> Device | Response:
    client_id = request.path_params["client_id"]
    device = wos.store.device_by_client_id(client_id, profile="PR1")
    if device is None:
        return problem(404, f"no onboarded client {client_id!r}")
    return device


# -- onboarding (CRT-010, ONB-011..ONB-013) -------------------------------------------------


async def root_certificate(wos: Wos, request: Request) -> Response:
    return JSONResponse({"certificate": base64.b64encode(wos.root_ca_pem).decode("ascii")})


async def onboard(wos: Wos, request: Request) -> Response:
    document = await _document(request)
    if isinstance(document, Response):
        return document
    violations = validate_pr1.onboarding_request(document)
    if violations:
        return problem(400, "the body is not an OnboardingRequest", violations)
    try:
        der = await certificate_der(document["certificate"])
    except NotACertificate as exc:
        return problem(400, str(exc))
    certificate = base64.b64encode(der).decode("ascii")
    # Nothing is awaited from here on, so two onboardings cannot take the same device.
    device = wos.store.device_by_certificate(certificate)
    if device is None:
        device = wos.store.next_waiting_for_pr1()
        if device is None:
            return problem(
                403,
                "no device is waiting for PR1 onboarding "
                "(the operator registers one with register-device and profile PR1)",
            )
        device.onboarded = True
        device.client_certificate = certificate
        device.manifest_version = 1  # DSA-007: the client's first manifest is version 1
        wos.store.save(device)
        log("onboarding", f"device {device.device_id} onboarded (PR1) as {device.client_id}")
    # A client whose first answer got lost presents the same certificate and is not locked out.
    return JSONResponse({"clientId": device.client_id}, status_code=201)


# -- capabilities (CAP-010..CAP-013) --------------------------------------------------------


async def report_capabilities(wos: Wos, request: Request) -> Response:
    device = _client(wos, request)
    if isinstance(device, Response):
        return device
    document = await _document(request)
    if isinstance(document, Response):
        return document
    route_device = request.path_params.get("device_id") or None  # the rc.2 form names one
    violations = validate_pr1.device_capabilities(document, route_device)
    if violations:
        return problem(422, "the body is not a valid DeviceCapabilitiesManifest", violations)
    device.capabilities = document
    wos.store.save(device)
    return Response(status_code=201)


# -- the state manifest and what it references (DSA-001..DSA-016) ---------------------------


def _version(wos: Wos, device: Device, pin: bool) -> int:
    """The manifestVersion to serve; the manifest-version-stuck fault pins the first one."""
    if "manifest-version-stuck" not in wos.config.faults:
        return device.manifest_version
    if pin:
        return wos.first_version.setdefault(device.client_id, device.manifest_version)
    return wos.first_version.get(device.client_id, device.manifest_version)


def deviations(wos: Wos) -> Deviations:
    """How the PR1 fault switches bend the rendering (all off: not at all)."""
    faults = wos.config.faults
    return Deviations(
        tampered_digests="digest-mismatch" in faults,
        extra_bundle_member="bundle-extra-member" in faults,
        omit_empty_bundle="bundle-omitted-when-empty" in faults,
        bundle_media_type=(
            "application/gzip" if "bundle-wrong-media-type" in faults else BUNDLE_MEDIA_TYPE
        ),
        aliased_ids="deployment-id-mismatch" in faults,
        upper_case_digests="digest-uppercase" in faults,
    )


def current(wos: Wos, device: Device, pin: bool = False) -> Rendered:
    """The client's manifest as it stands, rendered once per change and then reused."""
    active = device.active_deployments
    bent = deviations(wos)
    version = _version(wos, device, pin)
    key = (device.client_id, version, tuple(sorted(active)), bent)
    cached = wos.rendered.get(device.device_id)
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[no-any-return]
    documents = {
        deployment_id: (deployment.document or "").encode("utf-8")
        for deployment_id, deployment in active.items()
    }
    rendered = render(device.client_id, version, documents, bent)
    wos.rendered[device.device_id] = (key, rendered)
    return rendered


def _if_none_match(request: Request) -> str:
    return ",".join(request.headers.getlist("if-none-match"))


async def state_manifest(wos: Wos, request: Request) -> Response:
    device = _client(wos, request)
    if isinstance(device, Response):
        return device
    accept = request.headers.getlist("accept")
    if not accepts_manifest(accept) and "ignore-accept" not in wos.config.faults:
        served = f"{MANIFEST_MEDIA_TYPE} is the one type served"
        return problem(406, f"Accept {', '.join(accept)!r} does not admit it; {served}")
    rendered = current(wos, device, pin=True)
    faults = wos.config.faults
    etag = rendered.etag
    if "etag-stale" in faults:
        etag = wos.first_etag.setdefault(device.client_id, etag)
    headers = {
        # weak-etag marks it weak; If-None-Match still compares weakly, so 304s go on working.
        "ETag": f"W/{etag}" if "weak-etag" in faults else etag,
        "Cache-Control": IMMUTABLE if "manifest-cache-immutable" in faults else REVALIDATE,
        "Vary": "Accept",
    }
    if matches_if_none_match(_if_none_match(request), etag):
        return Response(status_code=304, headers=headers)
    media_type = "application/json" if "manifest-plain-json" in faults else MANIFEST_MEDIA_TYPE
    return Response(rendered.body, media_type=media_type, headers=headers)


def _immutable(request: Request, body: bytes, digest: str, media_type: str) -> Response:
    headers = {"ETag": quoted(digest), "Cache-Control": IMMUTABLE}
    if matches_if_none_match(_if_none_match(request), quoted(digest)):
        return Response(status_code=304, headers=headers)  # DSA-016 allows it
    return Response(body, media_type=media_type, headers=headers)


async def deployment_document(wos: Wos, request: Request) -> Response:
    device = _client(wos, request)
    if isinstance(device, Response):
        return device
    deployment_id, digest = request.path_params["deployment_id"], request.path_params["digest"]
    listed = current(wos, device).documents.get(deployment_id)
    if listed is None or listed.digest != digest:
        # DSA-013, DSA-035: this content address is unknown; it says nothing about removal.
        return problem(404, f"no deployment {deployment_id!r} with digest {digest!r}")
    return _immutable(request, listed.body, digest, "application/yaml")


async def bundle(wos: Wos, request: Request) -> Response:
    device = _client(wos, request)
    if isinstance(device, Response):
        return device
    digest = request.path_params["digest"]
    rendered = current(wos, device)
    if rendered.bundle is None or rendered.bundle_digest != digest:
        # Only the bundle of the current manifest is kept; an older one is gone.
        return problem(404, f"no bundle with digest {digest!r}")
    return _immutable(request, rendered.bundle, digest, BUNDLE_MEDIA_TYPE)


# -- deployment status (STS-010..STS-016) ---------------------------------------------------


async def report_status(wos: Wos, request: Request) -> Response:
    device = _client(wos, request)
    if isinstance(device, Response):
        return device
    deployment_id = request.path_params["deployment_id"]
    deployment = device.deployments.get(deployment_id)
    if deployment is None:
        # A removed deployment is still known: its client reports removing, then removed.
        return problem(
            404, f"deployment {deployment_id!r} was never assigned to client {device.client_id!r}"
        )
    document = await _document(request)
    if isinstance(document, Response):
        return document
    violations = validate_pr1.deployment_status(document, deployment_id)
    if violations:
        return problem(422, "the body is not a valid DeploymentStatusManifest", violations)
    deployment.status = document
    wos.store.save(device)
    log(
        "status",
        f"client {device.client_id} ({device.device_id}) deployment {deployment_id}: "
        f"{document['status']['state']}",
    )
    return Response(status_code=200)


# -- routes ---------------------------------------------------------------------------------


def pr1_routes(wos: Wos) -> list[Route]:
    def bind(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(wos, request)

        return endpoint

    client = "/api/v1/clients/{client_id}"
    return [
        Route("/api/v1/onboarding/certificate", bind(root_certificate), methods=["GET"]),
        Route("/api/v1/onboarding", bind(onboard), methods=["POST"]),
        Route(f"{client}/capabilities", bind(report_capabilities), methods=["POST", "PUT"]),
        # A gateway's child devices have ids with '/' (CAP-013), hence the path converter.
        Route(
            f"{client}/capabilities/{{device_id:path}}",
            bind(report_capabilities),
            methods=["POST", "PUT"],
        ),
        Route(f"{client}/deployments", bind(state_manifest), methods=["GET"]),
        Route(
            f"{client}/deployments/{{deployment_id}}/status",
            bind(report_status),
            methods=["POST"],
        ),
        Route(
            f"{client}/deployments/{{deployment_id}}/{{digest}}",
            bind(deployment_document),
            methods=["GET"],
        ),
        Route(f"{client}/bundles/{{digest}}", bind(bundle), methods=["GET"]),
    ]
