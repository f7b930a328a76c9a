"""Redaction by value: every credential a run sees is replaced by a stable placeholder wherever
the run writes.

Credentials are *learned* where they cross the wire: the emulated WOS learns the onboarding
keys, client secrets, access and Git tokens it issues and every Authorization header it is
sent; the simulated device learns what a WOS under test hands it; the SUT file's secret
values are learned when the run starts. Whatever the run then writes (evidence, run.log,
results.json, report.html, junit.xml, allure-results, the bundle) passes through `redact`,
which replaces each learned value, wherever it appears (a SUT log line, an error message, a
failure message quoting an exchange), by `<redacted:KIND#N>`. Text being redacted is also
scanned for credentials by their shape (margo_conformance.base.credentials), so those are
caught even when nothing learned them first.

A value keeps the kind it was first learned as, and its number counts the distinct values of
that kind in the order the run learned them. One run is several processes under pytest-xdist
(`--workers N`), so the values live in a ledger file shared by the run's processes (appended
under an exclusive lock, read by every process before it redacts): placeholders are the same
in every file of the run, and a value one worker learned is redacted by all. The ledger is
created in a private temporary directory outside the report directory and removed when the
run ends (`run_ledger`).

Values shorter than `MIN_LENGTH` are not learned: replacing them would garble unrelated text
(numbers, short words), and nothing that short is a credential worth the name.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from margo_conformance.base.credentials import (
    BASIC_CREDENTIALS,
    BEARER_TOKEN,
    PASSWORD,
    PRIVATE_KEY,
    URL_CREDENTIALS,
    authorization_headers,
    base64_text,
    form_fields,
    is_form,
    member_kind,
    pem_body,
    private_key_blocks,
    url_passwords,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per run is still consistent
    fcntl = None  # type: ignore[assignment]

#: Environment variable naming the run's ledger; set by whoever opens the run (runner or
#: plugin) so pytest-xdist workers, which inherit the environment, join the same ledger.
LEDGER_ENV = "MARGO_REDACTION_LEDGER"
MIN_LENGTH = 6

#: A run of token characters that a shortened text ends with, just before its ellipsis.
_BEFORE_ELLIPSIS = re.compile(r"([A-Za-z0-9\-_~+/=]{6,})(?=\.\.\.|\u2026)")


def placeholder(kind: str, number: int) -> str:
    return f"<redacted:{kind}#{number}>"


def variants(value: str) -> set[str]:
    """The forms a value takes in the files a run writes: as is, percent-encoded (URLs,
    forms), JSON-escaped and HTML-escaped (third-party writers escape what they write)."""
    forms = {value, quote(value, safe=""), json.dumps(value)[1:-1], html.escape(value, quote=True)}
    if "\n" in value:  # PEM blocks: also as one line and with CRLF line ends
        forms |= {value.replace("\n", "\r\n"), value.replace("\n", "")}
    return {f for f in forms if len(f) >= MIN_LENGTH}


class Redactor:
    """The run's learned credentials (optionally shared through a ledger file) and the
    replacement of each by its placeholder, in text, bytes and JSON-like structures."""

    def __init__(self, ledger: Path | None = None) -> None:
        self.ledger = ledger
        self._lock = threading.RLock()
        self._placeholders: dict[str, str] = {}  # value -> placeholder
        self._kinds: dict[str, str] = {}  # value -> kind
        self._counts: dict[str, int] = {}
        self._read_up_to = 0
        self._ordered: list[str] | None = None
        self._by_form: dict[str, str] = {}

    # -- learning ------------------------------------------------------------------------

    def learn(self, kind: str, value: object) -> str | None:
        """Remember `value` as a credential of `kind`; its placeholder (None when not learned)."""
        if not isinstance(value, str) or len(value.strip()) < MIN_LENGTH:
            return None
        value = value.strip()
        with self._lock:
            if value not in self._placeholders and self.ledger is not None:
                self._append_to_ledger(kind, value)
            elif value not in self._placeholders:
                self._add(kind, value)
            return self._placeholders[value]

    def learn_authorization(self, header: object) -> None:
        """An Authorization header value: the Bearer token, or the Basic credentials, the
        base64 text as sent and the password it decodes to."""
        if not isinstance(header, str):
            return
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer":
            self.learn(BEARER_TOKEN, credentials)
        elif scheme.lower() == "basic":
            self.learn(BASIC_CREDENTIALS, credentials)
            decoded = base64_text(credentials)
            if decoded is not None and ":" in decoded:
                self.learn(PASSWORD, decoded.partition(":")[2])
        elif credentials:
            self.learn("authorization", credentials)

    def learn_url(self, url: object) -> None:
        """Credentials embedded in a URL (`scheme://user:password@host`): the password."""
        if not isinstance(url, str) or "@" not in url:
            return
        with contextlib.suppress(ValueError):
            password = urlsplit(url).password
            if password:
                self.learn(URL_CREDENTIALS, unquote(password))

    def learn_document(self, document: object) -> None:
        """Every credential member of a JSON-like document (nested), and credentials in URLs."""
        if isinstance(document, Mapping):
            for name, value in document.items():
                kind = member_kind(str(name))
                if kind is not None and isinstance(value, str):
                    self.learn(kind, value)
                elif str(name).lower() == "authorization":
                    self.learn_authorization(value)
                else:
                    self.learn_document(value)
        elif isinstance(document, list | tuple):
            for item in document:
                self.learn_document(item)
        elif isinstance(document, str):
            self.learn_shapes(document)

    def learn_body(self, body: bytes | str | None, content_type: str = "") -> None:
        """A request or response body: JSON members, form fields, credential shapes."""
        if not body:
            return
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        try:
            self.learn_document(json.loads(text))
        except ValueError:
            if "form" in content_type or is_form(text.strip()):
                self.learn_document(form_fields(text.strip()))
        self.learn_shapes(text)

    def learn_headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        items = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in items:
            if name.lower() in ("authorization", "proxy-authorization"):
                self.learn_authorization(value)

    def learn_shapes(self, text: str) -> None:
        """Credentials recognisable by their shape alone: Authorization headers (Bearer,
        Basic), URL userinfo and PEM private keys."""
        for block in private_key_blocks(text):
            self.learn(PRIVATE_KEY, block)
            self.learn(PRIVATE_KEY, pem_body(block))
        for header in authorization_headers(text):
            self.learn_authorization(header)
        for password in url_passwords(text):
            self.learn(URL_CREDENTIALS, password)

    def known(self) -> dict[str, str]:
        """value -> kind of every credential learned so far (for tests and audits)."""
        self._sync()
        with self._lock:
            return dict(self._kinds)

    # -- redacting -----------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        if not text:
            return text
        self.learn_shapes(text)
        present = [form for form in self._forms() if form in text]  # C-speed scans, then one pass
        if present:
            pattern = re.compile("|".join(re.escape(form) for form in present))
            text = pattern.sub(lambda m: self._by_form[m.group(0)], text)
        return self._redact_cut_prefixes(text) if "..." in text or "\u2026" in text else text

    def _redact_cut_prefixes(self, text: str) -> str:
        """The start of a credential that text shortened by someone else ends with ("abc123...").
        Where the suite cuts, it redacts first; this catches the cuts it does not own."""
        values = list(self._placeholders.items())

        def replace(match: re.Match[str]) -> str:
            run = match.group(1)
            for value, shown in values:
                for start in range(max(0, len(run) - len(value)), len(run) - MIN_LENGTH + 1):
                    if value.startswith(run[start:]):
                        return run[:start] + shown
            return run

        return _BEFORE_ELLIPSIS.sub(replace, text)

    def redact_bytes(self, data: bytes) -> bytes:
        if not data:
            return data
        self.learn_shapes(data.decode("utf-8", errors="replace"))
        present = [form for form in self._forms() if form.encode("utf-8") in data]
        if not present:
            return data
        pattern = re.compile(b"|".join(re.escape(form.encode("utf-8")) for form in present))
        return pattern.sub(lambda m: self._by_form[m.group(0).decode("utf-8")].encode("utf-8"), data)

    def redact(self, value: Any) -> Any:
        """A copy of a JSON-like value (dicts, lists, strings, bytes) with every credential
        replaced; member names are redacted too, other scalars are kept."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, bytes | bytearray):
            return self.redact_bytes(bytes(value))
        if isinstance(value, Mapping | list | tuple):
            # One pass over the serialised document is far cheaper than one per string; the
            # JSON-escaped form of every value is among those replaced.
            return json.loads(self.redact_text(json.dumps(value, default=str)))
        return value

    def redact_file(self, path: Path) -> bool:
        """Rewrite `path` with every credential replaced; True when it changed."""
        data = path.read_bytes()
        cleaned = self.redact_bytes(data)
        if cleaned == data:
            return False
        path.write_bytes(cleaned)
        return True

    def redact_tree(self, root: Path) -> list[Path]:
        """Redact every regular file under `root` (or `root` itself); the files changed."""
        if root.is_file():
            return [root] if self.redact_file(root) else []
        if not root.is_dir():
            return []
        return [p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink() and self.redact_file(p)]

    # -- internals -----------------------------------------------------------------------

    def _add(self, kind: str, value: str) -> None:
        if value in self._placeholders:
            return
        self._counts[kind] = self._counts.get(kind, 0) + 1
        self._placeholders[value] = placeholder(kind, self._counts[kind])
        self._kinds[value] = kind
        self._ordered = None

    def _append_to_ledger(self, kind: str, value: str) -> None:
        assert self.ledger is not None
        line = (json.dumps({"kind": kind, "value": value}) + "\n").encode("utf-8")
        with self.ledger.open("a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._read_ledger(handle)  # another process may have learned it meanwhile
                if value not in self._placeholders:
                    handle.seek(0, os.SEEK_END)
                    handle.write(line)
                    handle.flush()
                    self._read_ledger(handle)
            finally:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _sync(self) -> None:
        """Take in what the run's other processes learned since the last look."""
        if self.ledger is None:
            return
        with self._lock:
            try:
                if self.ledger.stat().st_size <= self._read_up_to:
                    return
                with self.ledger.open("rb") as handle:
                    self._read_ledger(handle)
            except FileNotFoundError:
                return

    def _read_ledger(self, handle: Any) -> None:
        handle.seek(self._read_up_to)
        while True:
            line = handle.readline()
            if not line.endswith(b"\n"):  # none left, or a line still being written
                break
            self._read_up_to = handle.tell()
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entry = json.loads(line)
                self._add(str(entry["kind"]), str(entry["value"]))

    def _forms(self) -> list[str]:
        """Every form of every learned value, longest first (a value containing another is
        replaced as a whole); the map from form to placeholder is kept beside it."""
        self._sync()
        with self._lock:
            if self._ordered is None:
                by_form: dict[str, str] = {}
                for value, shown in self._placeholders.items():
                    for form in variants(value):
                        by_form.setdefault(form, shown)
                self._by_form = by_form
                self._ordered = sorted(by_form, key=len, reverse=True)
            return self._ordered


# -- the run's redactor ------------------------------------------------------------------------

_current = Redactor()
_current_lock = threading.Lock()


def current() -> Redactor:
    """This process's redactor for the run under way. Credentials are issued deep inside
    servers and clients of many modules, and one process serves exactly one run, so this is
    a process-wide object rather than a parameter threaded through all of them."""
    return _current


def learn(kind: str, value: object) -> str | None:
    return _current.learn(kind, value)


def redact(value: Any) -> Any:
    return _current.redact(value)


def redact_text(text: str) -> str:
    return _current.redact_text(text)


def attach(ledger: Path | None) -> Redactor:
    """Make this process's redactor the one backed by `ledger` (None: memory only), keeping
    what it learned so far."""
    global _current
    with _current_lock:
        if _current.ledger == ledger:
            return _current
        previous = _current
        _current = Redactor(ledger)
        for value, kind in previous.known().items():
            _current.learn(kind, value)
        return _current


@contextlib.contextmanager
def run_ledger(report_dir: Path | None = None) -> Iterator[Redactor]:
    """Open the run's ledger for this process and the processes it starts; closed (and
    removed, when this call created it) at the end.

    Tests only: `MARGO_REDACTION_LEDGER` set by the caller names a ledger that is used and
    kept, so a test can read back every credential the run learned. It must lie outside the
    report directory. Normal runs leave it unset and get a private temporary ledger.
    """
    given = os.environ.get(LEDGER_ENV)
    if given:
        path = Path(given).resolve()
        if report_dir is not None and path.is_relative_to(report_dir.resolve()):
            raise ValueError(f"{LEDGER_ENV}={given} lies inside the report directory {report_dir}")
        try:
            yield attach(path)
        finally:
            attach(None)
        return
    directory = Path(tempfile.mkdtemp(prefix="margo-redaction-"))  # mode 0700
    path = directory / "ledger.jsonl"
    path.touch(mode=0o600)
    os.environ[LEDGER_ENV] = str(path)
    try:
        yield attach(path)
    finally:
        os.environ.pop(LEDGER_ENV, None)
        attach(None)  # keeps what was learned, in memory, for anything written after the run
        shutil.rmtree(directory, ignore_errors=True)


def join_run_ledger() -> Redactor:
    """A process started for a run (a pytest-xdist worker) joins the ledger its parent opened."""
    given = os.environ.get(LEDGER_ENV)
    return attach(Path(given)) if given else _current
