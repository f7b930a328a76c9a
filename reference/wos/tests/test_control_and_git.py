"""Control verbs, the desired-state repositories they write (GIT-001/002/008/009), and reading
them with a real git client over a real server (GIT-001, GIT-006)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml
from margo_wos import ctl
from margo_wos.control import control_app
from margo_wos.device_api import device_app

from wos_support import Harness, hello_application, repository_files, schema_errors


def commit_count(harness: Harness, device_id: str) -> int:
    bare = harness.wos.repos.bare(device_id)
    return int(
        subprocess.run(
            ["git", "--git-dir", str(bare), "rev-list", "--count", "main"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_register_device_is_retriable_until_onboarded_and_checks_the_id(harness: Harness) -> None:
    first = harness.verb("register-device", {"deviceId": "dev-1"})
    assert harness.verb("register-device", {"deviceId": "dev-1"}) == first
    harness.api.post(
        "/onboarding/",
        json={
            "apiVersion": "onboarding.margo/v1",
            "kind": "OnboardingRequest",
            "deviceId": "dev-1",
            "onboardingKey": first["onboardingKey"],
        },
    )
    assert (
        harness.control.post("/control/register-device", json={"deviceId": "dev-1"}).status_code
        == 409
    )
    for bad in ("..", "a/b", "", "x.git"):
        assert (
            harness.control.post("/control/register-device", json={"deviceId": bad}).status_code
            == 400
        )
    assert commit_count(harness, "dev-1") == 1 and repository_files(harness, "dev-1") == {}


def test_deploy_commits_a_valid_application_deployment(harness: Harness) -> None:
    harness.verb("register-device", {"deviceId": "dev-1"})
    deployment_id = harness.deploy("dev-1")
    files = repository_files(harness, "dev-1")
    assert list(files) == [f"deployments/hello-compose-deployment-{deployment_id[:8]}.yaml"]
    document = yaml.safe_load(next(iter(files.values())))
    assert schema_errors(document, "application-deployment") == []
    assert document["apiVersion"] == "application.margo.org/v1alpha1"
    assert document["metadata"]["annotations"] == {
        "id": deployment_id,
        "applicationId": "hello-compose",
    }
    assert document["spec"]["parameters"] == hello_application()["parameters"]


def test_remove_deletes_the_document_in_a_new_commit(harness: Harness) -> None:
    harness.verb("register-device", {"deviceId": "dev-1"})
    kept, removed = harness.deploy("dev-1"), harness.deploy("dev-1")
    commits = commit_count(harness, "dev-1")
    assert harness.verb("remove", {"deviceId": "dev-1", "deploymentId": removed}) == {}
    assert commit_count(harness, "dev-1") == commits + 1
    assert [
        yaml.safe_load(t)["metadata"]["annotations"]["id"]
        for t in repository_files(harness, "dev-1").values()
    ] == [kept]
    assert (
        harness.verb("remove", {"deviceId": "dev-1", "deploymentId": removed}) == {}
    )  # idempotent


def test_control_verbs_refuse_what_they_cannot_do(harness: Harness) -> None:
    harness.verb("register-device", {"deviceId": "dev-1"})
    bad_app = {**hello_application(), "applicationId": "Not_Lowercase"}
    cases = [
        ("deploy", {"deviceId": "nobody", "application": hello_application()}, 404),
        ("deploy", {"deviceId": "dev-1", "application": bad_app}, 422),
        ("deploy", {"deviceId": "dev-1"}, 400),
        ("remove", {"deviceId": "dev-1", "deploymentId": "nope"}, 404),
        ("deployment-status", {"deviceId": "dev-1", "deploymentId": "nope"}, 404),
        ("device-capabilities", {"deviceId": "nobody"}, 404),
        ("no-such-verb", {}, 404),
    ]
    for verb, request, status in cases:
        response = harness.control.post(f"/control/{verb}", json=request)
        assert response.status_code == status, (verb, response.text)
        assert "\n" not in response.json()["detail"]
    assert harness.control.post("/control/deploy", content=b"[]").status_code == 400
    assert repository_files(harness, "dev-1") == {}


def test_state_survives_a_restart(make_harness) -> None:  # type: ignore[no-untyped-def]
    before = make_harness()
    device = before.onboard()
    deployment_id = before.deploy(device.device_id)
    after = make_harness()
    assert (
        after.verb(
            "deployment-status", {"deviceId": device.device_id, "deploymentId": deployment_id}
        )["state"]
        is None
    )
    assert after.verb("remove", {"deviceId": device.device_id, "deploymentId": deployment_id}) == {}
    assert repository_files(after, device.device_id) == {}


def test_git_clone_over_http_needs_the_devices_own_token(
    harness: Harness, live, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    device, other = harness.onboard("dev-1"), harness.onboard("dev-2")
    deployment_id = harness.deploy(device.device_id)
    server = live(device_app(harness.wos))
    url = f"{server.url}/git/dev-1.git"

    bearer = git(
        "-c",
        f"http.extraHeader=Authorization: Bearer {device.git_token}",
        "clone",
        "-q",
        url,
        str(tmp_path / "bearer"),
    )
    assert bearer.returncode == 0, bearer.stderr
    cloned = list((tmp_path / "bearer" / "deployments").glob("*.yaml"))
    assert [yaml.safe_load(p.read_text())["metadata"]["annotations"]["id"] for p in cloned] == [
        deployment_id
    ]

    basic_url = url.replace("http://", f"http://device:{device.git_token}@")
    v0 = git("-c", "protocol.version=0", "clone", "-q", basic_url, str(tmp_path / "basic"))
    assert v0.returncode == 0, v0.stderr

    anonymous = git("clone", "-q", url, str(tmp_path / "anonymous"))
    assert anonymous.returncode == 128  # the server said 401 and git had no credentials to offer
    foreign = git(
        "-c",
        f"http.extraHeader=Authorization: Bearer {other.git_token}",
        "clone",
        "-q",
        url,
        str(tmp_path / "foreign"),
    )
    assert foreign.returncode == 128 and "403" in foreign.stderr

    (tmp_path / "bearer" / "evil.yaml").write_text("kind: Evil\n")
    git("add", "evil.yaml", cwd=tmp_path / "bearer")
    git(
        "-c",
        "user.name=x",
        "-c",
        "user.email=x@x",
        "commit",
        "-qm",
        "evil",
        cwd=tmp_path / "bearer",
    )
    push = git(
        "-c",
        f"http.extraHeader=Authorization: Bearer {device.git_token}",
        "push",
        "-q",
        "origin",
        "main",
        cwd=tmp_path / "bearer",
    )
    assert push.returncode != 0 and "evil.yaml" not in repository_files(harness, "dev-1")


def test_git_http_status_codes(harness: Harness) -> None:
    device, other = harness.onboard("dev-1"), harness.onboard("dev-2")
    refs = "/git/dev-1.git/info/refs?service=git-upload-pack"
    anonymous = harness.api.get(refs)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="margo-desired-state"'
    assert harness.api.get(refs, headers={"Authorization": "Bearer forged"}).status_code == 401
    assert (
        harness.api.get(refs, headers={"Authorization": f"Bearer {other.git_token}"}).status_code
        == 403
    )
    assert (
        harness.api.get(
            refs, headers={"Authorization": f"Bearer {device.access_token}"}
        ).status_code
        == 401
    )
    ok = harness.api.get(refs, auth=("any", device.git_token))
    assert (
        ok.status_code == 200
        and ok.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    )
    push = "/git/dev-1.git/info/refs?service=git-receive-pack"
    assert (
        harness.api.get(push, headers={"Authorization": f"Bearer {device.git_token}"}).status_code
        == 403
    )
    missing = "/git/dev-9.git/info/refs?service=git-upload-pack"
    assert (
        harness.api.get(
            missing, headers={"Authorization": f"Bearer {device.git_token}"}
        ).status_code
        == 404
    )


def test_ctl_command_calls_the_control_port(harness: Harness, live, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    server = live(control_app(harness.wos))
    monkeypatch.setenv("MARGO_WOS_CONTROL_PORT", server.url.rsplit(":", 1)[1])
    assert ctl.main(["register-device", '{"deviceId": "dev-ctl"}']) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith('{"onboardingKey": "k-')
    assert ctl.main(["remove", '{"deviceId": "dev-ctl", "deploymentId": "x"}']) == 1
    reason = capsys.readouterr().err
    assert reason.count("\n") == 1 and "404" in reason and "no deployment" in reason
    assert ctl.main(["deploy", "{not json"]) == 2


def test_unknown_routes_and_methods_answer_problem_json(harness: Harness) -> None:
    for response, status in (
        (harness.api.get("/nothing/here"), 404),
        (harness.api.get("/oauth/token"), 405),
    ):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
