"""The device side of the WOS HTTP API: root CA, onboarding, OAuth2 token, device API.

Routes and bodies follow docs/v24-wire-contract.md. Every authenticated call goes
through `_authorized`, which reuses a token until shortly before it expires (I-20) and
fetches a new one once when the WOS answers 401.
"""

from __future__ import annotations

import base64
import binascii
import logging
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from margo_agent import transport
from margo_agent.transport import HttpResponse

log = logging.getLogger(__name__)

ONBOARDING_API_VERSION = "onboarding.margo/v1"
#: Renew a token this long before the WOS says it expires, so it never expires in flight.
TOKEN_RENEWAL_MARGIN_S = 30.0


class WosError(Exception):
    """The WOS answered, but not with what the step needed."""

    def __init__(self, step: str, response: HttpResponse | None, detail: str = "") -> None:
        self.response = response
        text = detail or (response.summary() if response else "no response")
        super().__init__(f"{step}: {text}")

    @property
    def permanent(self) -> bool:
        """A 4xx other than 401/408/429 will not change by sending the same request again."""
        status = self.response.status if self.response else 0
        return 400 <= status < 500 and status not in (401, 408, 429)


@dataclass(frozen=True)
class DesiredStateRepo:
    url: str
    branch: str
    access_token: str


@dataclass(frozen=True)
class Onboarding:
    client_id: str
    client_secret: str
    token_endpoint: str
    desired_state: DesiredStateRepo


