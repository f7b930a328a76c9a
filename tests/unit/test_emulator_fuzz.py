"""Fuzzing the emulated WOS: whatever an agent sends, it never answers 5xx and never falls over.

The emulated WOS is the suite's side of every agent certification: a crash or a 500 there
would be blamed on the agent. Hypothesis throws arbitrary JSON, bytes, headers and paths at
every device-facing route of a real server on loopback; memory stays bounded over the run.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.emulated_wos.server import EmulatedWos

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
SEGMENT = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="-._"),
                  min_size=1, max_size=12)
ROUTES = [
    ("POST", "/onboarding/"),
    ("POST", "/oauth/token"),
    ("POST", "/device/{device}/capabilities"),
    ("PUT", "/device/{device}/capabilities"),
    ("POST", "/device/{device}/deployment/{segment}/status"),
    ("POST", "/api/v1/onboarding"),
    ("PUT", "/api/v1/clients/{segment}/capabilities"),
    ("GET", "/api/v1/clients/{segment}/deployments"),
    ("POST", "/api/v1/clients/{segment}/deployments/{segment}/status"),
    ("GET", "/git/{device}.git/info/refs?service=git-upload-pack"),
    ("POST", "/git/{device}.git/git-upload-pack"),
    ("GET", "/artifacts/{segment}"),
]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatedWos, str]]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    with EmulatedWos(workdir, FIXTURES_DIR / "artifacts", {"WORKLOAD_IMAGE": "x"}) as wos:
        device = wos.state.register_device(EvidenceLog())
        yield wos, device.device_id


@pytest.fixture(scope="module")
def client(server: tuple[EmulatedWos, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url_for_host, timeout=10) as c:
        yield c


def _path(template: str, device: str, segment: str) -> str:
    return template.replace("{device}", device).replace("{segment}", segment)


@FUZZ
@given(route=st.sampled_from(ROUTES), body=JSON, segment=SEGMENT,
       token=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30))
def test_arbitrary_json_never_gets_a_server_error(
    server: tuple[EmulatedWos, str],
    client: httpx.Client,
    route: tuple[str, str],
    body: object,
    segment: str,
    token: str,
) -> None:
    method, template = route
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.request(method, _path(template, server[1], segment), content=json.dumps(body), headers=headers)
    assert response.status_code < 500, f"{method} {template} -> {response.status_code}: {response.text[:200]}"


@FUZZ
@given(route=st.sampled_from(ROUTES), raw=st.binary(max_size=2048), segment=SEGMENT,
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]))
def test_arbitrary_bytes_never_get_a_server_error(
    server: tuple[EmulatedWos, str], client: httpx.Client, route: tuple[str, str], raw: bytes, segment: str,
    content_type: str,
) -> None:
    method, template = route
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.request(method, _path(template, server[1], segment), content=raw, headers=headers)
    assert response.status_code < 500, f"{method} {template} -> {response.status_code}: {response.text[:200]}"


def test_memory_stays_bounded_under_repeated_bad_requests(
    server: tuple[EmulatedWos, str], client: httpx.Client
) -> None:
    def burst() -> None:
        for i in range(300):
            method, template = ROUTES[i % len(ROUTES)]
            client.request(method, _path(template, server[1], f"s{i}"), content=b"{not json" * 20)

    burst()  # warm-up: caches, lazily created structures
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    burst()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Evidence of unattributed requests is kept for the session: allow ~3 KiB per request.
    assert after - before < 300 * 3 * 1024, f"memory grew by {(after - before) / 1024:.0f} KiB over 300 bad requests"
