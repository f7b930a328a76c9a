"""The device side of the PR1 WOS API (docs/pr1-wire-contract.md): root CA, onboarding,
capabilities, the state manifest and its content, status reports.

Errors are the V24 ones (`WosError` for an unwanted answer, `TransportError` when there was
none), so the V24 status queue and retry logic apply unchanged. PR1 has no token yet (request
signing is not in the suite's contract): the clientId in the path is the only credential.
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.parse
from pathlib import Path
from typing import Any

from margo_agent.faults import Faults
from margo_agent.pr1 import wire
from margo_agent.pr1.signing import RequestSigner
from margo_agent.pr1.wire import Response
from margo_agent.wos_client import WosError, save_root_ca

log = logging.getLogger(__name__)

ONBOARDING_API_VERSION = "onboarding.margo.org/v1alpha1"
MANIFEST_MEDIA_TYPE = "application/vnd.margo.manifest.v1+json"
YAML_ACCEPT = "application/yaml, */*;q=0.5"
ONBOARDING = "/api/v1/onboarding"


class UnknownClient(WosError):
    """The WOS does not (or no longer) know our clientId: onboard again."""


class Pr1WosClient:
    def __init__(self, wos_url: str, device_id: str, faults: Faults | None = None) -> None:
        self.wos_url = wos_url.rstrip("/")
        self.device_id = device_id
        self.client_id: str | None = None
        self._faults = faults or Faults()
        self._ssl: ssl.SSLContext | None = None
        #: Signs requests once the client has its key (the agent sets it before onboarding).
        self.signer: RequestSigner | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl

    # -- onboarding -------------------------------------------------------------------------

    def fetch_root_ca(self, save_to: Path) -> None:
        """GET /api/v1/onboarding/certificate (CRT-010); trust only that CA for https."""
        response = self._send("GET", "/api/v1/onboarding/certificate")
        self._ssl = save_root_ca(response, save_to, self.wos_url)

    def onboard(self, certificate_field: str) -> str:
        """POST /api/v1/onboarding with our certificate; returns the clientId (ONB-011)."""
        document = {
            "apiVersion": ONBOARDING_API_VERSION,
            "kind": "OnboardingRequest",
            "certificate": certificate_field,
        }
        response = self._send("POST", ONBOARDING, document=document)
        if not response.ok:
            raise WosError("onboarding", response)
        try:
            client_id = response.json()["clientId"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WosError("onboarding", response, f"unusable onboarding response: {exc}") from None
        if not isinstance(client_id, str) or not client_id:
            raise WosError("onboarding", response, "clientId is not a non-empty string")
        self.client_id = client_id
        log.info("onboarding: accepted, client id %s", client_id)
        return client_id

    # -- client API -------------------------------------------------------------------------

    def put_capabilities(self, document: dict[str, Any]) -> None:
        """PUT /api/v1/clients/{clientId}/capabilities/{deviceId} (CAP-010, rc.2 route)."""
        path = f"{self._client_path()}/capabilities/{_segment(self.device_id)}"
        response = self._send("PUT", path, document=document)
        self._check_client(response, "capabilities PUT")
        if not response.ok:
            raise WosError("capabilities PUT", response)

    def get_manifest(self, etag: str | None) -> Response:
        """GET the state manifest, revalidating with `etag` when given (DSA-030)."""
        headers = {"Accept": MANIFEST_MEDIA_TYPE}
        if etag:
            headers["If-None-Match"] = etag
        response = self._send("GET", f"{self._client_path()}/deployments", headers=headers)
        self._check_client(response, "manifest")
        return response

    def get_content(self, url: str) -> Response:
        """GET a deployment YAML or a bundle by the (usually relative) url the manifest gives."""
        return self._send("GET", self.resolve(url), headers={"Accept": YAML_ACCEPT})

    def post_status(self, deployment_id: str, document: dict[str, Any]) -> None:
        """POST .../deployments/{deploymentId}/status; any 2xx is success (I-7)."""
        path = f"{self._client_path()}/deployments/{_segment(deployment_id)}/status"
        response = self._send("POST", path, document=document)
        if not response.ok:
            raise WosError("status", response)

    def resolve(self, url: str) -> str:
        """Manifest urls are paths on the WOS origin (or absolute https URLs)."""
        return urllib.parse.urljoin(self.wos_url + "/", url)

    # -- helpers ----------------------------------------------------------------------------

    def _client_path(self) -> str:
        if self.client_id is None:
            raise WosError("client API", None, "device is not onboarded")
        if self._faults.pr1_wrong_client_id:
            return f"/api/v1/clients/{_segment(self.device_id)}"
        return f"/api/v1/clients/{_segment(self.client_id)}"

    def _check_client(self, response: Response, step: str) -> None:
        """401/403/404 on a client route: the WOS does not know this client (any more)."""
        if response.status in (401, 403, 404):
            raise UnknownClient(step, response)

    def _send(
        self,
        method: str,
        path: str,
        *,
        document: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = None
        all_headers = dict(headers or {})
        if document is not None:
            body = json.dumps(document).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        url = path if path.startswith(("http://", "https://")) else self.wos_url + path
        if self.signer is not None:  # every request but the root-certificate download (SEC-011)
            all_headers.update(self.signer.headers(method, url, body, onboarding=path == ONBOARDING))
        return wire.request(method, url, body=body, headers=all_headers, ssl_context=self._ssl)


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")
