"""How selftest judges one mutant's results, schedules its runs and counts its coverage (no Docker)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import yaml

from margo_conformance.base.errors import ConfigError
from margo_conformance.base.requirements import load_catalogue
from margo_conformance.commands import kill_judgement, kill_matrix, selftest
from margo_conformance.commands import mutants as mutants_file
from margo_conformance.commands.kill_judgement import Judgement, MatrixRow, judge
from margo_conformance.commands.mutants import Mutant, load_mutants, mutant_sut_file, mutation_coverage
from margo_conformance.commands.subruns import ChildRun, run_bounded


def _scenario(name: str, outcome: str, *requirements: str) -> dict:
    return {"name": name, "outcome": outcome, "requirements": list(requirements)}


MUTANT = Mutant("agent", "skip-installing", Path("x.yaml"), "FAULTS", violates=("STS-001",))


def test_killed_when_only_traced_scenarios_fail() -> None:
    results = {"verdict": "fail", "scenarios": [_scenario("a", "fail", "STS-001"), _scenario("b", "pass", "GIT-003")]}
    assert judge(MUTANT, results) == Judgement(["a"], [], [], True, "")


def test_a_failure_outside_the_violated_requirements_is_false() -> None:
    results = {"verdict": "fail", "scenarios": [_scenario("a", "fail", "STS-001"), _scenario("b", "fail", "GIT-003")]}
    found = judge(MUTANT, results)
    assert found.killed_by == ["a"] and found.false_failures == ["b"]
    assert not found.ok and found.note == "false failures"


def test_a_mutant_nothing_fails_survives() -> None:
    results = {"verdict": "pass", "scenarios": [_scenario("a", "pass", "STS-001")]}
    found = judge(MUTANT, results)
    assert (found.ok, found.note) == (False, "survived: no scenario failed")


def test_a_scenario_the_mutant_kept_from_its_checks_is_blocked_not_false() -> None:
    results = {"verdict": "fail", "scenarios": [_scenario("a", "fail", "STS-001"), _scenario("b", "error", "GIT-003")]}
    assert judge(MUTANT, results) == Judgement(["a"], [], ["b"], True, "")


def test_an_error_alone_does_not_kill() -> None:
    results = {"verdict": "error", "scenarios": [_scenario("a", "error", "STS-001")]}
    found = judge(MUTANT, results)
    assert not found.ok and found.blocked == ["a"] and found.note == "survived: no scenario failed"


def test_a_reference_passes_only_when_nothing_fails_or_errors() -> None:
    reference = Mutant("agent", "reference", Path("x.yaml"), "FAULTS", outcome="pass")
    results = {"verdict": "error", "scenarios": [_scenario("a", "pass"), _scenario("b", "error")]}
    assert judge(reference, results) == Judgement([], ["b"], [], False, "reference verdict error",
                                                  {"b": "(no message)"})


def test_a_false_failure_keeps_the_first_line_of_its_message_for_the_matrix() -> None:
    wrong = dict(_scenario("b", "fail", "GIT-003"), message="GIT-003: not fetched within 3s.\n  + evidence")
    results = {"verdict": "fail", "scenarios": [_scenario("a", "fail", "STS-001"), wrong]}
    found = judge(MUTANT, results)
    assert found.reasons == {"b": "GIT-003: not fetched within 3s."}
    row = MatrixRow("agent", "skip-installing", ["STS-001"], "fail", found.killed_by, found.false_failures,
                    found.ok, 1.0, found.note, found.blocked, found.reasons)
    table = kill_matrix.matrix_markdown([row], mutation_coverage(load_mutants()))
    assert "- agent skip-installing: b: GIT-003: not fetched within 3s." in table


def test_mutants_file_is_well_formed_and_starts_each_role_with_its_reference(tmp_path: Path) -> None:
    mutants = load_mutants()
    assert {m.role for m in mutants if m.is_reference} == {"agent", "wos"}
    for mutant in mutants:
        sut = yaml.safe_load(mutant_sut_file(mutant, tmp_path).read_text())
        where = sut["build"]["context"] if mutant.launcher == "container" else sut["process"]["cwd"]
        assert Path(where).is_dir() and sut.get("launcher", "container") == mutant.launcher
        if not mutant.is_reference:
            assert sut["env"][mutant.fault_variable] == mutant.name
            assert mutant.violates


def test_a_mutant_runs_the_scenarios_of_its_requirements_and_references_run_all() -> None:
    from margo_conformance.commands.mutants import mutant_selection

    assert mutant_selection(MUTANT) == "req_STS_001"
    two = Mutant("wos", "x", Path("x.yaml"), "F", violates=("CAP-002", "STS-002"))
    assert mutant_selection(two) == "req_CAP_002 or req_STS_002"
    assert mutant_selection(Mutant("agent", "reference", Path("x.yaml"), "F")) is None


def test_every_must_requirement_the_features_trace_has_a_mutant() -> None:
    coverage = mutation_coverage(load_mutants())
    assert coverage.traced_must, "no MUST requirement is traced by the features"
    assert not coverage.missing, coverage.summary()


def test_mutants_only_name_requirements_of_the_catalogue() -> None:
    catalogue = load_catalogue()
    unknown = {r for m in load_mutants() for r in m.violates} - set(catalogue)
    assert not unknown


def test_a_run_that_overstays_is_stopped_with_sigterm_first() -> None:
    child = (
        "import signal, sys\n"
        "signal.signal(signal.SIGTERM, lambda *_: (print('cleaned up'), sys.exit(3)))\n"
        "print('ready', flush=True)\n"
        "signal.pause()\n"
    )
    run = run_bounded([sys.executable, "-c", child], timeout_s=1)
    assert run.timed_out and run.returncode == 3 and "cleaned up" in run.output


def test_mutants_run_in_parallel_after_the_references_and_keep_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []

    def fake_run_one(mutant: Mutant, report_root: Path, log, scope: str, only=None) -> MatrixRow:
        order.append(mutant.name)
        return MatrixRow(mutant.role, mutant.name, list(mutant.violates), "fail", [], [], True, 0.0)

    monkeypatch.setattr(selftest, "run_one", fake_run_one)
    rows = selftest.run_selftest(tmp_path, ["agent"], lambda _: None, jobs=3)
    assert order[0] == "reference" and rows[0].mutant == "reference"
    assert [r.mutant for r in rows] == [m.name for m in load_mutants(roles=["agent"])]
    document = json.loads((tmp_path / "kill-matrix.json").read_text())
    assert len(document["rows"]) == len(rows) and "missing" in document["coverage"]
    assert "MUST requirements traced by the features" in (tmp_path / "kill-matrix.md").read_text()


def test_false_failures_are_confirmed_after_every_mutant_ran_one_mutant_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []

    def fake_run_one(mutant: Mutant, report_root: Path, log, scope: str, only=None) -> MatrixRow:
        events.append(f"run {mutant.name}")
        false = ["late"] if mutant.name in ("never-fetch", "tight-retry") else []
        return MatrixRow(mutant.role, mutant.name, list(mutant.violates), "fail", ["x"], false, not false, 1.0)

    def fake_confirm_row(mutant: Mutant, row: MatrixRow, report_root: Path, log) -> MatrixRow:
        events.append(f"confirm {mutant.name}")
        return dataclasses.replace(row, false_failures=[], ok=True, unconfirmed={"late": "slow"})

    monkeypatch.setattr(selftest, "run_one", fake_run_one)
    monkeypatch.setattr(selftest, "confirm_row", fake_confirm_row)
    rows = selftest.run_selftest(tmp_path, ["agent"], lambda _: None, jobs=3)
    confirms = [e for e in events if e.startswith("confirm")]
    assert sorted(confirms) == ["confirm never-fetch", "confirm tight-retry"]
    assert events[-2:] == confirms  # every run first; then the confirmations, in file order
    assert all(r.ok for r in rows if r.mutant in ("never-fetch", "tight-retry"))


def test_the_full_scope_runs_every_scenario_of_a_mutant() -> None:
    assert mutants_file.mutant_selection(MUTANT) == "req_STS_001"
    assert mutants_file.mutant_selection(MUTANT, mutants_file.FULL) is None


def test_an_unknown_mutant_name_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no mutant named no-such-fault"):
        selftest.run_selftest(tmp_path, None, lambda _: None, names=["no-such-fault"])


def _fake_rerun(
    monkeypatch: pytest.MonkeyPatch, outcomes: dict[str, str], seen: list[list[str]], *requirements: str
) -> None:
    """run_suite stand-in for the confirmation run: writes the results it is told to."""

    def fake_run_suite(arguments: list[str], timeout_s: float) -> ChildRun:
        seen.append(list(arguments))
        report_dir = Path(arguments[arguments.index("--report-dir") + 1])
        scenarios = [_scenario(name, outcome, *requirements) for name, outcome in outcomes.items()]
        (report_dir / "results.json").write_text(json.dumps({"scenarios": scenarios}))
        return ChildRun(0, "", False)

    monkeypatch.setattr(selftest, "run_suite", fake_run_suite)


def test_a_false_failure_that_passes_when_run_again_is_unconfirmed_not_false(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    _fake_rerun(monkeypatch, {"b": "pass", "c": "fail"}, seen)
    results = {"verdict": "fail", "scenarios": [
        _scenario("a", "fail", "STS-001"),
        dict(_scenario("b", "fail", "GIT-003"), message="late"),
        dict(_scenario("c", "fail", "GIT-003"), message="wrong"),
    ]}
    found, unconfirmed = selftest.confirm_false_failures(
        judge(MUTANT, results), results, tmp_path / "m.sut.yaml", tmp_path / "confirm", lambda line: None
    )
    assert unconfirmed == {"b": "late"}
    assert found.false_failures == ["c"] and found.reasons == {"c": "wrong"} and not found.ok
    rerun_of = json.loads((tmp_path / "confirm" / "rerun.json").read_text())
    assert [s["name"] for s in rerun_of["scenarios"]] == ["b", "c"]
    assert seen[0][seen[0].index("--rerun-failed") + 1] == str(tmp_path / "confirm" / "rerun.json")


def test_a_row_whose_false_failures_all_pass_again_is_ok_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_rerun(monkeypatch, {"b": "pass"}, [])
    results = {"verdict": "fail", "scenarios": [
        _scenario("a", "fail", "STS-001"), dict(_scenario("b", "fail", "GIT-003"), message="late")]}
    found, unconfirmed = selftest.confirm_false_failures(
        judge(MUTANT, results), results, tmp_path / "m.sut.yaml", tmp_path / "confirm", lambda line: None
    )
    assert found.ok and found.false_failures == [] and unconfirmed == {"b": "late"}
    row = MatrixRow("agent", "skip-installing", ["STS-001"], "fail", found.killed_by, [], True, 1.0,
                    unconfirmed=unconfirmed)
    table = kill_matrix.matrix_markdown([row], mutation_coverage(load_mutants()))
    assert "unconfirmed false failures (failed, then passed when run again): 1" in table.splitlines()[0]
    assert "- agent skip-installing: b: late" in table and "1 unconfirmed false failure(s)" in table


def test_a_confirmation_run_without_results_confirms_every_false_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selftest, "run_suite", lambda arguments, timeout_s: ChildRun(3, "", True))
    results = {"verdict": "fail", "scenarios": [_scenario("a", "fail", "STS-001"), _scenario("b", "fail", "GIT-003")]}
    found, unconfirmed = selftest.confirm_false_failures(
        judge(MUTANT, results), results, tmp_path / "m.sut.yaml", tmp_path / "confirm", lambda line: None
    )
    assert unconfirmed == {} and found.false_failures == ["b"] and not found.ok


def _checked(name: str, outcome: str, failed: list[str], *tags: str, blocked: str | None = None) -> dict:
    entry = {"name": name, "outcome": outcome, "requirements": list(tags), "failed_requirements": failed,
             "message": f"{name} said so"}
    if failed:
        entry["traced_by"] = "checks"
    if blocked:
        entry["blocked"] = blocked
    return entry


def test_per_check_a_mutant_is_killed_by_the_check_naming_what_it_violates() -> None:
    # The scenario traces STS-001 and GIT-003; its failed check names STS-001 only.
    results = {"verdict": "fail", "scenarios": [_checked("a", "fail", ["STS-001"], "STS-001", "GIT-003")]}
    assert judge(MUTANT, results) == Judgement(["a"], [], [], True, "")


def test_per_check_a_failed_check_naming_another_requirement_is_false_even_in_a_killing_scenario() -> None:
    results = {"verdict": "fail", "scenarios": [_checked("a", "fail", ["GIT-003", "STS-001"], "STS-001", "GIT-003")]}
    found = judge(MUTANT, results)
    assert found.killed_by == ["a"] and found.false_failures == ["a"]
    assert found.reasons == {"a": "GIT-003 failed: a said so"}


def test_per_check_a_scenario_tracing_the_violated_requirement_but_failing_another_is_false() -> None:
    results = {"verdict": "fail", "scenarios": [_checked("a", "fail", ["GIT-003"], "STS-001", "GIT-003")]}
    found = judge(MUTANT, results)
    assert found.killed_by == [] and found.false_failures == ["a"] and not found.ok


def test_a_tag_traced_failure_is_judged_by_its_tags_as_a_whole() -> None:
    tagged = {**_checked("a", "fail", ["STS-001", "GIT-003"], "STS-001", "GIT-003"), "traced_by": "tags"}
    assert judge(MUTANT, {"verdict": "fail", "scenarios": [tagged]}) == Judgement(["a"], [], [], True, "")


def test_a_blocked_scenario_kills_through_the_requirement_broken_at_its_prerequisite_and_is_never_false() -> None:
    token = Mutant("agent", "omit-bearer-token", Path("x.yaml"), "FAULTS", violates=("TOK-001",))
    results = {"verdict": "fail", "scenarios": [
        _checked("caps", "error", ["TOK-001"], "CAP-001", blocked="capabilities accepted"),
        _checked("status", "error", ["CAP-001"], "STS-001", blocked="capabilities accepted"),
        _checked("rollback", "error", [], "DEP-004", blocked="version 1 installed"),
    ]}
    found = judge(token, results)
    assert found.killed_by == ["caps"] and found.false_failures == [] and found.blocked == ["status", "rollback"]
    assert found.ok


# -- advisory mutants: a fault that breaks only a choice the spec leaves open --------------------

ADVISORY_MUTANT = Mutant("wos", "crash-on-malformed-json", Path("x.yaml"), "FAULTS", violates=("ERR-001",),
                         outcome="advisory")


def _advised(name: str, outcome: str, advisory: list[tuple[list[str], bool]], failed: list[str] = ()) -> dict:
    entry = _checked(name, outcome, list(failed), "ERR-001", "CAP-002")
    entry["checks"] = [{"requirements": rows, "passed": passed, "message": f"{name} advised", "kind": "advisory"}
                       for rows, passed in advisory]
    return entry


def test_an_advisory_mutant_is_killed_by_an_advisory_finding_naming_what_it_violates() -> None:
    results = {"verdict": "pass", "scenarios": [
        _advised("bad json", "pass", [(["ERR-001"], False)]),
        _advised("wrong kind", "pass", [(["ERR-001"], True)]),
        _advised("elsewhere", "pass", [(["CAP-002"], False)]),  # names another row: kills nothing
    ]}
    found = judge(ADVISORY_MUTANT, results)
    assert found.ok and found.killed_by == ["bad json"] and found.false_failures == []
    assert found.advisories == {"bad json": "bad json advised"} and found.how == "advisory"
    assert kill_judgement.matrix_verdict(ADVISORY_MUTANT, results, found) == "advisory"


def test_an_advisory_finding_may_name_the_row_as_the_ambiguity_it_rests_on() -> None:
    entry = _advised("open", "pass", [])
    entry["checks"] = [{"requirements": ["ONB-003"], "ambiguities": ["ERR-001"], "passed": False,
                        "message": "open", "kind": "advisory"}]
    assert judge(ADVISORY_MUTANT, {"verdict": "pass", "scenarios": [entry]}).ok


def test_any_failed_requirement_is_false_for_an_advisory_mutant_even_the_row_it_violates() -> None:
    results = {"verdict": "fail", "scenarios": [
        _advised("bad json", "fail", [(["ERR-001"], False)], failed=["ERR-001"]),
        _advised("blamed", "error", [], failed=["CAP-002"]),
        _advised("blocked only", "error", []),
    ]}
    found = judge(ADVISORY_MUTANT, results)
    assert not found.ok and found.false_failures == ["bad json", "blamed"] and found.blocked == ["blocked only"]
    assert found.reasons["bad json"] == "ERR-001 failed: bad json said so"
    assert kill_judgement.matrix_verdict(ADVISORY_MUTANT, results, found) == "fail"


def test_an_advisory_mutant_without_its_finding_survives_and_says_so() -> None:
    results = {"verdict": "pass", "scenarios": [_advised("bad json", "pass", [(["ERR-001"], True)])]}
    found = judge(ADVISORY_MUTANT, results)
    assert not found.ok and found.killed_by == [] and "no advisory finding" in found.note
    assert kill_judgement.matrix_verdict(ADVISORY_MUTANT, results, found) == "pass"


def test_other_mutants_ignore_advisory_findings() -> None:
    results = {"verdict": "pass", "scenarios": [_advised("bad json", "pass", [(["STS-001"], False)])]}
    found = judge(MUTANT, results)
    assert not found.ok and found.how == "fail" and found.advisories == {}


def test_the_matrix_shows_an_advisory_kill_with_its_finding() -> None:
    row = MatrixRow("wos", "no-problem-body", ["ERR-001"], "advisory", ["problem body"], [], True, 3.0,
                    killed_how="advisory", advisories={"problem body": "V24 defines no error body; 4 had none"})
    text = kill_matrix.matrix_markdown([row], mutants_file.MutationCoverage((), ()))
    assert "| advisory | advisory check: problem body |" in text
    assert "- wos no-problem-body: problem body: V24 defines no error body; 4 had none" in text


def test_advisory_mutants_cover_no_must_requirement_and_the_three_v24_choices_are_advisory() -> None:
    advisory = {m.name for m in load_mutants() if m.outcome == "advisory"}
    assert advisory == {"crash-on-malformed-json", "no-problem-body", "oversized-500"}
    assert mutants_file.mutation_coverage([ADVISORY_MUTANT]).mutated == ()


def test_an_unknown_mutant_outcome_is_a_config_error(tmp_path: Path) -> None:
    mutants = tmp_path / "mutants.yaml"
    mutants.write_text(yaml.safe_dump({"wos": {"sut": "reference-wos.yaml", "fault_variable": "F", "mutants": [
        {"fault": "x", "violates": ["ERR-001"], "outcome": "maybe"}]}}))
    with pytest.raises(ConfigError, match="outcome must be one of"):
        load_mutants(mutants)


# -- the reached scope: a mutant runs where the reference's code asks about its switch ---------


def _reference_report(directory: Path, logs: dict[str, list[str]]) -> Path:
    """A reference run's results.json and evidence: node id -> the SUT log lines of its scenario."""
    (directory / "evidence").mkdir(parents=True)
    scenarios = []
    for index, (nodeid, lines) in enumerate(logs.items(), 1):
        evidence = f"evidence/{index:03d}.json"
        events = [{"t": 1.0, "kind": "log", "summary": f"wos: {line}", "data": {}} for line in lines]
        (directory / evidence).write_text(json.dumps({"scenario": nodeid, "events": events}))
        scenarios.append({"name": nodeid, "nodeid": nodeid, "outcome": "pass", "evidence": evidence})
    (directory / "results.json").write_text(json.dumps({"scenarios": scenarios}))
    return directory


