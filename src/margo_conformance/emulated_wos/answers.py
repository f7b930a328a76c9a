"""What the emulated WOS answers, whatever the profile: problem bodies, received documents with
their schema verdict, and the report handlers both device APIs share (the dialect says which
schema, document kind, requirement and success status)."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from margo_conformance.base.schemas import ROOT_PATH, validation_errors
from margo_conformance.dialects import Dialect
from margo_conformance.emulated_wos.state import DeviceRecord, ReceivedDocument, Refusal


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


async def json_body(request: Request) -> Any | None:
    """The request's JSON document, or None when the body is not JSON."""
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


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


async def accept_capabilities(request: Request, device: DeviceRecord, dialect: Dialect) -> Response:
    """Keep an authenticated device's capabilities report; 201, or the refusal of a bad one."""
    received = await receive_document(request, dialect.schema("device-capabilities"))
    device.capabilities.append(received)
    return refusal_of(received, dialect.capabilities_kind) or Response(status_code=201)


async def accept_status_report(request: Request, device: DeviceRecord, dialect: Dialect) -> Response:
    """Keep an authenticated device's status report on one of its deployments; the dialect's
    success status, or the refusal of a bad one or of a deployment never assigned."""
    deployment_id = request.path_params["deployment_id"]
    if deployment_id not in device.assigned_deployments:
        return refuse_unassigned(request, device, deployment_id, dialect.requirements.status_document)
    received = await receive_document(request, dialect.schema("deployment-status"))
    device.statuses.setdefault(deployment_id, []).append(received)
    return refusal_of(received, dialect.status_kind) or Response(status_code=dialect.status_accepted)


def _decode_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at character {exc.pos}"
    return "not UTF-8"
