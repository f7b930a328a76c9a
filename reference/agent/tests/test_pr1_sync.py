"""The PR1 state-manifest cycle against a fake WOS (no Docker): ETag revalidation, rollback
refusal, digest verification, removal by absence only, persistence, and the fault switches."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from margo_agent.faults import Faults, parse_faults
from margo_agent.pr1.client import Pr1WosClient, UnknownClient
from margo_agent.pr1.reconcile import Pr1Reconciler
from margo_agent.pr1.sync import ManifestSync, Outcome
from pr1_fakes import FakePr1Wos, RecordingRuntime, deployment_yaml, pr1_wos  # noqa: F401

A = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
B = "ad9b614e-8912-45f4-a523-372358765def"


class Device:
    """One agent's manifest machinery on a state directory; `restart()` makes a new one."""

    def __init__(self, wos: FakePr1Wos, state_dir: Path, *faults: str) -> None:
        self.wos = wos
        self.state_dir = state_dir
        self.faults = Faults(parse_faults(",".join(faults)))
        self.runtime = RecordingRuntime()
        self.reports: list[dict[str, Any]] = []
        self.restart()

    def restart(self) -> None:
        wos = self.wos
        wos.known_clients.add(wos.client_id)
        client = Pr1WosClient(wos.url, "dev-1")
        client.client_id = wos.client_id
        self.reconciler = Pr1Reconciler(self.runtime, self.reports.append, self.state_dir / "applied.json", self.faults)
        self.sync = ManifestSync(client, self.reconciler, self.state_dir / "manifest.json", self.faults)

    def poll(self) -> Outcome:
        return self.sync.poll()

    def states(self, deployment_id: str) -> list[str]:
        return [r["status"]["state"] for r in self.reports if r["deploymentId"] == deployment_id]


@pytest.fixture
def device(pr1_wos: FakePr1Wos, tmp_path: Path) -> Device:  # noqa: F811
    return Device(pr1_wos, tmp_path)


def installed(device: Device, deployment_id: str, *components: str) -> None:
    device.wos.publish(deployment_id, deployment_yaml(deployment_id, *components))
    assert device.poll() is Outcome.APPLIED
    assert device.states(deployment_id)[-1] == "installed"


# -- DSA-030: polling with the media type and the entity tag -----------------------------------


def test_second_poll_revalidates_with_the_etag_and_gets_304(device: Device) -> None:
    assert device.poll() is Outcome.APPLIED  # version 1, no deployments
    assert device.poll() is Outcome.UNCHANGED
    first, second = device.wos.manifest_polls
    assert first.headers["accept"] == "application/vnd.margo.manifest.v1+json"
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"] == device.sync.cursor.etag
    assert second.status == 304
    assert device.sync.cursor.version == 1


def test_a_new_version_is_applied_and_reported_in_lowercase(device: Device) -> None:
    device.poll()
    installed(device, A, "db", "web")
    sequence = [(r["status"]["state"], tuple(c["state"] for c in r["components"])) for r in device.reports]
    assert sequence == [
        ("pending", ("pending", "pending")),
        ("installing", ("installing", "pending")),
        ("installing", ("installed", "installing")),
        ("installed", ("installed", "installed")),
    ]
    assert all(r["kind"] == "DeploymentStatusManifest" for r in device.reports)
    assert device.runtime.environment["db"] == {"GREETING": "hello"}  # bare pointer -> env name
    assert device.sync.cursor.version == 2


# -- DSA-031: no rollback --------------------------------------------------------------------


def test_an_older_manifest_version_is_refused_and_logged(device: Device, caplog: pytest.LogCaptureFixture) -> None:
    device.poll()
    installed(device, A, "hello")
    held = device.sync.cursor
    device.wos.deployments.pop(A)
    device.wos.served_version = 1  # a new ETag, an older version, without A
    with caplog.at_level(logging.INFO):
        assert device.poll() is Outcome.REFUSED
        assert device.poll() is Outcome.REFUSED  # the same manifest again: refused again
    assert device.sync.cursor == held
    assert not device.runtime.removed(A)
    assert "removing" not in device.states(A)
    security = [r for r in caplog.records if r.getMessage().startswith("security:")]
    assert len(security) == 1 and "rollback refused" in security[0].getMessage()
    assert device.wos.manifest_polls[-1].headers["if-none-match"] == held.etag


def test_an_equal_version_with_other_content_is_refused(device: Device) -> None:
    device.poll()
    installed(device, A, "hello")
    device.wos.served_version = device.sync.cursor.version
    device.wos.deployments[B] = deployment_yaml(B, "other")
    assert device.poll() is Outcome.REFUSED
    assert device.runtime.installed(B) == []


