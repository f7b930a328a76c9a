"""Starting the SUT as a local process (`launcher: process` in the SUT file), without Docker.

For the suite's own quick tier and for a vendor's development loop: the SUT file names a
command (`process.command`, placeholders filled per scenario) and a working directory. The
process gets the suite's environment plus the SUT file's `env`, in a session of its own so a
stop ends everything it started, and dies with the process that started it (Linux parent-death
signal), so a killed worker leaves nothing running. Its output lines stream into the scenario's
evidence as a container's log lines do, and readiness is the same `ready.log` line or HTTP probe.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping

import httpx

from margo_conformance.base import credentials, redaction
from margo_conformance.base.errors import SutError
from margo_conformance.base.evidence import CONTAINER, LOG, Event, EvidenceLog
from margo_conformance.config.placeholders import render
from margo_conformance.config.run_config import SutConfig

#: prctl(PR_SET_PDEATHSIG): the kernel signals the child when the thread that forked it ends.
_PR_SET_PDEATHSIG = 1
HTTP_PROBE_INTERVAL_S = 0.1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class SutProcess:
    """One running instance of the SUT as a child process, its output flowing into the evidence."""

    def __init__(self, config: SutConfig, values: Mapping[str, str], evidence: EvidenceLog) -> None:
        if config.process is None:
            raise SutError("the SUT file's launcher is `process` but it has no `process.command`")
        self.config = config
        self.evidence = evidence
        self.command = [render(part, values) for part in config.process.command]
        self.cwd = config.process.cwd
        self.env = self._environment(config, values)
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._first_event = 0
        self.exit_code: int | None = None

    @staticmethod
    def _environment(config: SutConfig, values: Mapping[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        for name, template in config.env.items():
            value = render(template, values)
            if name in config.secrets:
                redaction.learn(credentials.SUT_SECRET, value)
            env[name] = value
        return env

    def start(self) -> None:
        """Start and wait until ready; any failure is a one-line `SutError` and no process remains."""
        self.evidence.record(CONTAINER, f"starting process {self.command[0]}", command=self.command)
        self._first_event = len(self.evidence.events())  # readiness is judged on what follows
        try:
            self._process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, text=True, bufsize=1,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise SutError(f"cannot start the SUT process {self.command[0]!r}: {exc.strerror or exc}") from exc
        self._reader = threading.Thread(target=self._follow_output, name="sut-output", daemon=True)
        self._reader.start()
        why = self._wait_ready(self.config.timeouts.ready)
        if why is not None:
            tail = self._log_tail()
            self.stop()
            raise SutError(f"SUT did not become ready: {why}{tail}")
        self.evidence.record(CONTAINER, f"ready: pid {self._process.pid}", pid=self._process.pid)

    def _follow_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            if line.strip():
                self.evidence.record(LOG, line.rstrip())
        self.exit_code = self._process.wait()
        self.evidence.record(CONTAINER, f"exited with code {self.exit_code}", exit_code=self.exit_code)

    def _wait_ready(self, timeout_s: float) -> str | None:
        """None when ready; else why not (exited, or not ready within the timeout)."""
        ready = self.config.ready
        if ready.log:
            pattern = re.compile(ready.log)
            found = self.evidence.wait_for(
                lambda events: self._ready_or_exited(events[self._first_event:], pattern), timeout_s)
            if found == "ready":
                return None
            return "the process exited before it was ready" if found == "exited" \
                else f"no log line matching {ready.log!r} within {timeout_s:g}s"
        if ready.http_port:
            with self.evidence.waiting():
                return self._probe_http(ready.http_port, ready.http_path, ready.http_status, timeout_s)
        return None

    @staticmethod
    def _ready_or_exited(events: list[Event], pattern: re.Pattern[str]) -> str | None:
        for event in events:
            if event.kind == LOG and pattern.search(event.summary):
                return "ready"
            if event.kind == CONTAINER and "exit_code" in event.data:
                return "exited"
        return None

    def _probe_http(self, port: int, path: str, status: int, timeout_s: float) -> str | None:
        url = f"http://127.0.0.1:{port}{path}"
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not self.is_running():
                    return "the process exited before it was ready"
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == status:
                        return None
                # a readiness probe has no event to wait on: the stop of this wait is the process's exit
                if self._process is not None and self._wait_exit(HTTP_PROBE_INTERVAL_S):
                    return "the process exited before it was ready"
        return f"GET {url} did not answer {status} within {timeout_s:g}s"

    def _wait_exit(self, seconds: float) -> bool:
        assert self._process is not None
        try:
            self._process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def exec(self, command: list[str], timeout_s: float) -> tuple[int, str]:
        """Run a command beside the SUT (its working directory and environment); (exit code, output)."""
        try:
            done = subprocess.run(command, cwd=self.cwd, env=self.env, capture_output=True, text=True,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return -1, f"no result within {timeout_s:g}s"
        except OSError as exc:
            return -1, f"cannot run {command[0]!r}: {exc.strerror or exc}"
        return done.returncode, done.stdout + done.stderr

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """SIGTERM to the process's session, SIGKILL after `timeouts.stop`."""
        process = self._process
        if process is None:
            return
        with self.evidence.waiting():
            self._signal_session(signal.SIGTERM)
            try:
                process.wait(timeout=self.config.timeouts.stop)
            except subprocess.TimeoutExpired:
                self._signal_session(signal.SIGKILL)
                process.wait()
            self._signal_session(signal.SIGKILL)  # anything it started and left behind
            if self._reader is not None:
                self._reader.join(timeout=self.config.timeouts.stop)

    def _signal_session(self, signum: int) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    def _log_tail(self, lines: int = 3) -> str:
        """The last log lines, and the first error line before them: a server that could not
        bind its port says so above its traceback (the caller retries on those words)."""
        text = [e.summary for e in self.evidence.events(LOG)]
        if not text:
            return "; no log output"
        cause = next((line for line in text[:-lines] if "error" in line.lower()), None)
        return (f"; error: {cause}" if cause else "") + f"; last log: {' | '.join(text[-lines:])}"