def test_reached_scenarios_are_those_whose_sut_log_names_the_switch(tmp_path: Path) -> None:
    report = _reference_report(tmp_path / "ref", {
        "a": ["fault point reached: status-500", "ready"],
        "b": ["fault point reached: status-500", "fault point reached: digest-mismatch"],
        "c": ["ready"],
    })
    assert selftest.reached_scenarios(report) == {"status-500": ["a", "b"], "digest-mismatch": ["b"]}


def test_a_mutant_whose_switch_no_scenario_reaches_is_not_killed_and_not_run(tmp_path: Path) -> None:
    row = selftest.run_one(MUTANT, tmp_path, lambda _: None, mutants_file.REACHED, only=[])
    assert not row.ok and row.verdict == "not run" and "reaches its fault switch" in row.note


def test_the_reached_scope_runs_references_then_each_mutant_on_its_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, object] = {}

    def fake_run_one(mutant: Mutant, report_root: Path, log, scope: str, only=None) -> MatrixRow:
        calls[mutant.name] = only
        if mutant.is_reference:
            _reference_report(report_root / "mutants" / f"{mutant.role}-{mutant.name}",
                              {"s1": ["fault point reached: never-fetch"], "s2": []})
        return MatrixRow(mutant.role, mutant.name, list(mutant.violates), "fail", [], [], True, 0.0)

    monkeypatch.setattr(selftest, "run_one", fake_run_one)
    selftest.run_selftest(tmp_path, ["agent"], lambda _: None, scope=mutants_file.REACHED,
                          names=["never-fetch", "skip-installing"])
    # Each mutant is judged against the reference of its launcher (both are processes here), which runs first.
    assert calls == {"reference-process": None, "never-fetch": ["s1"], "skip-installing": []}


