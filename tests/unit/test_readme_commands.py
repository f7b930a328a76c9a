"""The README's Quick start commands, as CI and the fresh-machine check take them."""

from __future__ import annotations

from pathlib import Path

from tools.readme_commands import README, quick_start_commands

CI_RUN = Path(__file__).resolve().parents[2] / ".ci" / "run"


def test_the_quick_start_has_the_setup_and_the_test_command() -> None:
    setup, test = quick_start_commands(README.read_text())
    assert "margo-conformance setup" in setup and "margo-conformance run" in setup
    assert test.endswith(".venv/bin/tox")


def test_no_command_installs_into_the_system_python() -> None:
    # PEP 668: Debian 12 and Ubuntu 24.04 refuse `pip install` outside a virtual environment.
    for command in quick_start_commands(README.read_text()):
        for part in command.split("&&"):
            assert "pip install" not in part or ".venv/bin/pip" in part, part


def test_ci_takes_the_test_command_from_the_readme() -> None:
    script = CI_RUN.read_text()
    assert "tools/readme_commands.py --test" in script and "tox -e selftest" in script
    assert "pip install" not in script


def test_only_the_sh_blocks_of_the_section_count() -> None:
    readme = (
        "# x\n## Quick start\n```sh\na && b\n```\ntext\n```yaml\nno: 1\n```\n"
        "```sh\nc\n```\n## Next\n```sh\nd\n```\n"
    )
    assert quick_start_commands(readme) == ["a && b", "c"]
