"""Redaction by value: kinds and stable placeholders, Basic decoding, URL userinfo, values inside
larger text, JSON nesting, bytes and files, the ledger shared by a run's processes, and the
write boundaries (evidence, results.json, run.log, pytest reports, the emulated WOS, the device
client) that must never let a learned credential through."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from margo_conformance.base import credentials, redaction
from margo_conformance.base.evidence import LOG, EvidenceLog
from margo_conformance.base.redaction import Redactor
from margo_conformance.commands.plugin import redact_report
from margo_conformance.commands.run_outputs import RunLog
from margo_conformance.emulated_device.client import DeviceClient
from margo_conformance.emulated_wos.server import EmulatedWos
from margo_conformance.results.collector import write_evidence
from margo_conformance.results.model import ScenarioResult
from margo_conformance.results.tree import write_results_json

SECRET = "s3cr3t-Value_abc"
TOKEN = "tok-9f8e7d6c5b4a"


@pytest.fixture
def fresh(fresh_redactor: Redactor) -> Redactor:
    """The clean process-wide redactor every test gets (tests/conftest.py), by its name here."""
    return fresh_redactor


# -- kinds and stability -----------------------------------------------------------------------


def test_same_value_same_placeholder_numbered_per_kind() -> None:
    r = Redactor()
    assert r.learn("clientSecret", SECRET) == "<redacted:clientSecret#1>"
    assert r.learn("clientSecret", "another-secret") == "<redacted:clientSecret#2>"
    assert r.learn("accessToken", TOKEN) == "<redacted:accessToken#1>"
    # Learned again, under any kind: the value keeps its first kind and number.
    assert r.learn("password", SECRET) == "<redacted:clientSecret#1>"
    text = f"{SECRET} {TOKEN} {SECRET}"
    assert r.redact_text(text) == "<redacted:clientSecret#1> <redacted:accessToken#1> <redacted:clientSecret#1>"


def test_values_inside_larger_strings_and_the_longer_value_first() -> None:
    r = Redactor()
    r.learn("gitToken", "abcdef123456")
    r.learn("basicCredentials", "xxabcdef123456yy")
    assert r.redact_text("pre-abcdef123456-post") == "pre-<redacted:gitToken#1>-post"
    assert r.redact_text("[xxabcdef123456yy]") == "[<redacted:basicCredentials#1>]"


def test_short_and_non_text_values_are_not_learned() -> None:
    r = Redactor()
    assert r.learn("sutSecret", "abc") is None
    assert r.learn("sutSecret", None) is None
    assert r.learn("sutSecret", 123456789) is None
    assert r.redact_text("abc 123456789") == "abc 123456789"


# -- Authorization headers and URLs ------------------------------------------------------------


def test_basic_credentials_are_learned_as_sent_and_decoded() -> None:
    r = Redactor()
    encoded = base64.b64encode(b"client-1:pw-basic-123").decode()
    r.learn_authorization(f"Basic {encoded}")
    out = r.redact_text(f"Authorization: Basic {encoded}; the password was pw-basic-123")
    assert encoded not in out and "pw-basic-123" not in out
    assert "Basic <redacted:basicCredentials#1>" in out and "<redacted:password#1>" in out


def test_bearer_tokens_are_learned_from_headers_and_from_text() -> None:
    r = Redactor()
    r.learn_headers({"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"})
    assert r.redact_text(f"sent {TOKEN}") == "sent <redacted:bearerToken#1>"
    # Never learned before: recognised by its shape in the text being written.
    out = Redactor().redact_text("{'authorization': 'Bearer zzz-unseen-token-42'}")
    assert "zzz-unseen-token-42" not in out


def test_prose_about_tokens_is_not_taken_for_a_credential() -> None:
    r = Redactor()
    text = "a bearer token is required; Basic client authentication; Bearer tokens expire"
    assert r.redact_text(text) == text
    assert r.known() == {}


def test_credentials_in_urls() -> None:
    r = Redactor()
    r.learn_url("https://deploy:p%40ss-word-1@git.example/repo.git")
    assert r.redact_text("password p@ss-word-1") == "password <redacted:urlCredentials#1>"
    out = Redactor().redact_text("cloning https://user:hunter2-secret@host.example/x.git failed")
    assert out == "cloning https://user:<redacted:urlCredentials#1>@host.example/x.git failed"


def test_pem_private_keys() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    r = Redactor()
    out = r.redact_text(f"key follows\n{pem}done")
    assert "PRIVATE KEY" not in out and "<redacted:privateKey#1>" in out
    body = "".join(pem.strip().splitlines()[1:-1])
    assert body not in r.redact_text(f"one line: {body}")  # the base64 body alone, too


# -- documents, bodies, JSON, bytes, files -----------------------------------------------------


def test_credential_members_of_documents_and_forms() -> None:
    r = Redactor()
    r.learn_body(json.dumps({"clientId": "client-1", "clientSecret": SECRET, "tokenEndpoint": "http://x/oauth/token",
                             "desiredState": {"url": "http://x/git/d.git", "accessToken": "git-token-123"}}).encode())
    r.learn_body(b"grant_type=client_credentials&client_id=c&client_secret=form-secret-1")
    r.learn_body(json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}))
    assert r.known() == {SECRET: "clientSecret", "git-token-123": "gitToken", "form-secret-1": "clientSecret",
                         TOKEN: "accessToken"}


def test_nested_json_member_names_and_escaped_forms() -> None:
    r = Redactor()
    r.learn("sutSecret", 'pa"ss<w>&rd')
    document = {"a": [{"b": f"x {SECRET} y"}, 'pa"ss<w>&rd'], SECRET: 1, "n": 3}
    r.learn("clientSecret", SECRET)
    out = r.redact(document)
    assert out == {"a": [{"b": "x <redacted:clientSecret#1> y"}, "<redacted:sutSecret#1>"],
                   "<redacted:clientSecret#1>": 1, "n": 3}
    # As third-party writers escape it: JSON, HTML, percent-encoding.
    for escaped in (json.dumps('pa"ss<w>&rd'), "pa&quot;ss&lt;w&gt;&amp;rd", "pa%22ss%3Cw%3E%26rd"):
        assert "<redacted:sutSecret#1>" in r.redact_text(f"[{escaped}]")


def test_bytes_files_and_trees(tmp_path: Path) -> None:
    r = Redactor()
    r.learn("gitToken", TOKEN)
    assert r.redact_bytes(b"\x00\x01" + TOKEN.encode() + b"\xff") == b"\x00\x01<redacted:gitToken#1>\xff"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.xml").write_text(f"<failure message='{TOKEN}'/>")
    (tmp_path / "b.txt").write_text("nothing here")
    assert r.redact_tree(tmp_path) == [tmp_path / "sub" / "a.xml"]
    assert TOKEN not in (tmp_path / "sub" / "a.xml").read_text()


# -- one run, several processes ----------------------------------------------------------------


def test_processes_sharing_a_ledger_number_values_alike(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    worker_1, worker_2 = Redactor(ledger), Redactor(ledger)
    worker_1.learn("accessToken", "token-from-worker-1")
    worker_2.learn("accessToken", "token-from-worker-2")
    worker_1.learn("accessToken", "token-from-worker-1b")
    controller = Redactor(ledger)
    text = "token-from-worker-1 token-from-worker-2 token-from-worker-1b"
    expected = "<redacted:accessToken#1> <redacted:accessToken#2> <redacted:accessToken#3>"
    assert worker_1.redact_text(text) == worker_2.redact_text(text) == controller.redact_text(text) == expected


def test_run_ledger_is_private_shared_through_the_environment_and_removed(
    fresh: Redactor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(redaction.LEDGER_ENV, raising=False)
    with redaction.run_ledger(tmp_path / "report") as redactor:
        path = Path(os.environ[redaction.LEDGER_ENV])
        assert redactor.ledger == path and not path.is_relative_to(tmp_path)
        assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
        redaction.learn("clientSecret", SECRET)
        assert SECRET in path.read_text()
        assert redaction.join_run_ledger() is redactor  # what a pytest-xdist worker does
    assert not path.exists() and redaction.LEDGER_ENV not in os.environ
    assert redaction.redact_text(SECRET) == "<redacted:clientSecret#1>"  # still known in memory


def test_a_given_ledger_is_kept_but_never_inside_the_report_dir(
    fresh: Redactor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(redaction.LEDGER_ENV, str(tmp_path / "report" / "ledger.jsonl"))
    with pytest.raises(ValueError, match="inside the report directory"), redaction.run_ledger(tmp_path / "report"):
        pass
    monkeypatch.setenv(redaction.LEDGER_ENV, str(tmp_path / "ledger.jsonl"))
    with redaction.run_ledger(tmp_path / "report"):
        redaction.learn("gitToken", TOKEN)
    assert TOKEN in (tmp_path / "ledger.jsonl").read_text()


def test_audit_is_written_only_when_a_test_asks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(credentials.AUDIT_ENV, raising=False)
    credentials.audit_issued([("gitToken", TOKEN)])  # nowhere to go: nothing written
    monkeypatch.setenv(credentials.AUDIT_ENV, str(tmp_path / "issued.jsonl"))
    credentials.audit_issued([("gitToken", TOKEN), ("accessToken", None)])
    assert [json.loads(line) for line in (tmp_path / "issued.jsonl").read_text().splitlines()] == [
        {"kind": "gitToken", "value": TOKEN}
    ]


# -- the write boundaries ----------------------------------------------------------------------


def test_evidence_and_results_json_are_written_redacted(fresh: Redactor, tmp_path: Path) -> None:
    redaction.learn("clientSecret", SECRET)
    log = EvidenceLog()
    log.record(LOG, f"agent: using client secret {SECRET}")  # a SUT echoing a secret
    result = ScenarioResult("s", "f", [], "n", outcome="fail", message=f"expected 401 for {SECRET}")
    relative = write_evidence(tmp_path, 1, result, log)
    write_results_json(tmp_path, {"scenarios": [result.to_json()]})
    for written in (tmp_path / relative, tmp_path / "results.json"):
        assert SECRET not in written.read_text() and "<redacted:clientSecret#1>" in written.read_text()


def test_run_log_lines_are_redacted(fresh: Redactor, tmp_path: Path) -> None:
    redaction.learn("accessToken", TOKEN)
    shown: list[str] = []
    log = RunLog(tmp_path / "run.log", stream=SimpleNamespace(write=shown.append, flush=lambda: None))
    log(f"FAIL -> TOK-001: {TOKEN} was refused")
    log.record(f"margo-conformance: {TOKEN}")
    redaction.learn("gitToken", "learned-late-1")
    (tmp_path / "run.log").write_text((tmp_path / "run.log").read_text() + "raw learned-late-1\n")
    fresh.redact_tree(tmp_path)  # the end-of-run pass rewrites the file under the open log
    log("after the pass")
    log.close()
    written = (tmp_path / "run.log").read_text()
    assert TOKEN not in written and TOKEN not in "".join(shown) and "learned-late-1" not in written
    assert written.endswith("<redacted:gitToken#1>\nafter the pass\n") and "\0" not in written


def test_pytest_reports_are_redacted_before_any_writer_sees_them() -> None:
    r = Redactor()
    r.learn("gitToken", TOKEN)
    report = SimpleNamespace(
        longrepr=f"AssertionError: clone with {TOKEN} refused",
        sections=[("Captured log call", f"git: {TOKEN}")],
        user_properties=[("margo.scenario", {"message": f"token {TOKEN}"})],
    )
    redact_report(report, r)
    assert TOKEN not in repr(vars(report))
    skipped = SimpleNamespace(longrepr=("f.py", 1, f"Skipped: {TOKEN}"), sections=[], user_properties=[])
    redact_report(skipped, r)
    assert skipped.longrepr == ("f.py", 1, "Skipped: <redacted:gitToken#1>")


def test_the_emulated_wos_learns_what_it_issues_and_what_it_is_sent(
    fresh: Redactor, wos: EmulatedWos, tmp_path: Path
) -> None:
    evidence = EvidenceLog()
    device = wos.state.register_device(evidence)
    with httpx.Client(base_url=wos.url_for_host, timeout=5) as client:
        onboarding = client.post("/onboarding/", json={
            "apiVersion": "onboarding.margo/v1", "kind": "OnboardingRequest",
            "deviceId": device.device_id, "onboardingKey": device.onboarding_key}).json()
        basic = base64.b64encode(f"{onboarding['clientId']}:{onboarding['clientSecret']}".encode()).decode()
        token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                            headers={"Authorization": f"Basic {basic}"}).json()["access_token"]
        client.post(f"/device/{device.device_id}/capabilities", json={}, headers={"Authorization": f"Bearer {token}"})
        client.get(f"/git/{device.device_id}.git/info/refs?service=git-upload-pack",
                   headers={"Authorization": "Bearer agent-invented-token-1"})
    relative = write_evidence(tmp_path, 1, ScenarioResult("s", "f", [], "n"), evidence)
    written = (tmp_path / relative).read_text()
    issued = [v for _, v in device.issued_credentials()]
    for value in [*issued, basic, "agent-invented-token-1"]:
        assert value not in written
    for shown in ("clientSecret#", "gitToken#", "onboardingKey#", "accessToken#", "basicCredentials#", "bearerToken#"):
        assert f"<redacted:{shown}" in written, shown
    assert f"Bearer {redaction.current().learn('accessToken', token)}" in written  # header kept, value not


def test_the_device_client_learns_what_a_wos_hands_it(fresh: Redactor) -> None:
    answer = {"clientSecret": SECRET, "desiredState": {"accessToken": "wos-git-token-1"}, "access_token": TOKEN}

    def wos_under_test(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json=answer)

    evidence = EvidenceLog()
    client = DeviceClient("http://wos.example", evidence, 5)
    client._http = httpx.Client(transport=httpx.MockTransport(wos_under_test))
    client.request("POST", "/onboarding/", json_body={"onboardingKey": "device-onboarding-key"})
    client.request("POST", "/oauth/token", form={"client_id": "c", "client_secret": SECRET})
    client.request("POST", "/device/d/capabilities", json_body={}, token=TOKEN)
    written = json.dumps(redaction.redact(evidence.to_json()))
    for value in (SECRET, TOKEN, "wos-git-token-1", "device-onboarding-key"):
        assert value not in written
    assert "Bearer <redacted:accessToken#1>" in written


def test_a_credential_across_a_cut_leaves_no_prefix(fresh: Redactor) -> None:
    """Bodies and messages are redacted before they are shortened, never after."""
    body = json.dumps({"pad": "p" * 8170, "clientSecret": SECRET}).encode()

    def wos_under_test(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, content=body)

    evidence = EvidenceLog()
    client = DeviceClient("http://wos.example", evidence, 5)
    client._http = httpx.Client(transport=httpx.MockTransport(wos_under_test))
    answer = client.request("POST", "/onboarding/", json_body={})
    shown = evidence.events()[0].data["response_body"]
    assert SECRET[:6] not in shown and shown.endswith(f"... ({len(body)} bytes)")
    assert SECRET[:6] not in answer.describe()


def test_the_start_of_a_credential_cut_by_someone_else_is_redacted() -> None:
    r = Redactor()
    r.learn("accessToken", TOKEN)
    assert r.redact_text(f"got {TOKEN[:9]}... and more") == "got <redacted:accessToken#1>... and more"
    assert r.redact_text(f"x{TOKEN[:5]}...") == f"x{TOKEN[:5]}..."  # too short to tell
    assert r.redact_text("waiting for the agent...") == "waiting for the agent..."
