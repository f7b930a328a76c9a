"""The certification bundle: the run's outputs in one signed tar.gz, and its verification.

Layout of `bundle.tar.gz` (flat, paths relative to the report directory)::

    manifest.json    format, run id, verdict, SUT, and every file with its SHA-256 and size
    signature.json   Ed25519 signature over the exact bytes of manifest.json, the signer's
                     public key (PEM) and its fingerprint, and the manifest's SHA-256
    results.json  report.html  junit.xml  run.log  evidence/NNN-*.json

The signature covers the manifest and the manifest covers every file, so one changed byte
anywhere is found and named. A key generated per bundle only proves the files belong
together; to prove *who* signed, sign with `--signing-key` and verify with `--trusted-key`
(or compare the printed fingerprint with one published out of band).

Keys: `openssl genpkey -algorithm ed25519 -out signing-key.pem` and
`openssl pkey -in signing-key.pem -pubout -out signing-key.pub`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from margo_conformance.base.errors import ConfigError

BUNDLE_FILE = "bundle.tar.gz"
BUNDLE_FORMAT = "margo-conformance-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"
CONTROL_FILES = (MANIFEST, SIGNATURE)
REQUIRED_FILES = ("results.json", "report.html")
OPTIONAL_FILES = ("junit.xml", "run.log")
EVIDENCE_DIR = "evidence"


class BundleError(Exception):
    """The bundle could not be written (a required output is missing)."""


@dataclass(frozen=True)
class BundleInfo:
    path: Path
    fingerprint: str
    key_source: str  # "signing key FILE" or "key generated for this bundle"
    files: tuple[str, ...]


@dataclass
class Verification:
    """What verify found; `ok` only when every file matches and the signature holds."""

    bundle: Path
    problems: list[str] = field(default_factory=list)
    matching: list[str] = field(default_factory=list)
    signature: str = ""
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self, verbose: bool = False) -> list[str]:
        shown = [f"bundle: {self.bundle}" + (f" ({self.summary})" if self.summary else "")]
        if verbose:
            shown += [f"ok        {name}" for name in self.matching]
        shown += self.problems
        if self.signature:
            shown.append(self.signature)
        if self.ok:
            shown.append(
                f"result: VERIFIED: {len(self.matching)} file(s) match the signed manifest"
            )
        else:
            shown.append(f"result: FAILED: {len(self.problems)} problem(s)")
        return shown


# -- keys -------------------------------------------------------------------------------------


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"signing key {path}: {exc.strerror or exc}") from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"signing key {path}: not an unencrypted PEM private key ({exc})"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"signing key {path}: not an Ed25519 key "
            "(create one with `openssl genpkey -algorithm ed25519`)"
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A trusted signer: a PEM public key (a PEM private key is accepted and reduced to it)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"trusted key {path}: {exc.strerror or exc}") from exc
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"trusted key {path}: not a PEM Ed25519 public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"trusted key {path}: not an Ed25519 key")
    return key


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


# -- create -----------------------------------------------------------------------------------


def bundle_members(report_dir: Path) -> list[str]:
    """Relative paths of the outputs that go into a bundle, in a stable order."""
    missing = [name for name in REQUIRED_FILES if not (report_dir / name).is_file()]
    if missing:
        raise BundleError(f"{report_dir} has no {', '.join(missing)}")
    names = list(REQUIRED_FILES) + [n for n in OPTIONAL_FILES if (report_dir / n).is_file()]
    evidence = report_dir / EVIDENCE_DIR
    if evidence.is_dir():
        names += sorted(
            p.relative_to(report_dir).as_posix() for p in evidence.rglob("*") if p.is_file()
        )
    return names


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(report_dir: Path, names: Iterable[str]) -> dict[str, Any]:
    results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    sut = results.get("sut", {})
    files = []
    for name in names:
        data = (report_dir / name).read_bytes()
        files.append({"path": name, "sha256": sha256_hex(data), "size": len(data)})
    return {
        "format": BUNDLE_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run_id": results.get("run", {}).get("id"),
        "verdict": results.get("verdict"),
        "sut": {
            "name": sut.get("name"),
            "image": sut.get("image"),
            "image_id": sut.get("image_id"),
        },
        "suite": {
            k: results.get("suite", {}).get(k)
            for k in ("name", "version", "commit", "content_sha256")
        },
        "files": files,
    }


def _tar_add(archive: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    archive.addfile(info, io.BytesIO(data))


def create_bundle(
    report_dir: Path, target: Path | None = None, signing_key: Path | None = None
) -> BundleInfo:
    """Write the signed bundle of `report_dir` (default: REPORT_DIR/bundle.tar.gz)."""
    names = bundle_members(report_dir)
    manifest = build_manifest(report_dir, names)
    manifest_bytes = (json.dumps(manifest, indent=2) + "\n").encode()
    if signing_key is not None:
        key, source = load_signing_key(signing_key), f"signing key {signing_key}"
    else:
        key, source = Ed25519PrivateKey.generate(), "key generated for this bundle"
    public = key.public_key()
    signature = {
        "algorithm": "Ed25519",
        "signed_file": MANIFEST,
        "manifest_sha256": sha256_hex(manifest_bytes),
        "signature": base64.b64encode(key.sign(manifest_bytes)).decode(),
        "public_key": public_pem(public),
        "key_fingerprint": fingerprint(public),
        "key_source": "provided" if signing_key is not None else "generated",
    }
    target = target or report_dir / BUNDLE_FILE
    now = time.time()
    with tarfile.open(target, "w:gz") as archive:
        _tar_add(archive, MANIFEST, manifest_bytes, now)
        _tar_add(archive, SIGNATURE, (json.dumps(signature, indent=2) + "\n").encode(), now)
        for name in names:
            _tar_add(archive, name, (report_dir / name).read_bytes(), now)
    return BundleInfo(target, signature["key_fingerprint"], source, tuple(names))


# -- verify -----------------------------------------------------------------------------------


def read_members(path: Path) -> dict[str, bytes]:
    """Every regular file of the archive by name; links and unsafe names are refused."""
    members: dict[str, bytes] = {}
    # Decompress in full first: gzip's CRC then catches damage that tarfile alone would
    # read as an early end of the archive (it stops quietly at a bad header).
    raw = gzip.decompress(path.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
        for info in archive:
            name = info.name
            if not info.isfile():
                raise ValueError(f"{name}: not a regular file (links and devices are refused)")
            pure = PurePosixPath(name)
            if pure.is_absolute() or ".." in pure.parts:
                raise ValueError(f"{name}: unsafe path")
            handle = archive.extractfile(info)
            members[name] = handle.read() if handle is not None else b""
    return members


def verify_bundle(path: Path, trusted_key: Path | None = None) -> Verification:
    """Check every file against the manifest and the manifest against its signature."""
    result = Verification(path)
    trusted = load_public_key(trusted_key) if trusted_key is not None else None
    try:
        members = read_members(path)
    except FileNotFoundError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError, ValueError) as exc:
        result.problems.append(f"DAMAGED   {path.name}: not a readable tar.gz bundle ({exc})")
        return result
    manifest_bytes = members.get(MANIFEST)
    if manifest_bytes is None:
        result.problems.append(f"MISSING   {MANIFEST}: the bundle has no manifest")
        return result
    try:
        manifest = json.loads(manifest_bytes)
        listed = {entry["path"]: entry for entry in manifest["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        result.problems.append(f"MISMATCH  {MANIFEST}: not a valid manifest ({exc})")
        listed, manifest = {}, {}
    result.summary = (
        f"run {manifest.get('run_id', '?')}, verdict {manifest.get('verdict', '?')}, "
        f"{len(listed)} file(s)"
    )
    # The signature first: if the manifest itself was changed, say so before its file list.
    _check_signature(result, members, manifest_bytes, trusted)
    _check_files(result, members, listed)
    return result


def _check_files(result: Verification, members: dict[str, bytes], listed: dict[str, Any]) -> None:
    for name, entry in sorted(listed.items()):
        data = members.get(name)
        if data is None:
            result.problems.append(f"MISSING   {name}: listed in the manifest, not in the bundle")
        elif sha256_hex(data) != entry.get("sha256"):
            result.problems.append(
                f"MISMATCH  {name}: SHA-256 is {sha256_hex(data)}, "
                f"the manifest says {entry.get('sha256')}"
            )
        else:
            result.matching.append(name)
    for name in sorted(set(members) - set(listed) - set(CONTROL_FILES)):
        result.problems.append(f"EXTRA     {name}: in the bundle, not in the manifest")


def _check_signature(
    result: Verification,
    members: dict[str, bytes],
    manifest_bytes: bytes,
    trusted: Ed25519PublicKey | None,
) -> None:
    raw = members.get(SIGNATURE)
    if raw is None:
        result.problems.append(f"MISSING   {SIGNATURE}: the bundle is not signed")
        result.signature = "signature: NONE"
        return
    try:
        document = json.loads(raw)
        signature = base64.b64decode(document["signature"], validate=True)
        signer = serialization.load_pem_public_key(document["public_key"].encode())
        recorded_sha = document["manifest_sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        result.problems.append(f"MISMATCH  {SIGNATURE}: unreadable ({exc})")
        result.signature = "signature: INVALID (signature.json is damaged)"
        return
    if not isinstance(signer, Ed25519PublicKey):
        result.problems.append(f"MISMATCH  {SIGNATURE}: the signer's key is not Ed25519")
        result.signature = "signature: INVALID"
        return
    actual_sha = sha256_hex(manifest_bytes)
    if not _signature_holds(signer, signature, manifest_bytes):
        # Which file changed: if the manifest's digest still equals the signed one, the
        # manifest is as signed and signature.json (signature or key) was altered.
        culprit = MANIFEST if actual_sha != recorded_sha else SIGNATURE
        result.problems.append(
            f"MISMATCH  {culprit}: the Ed25519 signature over {MANIFEST} does not hold"
        )
        result.signature = f"signature: INVALID ({culprit} was changed after signing)"
        return
    if actual_sha != recorded_sha:
        result.problems.append(
            f"MISMATCH  {SIGNATURE}: its manifest_sha256 differs from the signed manifest"
        )
    signer_print = fingerprint(signer)
    if trusted is not None and fingerprint(trusted) != signer_print:
        result.problems.append(
            f"UNTRUSTED {SIGNATURE}: signed by key {signer_print}, "
            f"not by the trusted key {fingerprint(trusted)}"
        )
        result.signature = f"signature: valid, but by an untrusted key {signer_print}"
        return
    if trusted is not None:
        result.signature = f"signature: valid, by the trusted key {signer_print}"
    else:
        source = document.get("key_source", "unknown")
        note = (
            " (generated for this bundle: compare the fingerprint, or pass --trusted-key)"
            if source == "generated"
            else ""
        )
        result.signature = f"signature: valid, by key {signer_print}{note}"


def _signature_holds(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