def test_the_reference_reports_fault_points_only_in_the_reached_scope(tmp_path: Path) -> None:
    reference = next(m for m in load_mutants(roles=["wos"]) if m.is_reference)
    shown = yaml.safe_load(mutants_file.mutant_sut_file(reference, tmp_path, report_fault_points=True).read_text())
    plain = yaml.safe_load(mutants_file.mutant_sut_file(reference, tmp_path).read_text())
    assert shown["env"][mutants_file.FAULT_POINTS_VARIABLE] == "1"
    assert mutants_file.FAULT_POINTS_VARIABLE not in plain.get("env", {})


def _survivor(tmp_path: Path) -> MatrixRow:
    """A mutant run that killed nothing while one scenario ended in ERROR (could not be judged)."""
    directory = tmp_path / "mutants" / "agent-skip-installing"
    directory.mkdir(parents=True)
    results = {"verdict": "error", "scenarios": [
        _scenario("a", "pass", "GIT-003"), dict(_scenario("w", "error", "STS-001"), message="onboarded late")]}
    (directory / "results.json").write_text(json.dumps(results))
    found = judge(MUTANT, results)
    assert found.killed_by == [] and found.blocked == ["w"] and not found.ok
    return kill_judgement.matrix_row(MUTANT, results, found, 10.0)


