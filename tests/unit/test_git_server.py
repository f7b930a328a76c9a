"""The desired-state Git server with a real git client: auth, isolation and what gets recorded."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from margo_conformance.base.evidence import GIT, EvidenceLog
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.emulated_wos.desired_state import DeviceRepository, render_deployment
from margo_conformance.emulated_wos.git_http import POLL_CACHE, CachedAnswer, PollCache
from margo_conformance.emulated_wos.server import EmulatedWos
from margo_conformance.emulated_wos.state import DeviceRecord

GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


@pytest.fixture
def device(wos: EmulatedWos, evidence: EvidenceLog, tmp_path: Path) -> DeviceRecord:
    record = wos.state.register_device(evidence)
    record.repository = DeviceRepository(record.repo_path, tmp_path / "wos-clone", evidence)
    return record


def _git(*args: str, token: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["-c", f"http.extraHeader=Authorization: Bearer {token}"] if token else []
    return subprocess.run(["git", *extra, *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=30)


def _url(wos: EmulatedWos, device: DeviceRecord) -> str:
    return f"{wos.url_for_host}/git/{device.device_id}.git"


def test_clone_with_bearer_token_then_fetch_records_the_wanted_commit(
    wos: EmulatedWos, device: DeviceRecord, evidence: EvidenceLog, tmp_path: Path
) -> None:
    checkout = tmp_path / "agent"
    assert _git("clone", _url(wos, device), str(checkout), token=device.git_token).returncode == 0
    deployment = render_deployment(FIXTURES_DIR / "deployments" / "hello-compose.yaml", {"ARTIFACTS": "http://x"})
    commit = device.repository.publish(deployment)
    fetched = _git("fetch", "origin", token=device.git_token, cwd=checkout)
    assert fetched.returncode == 0, fetched.stderr
    fetches = [e for e in evidence.events(GIT) if e.data["phase"] == "fetch" and e.at >= commit.at]
    assert fetches and commit.sha in fetches[-1].data["wants"]
    assert fetches[-1].data["auth"] == "bearer"


def test_basic_auth_with_the_token_as_password_works(wos: EmulatedWos, device: DeviceRecord, tmp_path: Path) -> None:
    url = _url(wos, device).replace("http://", f"http://device:{device.git_token}@")
    assert _git("clone", url, str(tmp_path / "c")).returncode == 0


def test_no_token_is_challenged_and_refused(
    wos: EmulatedWos, device: DeviceRecord, evidence: EvidenceLog, tmp_path: Path
) -> None:
    result = _git("clone", _url(wos, device), str(tmp_path / "c"))
    assert result.returncode == 128
    assert [e.data["status"] for e in evidence.events(GIT)] == [401]


def test_a_device_cannot_read_another_devices_repository(
    wos: EmulatedWos, device: DeviceRecord, tmp_path: Path
) -> None:
    intruder_log = EvidenceLog()
    intruder = wos.state.register_device(intruder_log)
    result = _git("clone", _url(wos, device), str(tmp_path / "c"), token=intruder.git_token)
    assert result.returncode == 128
    refused = intruder_log.events(GIT)
    assert refused and refused[0].data["auth"] == "wrong-device" and refused[0].data["status"] == 403


def test_withdrawn_access_is_refused_until_restored(
    wos: EmulatedWos, device: DeviceRecord, evidence: EvidenceLog, tmp_path: Path
) -> None:
    device.git_access_allowed = False
    assert _git("clone", _url(wos, device), str(tmp_path / "a"), token=device.git_token).returncode == 128
    assert evidence.events(GIT)[-1].data["auth"] == "revoked"
    device.git_access_allowed = True
    assert _git("clone", _url(wos, device), str(tmp_path / "b"), token=device.git_token).returncode == 0


def test_pushes_are_refused(wos: EmulatedWos, device: DeviceRecord, tmp_path: Path) -> None:
    checkout = tmp_path / "c"
    _git("clone", _url(wos, device), str(checkout), token=device.git_token)
    (checkout / "x.yaml").write_text("x: 1\n")
    _git("add", "x.yaml", cwd=checkout)
    _git("-c", "user.name=a", "-c", "user.email=a@b", "commit", "-m", "x", cwd=checkout)
    assert _git("push", "origin", "HEAD:main", token=device.git_token, cwd=checkout).returncode != 0


# -- the poll cache: what `git fetch` asks when nothing changed is answered without forking ----


def _poll(wos: EmulatedWos, device: DeviceRecord) -> dict[str, str]:
    """One poll as git sends it (protocol v2 advertisement, then ls-refs); the refs it lists."""
    from margo_conformance.commands.fleet.gitwire import (
        ADVERTISE_HEADERS,
        LS_REFS_BODY,
        LS_REFS_HEADERS,
        advertise_path,
        bearer,
        ls_refs_path,
        parse_ls_refs,
    )

    repository = f"/git/{device.device_id}.git"
    auth = {"Authorization": bearer(device.git_token)}
    with httpx.Client(base_url=wos.url_for_host) as client:
        advertised = client.get(advertise_path(repository), headers={**ADVERTISE_HEADERS, **auth})
        assert advertised.status_code == 200 and b"ls-refs" in advertised.content
        listed = client.post(ls_refs_path(repository), content=LS_REFS_BODY,
                             headers={**LS_REFS_HEADERS, **auth})
        assert listed.status_code == 200
        return parse_ls_refs(listed.content)


def test_repeated_polls_come_from_the_cache_and_a_publication_invalidates_them(
    wos: EmulatedWos, device: DeviceRecord, evidence: EvidenceLog, tmp_path: Path
) -> None:
    first = _poll(wos, device)
    hits, misses = POLL_CACHE.hits, POLL_CACHE.misses
    assert _poll(wos, device) == first
    assert (POLL_CACHE.hits - hits, POLL_CACHE.misses - misses) == (2, 0)  # no http-backend
    assert [e.data["phase"] for e in evidence.events(GIT)][-2:] == ["advertise", "ls-refs"]

    deployment = render_deployment(FIXTURES_DIR / "deployments" / "hello-compose.yaml", {"ARTIFACTS": "http://x"})
    commit = device.repository.publish(deployment)
    after = _poll(wos, device)
    assert after["refs/heads/main"] == commit.sha != first["refs/heads/main"]
    assert POLL_CACHE.misses - misses == 2  # both answers asked of http-backend again

    # A real git client sees the published commit too, through the same cache.
    listed = _git("ls-remote", _url(wos, device), "refs/heads/main", token=device.git_token)
    assert listed.returncode == 0 and listed.stdout.split()[0] == commit.sha


def test_the_cache_does_not_answer_for_a_refused_client(
    wos: EmulatedWos, device: DeviceRecord, evidence: EvidenceLog
) -> None:
    _poll(wos, device)  # cached now
    device.git_access_allowed = False
    with pytest.raises(AssertionError):
        _poll(wos, device)
    assert evidence.events(GIT)[-1].data["auth"] == "revoked"


def test_poll_cache_keys_on_the_publication_count_and_stays_bounded() -> None:
    cache = PollCache(max_entries=2)
    answer = CachedAnswer(200, (("content-type", "x"),), b"refs")
    key = ("/r.git", "POST", "git-upload-pack", "", "version=2", "", b"ls-refs")
    cache.put(key, 3, answer)
    assert cache.get(key, 3) == answer
    assert cache.get(key, 4) is None  # published since: stale
    cache.put(("/a",) + key[1:], 0, answer)
    cache.put(("/b",) + key[1:], 0, answer)
    assert cache.get(key, 3) is None  # the oldest entry made room
