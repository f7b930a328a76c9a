"""The PR1 agent's start against a fake WOS (no Docker: nothing is deployed): root CA, a
P-256 key and self-signed certificate, onboarding, capabilities, manifest polling; what it
keeps for a restart, and onboarding again when the WOS forgets the client."""

from __future__ import annotations

import base64
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from margo_agent.config import load_config
from margo_agent.pr1.agent import Pr1Agent
from margo_agent.pr1.identity import CLIENT_FILE, KEY_FILE
from pr1_fakes import ROOT_CA_PEM, FakePr1Wos, pr1_wos, schema_validator  # noqa: F401

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None,
    reason="needs the openssl command: the PR1 agent makes its device key and certificate with it",
)


@contextmanager
def running(wos: FakePr1Wos, state_dir: Path) -> Iterator[None]:
    config = load_config(
        {
            "MARGO_WOS_URL": wos.url,
            "MARGO_DEVICE_ID": "dev-1",
            "MARGO_ONBOARDING_KEY": "unused-in-pr1",
            "MARGO_POLL_INTERVAL_S": "0.2",
            "MARGO_STATE_DIR": str(state_dir),
            "MARGO_PROFILE": "PR1",
        }
    )
    stop = threading.Event()
    agent = Pr1Agent(config, stop)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        agent.wake()
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_start_onboards_with_a_p256_certificate_and_reports_capabilities(
    pr1_wos: FakePr1Wos,  # noqa: F811
    tmp_path: Path,
) -> None:
    with running(pr1_wos, tmp_path):
        pr1_wos.wait_until(lambda: len(pr1_wos.manifest_polls) >= 2)
    order = [(r.method, r.path) for r in pr1_wos.requests]
    assert order[:3] == [
        ("GET", "/api/v1/onboarding/certificate"),
        ("POST", "/api/v1/onboarding"),
        ("PUT", "/api/v1/clients/client-7/capabilities/dev-1"),
    ]
    assert (tmp_path / "wos-root-ca.pem").read_bytes() == ROOT_CA_PEM

    request = pr1_wos.seen("POST", "/api/v1/onboarding")[0].json()
    assert list(schema_validator("onboarding-request").iter_errors(request)) == []
    assert request["apiVersion"] == "onboarding.margo.org/v1alpha1"
    x509 = pytest.importorskip("cryptography.x509")
    ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
    certificate = x509.load_der_x509_certificate(base64.b64decode(request["certificate"]))
    assert isinstance(certificate.public_key().curve, ec.SECP256R1)
    assert certificate.issuer == certificate.subject  # self-signed

    capabilities = pr1_wos.seen("PUT", "/api/v1/clients/client-7/capabilities/")[0].json()
    assert list(schema_validator("device-capabilities").iter_errors(capabilities)) == []

    first, second = pr1_wos.manifest_polls[:2]
    assert first.headers["accept"] == "application/vnd.margo.manifest.v1+json"
    assert second.headers.get("if-none-match") and second.status == 304
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0
    assert (tmp_path / CLIENT_FILE).stat().st_mode & 0o077 == 0


def test_a_restart_reuses_the_client_and_the_manifest_state(pr1_wos: FakePr1Wos, tmp_path: Path) -> None:  # noqa: F811
    with running(pr1_wos, tmp_path):
        pr1_wos.wait_until(lambda: len(pr1_wos.manifest_polls) >= 1)
    key = (tmp_path / KEY_FILE).read_bytes()
    pr1_wos.requests.clear()
    with running(pr1_wos, tmp_path):
        pr1_wos.wait_until(lambda: len(pr1_wos.manifest_polls) >= 1)
    assert pr1_wos.seen("POST", "/api/v1/onboarding") == []
    assert (tmp_path / KEY_FILE).read_bytes() == key
    first = pr1_wos.manifest_polls[0]
    assert first.headers.get("if-none-match") and first.status == 304  # DSA-034


def test_a_forgotten_client_onboards_again(pr1_wos: FakePr1Wos, tmp_path: Path) -> None:  # noqa: F811
    with running(pr1_wos, tmp_path):
        pr1_wos.wait_until(lambda: len(pr1_wos.manifest_polls) >= 1)
        pr1_wos.known_clients.clear()
        pr1_wos.client_id = "client-8"
        pr1_wos.wait_until(lambda: len(pr1_wos.manifest_polls) >= 1)  # polls of the new client id
    assert len(pr1_wos.seen("POST", "/api/v1/onboarding")) == 2


def test_a_wos_that_is_not_up_yet_only_delays_onboarding(pr1_wos: FakePr1Wos, tmp_path: Path) -> None:  # noqa: F811
    original = pr1_wos.handle
    refusals = {"left": 3}

    def flaky(request):  # type: ignore[no-untyped-def]
        if request.path == "/api/v1/onboarding" and refusals["left"]:
            refusals["left"] -= 1
            return 503, {}, b'{"title": "starting"}'
        return original(request)

    pr1_wos.handle = flaky  # type: ignore[method-assign]
    with running(pr1_wos, tmp_path):
        pr1_wos.wait_until(lambda: len(pr1_wos.manifest_polls) >= 1)
    assert len(pr1_wos.seen("POST", "/api/v1/onboarding")) == 4