def test_a_survivor_whose_blocked_scenario_kills_it_alone_is_killed_and_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    _fake_rerun(monkeypatch, {"w": "fail"}, seen, "STS-001")
    row = selftest.retry_blocked_row(MUTANT, _survivor(tmp_path), tmp_path, lambda line: None)
    assert row.ok and row.killed_by == ["w"]
    assert "killed when its 1 scenario(s) in ERROR ran again alone" in row.note and "onboarded late" in row.note
    rerun_of = json.loads((tmp_path / "mutants" / "agent-skip-installing" / "retry-blocked" / "rerun.json").read_text())
    assert [s["name"] for s in rerun_of["scenarios"]] == ["w"]


def test_a_survivor_whose_blocked_scenario_still_does_not_kill_it_stays_a_survivor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_rerun(monkeypatch, {"w": "pass"}, [])
    row = selftest.retry_blocked_row(MUTANT, _survivor(tmp_path), tmp_path, lambda line: None)
    assert not row.ok and row.killed_by == []
    assert row.note.startswith("survived: no scenario failed") and "did not kill it either" in row.note


def test_a_role_with_a_process_sut_runs_its_mutants_as_processes_unless_one_says_container(tmp_path: Path) -> None:
    path = tmp_path / "mutants.yaml"
    path.write_text(yaml.safe_dump({"agent": {
        "sut": "reference-agent.yaml", "process_sut": "reference-agent-process.yaml", "fault_variable": "F",
        "mutants": [{"fault": "a", "violates": ["GIT-004"]},
                    {"fault": "b", "violates": ["GIT-004"], "launcher": "container"}]}}))
    loaded = {m.name: m for m in load_mutants(path)}
    assert list(loaded) == ["reference", "reference-process", "a", "b"]
    assert loaded["reference-process"].is_reference and loaded["reference-process"].launcher == "process"
    assert loaded["a"].launcher == "process" and loaded["a"].sut.name == "reference-agent-process.yaml"
    assert loaded["b"].launcher == "container" and loaded["b"].sut.name == "reference-agent.yaml"


def test_a_process_mutant_without_a_process_sut_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mutants.yaml"
    path.write_text(yaml.safe_dump({"wos": {"sut": "reference-wos.yaml", "fault_variable": "F", "mutants": [
        {"fault": "a", "violates": ["GIT-004"], "launcher": "process"}]}}))
    with pytest.raises(ConfigError, match="needs the role's process_sut"):
        load_mutants(path)
