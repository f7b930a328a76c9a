"""The downtime window (CFG-001): parsed from ISO 8601, and nobody talks to the WOS inside it."""

from __future__ import annotations

import threading

import pytest
from margo_agent.config import ConfigError, load_config
from margo_agent.downtime import DowntimeGuard, DowntimeWindow, parse_window

REQUIRED = {"MARGO_WOS_URL": "http://wos:1", "MARGO_DEVICE_ID": "d", "MARGO_ONBOARDING_KEY": "k"}


def test_a_window_is_an_iso_8601_interval() -> None:
    window = parse_window("1970-01-01T00:00:10Z/1970-01-01T00:00:14Z")
    assert window == DowntimeWindow(10.0, 14.0)
    assert str(window) == "1970-01-01T00:00:10Z/1970-01-01T00:00:14Z"
    assert parse_window("1970-01-01T01:00:10+01:00/1970-01-01T00:00:14") == DowntimeWindow(10.0, 14.0)


@pytest.mark.parametrize("text", ["", "   "])
def test_no_text_no_window(text: str) -> None:
    assert parse_window(text) is None


@pytest.mark.parametrize("text", ["1970-01-01T00:00:10Z", "1970-01-01T00:00:14Z/1970-01-01T00:00:10Z", "soon/later"])
def test_a_malformed_window_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigError, match="MARGO_DOWNTIME_WINDOW"):
        load_config({**REQUIRED, "MARGO_DOWNTIME_WINDOW": text})


def test_the_configured_window_reaches_the_config() -> None:
    config = load_config({**REQUIRED, "MARGO_DOWNTIME_WINDOW": "1970-01-01T00:00:10Z/1970-01-01T00:00:14Z"})
    assert config.downtime_window == DowntimeWindow(10.0, 14.0)
    assert load_config(REQUIRED).downtime_window is None


def test_remaining_time_only_inside_the_window() -> None:
    window = DowntimeWindow(10.0, 14.0)
    assert window.remaining(9.9) == 0
    assert window.remaining(10.0) == 4.0
    assert window.remaining(13.5) == 0.5
    assert window.remaining(14.0) == 0


class RecordingStop(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return False


def test_the_guard_waits_out_an_open_window_and_lets_everything_else_through() -> None:
    stop = RecordingStop()
    now = [12.0]
    guard = DowntimeGuard(DowntimeWindow(10.0, 14.0), stop, clock=lambda: now[0])
    assert guard.wait_out("poll")
    assert stop.waits == [2.0]
    now[0] = 15.0
    assert guard.wait_out("poll")
    assert stop.waits == [2.0]


def test_without_a_window_or_with_the_fault_switch_nothing_waits() -> None:
    stop = RecordingStop()
    assert DowntimeGuard(None, stop, clock=lambda: 12.0).wait_out("poll")
    assert DowntimeGuard(DowntimeWindow(10.0, 14.0), stop, clock=lambda: 12.0, disabled=True).wait_out("poll")
    assert stop.waits == []


def test_a_stopping_agent_does_not_go_on_after_the_window() -> None:
    stop = threading.Event()
    stop.set()
    assert not DowntimeGuard(DowntimeWindow(0.0, 1e12), stop).wait_out("poll")


def test_a_window_in_the_agents_own_format_is_read_and_iso_is_then_refused() -> None:
    config = load_config({**REQUIRED, "MARGO_DOWNTIME_FORMAT": "epoch-duration", "MARGO_DOWNTIME_WINDOW": "10+4"})
    assert config.downtime_window == DowntimeWindow(10.0, 14.0)
    with pytest.raises(ConfigError, match="MARGO_DOWNTIME_WINDOW"):
        load_config({**REQUIRED, "MARGO_DOWNTIME_FORMAT": "epoch-duration",
                     "MARGO_DOWNTIME_WINDOW": "1970-01-01T00:00:10Z/1970-01-01T00:00:14Z"})
    with pytest.raises(ConfigError, match="MARGO_DOWNTIME_FORMAT"):
        load_config({**REQUIRED, "MARGO_DOWNTIME_FORMAT": "cron"})