# -- DSA-032/DSA-033: digests ----------------------------------------------------------------


def test_content_that_does_not_match_its_digest_aborts_the_whole_update(device: Device) -> None:
    device.poll()
    installed(device, A, "hello")
    held = device.sync.cursor
    device.wos.deployments[B] = deployment_yaml(B, "other")
    device.wos.remove(A)  # the same update also removes A ...
    device.wos.corrupted.add(B)  # ... but B's bytes are wrong
    assert device.poll() is Outcome.ABORTED
    assert device.runtime.installed(B) == [] and device.states(B) == []
    assert not device.runtime.removed(A) and "removing" not in device.states(A)
    assert device.sync.cursor == held
    device.wos.corrupted.clear()  # the WOS serves the right bytes: the update goes through
    assert device.poll() is Outcome.APPLIED
    assert device.runtime.installed(B) == ["other"]
    assert device.states(A)[-2:] == ["removing", "removed"]


def test_a_manifest_with_an_unsupported_digest_algorithm_is_not_processed(device: Device) -> None:
    device.poll()
    body = deployment_yaml(A, "hello")
    device.wos.publish(A, body)
    device.wos.manifest_body = lambda: (  # type: ignore[method-assign]
        b'{"manifestVersion":5,"bundle":null,"deployments":[{"deploymentId":"%s","digest":"sha512:%s",'
        b'"url":"/x"}]}' % (A.encode(), b"0" * 128)
    )
    assert device.poll() is Outcome.REFUSED
    assert device.runtime.calls == []
    assert device.sync.cursor.version == 1


# -- DSA-035/DSA-036: only absence removes ---------------------------------------------------


def test_absence_from_the_manifest_removes_and_reports_removing_then_removed(device: Device) -> None:
    device.poll()
    installed(device, A, "db", "web")
    device.wos.remove(A)
    assert device.poll() is Outcome.APPLIED
    assert device.runtime.removed(A)
    removal = [r for r in device.reports if r["status"]["state"] in ("removing", "removed")]
    assert [(r["status"]["state"], [c["state"] for c in r["components"]]) for r in removal] == [
        ("removing", ["removing", "removing"]),
        ("removed", ["removed", "removed"]),
    ]
    assert device.reconciler.applied == {}


def test_a_404_for_listed_content_is_not_a_removal(device: Device) -> None:
    device.poll()
    installed(device, A, "hello")
    device.wos.withheld.add(A)
    device.wos.publish(B, deployment_yaml(B, "other"))
    assert device.poll() is Outcome.APPLIED
    assert not device.runtime.removed(A) and "removing" not in device.states(A)
    assert device.runtime.installed(B) == ["other"]
    assert set(device.reconciler.applied) == {A, B}
    device.wos.remove(A)  # absence does remove it, content or not
    assert device.poll() is Outcome.APPLIED
    assert device.states(A)[-2:] == ["removing", "removed"]


def test_a_404_for_new_content_postpones_the_update(device: Device) -> None:
    device.poll()
    held = device.sync.cursor
    device.wos.publish(A, deployment_yaml(A, "hello"))
    device.wos.withheld.add(A)
    assert device.poll() is Outcome.ABORTED
    assert device.sync.cursor == held and device.runtime.calls == []
    device.wos.withheld.clear()
    assert device.poll() is Outcome.APPLIED
    assert device.runtime.installed(A) == ["hello"]


def test_a_changed_deployment_is_reinstalled(device: Device) -> None:
    device.poll()
    installed(device, A, "hello")
    device.wos.publish(A, deployment_yaml(A, "hello", marker=" again"))
    assert device.poll() is Outcome.APPLIED
    assert device.runtime.installed(A) == ["hello", "hello"]
    assert device.runtime.environment["hello"] == {"GREETING": "hello again"}


# -- DSA-034: what survives a restart --------------------------------------------------------


def test_version_and_etag_survive_a_restart(device: Device) -> None:
    device.poll()
    installed(device, A, "hello")
    held = device.sync.cursor
    device.restart()
    assert device.sync.cursor == held
    assert device.poll() is Outcome.UNCHANGED
    assert device.wos.manifest_polls[-1].headers["if-none-match"] == held.etag
    device.wos.deployments.pop(A)
    device.wos.served_version = 1
    assert device.poll() is Outcome.REFUSED  # a replayed older manifest, after the restart
    assert device.runtime.installed(A) == ["hello"]  # not installed again either


