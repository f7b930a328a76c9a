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
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from margo_wos import signatures, validate_pr1
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
from margo_wos.web import NotJson, TooLarge, log, parse_json, problem, read_body

Handler = Callable[[Wos, Request], Awaitable[Response]]


async def _raw(request: Request) -> bytes | Response:
    """The body as sent, or the 413 refusing it."""
    try:
        return await read_body(request)
    except TooLarge as exc:
        return problem(413, f"{exc}; no Margo document needs that much")


def _document(wos: Wos, raw: bytes) -> Any:
    """The JSON document of a body, or the 400 refusing it."""
    try:
        return parse_json(raw)
    except NotJson as exc:
        if "pr1-crash-on-malformed-json" in wos.config.faults:
            return problem(500, "the body could not be handled")
        return problem(400, f"the body is not JSON: {exc}")


def _signature_refusal(wos: Wos, request: Request, certificate_der: bytes, raw: bytes) -> Response | None:
    """401/400 unless the request is signed with the key of `certificate_der` (SEC-012..016)."""
    try:
        signatures.check(certificate_der, request.method, str(request.url), request.headers, raw,
                         wos.config.faults)
    except signatures.Refused as exc:
        return problem(exc.status, str(exc))
    return None


async def _signed_body(wos: Wos, request: Request, device: Device) -> bytes | Response:
    """The body of a client's request once its signature holds, or the refusal."""
    raw = await _raw(request)
    if isinstance(raw, Response):
        return raw
    certificate = base64.b64decode(device.client_certificate or "")
    return _signature_refusal(wos, request, certificate, raw) or raw


def onboarding_refusal(wos: Wos, status: int, detail: str, violations: Any = ()) -> Response:
    """An onboarding refusal: a problem body that also carries the 1.0.0 OpenAPI's `error`
    string (ERR-002), so a client reading either finds the reason."""
    refusal = problem(status, detail, violations)
    if "pr1-onboarding-refusal-without-error" in wos.config.faults:
        return refusal
    body = {**json.loads(refusal.body), "error": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _client(wos: Wos, request: Request) -> Device | Response:
    client_id = request.path_params["client_id"]
    device = wos.store.device_by_client_id(client_id, profile="PR1")
    if device is None:
        return problem(404, f"no onboarded client {client_id!r}")
    return device


# -- onboarding (CRT-010, ONB-011..ONB-013) -------------------------------------------------


async def root_certificate(wos: Wos, request: Request) -> Response:
    if "pr1-root-certificate-raw-pem" in wos.config.faults:
        return JSONResponse({"certificate": wos.root_ca_pem.decode("ascii")})
    return JSONResponse({"certificate": base64.b64encode(wos.root_ca_pem).decode("ascii")})


async def onboard(wos: Wos, request: Request) -> Response:
    raw = await _raw(request)
    document = raw if isinstance(raw, Response) else _document(wos, raw)
    if isinstance(document, Response):
        if document.status_code >= 500:
            return document
        return onboarding_refusal(wos, document.status_code, json.loads(document.body).get("detail", ""))
    violations = validate_pr1.onboarding_request(document)
    if violations:
        return onboarding_refusal(wos, 400, "the body is not an OnboardingRequest", violations)
    try:
        der = await certificate_der(document["certificate"])
    except NotACertificate as exc:
        return onboarding_refusal(wos, 400, str(exc))
    # The WOS knows no key of this client yet: the request is signed with the key of the
    # certificate it carries (ONB-014, I-21).
    assert isinstance(raw, bytes)
    unsigned = _signature_refusal(wos, request, der, raw)
    if unsigned is not None:
        return onboarding_refusal(wos, unsigned.status_code, json.loads(unsigned.body).get("detail", ""))
    certificate = base64.b64encode(der).decode("ascii")
    # Nothing is awaited from here on, so two onboardings cannot take the same device.
    device = wos.store.device_by_certificate(certificate)
    if device is None:
        device = wos.store.next_waiting_for_pr1(certificate)
        if device is None:
            return onboarding_refusal(
                wos,
                403,
                "no device is waiting for PR1 onboarding "
                "(the operator registers one with register-device and profile PR1)",
            )
        if "pr1-reused-client-id" in wos.config.faults:
            device.client_id = wos.first_client_id.setdefault("PR1", device.client_id)
        device.onboarded = True
        device.client_certificate = certificate
        device.manifest_version = 1  # DSA-007: the client's first manifest is version 1
        wos.store.save(device)
        log("onboarding", f"device {device.device_id} onboarded (PR1) as {device.client_id}")
    # A client whose first answer got lost presents the same certificate and is not locked out.
    created = 200 if "pr1-onboarding-answers-200" in wos.config.faults else 201
    return JSONResponse({"clientId": device.client_id}, status_code=created)


# -- capabilities (CAP-010..CAP-013) --------------------------------------------------------


async def report_capabilities(wos: Wos, request: Request) -> Response:
    device = _client(wos, request)
    if isinstance(device, Response):
        return device
    raw = await _signed_body(wos, request, device)
    document = raw if isinstance(raw, Response) else _document(wos, raw)
    if isinstance(document, Response):
        return document
    route_device = request.path_params.get("device_id") or None  # the rc.2 form names one
    violations = validate_pr1.device_capabilities(document, route_device)
    if "pr1-capabilities-without-serial" in wos.config.faults:
        violations = [v for v in violations if v.field != "properties.serialNumber"]
    if "pr1-reject-capability-extensions" in wos.config.faults:
        violations += validate_pr1.extension_members(document)
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
    unsigned = await _signed_body(wos, request, device)
    if isinstance(unsigned, Response):
        return unsigned
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
    unsigned = await _signed_body(wos, request, device)
    if isinstance(unsigned, Response):
        return unsigned
    deployment_id, digest = request.path_params["deployment_id"], request.path_params["digest"]
    listed = current(wos, device).documents.get(deployment_id)
    any_digest = "pr1-any-digest-served" in wos.config.faults
    if listed is None or (listed.digest != digest and not any_digest):
        # DSA-013, DSA-035: this content address is unknown; it says nothing about removal.
        return problem(404, f"no deployment {deployment_id!r} with digest {digest!r}")
    return _immutable(request, listed.body, digest, "application/yaml")


async def bundle(wos: Wos, request: Request) -> Response:
    device = _client(wos, request)
    if isinstance(device, Response):
        return device
    unsigned = await _signed_body(wos, request, device)
    if isinstance(unsigned, Response):
        return unsigned
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
    raw = await _signed_body(wos, request, device)
    document = raw if isinstance(raw, Response) else _document(wos, raw)
    if isinstance(document, Response):
        return document
    violations = validate_pr1.deployment_status(document, deployment_id)
    if "pr1-status-any-state" in wos.config.faults:
        violations = [v for v in violations if not v.field.endswith("state")]
    if violations:
        return problem(422, "the body is not a valid DeploymentStatusManifest", violations)
    if "pr1-status-not-shown" not in wos.config.faults:
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
