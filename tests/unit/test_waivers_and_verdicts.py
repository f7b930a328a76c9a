"""Verdict rules, waivers and mandatory coverage, on synthetic results (no Docker).

The rules a certification depends on: a stale waiver and a skipped or left-out mandatory
scenario each turn a pass into a non-pass; a waived failure makes a run partial, never pass;
certification runs take no waivers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from margo_conformance.base.errors import ConfigError
from margo_conformance.base.paths import DEFAULT_SUT_FILE
from margo_conformance.base.schemas import validation_errors
from margo_conformance.commands.cli import main
from margo_conformance.commands.exit_codes import EXIT_ERROR, EXIT_FAIL, EXIT_PASS, EXIT_USAGE, exit_code_for
from margo_conformance.commands.run_request import RunRequest, check_request, failed_nodeids
from margo_conformance.report.progress import LiveProgress
from margo_conformance.results.coverage import is_mandatory
from margo_conformance.results.model import RunContext, ScenarioResult
from margo_conformance.results.tree import preflight_tree
from margo_conformance.results.verdict import decide_verdict
from margo_conformance.results.waivers import Waiver, load_waivers
from tests.synthetic_results import collector_for, scenario, sut_description

ONBOARDS = "The agent onboards with the orchestrator"
FETCHES = "A newly published deployment is fetched within the polling interval"


def tree_for(
    tmp_path: Path, results: list[ScenarioResult], waivers: tuple[Waiver, ...] = (), **kw: Any
) -> dict[str, Any]:
    tree = collector_for(tmp_path, results, **kw).results_tree(RunContext(waivers=waivers))
    assert validation_errors(tree, "results") == []
    return tree


def test_all_mandatory_scenarios_passing_is_a_pass(tmp_path: Path) -> None:
    tree = tree_for(tmp_path, [scenario(ONBOARDS), scenario(FETCHES)])
    assert tree["verdict"] == "pass" and tree["verdict_reasons"] == []
    coverage = tree["coverage"]
    assert (coverage["mandatory"], coverage["executed"], coverage["not_run"]) == (2, 2, [])
    assert tree["profiles"] == [
        {
            "profile": "V24",
            "verdict": "pass",
            "counts": {"pass": 2, "fail": 0, "error": 0, "skip": 0},
            "not_run": 0,
        }
    ]


def test_a_skipped_mandatory_scenario_turns_a_pass_into_partial(tmp_path: Path) -> None:
    skipped = scenario(FETCHES, outcome="skip", message="the SUT claims no Git support")
    tree = tree_for(tmp_path, [scenario(ONBOARDS), skipped])
    assert tree["verdict"] == "partial"
    assert tree["coverage"]["not_run"][0]["why"] == "skipped"
    assert any(
        FETCHES in r and "the SUT claims no Git support" in r for r in tree["verdict_reasons"]
    )


def test_a_deselected_mandatory_scenario_keeps_the_run_from_passing(tmp_path: Path) -> None:
    left_out = scenario(FETCHES, tags=("agent", "V24", "must", "req_GIT_003"))
    tree = tree_for(tmp_path, [scenario(ONBOARDS)], extra_planned=[left_out], selected=[])
    assert tree["verdict"] == "partial"
    assert tree["coverage"]["not_run"] == [
        {
            "name": FETCHES,
            "nodeid": left_out.nodeid,
            "why": "deselected",
            "detail": "not selected for this run",
        }
    ]
    git = next(r for r in tree["requirements"] if r["id"] == "GIT-003")
    assert git["outcome"] == "not_run" and git["not_run"] == [FETCHES]


def test_a_mandatory_scenario_the_run_never_reached_keeps_it_from_passing(tmp_path: Path) -> None:
    unreached = scenario(FETCHES)
    tree = tree_for(tmp_path, [scenario(ONBOARDS)], extra_planned=[unreached], selected=[unreached])
    assert tree["verdict"] == "partial" and tree["coverage"]["not_run"][0]["why"] == "not reached"


def test_scenarios_of_another_role_level_or_profile_are_not_mandatory() -> None:
    assert is_mandatory({"agent", "V24", "must"}, "agent", ["V24"])
    assert not is_mandatory({"wos", "V24", "must"}, "agent", ["V24"])
    assert not is_mandatory({"agent", "V24", "should"}, "agent", ["V24"])
    assert not is_mandatory({"agent", "PR1", "must"}, "agent", ["V24"])
    assert is_mandatory({"agent", "must"}, "agent", ["V24"])  # no profile tag: every profile


def test_a_stale_waiver_turns_a_pass_into_a_fail(tmp_path: Path) -> None:
    waiver = Waiver(scenario="onboards with the orchestrator", reason="URL set at the factory")
    tree = tree_for(tmp_path, [scenario(ONBOARDS), scenario(FETCHES)], waivers=(waiver,))
    assert tree["verdict"] == "fail"
    assert any("stale waiver" in r and ONBOARDS in r for r in tree["verdict_reasons"])
    entry = next(s for s in tree["scenarios"] if s["name"] == ONBOARDS)
    assert entry["outcome"] == "pass" and entry["waiver"] == {
        "status": "stale",
        "reason": "URL set at the factory",
    }
    assert tree["waivers"][0]["status"] == "stale" and tree["waivers"][0]["matched"] == [ONBOARDS]


def test_a_waived_failure_makes_the_run_partial_and_stays_a_failure(tmp_path: Path) -> None:
    waiver = Waiver(scenario=FETCHES, reason="polls every 5 s until 2.4", requirement="CFG-003")
    failing = scenario(
        FETCHES, outcome="fail", tags=("agent", "V24", "must", "req_CFG_003"), message="too slow"
    )
    tree = tree_for(tmp_path, [scenario(ONBOARDS), failing], waivers=(waiver,))
    assert tree["verdict"] == "partial"
    entry = next(s for s in tree["scenarios"] if s["name"] == FETCHES)
    assert entry["outcome"] == "fail" and entry["waived"] is True
    assert entry["waiver"]["reason"] == "polls every 5 s until 2.4"
    assert next(r for r in tree["requirements"] if r["id"] == "CFG-003")["waived"] is True
    assert any("waived failure" in r for r in tree["verdict_reasons"])


def test_a_waiver_for_another_requirement_does_not_match(tmp_path: Path) -> None:
    waiver = Waiver(scenario=FETCHES, reason="r", requirement="STS-001")
    failing = scenario(
        FETCHES, outcome="fail", tags=("agent", "V24", "must", "req_CFG_003"), message="m"
    )
    tree = tree_for(tmp_path, [failing], waivers=(waiver,))
    assert tree["verdict"] == "fail" and tree["waivers"][0]["status"] == "unused"


def test_an_unused_waiver_changes_nothing_but_is_reported(tmp_path: Path) -> None:
    tree = tree_for(
        tmp_path, [scenario(ONBOARDS)], waivers=(Waiver(scenario="no such scenario", reason="r"),)
    )
    assert tree["verdict"] == "pass"
    assert tree["waivers"] == [
        {"scenario": "no such scenario", "reason": "r", "status": "unused", "matched": []}
    ]


def test_errors_nothing_run_and_interruptions_are_errors_and_a_failure_beats_an_error() -> None:
    ok, bad, broke = (
        scenario("a"),
        scenario("b", outcome="fail", message="m"),
        scenario("c", outcome="error", message="e"),
    )
    assert decide_verdict([ok, broke]).verdict == "error"
    assert decide_verdict([ok, bad, broke]).verdict == "fail"
    assert decide_verdict([]).verdict == "error"
    interrupted = decide_verdict([ok], interrupted=True)
    assert interrupted.verdict == "error" and "interrupted" in interrupted.reasons[0]


def test_per_profile_verdicts_judge_each_claimed_profile_on_its_own(tmp_path: Path) -> None:
    v24 = scenario("v24 scenario", tags=("agent", "V24", "must"))
    pr1 = scenario("pr1 scenario", outcome="fail", tags=("agent", "PR1", "must"), message="m")
    tree = tree_for(tmp_path, [v24, pr1], profiles=("V24", "PR1"))
    verdicts = {p["profile"]: p["verdict"] for p in tree["profiles"]}
    assert verdicts == {"V24": "pass", "PR1": "fail"} and tree["verdict"] == "fail"


def test_the_preflight_tree_is_schema_valid_and_an_error() -> None:
    tree = preflight_tree(
        sut_description(), "run-0123456789ab", "SUT image 'x' is not on the Docker engine"
    )
    assert validation_errors(tree, "results") == []
    assert tree["verdict"] == "error" and tree["verdict_reasons"] == [tree["message"]]


# -- waivers file -------------------------------------------------------------------------------


def test_a_waivers_file_is_read_and_validated(tmp_path: Path) -> None:
    good = tmp_path / "w.yaml"
    good.write_text(f"- scenario: {FETCHES}\n  reason: polls every 5 s\n  requirement: CFG-003\n")
    assert load_waivers(good) == (Waiver(FETCHES, "polls every 5 s", "CFG-003"),)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_waivers(empty) == ()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("- scenario: something\n", "entry 1, reason: 'reason' is a required property"),
        (
            "- scenario: something\n  reason: fine\n  requirement: CFG3\n",
            "entry 1, requirement: 'CFG3' does not match",
        ),
        ("scenario: x\n", "is not of type 'array'"),
        ("- [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_waivers_file_is_a_config_error_naming_the_entry(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(complaint)):
        load_waivers(path)


# -- run requests and exit codes --------------------------------------------------------------


def _request(tmp_path: Path, **changes: Any) -> RunRequest:
    from margo_conformance.config.run_config import load_sut_file

    return RunRequest(sut=load_sut_file(DEFAULT_SUT_FILE), report_dir=tmp_path, **changes)


def test_a_certification_run_refuses_waivers_and_selections(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="accepts no waivers"):
        check_request(_request(tmp_path, certification=True, waivers_file=tmp_path / "w.yaml"))
    with pytest.raises(ConfigError, match="drop -m"):
        check_request(_request(tmp_path, certification=True, select="gitops"))
    check_request(
        _request(tmp_path, certification=False, select="gitops", waivers_file=tmp_path / "w.yaml")
    )


def test_the_command_line_refuses_waivers_in_certification_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    waivers = tmp_path / "w.yaml"
    waivers.write_text("- scenario: something\n  reason: because\n")
    code = main(
        ["run", "--certification", "--waivers", str(waivers), "--report-dir", str(tmp_path / "r")]
    )
    assert code == EXIT_USAGE
    assert "accepts no waivers" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing ran, nothing written


def test_rerun_failed_picks_the_failed_and_errored_scenarios(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "scenarios": [
                    {"nodeid": "a", "outcome": "pass"},
                    {"nodeid": "b", "outcome": "fail"},
                    {"nodeid": "c", "outcome": "error"},
                ]
            }
        )
    )
    assert failed_nodeids(results) == ("b", "c")
    results.write_text(json.dumps({"scenarios": [{"nodeid": "a", "outcome": "pass"}]}))
    with pytest.raises(ConfigError, match="nothing to rerun"):
        failed_nodeids(results)
    with pytest.raises(ConfigError, match="not a readable results.json"):
        failed_nodeids(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("verdict", "code"),
    [("pass", EXIT_PASS), ("partial", EXIT_FAIL), ("fail", EXIT_FAIL), ("error", EXIT_ERROR)],
)
def test_each_verdict_has_its_exit_code(tmp_path: Path, verdict: str, code: int) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"verdict": verdict, "counts": {}, "verdict_reasons": []}))
    lines: list[str] = []
    assert exit_code_for(pytest.ExitCode.OK, results, lines.append) == code
    assert lines[0].startswith(f"verdict: {verdict.upper()}")
    assert exit_code_for(pytest.ExitCode.USAGE_ERROR, results, lines.append) == EXIT_USAGE


# -- live progress ------------------------------------------------------------------------------


def test_live_progress_prints_one_line_per_scenario_with_outcome_and_elapsed_time() -> None:
    failing = scenario(
        FETCHES, outcome="fail", message="GIT-003: not fetched within 3s\n  evidence..."
    )
    stale = scenario(ONBOARDS)
    finished = iter([failing, stale])
    current: dict[str, ScenarioResult] = {}

    class Collector:
        def last_finished(self, nodeid: str) -> ScenarioResult | None:
            return current.get(nodeid)

    lines: list[str] = []
    progress = LiveProgress(lines.append, (Waiver("onboards", "factory URL"),))
    progress.config = SimpleNamespace(
        pluginmanager=SimpleNamespace(get_plugin=lambda name: Collector())
    )  # type: ignore[assignment]
    progress.pytest_collection_finish(SimpleNamespace(items=[1, 2]))  # type: ignore[arg-type]
    for _ in range(2):
        result = next(finished)
        current[result.nodeid] = result
        progress.pytest_runtest_logfinish(result.nodeid, ("", None, ""))
    assert lines[0] == "running 2 scenario(s)"
    assert lines[1].startswith("[1/2 ") and "s] FAIL    " + FETCHES in lines[1]
    assert lines[2].strip() == "-> GIT-003: not fetched within 3s"
    assert "STALE   " + ONBOARDS in lines[3] and "remove the waiver" in lines[4]


# -- listing ------------------------------------------------------------------------------------


def test_list_scenarios_selects_by_tag_and_marks_the_mandatory_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list", "scenarios", "--sut", str(DEFAULT_SUT_FILE), "-m", "gitops and must"]) == 0
    out = capsys.readouterr().out
    assert "* " + FETCHES in out
    assert "features/agent/desired_state_git.feature" in out
    assert "features/wos/" not in out and "onboards" not in out


def test_list_requirements_shows_the_scenarios_tracing_to_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list", "requirements", "--role", "agent", "--profile", "V24"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^CFG-003\s+must\s+\S+\s+\d+ scenario\(s\)$", out, re.M)


def test_a_bad_tag_expression_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "scenarios", "-m", "and or"]) == EXIT_USAGE
    assert "-m 'and or'" in capsys.readouterr().err


def test_a_bad_signing_key_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    code = main(["run", "--signing-key", str(key), "--report-dir", str(tmp_path / "r")])
    assert code == EXIT_USAGE
    assert "not an unencrypted PEM private key" in capsys.readouterr().err