def test_nothing_is_stored_before_reconciliation_succeeded(device: Device) -> None:
    device.poll()
    held_file = (device.state_dir / "manifest.json").read_text()
    device.wos.publish(A, deployment_yaml(A, "hello"))
    device.wos.corrupted.add(A)
    device.poll()
    assert (device.state_dir / "manifest.json").read_text() == held_file


# -- fault switches --------------------------------------------------------------------------


def test_fault_no_etag_never_sends_if_none_match(
    pr1_wos: FakePr1Wos,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    device = Device(pr1_wos, tmp_path, "no-etag")
    with caplog.at_level(logging.INFO):
        assert device.poll() is Outcome.APPLIED
        assert device.poll() is Outcome.UNCHANGED  # the same ETag again: no rollback alarm
    assert all("if-none-match" not in r.headers for r in pr1_wos.manifest_polls)
    assert [r.status for r in pr1_wos.manifest_polls] == [200, 200]
    assert not any(r.getMessage().startswith("security:") for r in caplog.records)


def test_fault_accept_rollback_applies_an_older_manifest(pr1_wos: FakePr1Wos, tmp_path: Path) -> None:  # noqa: F811
    device = Device(pr1_wos, tmp_path, "accept-rollback")
    device.poll()
    installed(device, A, "hello")
    pr1_wos.deployments.pop(A)
    pr1_wos.served_version = 1
    assert device.poll() is Outcome.APPLIED
    assert device.states(A)[-2:] == ["removing", "removed"]
    assert device.sync.cursor.version == 1


def test_fault_ignore_digests_installs_mismatching_content(pr1_wos: FakePr1Wos, tmp_path: Path) -> None:  # noqa: F811
    device = Device(pr1_wos, tmp_path, "ignore-digests")
    device.poll()
    pr1_wos.publish(A, deployment_yaml(A, "hello"))
    pr1_wos.corrupted.add(A)
    assert device.poll() is Outcome.APPLIED
    assert device.states(A)[-1] == "installed"


def test_fault_remove_on_404_removes_a_listed_deployment(pr1_wos: FakePr1Wos, tmp_path: Path) -> None:  # noqa: F811
    device = Device(pr1_wos, tmp_path, "remove-on-404")
    device.poll()
    installed(device, A, "hello")
    pr1_wos.withheld.add(A)
    pr1_wos.publish(B, deployment_yaml(B, "other"))
    assert device.poll() is Outcome.APPLIED
    assert device.states(A)[-2:] == ["removing", "removed"]


def test_fault_keep_unlisted_never_removes_what_the_manifest_dropped(
    pr1_wos: FakePr1Wos,  # noqa: F811
    tmp_path: Path,
) -> None:
    device = Device(pr1_wos, tmp_path, "keep-unlisted")
    device.poll()
    installed(device, A, "hello")
    pr1_wos.remove(A)
    assert device.poll() is Outcome.APPLIED
    assert not device.runtime.removed(A)
    assert device.states(A)[-1] == "installed"
    assert A in device.reconciler.applied


def test_without_faults_the_same_situations_behave(device: Device) -> None:
    """The control for the fault tests above: the same steps, conforming results."""
    device.poll()
    installed(device, A, "hello")
    device.wos.withheld.add(A)
    device.wos.publish(B, deployment_yaml(B, "other"))
    device.wos.corrupted.add(B)
    assert device.poll() is Outcome.ABORTED
    assert device.states(A)[-1] == "installed" and device.states(B) == []


def test_a_new_client_id_starts_a_new_version_sequence(device: Device) -> None:
    device.poll()
    installed(device, A, "hello")
    assert device.sync.cursor.client_id == device.wos.client_id
    device.wos.client_id = "client-9"  # onboarded again: the WOS counts from 1 for this client
    device.wos.version = 1
    device.wos.deployments.clear()
    device.restart()
    assert device.poll() is Outcome.APPLIED
    assert device.sync.cursor.version == 1 and device.sync.cursor.client_id == "client-9"
    assert device.states(A)[-2:] == ["removing", "removed"]


def test_fault_pr1_wrong_client_id_addresses_the_device_id(pr1_wos: FakePr1Wos) -> None:  # noqa: F811
    client = Pr1WosClient(pr1_wos.url, "dev-1", Faults(parse_faults("pr1-wrong-client-id")))
    client.client_id = pr1_wos.client_id
    pr1_wos.known_clients.add(pr1_wos.client_id)
    with pytest.raises(UnknownClient):
        client.get_manifest(None)
    client = Pr1WosClient(pr1_wos.url, "dev-1")
    client.client_id = pr1_wos.client_id
    assert client.get_manifest(None).status == 200
