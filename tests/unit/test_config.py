"""SUT files: the reference ones load; each broken one is one line naming its field, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from margo_conformance.base.errors import ConfigError
from margo_conformance.base.paths import DEFAULT_SUT_FILE, FIXTURES_DIR
from margo_conformance.config.placeholders import PLACEHOLDERS, render
from margo_conformance.config.run_config import load_sut_file

INVALID = sorted((FIXTURES_DIR / "sut" / "invalid").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must say what it expects on line 1"
    return first.removeprefix("# expect: ")


def test_reference_agent_sut_file_loads() -> None:
    sut = load_sut_file(DEFAULT_SUT_FILE)
    assert sut.role == "agent" and sut.profiles == ("V24", "PR1")
    assert sut.build is not None and (sut.build.context / "Dockerfile").is_file()
    assert sut.ready.log and sut.polling.interval > 0


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_sut_file_names_the_field(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_sut_file(path)
    message = str(caught.value)
    assert "\n" not in message
    assert _expected(path) in message
    assert str(path) in message


def test_cli_exits_2_with_one_line_for_a_bad_sut_file(tmp_path: Path) -> None:
    bad = FIXTURES_DIR / "sut" / "invalid" / "timeout-not-a-number.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "margo_conformance", "run", "--sut", str(bad), "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "timeouts.ready" in lines[0]


def test_missing_sut_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read SUT file"):
        load_sut_file(tmp_path / "absent.yaml")


def test_secrets_are_redacted_but_placeholders_stay_visible(tmp_path: Path) -> None:
    path = tmp_path / "sut.yaml"
    path.write_text(
        "name: x\nrole: agent\nimage: i\n"
        "env:\n  API_TOKEN: literal-secret\n  ONBOARDING_KEY: '{onboarding_key}'\n  PLAIN: hello\n"
        "secrets: [PLAIN]\n"
    )
    shown = load_sut_file(path).redacted()["env"]
    # A value long enough is shown by its run-wide placeholder; a shorter one is only masked.
    assert shown["API_TOKEN"].startswith("<redacted:sutSecret#")
    assert shown == {"API_TOKEN": shown["API_TOKEN"], "ONBOARDING_KEY": "{onboarding_key}", "PLAIN": "***"}


def test_render_fills_every_documented_placeholder() -> None:
    values = {name: f"<{name}>" for name in PLACEHOLDERS}
    assert render("{wos_url}/x?{{literal}}", values) == "<wos_url>/x?{literal}"


# -- one configuration pass: validated once, handed to pytest and its workers -------------------


def _run_with_secret(tmp_path: Path):  # type: ignore[no-untyped-def]
    from margo_conformance.config.run_config import RunConfig

    document = yaml.safe_load((FIXTURES_DIR / "sut" / "reference-agent.yaml").read_text())
    document["env"]["VENDOR_API_TOKEN"] = "s3cr3t-vendor-token-value"
    document["build"]["context"] = str((FIXTURES_DIR / "sut" / document["build"]["context"]).resolve())
    sut_file = tmp_path / "agent.yaml"
    sut_file.write_text(yaml.safe_dump(document))
    return RunConfig(sut=load_sut_file(sut_file), report_dir=tmp_path / "report", run_id="run-x", base_image="b:1")


def test_the_handed_over_configuration_is_the_validated_one(tmp_path: Path) -> None:
    from margo_conformance.config.run_config import load_run_config, save_run_config

    run = _run_with_secret(tmp_path)
    handover = tmp_path / "run-config.pickle"
    save_run_config(run, handover)
    assert load_run_config(handover) == run
    assert handover.stat().st_mode & 0o077 == 0  # secrets inside: owner only


def test_a_handover_that_is_not_a_run_configuration_is_one_config_error(tmp_path: Path) -> None:
    from margo_conformance.config.run_config import load_run_config

    (tmp_path / "bad").write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match="cannot load the run configuration"):
        load_run_config(tmp_path / "bad")


def test_the_effective_configuration_fills_in_defaults_and_shows_no_secret(tmp_path: Path) -> None:
    run = _run_with_secret(tmp_path)
    shown = run.effective()
    assert shown["run_id"] == "run-x" and shown["sut"]["role"] == "agent"
    assert shown["sut"]["timeouts"]["deployment"] == run.sut.timeouts.deployment  # a default, written out
    assert shown["sut"]["polling"] == {"interval": run.sut.polling.interval, "tolerance": run.sut.polling.tolerance}
    assert "s3cr3t-vendor-token-value" not in json.dumps(shown)
