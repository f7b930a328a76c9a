"""ensure_engine: a running engine is left alone; elsewhere it installs, starts, or explains."""

from __future__ import annotations

import subprocess
from pathlib import Path
from unittest import mock

import pytest

from margo_conformance.base.errors import EnvironmentSetupError
from margo_conformance.engine import daemon


def test_running_engine_is_left_alone() -> None:
    with (
        mock.patch.object(daemon, "engine_answers", return_value=True),
        mock.patch.object(daemon.subprocess, "Popen") as popen,
        mock.patch.object(daemon.subprocess, "run") as run,
    ):
        daemon.ensure_engine(log=lambda _: None)
    popen.assert_not_called()
    run.assert_not_called()


def test_not_root_without_an_engine_says_what_to_do() -> None:
    with (
        mock.patch.object(daemon, "engine_answers", return_value=False),
        mock.patch.object(daemon.os, "geteuid", return_value=1000),
        mock.patch.object(daemon.subprocess, "Popen") as popen,
        pytest.raises(EnvironmentSetupError, match="start Docker") as caught,
    ):
        daemon.ensure_engine(log=lambda _: None)
    popen.assert_not_called()
    assert "\n" not in str(caught.value)


def test_not_debian_without_an_engine_says_what_to_do() -> None:
    def which(name: str) -> str | None:
        return None if name == "apt-get" else f"/usr/bin/{name}"

    with (
        mock.patch.object(daemon, "engine_answers", return_value=False),
        mock.patch.object(daemon.os, "geteuid", return_value=0),
        mock.patch.object(daemon.shutil, "which", side_effect=which),
        pytest.raises(EnvironmentSetupError, match="root on Debian"),
    ):
        daemon.ensure_engine(log=lambda _: None)


def test_missing_dockerd_is_installed_then_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    answers = iter([False, True])  # not before the start, then on the first poll
    process = mock.Mock(spec=subprocess.Popen)
    process.poll.return_value = None
    with (
        mock.patch.object(daemon, "engine_answers", side_effect=lambda **_: next(answers)),
        mock.patch.object(daemon.os, "geteuid", return_value=0),
        mock.patch.object(
            daemon.shutil, "which", side_effect=lambda n: None if n == "dockerd" else n
        ),
        mock.patch.object(daemon.subprocess, "run") as run,
        mock.patch.object(daemon.subprocess, "Popen", return_value=process) as popen,
        mock.patch.object(daemon, "DOCKERD_LOG", tmp_path / "dockerd.log"),
    ):
        daemon.ensure_engine(log=lambda _: None)

    commands = [call.args[0] for call in run.call_args_list]
    assert commands == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "docker.io", "iptables"],
    ]
    assert all(call.kwargs["check"] for call in run.call_args_list)
    assert run.call_args_list[1].kwargs["env"]["DEBIAN_FRONTEND"] == "noninteractive"
    argv = popen.call_args.args[0]
    assert argv == ["dockerd"]
    assert popen.call_args.kwargs["start_new_session"] is True


def test_dockerd_that_exits_reports_its_last_log_line(tmp_path: Path) -> None:
    log_path = tmp_path / "dockerd.log"
    log_path.write_text("starting\nfailed to start daemon: iptables not found\n")
    process = mock.Mock(spec=subprocess.Popen, returncode=1)
    process.poll.return_value = 1
    with (
        mock.patch.object(daemon, "engine_answers", return_value=False),
        pytest.raises(EnvironmentSetupError, match="iptables not found"),
    ):
        daemon.wait_for_engine(process, log_path, deadline_s=5)
