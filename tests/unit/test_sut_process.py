"""The process launcher with real child processes (no Docker): output into evidence, readiness,
a clear error when the process exits or never says it is ready, and a stop that ends its session."""

from __future__ import annotations

import os
import select
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from margo_conformance.base.errors import SutError
from margo_conformance.base.evidence import CONTAINER, LOG, EvidenceLog
from margo_conformance.config.run_config import ProcessSpec, ReadySpec, SutConfig, Timeouts, load_sut_file
from margo_conformance.engine.launch import sut_instance
from margo_conformance.engine.process import SutProcess

# A SUT that runs until it is signalled (signal.pause), with a child of its own.
CHILD = """
import os, signal, subprocess, sys
print("hello from", os.environ["GREETING"], flush=True)
if sys.argv[1] == "exit":
    sys.exit(3)
if sys.argv[1] == "port-taken":  # as uvicorn says it: the cause, then a traceback
    print("ERROR:    [Errno 98] error while attempting to bind: address already in use", flush=True)
    for line in ("Traceback (most recent call last):", "  File server.py, line 192", "SystemExit: 3"):
        print(line, flush=True)
    sys.exit(3)
grandchild = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
print("grandchild", grandchild.pid, flush=True)
print("ready", flush=True)
signal.pause()
"""


def _config(tmp_path: Path, mode: str, ready: str = "^ready$", timeout: float = 10.0) -> SutConfig:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return SutConfig(
        path=tmp_path / "sut.yaml", name="child", role="agent", launcher="process",
        process=ProcessSpec(command=("{python}", str(script), mode), cwd=tmp_path),
        env={"GREETING": "{device_id}"}, ready=ReadySpec(log=ready), timeouts=Timeouts(ready=timeout, stop=2),
    )


def _values() -> dict[str, str]:
    return {"python": sys.executable, "device_id": "device-7"}


def _ends_within(pid: int, seconds: float) -> bool:
    """Whether the process ends within `seconds` (a pidfd turns readable when it does)."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([descriptor], [], [], seconds)[0])
    finally:
        os.close(descriptor)


def test_a_process_sut_streams_its_output_and_its_stop_ends_what_it_started(tmp_path: Path) -> None:
    evidence = EvidenceLog()
    sut = sut_instance(_config(tmp_path, "serve"), _values(), evidence, "run-1")
    assert isinstance(sut, SutProcess)
    sut.start()
    lines = [e.summary for e in evidence.events(LOG)]
    assert lines[0] == "hello from device-7" and lines[-1] == "ready"
    grandchild = int(next(line for line in lines if line.startswith("grandchild")).split()[1])
    assert sut.is_running() and not _ends_within(grandchild, 0)
    code, output = sut.exec(["sh", "-c", "echo $GREETING"], timeout_s=5)
    assert (code, output.strip()) == (0, "device-7")
    sut.stop()
    assert not sut.is_running() and _ends_within(grandchild, 5)
    assert any("exited with code" in e.summary for e in evidence.events(CONTAINER))


def test_a_process_that_exits_before_it_is_ready_is_one_line_naming_its_last_output(tmp_path: Path) -> None:
    sut = SutProcess(_config(tmp_path, "exit"), _values(), EvidenceLog())
    with pytest.raises(SutError, match=r"exited before it was ready; last log: hello from device-7"):
        sut.start()
    assert not sut.is_running()


def test_a_port_that_was_taken_is_named_in_the_error_above_the_traceback(tmp_path: Path) -> None:
    # WosUnderTest picks new ports when the error says the port was taken.
    sut = SutProcess(_config(tmp_path, "port-taken"), _values(), EvidenceLog())
    with pytest.raises(SutError, match=r"\[Errno 98\].*address already in use; last log: .*SystemExit: 3"):
        sut.start()


def test_a_process_that_never_says_it_is_ready_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    sut = SutProcess(_config(tmp_path, "serve", ready="^never$", timeout=1.0), _values(), EvidenceLog())
    with pytest.raises(SutError, match=r"no log line matching '\^never\$' within 1s"):
        sut.start()
    assert not sut.is_running()


def test_a_command_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path, "serve")
    config = replace(config, process=ProcessSpec(command=("/no/such/program",), cwd=tmp_path))
    with pytest.raises(SutError, match="cannot start the SUT process '/no/such/program'"):
        SutProcess(config, _values(), EvidenceLog()).start()


def test_the_sut_file_declares_the_process_launcher(tmp_path: Path) -> None:
    (tmp_path / "agent").mkdir()
    path = tmp_path / "sut.yaml"
    path.write_text(
        "name: p\nrole: agent\nlauncher: process\n"
        "process: {command: ['{python}', '-m', 'x'], cwd: agent}\nenv: {STATE: '{state_dir}'}\n"
    )
    sut = load_sut_file(path)
    assert not sut.in_containers and sut.process == ProcessSpec(("{python}", "-m", "x"), (tmp_path / "agent"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: p\nrole: agent\nlauncher: process\n", "process"),
        ("name: p\nrole: agent\n", "image"),
        ("name: p\nrole: agent\nimage: i\nenv: {S: '{state_dir}'}\n", "filled only for `launcher: process`"),
    ],
    ids=["process-without-command", "container-without-image", "process-placeholder-in-a-container"],
)
def test_a_launcher_without_what_it_needs_is_refused(tmp_path: Path, text: str, message: str) -> None:
    from margo_conformance.base.errors import ConfigError

    path = tmp_path / "sut.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_sut_file(path)
