"""SUT file placeholders: the README table, the load-time check and the roles fill the same set."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.paths import FIXTURES_DIR, SUITE_ROOT
from margo_conformance.config.placeholders import PLACEHOLDER_SCOPES, PLACEHOLDERS
from margo_conformance.config.run_config import RunConfig, load_sut_file
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.wos import WosUnderTest

SCOPE_WORDS = {"agent": "agent", "WOS": "wos", "build args": "build"}


def readme_placeholder_table() -> dict[str, set[str]]:
    """placeholder -> where the README says it is filled (agent, wos, build)."""
    text = (SUITE_ROOT / "README.md").read_text()
    table = text[text.index("| placeholder | filled for |"):].split("\n\n", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in table.splitlines()[2:]:
        names_cell, scopes_cell = line.split("|")[1:3]
        scopes = {SCOPE_WORDS[word.strip()] for word in scopes_cell.split(",")}
        for name in re.findall(r"`\{(\w+)\}`", names_cell):
            rows[name] = scopes
    return rows


def test_the_readme_table_lists_every_placeholder_where_the_code_fills_it() -> None:
    documented = readme_placeholder_table()
    assert set(documented) == set(PLACEHOLDERS)
    for name, scopes in documented.items():
        assert scopes == {scope for scope, names in PLACEHOLDER_SCOPES.items() if name in names}, name


def _run(sut_file: str, tmp_path: Path) -> RunConfig:
    sut = load_sut_file(FIXTURES_DIR / "sut" / sut_file)
    return RunConfig(sut=sut, report_dir=tmp_path, run_id="run-x", base_image="base:x", workload_image="base:x")


def test_the_agent_role_fills_exactly_the_agent_placeholders(tmp_path: Path) -> None:
    device = SimpleNamespace(device_id="device-1", onboarding_key="key", public_url=None)
    agent = AgentUnderTest(
        _run("reference-agent.yaml", tmp_path), SimpleNamespace(url_for_sut="http://wos:1"),  # type: ignore[arg-type]
        EvidenceLog(), tmp_path, _device=device,  # type: ignore[arg-type]
    )
    assert set(agent.placeholder_values()) == PLACEHOLDER_SCOPES["agent"]


def test_the_wos_role_fills_exactly_the_wos_placeholders(tmp_path: Path) -> None:
    wos = WosUnderTest(_run("reference-wos.yaml", tmp_path), EvidenceLog(), tmp_path, profile="PR1")
    values = wos.placeholder_values("http://wos:2")
    assert set(values) == PLACEHOLDER_SCOPES["wos"] and values["profile"] == "PR1"
