from __future__ import annotations

from pathlib import Path

import pytest
from margo_agent.config import ConfigError, load_config
from margo_agent.faults import NEVER_FETCH, SKIP_INSTALLING

REQUIRED = {
    "MARGO_WOS_URL": "http://wos.example:8080/",
    "MARGO_DEVICE_ID": "dev-1",
    "MARGO_ONBOARDING_KEY": "k-secret",
}


def test_defaults_apply_when_only_required_variables_are_set() -> None:
    config = load_config(REQUIRED)
    assert config.wos_url == "http://wos.example:8080"
    assert config.device_id == "dev-1"
    assert config.poll_interval_s == 30.0
    assert dict(config.workload_labels) == {}
    assert config.serial_number is None
    assert config.state_dir == Path("/var/lib/margo-agent")
    assert config.faults.active == frozenset()


def test_onboarding_key_is_not_shown_in_repr() -> None:
    assert "k-secret" not in repr(load_config(REQUIRED))


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_each_required_variable_is_required(missing: str) -> None:
    env = {key: value for key, value in REQUIRED.items() if key != missing}
    with pytest.raises(ConfigError, match=missing):
        load_config(env)


def test_optional_variables_are_parsed() -> None:
    config = load_config(
        {
            **REQUIRED,
            "MARGO_POLL_INTERVAL_S": "0.5",
            "MARGO_WORKLOAD_LABELS": "run=abc, suite = margo ,",
            "MARGO_SERIAL_NUMBER": "SN-9",
            "MARGO_STATE_DIR": "/tmp/agent",
            "MARGO_AGENT_FAULTS": "skip-installing,never-fetch",
        }
    )
    assert config.poll_interval_s == 0.5
    assert dict(config.workload_labels) == {"run": "abc", "suite": "margo"}
    assert config.serial_number == "SN-9"
    assert config.state_dir == Path("/tmp/agent")
    assert config.faults.active == {SKIP_INSTALLING, NEVER_FETCH}
    assert config.faults.skip_installing and config.faults.never_fetch
    assert not config.faults.exit_at_start


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MARGO_POLL_INTERVAL_S", "soon"),
        ("MARGO_POLL_INTERVAL_S", "0"),
        ("MARGO_POLL_INTERVAL_S", "nan"),
        ("MARGO_WORKLOAD_LABELS", "novalue"),
        ("MARGO_AGENT_FAULTS", "skip-instaling"),
        ("MARGO_WOS_URL", "wos.example"),
    ],
)
def test_invalid_values_are_rejected_with_the_variable_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config({**REQUIRED, name: value})
