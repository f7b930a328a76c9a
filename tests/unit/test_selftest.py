"""How selftest judges one mutant's results (no Docker)."""

from __future__ import annotations

from pathlib import Path

from margo_conformance.selftest import Mutant, judge, load_mutants, mutant_sut_file

import yaml


def _scenario(name: str, outcome: str, *requirements: str) -> dict:
    return {"name": name, "outcome": outcome, "requirements": list(requirements)}


MUTANT = Mutant("agent", "skip-installing", Path("x.yaml"), "FAULTS", violates=("STS-001",))


def test_killed_when_only_traced_scenarios_fail() -> None:
    results = {"verdict": "fail", "scenarios": [_scenario("a", "fail", "STS-001"), _scenario("b", "pass", "GIT-003")]}
    assert judge(MUTANT, results) == (["a"], [], True, "")


def test_a_failure_outside_the_violated_requirements_is_false() -> None:
    results = {"verdict": "fail", "scenarios": [_scenario("a", "fail", "STS-001"), _scenario("b", "fail", "GIT-003")]}
    killed, false, ok, note = judge(MUTANT, results)
    assert killed == ["a"] and false == ["b"] and not ok and note == "false failures"


def test_a_mutant_nothing_fails_survives() -> None:
    results = {"verdict": "pass", "scenarios": [_scenario("a", "pass", "STS-001")]}
    assert judge(MUTANT, results)[2:] == (False, "survived: no scenario failed")


def test_mutants_file_is_well_formed_and_starts_each_role_with_its_reference(tmp_path: Path) -> None:
    mutants = load_mutants()
    assert {m.role for m in mutants if m.is_reference} == {"agent", "wos"}
    for mutant in mutants:
        sut = yaml.safe_load(mutant_sut_file(mutant, tmp_path).read_text())
        assert Path(sut["build"]["context"]).is_dir()
        if not mutant.is_reference:
            assert sut["env"][mutant.fault_variable] == mutant.name
            assert mutant.violates


def test_a_mutant_runs_the_scenarios_of_its_requirements_and_references_run_all() -> None:
    from margo_conformance.selftest import mutant_selection

    assert mutant_selection(MUTANT) == "req_STS_001"
    two = Mutant("wos", "x", Path("x.yaml"), "F", violates=("CAP-002", "STS-002"))
    assert mutant_selection(two) == "req_CAP_002 or req_STS_002"
    assert mutant_selection(Mutant("agent", "reference", Path("x.yaml"), "F")) is None
