"""The state manifest as the suite's PR1 device fetches it from the WOS under test."""

from __future__ import annotations

from margo_conformance.base.errors import StepOrderError
from margo_conformance.emulated_device.client import Answer
from margo_conformance.emulated_device.signing import REFUSAL_ROWS, Signing
from margo_conformance.scenario.wos import WosUnderTest


def fetch_manifest(wos: WosUnderTest, accept: str | None = None, if_none_match: str | None = None,
                   signing: Signing = Signing.SIGNED) -> Answer:
    """GET the device's state manifest (profiles that serve one) accepting `accept` (default: the
    profile's manifest media type); remembered in `wos.manifests` when it is a 200."""
    device = wos.device()
    if not device.onboarded:
        raise StepOrderError("the device has not onboarded: add 'And the device has onboarded' (PR1)")
    path = wos.dialect.state_manifest_path(device.member("client_id"))
    accept = accept or wos.dialect.manifest_media_type
    headers = {k: v for k, v in (("Accept", accept), ("If-None-Match", if_none_match)) if v is not None}
    answer = wos.send("GET", path, (REFUSAL_ROWS.get(signing, "DSA-001"),), signing=signing, headers=headers)
    if answer.status == 200:
        wos.manifests.append(answer)
    return answer