def decode_certificate(encoded: str) -> str:
    """The WOS sends Base64 of PEM text, or of DER (I-22); always return PEM text."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"certificate is not Base64: {exc}") from None
    if raw.lstrip().startswith(b"-----BEGIN CERTIFICATE-----"):
        return raw.decode("ascii")
    return ssl.DER_cert_to_PEM_cert(raw)


def save_root_ca(response: Any, save_to: Path, wos_url: str) -> ssl.SSLContext | None:
    """Keep a downloaded root CA (V24 and PR1 answer alike); over https, trust only it from now on."""
    if not response.ok:
        raise WosError("root CA", response)
    try:
        pem = decode_certificate(response.json()["certificate"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WosError("root CA", response, f"unusable certificate document: {exc}") from None
    save_to.parent.mkdir(parents=True, exist_ok=True)
    save_to.write_text(pem, encoding="ascii")
    log.info("onboarding: root CA saved to %s", save_to)
    return ssl.create_default_context(cafile=str(save_to)) if wos_url.startswith("https://") else None


def sibling_repository(repo: DesiredStateRepo, name: str) -> DesiredStateRepo:
    """Another repository beside `repo` on the same server (the read-unassigned-repo fault)."""
    parent = repo.url.split("?")[0].rstrip("/").rsplit("/", 1)[0]
    return replace(repo, url=f"{parent}/{name}")


def parse_onboarding(document: Any) -> Onboarding:
    try:
        desired = document["desiredState"]
        if desired.get("type", "git") != "git":
            raise ValueError(f"unsupported desiredState type {desired.get('type')!r}")
        return Onboarding(
            client_id=str(document["clientId"]),
            client_secret=str(document["clientSecret"]),
            token_endpoint=str(document["tokenEndpoint"]),
            desired_state=DesiredStateRepo(
                url=str(desired["url"]),
                branch=str(desired.get("branch") or "main"),
                access_token=str(desired["accessToken"]),
            ),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"onboarding response lacks {exc}") from None


class WosClient:
    def __init__(
        self, wos_url: str, device_id: str, reauthenticate: bool = True, send_token: bool = True
    ) -> None:
        self._wos_url = wos_url.rstrip("/")
        self._device_id = device_id
        # False only under the no-reauth fault switch: a refused token is sent again and again.
        self._reauthenticate = reauthenticate
        # False only under the omit-bearer-token fault switch: tokens are obtained, never sent.
        self._send_token = send_token
        self._ssl: ssl.SSLContext | None = None
        self._onboarding: Onboarding | None = None
        self._token: str | None = None
        self._token_expires_at = 0.0
        # The status sender thread and the main loop share one token.
        self._token_lock = threading.Lock()

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl

    # -- onboarding ---------------------------------------------------------------------

    def fetch_root_ca(self, save_to: Path) -> None:
        """Download the WOS root CA (CRT-002) and trust only it for https from now on."""
        response = self._send("GET", f"{self._wos_url}/onboarding/certificate")
        self._ssl = save_root_ca(response, save_to, self._wos_url)

    def onboard(self, onboarding_key: str) -> Onboarding:
        document = {
            "apiVersion": ONBOARDING_API_VERSION,
            "kind": "OnboardingRequest",
            "deviceId": self._device_id,
            "onboardingKey": onboarding_key,
        }
        body, headers = transport.json_body(document)
        response = self._send("POST", f"{self._wos_url}/onboarding/", body=body, headers=headers)
        if not response.ok:
            raise WosError("onboarding", response)
        try:
            onboarding = parse_onboarding(response.json())
        except ValueError as exc:
            raise WosError("onboarding", response, str(exc)) from None
        self.use_onboarding(onboarding)
        log.info("onboarding: accepted, client id %s", onboarding.client_id)
        return onboarding

    def use_onboarding(self, onboarding: Onboarding) -> None:
        self._onboarding = onboarding
        self.invalidate_token()

    # -- OAuth2 client credentials ------------------------------------------------------

    def invalidate_token(self) -> None:
        with self._token_lock:
            self._token = None

    def ensure_token(self) -> None:
        """Obtain a token now (if none is cached), to find out whether the credentials work."""
        self._current_token()

    def _current_token(self) -> str:
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token_expires_at:
                self._token, lifetime_s = self._request_token()
                self._token_expires_at = time.monotonic() + max(
                    lifetime_s - TOKEN_RENEWAL_MARGIN_S, lifetime_s / 2
                )
            return self._token

    def _request_token(self) -> tuple[str, float]:
        if self._onboarding is None:
            raise WosError("token", None, "device is not onboarded")
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self._onboarding.client_id,
                "client_secret": self._onboarding.client_secret,
            }
        ).encode("ascii")
        response = self._send(
            "POST",
            self._onboarding.token_endpoint,
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if not response.ok:
            raise WosError("token", response)
        try:
            document = response.json()
            token, lifetime_s = (
                str(document["access_token"]),
                float(document.get("expires_in", 300)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise WosError("token", response, f"unusable token response: {exc}") from None
        log.info("token: obtained, expires in %.0f s", lifetime_s)
        return token, lifetime_s

    def _authorized(self, method: str, url: str, document: Any) -> HttpResponse:
        """Send with the cached token; on 401 fetch a fresh token and try exactly once more."""
        body, headers = transport.json_body(document)
        for attempt in (1, 2):
            auth = {"Authorization": f"Bearer {self._current_token()}"}
            if not self._send_token:
                log.warning("fault: omit-bearer-token: %s %s without Authorization", method, url)
                auth = {}
            response = self._send(method, url, body=body, headers={**headers, **auth})
            if response.status != 401 or attempt == 2:
                return response
            if not self._reauthenticate:
                log.warning("fault: no-reauth: %s %s answered 401, keeping the token", method, url)
                return response
            log.info("token: %s %s answered 401, requesting a new token", method, url)
            self.invalidate_token()
        raise AssertionError("unreachable")

    # -- device API -----------------------------------------------------------------------

    def report_capabilities(self, document: dict[str, Any], first: bool) -> None:
        method = "POST" if first else "PUT"
        url = f"{self._wos_url}/device/{_segment(self._device_id)}/capabilities"
        response = self._authorized(method, url, document)
        if not response.ok:
            raise WosError(f"capabilities {method}", response)

    def post_status(self, deployment_id: str, document: dict[str, Any]) -> None:
        url = (
            f"{self._wos_url}/device/{_segment(self._device_id)}"
            f"/deployment/{_segment(deployment_id)}/status"
        )
        response = self._authorized("POST", url, document)
        if not response.ok:
            raise WosError("status", response)

    def _send(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        return transport.request(method, url, ssl_context=self._ssl, **kwargs)


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")
