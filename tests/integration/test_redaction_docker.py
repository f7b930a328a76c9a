"""No credential of a run appears in any file the run wrote (redaction by value, end to end).

Each reference SUT runs through the CLI with two workers and a bundle. The test reads back the
credentials of the run from two sources outside the report directory, both test-only:
the redactor's ledger (`MARGO_REDACTION_LEDGER`: every value learned on the wire) and the audit
(`MARGO_CREDENTIAL_AUDIT`: what the emulated WOS and the simulated device hold as issued, read
from their own records, not from the wire). Every issued credential must have been learned,
and no value may appear in any file under the report directory or inside the bundle.

The agent runs with the no-reauth fault, so the failure writers run too (TOK-001 fails, quoting
the exchanges around the refused token), and with a literal secret in its SUT file.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from margo_conformance.base import credentials, redaction
from margo_conformance.base.paths import DEFAULT_SUT_FILE
from margo_conformance.report.bundle import read_members, verify_bundle
from tests.integration.conftest import REFERENCE_WOS_FILE, CliRun, reference_agent_variant, run_cli

pytestmark = [pytest.mark.selftest, pytest.mark.docker, pytest.mark.usefixtures("no_leftover_containers")]

SUT_FILE_SECRET = "literal-sut-file-secret-7f3a9c"
ISSUED_KINDS = {credentials.ONBOARDING_KEY, credentials.CLIENT_SECRET, credentials.GIT_TOKEN, credentials.ACCESS_TOKEN}


def read_jsonl(path: Path) -> dict[str, str]:
    """value -> kind of a ledger or audit file."""
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {e["value"]: e["kind"] for e in entries}


def run_with_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sut: Path) -> tuple[CliRun, dict, dict]:
    """Run `sut` (two workers, bundle); (run, learned value -> kind, issued value -> kind)."""
    outside = tmp_path / "outside-the-report"
    outside.mkdir()
    monkeypatch.setenv(redaction.LEDGER_ENV, str(outside / "ledger.jsonl"))
    monkeypatch.setenv(credentials.AUDIT_ENV, str(outside / "issued.jsonl"))
    run = run_cli("--sut", str(sut), "--workers", "2", "--bundle", report_dir=tmp_path / "report")
    return run, read_jsonl(outside / "ledger.jsonl"), read_jsonl(outside / "issued.jsonl")


def written_files(report_dir: Path) -> dict[str, bytes]:
    """Every file the run wrote, recursively, and every member of the bundle."""
    files = {str(p.relative_to(report_dir)): p.read_bytes() for p in report_dir.rglob("*") if p.is_file()}
    bundle = report_dir / "bundle.tar.gz"
    files.update({f"bundle.tar.gz:{name}": data for name, data in read_members(bundle).items()})
    return files


def leaks(files: dict[str, bytes], values: set[str]) -> list[str]:
    found = []
    for value in values:
        forms = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
        found += [f"{name}: {value[:4]}... ({len(value)} chars)" for name, data in files.items()
                  if any(form.encode() in data for form in forms)]
    return found


def check_no_credential_written(run: CliRun, learned: dict, issued: dict, extra: set[str] = frozenset()) -> str:
    assert set(issued.values()) >= ISSUED_KINDS, f"the audit lacks kinds: {ISSUED_KINDS - set(issued.values())}"
    assert all(len(v) >= redaction.MIN_LENGTH for v in issued), "an issued credential is too short to redact"
    unlearned = {kind for value, kind in issued.items() if value not in learned}
    assert not unlearned, f"issued but never learned by the redactor: {sorted(unlearned)}"
    assert verify_bundle(run.report_dir / "bundle.tar.gz").ok
    files = written_files(run.report_dir)
    assert any(name.startswith("evidence/") for name in files) and "bundle.tar.gz:results.json" in files
    found = leaks(files, set(learned) | set(issued) | set(extra))
    assert not found, f"{len(found)} credential(s) written: {found[:10]}"
    evidence = b"".join(data for name, data in files.items() if name.startswith("evidence/")).decode()
    for kind in ISSUED_KINDS:  # the values are shown by stable placeholders instead
        assert f"<redacted:{kind}#1>" in evidence, kind
    return evidence


def test_no_credential_of_an_agent_run_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = yaml.safe_load(DEFAULT_SUT_FILE.read_text())
    sut = reference_agent_variant(tmp_path, "redaction", env={
        "MARGO_AGENT_FAULTS": "no-reauth", "MARGO_EXTRA_API_TOKEN": SUT_FILE_SECRET,
    }, secrets=[*document.get("secrets", []), "MARGO_EXTRA_API_TOKEN"])
    run, learned, issued = run_with_ledger(tmp_path, monkeypatch, sut)
    assert run.code == 1, run.stderr[-3000:]
    assert learned.get(SUT_FILE_SECRET) == credentials.SUT_SECRET
    check_no_credential_written(run, learned, issued, {SUT_FILE_SECRET})
    # Failures were written too (results.json, junit.xml, run.log, report.html): the token ones.
    failed = [s for s in run.results["scenarios"] if s["outcome"] == "fail" and "TOK-001" in s["message"]]
    assert failed, [s["message"][:200] for s in run.results["scenarios"] if s["outcome"] == "fail"]


def test_no_credential_of_a_wos_run_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run, learned, issued = run_with_ledger(tmp_path, monkeypatch, REFERENCE_WOS_FILE)
    assert run.code == 0, run.stderr[-3000:]
    check_no_credential_written(run, learned, issued)
