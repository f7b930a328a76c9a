"""The certification bundle: a signed manifest of every file; verify names what does not match.

Done-when of the issue: a bundle verifies, and a one-byte change to any file in it makes
verify fail naming that file.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from margo_conformance.base.errors import ConfigError
from margo_conformance.commands.cli import main
from margo_conformance.report.bundle import (
    MANIFEST,
    SIGNATURE,
    create_bundle,
    load_signing_key,
    read_members,
    verify_bundle,
)
from margo_conformance.report.html.page import write_report
from tests.synthetic_results import write_failing_run


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "report"
    directory.mkdir()
    write_failing_run(directory)
    write_report(directory)
    return directory


def _write_key(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _public(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _rewrite(
    bundle: Path, target: Path, change: dict[str, bytes | None], add: dict[str, bytes] | None = None
) -> Path:
    """A copy of `bundle` with members replaced (None: removed) or added."""
    members = read_members(bundle)
    for name, data in change.items():
        if data is None:
            del members[name]
        else:
            members[name] = data
    members.update(add or {})
    with tarfile.open(target, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return target


def _flip_one_byte(data: bytes, where: float = 0.5) -> bytes:
    at = min(int(len(data) * where), len(data) - 1)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_a_bundle_holds_every_output_and_verifies(report_dir: Path) -> None:
    info = create_bundle(report_dir)
    names = set(read_members(info.path))
    assert {MANIFEST, SIGNATURE, "results.json", "report.html", "junit.xml", "run.log"} <= names
    assert any(n.startswith("evidence/") for n in names)
    verification = verify_bundle(info.path)
    assert verification.ok, verification.lines()
    assert (
        info.fingerprint in verification.signature
        and "generated for this bundle" in verification.signature
    )
    assert verification.lines()[-1].startswith("result: VERIFIED")


@pytest.mark.parametrize("where", [0.0, 0.5, 0.97])
def test_a_one_byte_change_to_any_file_fails_verify_naming_that_file(
    report_dir: Path, tmp_path: Path, where: float
) -> None:
    bundle = create_bundle(report_dir).path
    for name, data in read_members(bundle).items():
        changed = _rewrite(bundle, tmp_path / "changed.tar.gz", {name: _flip_one_byte(data, where)})
        verification = verify_bundle(changed)
        assert not verification.ok, name
        named = [p for p in verification.problems if p.split()[1].rstrip(":") == name]
        assert named, f"changing {name} was reported as {verification.problems}"


def test_missing_and_extra_files_are_named(report_dir: Path, tmp_path: Path) -> None:
    bundle = create_bundle(report_dir).path
    changed = _rewrite(
        bundle, tmp_path / "c.tar.gz", {"junit.xml": None}, add={"notes.txt": b"hello"}
    )
    problems = verify_bundle(changed).problems
    assert any(p.startswith("MISSING") and "junit.xml" in p for p in problems)
    assert any(p.startswith("EXTRA") and "notes.txt" in p for p in problems)


def test_a_damaged_archive_is_reported_not_raised(report_dir: Path, tmp_path: Path) -> None:
    bundle = create_bundle(report_dir).path
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(_flip_one_byte(bundle.read_bytes()))
    verification = verify_bundle(damaged)
    assert not verification.ok and verification.problems[0].startswith("DAMAGED")


def test_a_given_signing_key_signs_and_a_trusted_key_is_required(
    report_dir: Path, tmp_path: Path
) -> None:
    ours, theirs = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    key_file = _write_key(tmp_path / "signing.pem", ours)
    bundle = create_bundle(report_dir, signing_key=key_file).path
    assert verify_bundle(bundle, trusted_key=_public(tmp_path / "ours.pub", ours)).ok
    untrusted = verify_bundle(bundle, trusted_key=_public(tmp_path / "theirs.pub", theirs))
    assert not untrusted.ok and untrusted.problems[0].startswith("UNTRUSTED")


def test_a_bundle_re_signed_by_someone_else_fails_against_the_trusted_key(
    report_dir: Path, tmp_path: Path
) -> None:
    ours = Ed25519PrivateKey.generate()
    bundle = create_bundle(report_dir).path  # fresh key: anyone could have made it
    assert not verify_bundle(bundle, trusted_key=_public(tmp_path / "ours.pub", ours)).ok


def test_only_unencrypted_ed25519_pem_keys_are_accepted(tmp_path: Path) -> None:
    ec = generate_private_key(SECP256R1())
    ec_file = tmp_path / "ec.pem"
    ec_file.write_bytes(
        ec.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="not an Ed25519 key"):
        load_signing_key(ec_file)
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        load_signing_key(tmp_path / "junk.pem")


def test_verify_on_the_command_line_exits_0_1_or_2(
    report_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = create_bundle(report_dir).path
    assert main(["verify", str(bundle)]) == 0
    assert "result: VERIFIED" in capsys.readouterr().out
    members = read_members(bundle)
    changed = _rewrite(
        bundle, tmp_path / "c.tar.gz", {"report.html": _flip_one_byte(members["report.html"])}
    )
    assert main(["verify", str(changed)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH  report.html" in out and "result: FAILED" in out
    assert main(["verify", str(tmp_path / "nope.tar.gz")]) == 2


def test_report_command_writes_the_bundle_of_an_existing_run(report_dir: Path) -> None:
    (report_dir / "report.html").unlink()
    assert main(["report", str(report_dir), "--bundle"]) == 0
    assert verify_bundle(report_dir / "bundle.tar.gz").ok
