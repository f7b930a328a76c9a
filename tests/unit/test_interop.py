"""Interop choices: the defaults, what a SUT file may declare, and how the suite follows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.paths import DEFAULT_SUT_FILE
from margo_conformance.config.interop import (
    ANY,
    ISO_INTERVAL,
    LABELS,
    NAME,
    NONE,
    PER_CLIENT,
    PER_DEVICE,
    WorkloadFinder,
    format_window,
    not_applicable,
)
from margo_conformance.config.run_config import load_sut_file
from margo_conformance.scenario.workloads import DEPLOYMENT_VARIABLE, WorkloadWatcher


def _sut(tmp_path: Path, interop: str) -> Path:
    path = tmp_path / "sut.yaml"
    path.write_text(f"name: agent\nrole: agent\nimage: example/agent:1\ninterop:\n{interop}")
    return path


def test_the_reference_agent_declares_nothing_and_gets_the_defaults() -> None:
    interop = load_sut_file(DEFAULT_SUT_FILE).interop
    assert interop.downtime_format == ISO_INTERVAL and not interop.workloads.declared
    assert interop.declared()["downtime_window"].endswith("(default)")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (ISO_INTERVAL, "2025-06-15T15:06:40Z/2025-06-15T15:06:45Z"),
        ("{start_epoch}+{duration_s}", "1750000000+5"),
        ("from {start:%H:%M:%S} to {end:%H:%M:%S}", "from 15:06:40 to 15:06:45"),
        ("{start_epoch},{end_epoch}", "1750000000,1750000005"),
    ],
)
def test_a_downtime_window_is_written_in_the_declared_format(template: str, expected: str) -> None:
    assert format_window(template, 1_750_000_000, 1_750_000_005) == expected


def test_a_declared_window_format_is_frozen_into_the_config(tmp_path: Path) -> None:
    sut = load_sut_file(_sut(tmp_path, '  downtime_window:\n    format: "{start_epoch}+{duration_s}"\n'))
    assert sut.interop.downtime_format == "{start_epoch}+{duration_s}"
    assert sut.describe()["interop"]["downtime_window"] == "{start_epoch}+{duration_s}"


@pytest.mark.parametrize(
    ("declared", "how"),
    [
        ('    labels: {vendor.io/device: "{device_id}"}\n', LABELS),
        ('    name: "edge-{device_id}-*"\n', NAME),
        ("    any: true\n", ANY),
        ('    none: "the agent runs workloads on its own containerd"\n', NONE),
    ],
)
def test_each_way_of_finding_workloads_can_be_declared(tmp_path: Path, declared: str, how: str) -> None:
    finder = load_sut_file(_sut(tmp_path, "  workloads:\n" + declared)).interop.workloads
    assert finder.how == how and finder.declared


def _start(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"Action": "start", "Actor": {"ID": f"id-{name}", "Attributes": {"name": name, **(labels or {})}}}


def _stop(name: str) -> dict[str, Any]:
    return {"Action": "die", "Actor": {"ID": f"id-{name}", "Attributes": {"name": name}}}


class _Engine:
    """Stands in for the Docker SDK client: container environments, and what was removed."""

    def __init__(self, environments: dict[str, dict[str, str]]) -> None:
        self.environments = environments
        self.removed: list[str] = []
        self.api = self

    def inspect_container(self, container: str) -> dict[str, Any]:
        env = self.environments.get(container, {})
        return {"Config": {"Env": [f"{k}={v}" for k, v in env.items()]}}

    def remove_container(self, container: str, force: bool, v: bool) -> None:
        self.removed.append(container)


def _watch(finder: WorkloadFinder, events: list[dict[str, Any]], engine: _Engine) -> WorkloadWatcher:
    watcher = WorkloadWatcher(finder, EvidenceLog())
    watcher._client = engine
    for event in events:
        watcher._handle(event)
    return watcher


def test_a_name_pattern_records_only_the_devices_containers() -> None:
    engine = _Engine({"id-edge-d1-web": {DEPLOYMENT_VARIABLE: "dep-1"}, "id-other": {DEPLOYMENT_VARIABLE: "dep-9"}})
    finder = WorkloadFinder(NAME, name="edge-{device_id}-*").rendered({"device_id": "d1", "run_id": "r"})
    watcher = _watch(finder, [_start("edge-d1-web"), _start("other"), _stop("edge-d1-web"), _stop("other")], engine)
    recorded = [(e.data["action"], e.data["name"], e.data["deployment"]) for e in watcher.evidence.events()]
    assert recorded == [("start", "edge-d1-web", "dep-1"), ("stop", "edge-d1-web", "dep-1")]


def test_declared_labels_must_all_match() -> None:
    finder = WorkloadFinder(LABELS, labels={"vendor/device": "d1", "vendor/app": "x"})
    engine = _Engine({"id-a": {DEPLOYMENT_VARIABLE: "dep-1"}})
    watcher = _watch(finder, [_start("a", {"vendor/device": "d1", "vendor/app": "x"}),
                              _start("b", {"vendor/device": "d1"})], engine)
    assert [e.data["name"] for e in watcher.evidence.events()] == ["a"]
    assert finder.engine_filters()["label"] == ["vendor/device=d1", "vendor/app=x"]


def test_any_container_counts_only_when_a_deployment_of_the_suite_started_it() -> None:
    engine = _Engine({"id-w": {DEPLOYMENT_VARIABLE: "dep-1"}, "id-agent": {}})
    watcher = _watch(WorkloadFinder(ANY), [_start("agent"), _start("w")], engine)
    assert [e.data["name"] for e in watcher.evidence.events()] == ["w"]
    assert "label" not in WorkloadFinder(ANY).engine_filters()


def test_seen_containers_are_removed_only_for_the_scenarios_deployments() -> None:
    engine = _Engine({"id-w1": {DEPLOYMENT_VARIABLE: "dep-1"}, "id-w2": {DEPLOYMENT_VARIABLE: "dep-2"}})
    watcher = _watch(WorkloadFinder(ANY), [_start("w1"), _start("w2")], engine)
    assert watcher.remove_seen(["dep-1"]) == 1 and engine.removed == ["id-w1"]
    assert watcher.remove_seen() == 2


VENDOR_ONBOARDING = """  onboarding:
    path: /api/devices/onboard
    request: {device: "{device_id}"}
    keys: false
    answer:
      client_id: /credentials/id
      client_secret: /credentials/secret
      token_endpoint: /oauthTokenUrl
      repository_url: /gitops/repository
      git_token: /gitops/token
"""


def test_a_declared_v24_onboarding_exchange_is_followed(tmp_path: Path) -> None:
    from margo_conformance.emulated_device.client import Answer
    from margo_conformance.scenario.wos_device import SimulatedDevice

    exchange = load_sut_file(_sut(tmp_path, VENDOR_ONBOARDING)).interop.onboarding
    assert exchange.declared and not exchange.keys and exchange.path == "/api/devices/onboard"
    assert exchange.request_body({"device_id": "d1", "onboarding_key": "", "serial_number": "s"}) == {"device": "d1"}
    answer = {"credentials": {"id": "c1", "secret": "s1"}, "oauthTokenUrl": "http://w/t",
              "gitops": {"repository": "http://w/r.git", "token": "g1"}}
    device = SimulatedDevice("d1", "", exchange=exchange)
    device.onboarding_answer = Answer("POST", "/api/devices/onboard", 201, {}, json.dumps(answer).encode(), 0.0)
    members = ("client_id", "client_secret", "token_endpoint", "repository_url", "git_token")
    assert tuple(device.member(name) for name in members) == ("c1", "s1", "http://w/t", "http://w/r.git", "g1")


def test_a_declared_answer_missing_a_member_fails_naming_it_and_the_declaration(tmp_path: Path) -> None:
    from margo_conformance.checks.expect import CheckFailed
    from margo_conformance.emulated_device.client import Answer
    from margo_conformance.scenario.wos_device import SimulatedDevice

    exchange = load_sut_file(_sut(tmp_path, VENDOR_ONBOARDING)).interop.onboarding
    device = SimulatedDevice("d1", "", exchange=exchange)
    device.onboarding_answer = Answer("POST", "/api/devices/onboard", 201, {}, b'{"credentials": {"id": "c1"}}', 0.0)
    with pytest.raises(CheckFailed, match=r"ONB-003.*/credentials/secret.*interop.onboarding"):
        _ = device.member("client_secret")


def test_an_onboarding_without_keys_cannot_send_one(tmp_path: Path) -> None:
    from margo_conformance.base.errors import ConfigError

    with pytest.raises(ConfigError, match="keys is false"):
        load_sut_file(_sut(tmp_path, '  onboarding:\n    keys: false\n    request: {key: "{onboarding_key}"}\n'))


def test_a_scenario_needing_onboarding_keys_does_not_apply_to_a_wos_without_them(tmp_path: Path) -> None:
    from margo_conformance.config.interop import NOT_APPLICABLE, Interop, not_applicable

    without_keys = load_sut_file(_sut(tmp_path, VENDOR_ONBOARDING)).interop
    why = not_applicable({"wos", "needs_onboarding_keys"}, without_keys)
    assert why is not None and why.startswith(NOT_APPLICABLE) and "interop.onboarding.keys" in why
    assert not_applicable({"wos", "needs_onboarding_keys"}, Interop()) is None
    assert not_applicable({"wos"}, without_keys) is None


def test_a_not_applicable_mandatory_scenario_is_not_missing_from_the_run() -> None:
    from margo_conformance.config.interop import NOT_APPLICABLE
    from margo_conformance.results.coverage import PlannedScenario, not_run

    planned = [PlannedScenario("n1", "wrong key", frozenset({"wos", "must"})),
               PlannedScenario("n2", "other", frozenset({"wos", "must"}))]
    outcomes = {"n1": ("skip", f"{NOT_APPLICABLE} no keys"), "n2": ("skip", "some reason")}
    assert [m.nodeid for m in not_run(planned, frozenset({"n1", "n2"}), outcomes)] == ["n2"]


def test_a_check_that_cannot_be_made_is_recorded_as_not_tested_and_fails_nothing() -> None:
    from margo_conformance.checks.expect import NOT_TESTED, not_tested, scenario_ledger

    with scenario_ledger() as ledger:
        not_tested("CFG-004", "the SUT file declares: runs workloads on its own containerd")
    assert [c.kind for c in ledger.checks] == [NOT_TESTED]
    assert ledger.failed_requirements() == [] and ledger.passed_requirements() == []


def test_what_an_agent_does_with_a_deployment_breaking_the_schema_is_a_declared_choice(tmp_path: Path) -> None:
    from margo_conformance.config.interop import NOT_APPLICABLE, Interop, not_applicable

    assert Interop().invalid_deployments.reported_failed
    assert Interop().declared()["invalid_deployments"].endswith("(default)")
    declared = load_sut_file(_sut(tmp_path, '  invalid_deployments:\n    reported_failed: false\n'
                                             '    instead: "logs it and skips it"\n')).interop
    assert declared.declared()["invalid_deployments"] == "not reported Failed: logs it and skips it"
    why = not_applicable({"agent", "must", "needs_invalid_deployments_reported"}, declared)
    assert why is not None and why.startswith(NOT_APPLICABLE)
    assert "(it logs it and skips it)" in why and "interop.invalid_deployments" in why
    assert not_applicable({"agent", "must", "needs_invalid_deployments_reported"}, Interop()) is None


def test_the_invalid_deployments_choice_is_schema_checked(tmp_path: Path) -> None:
    from margo_conformance.base.errors import ConfigError

    with pytest.raises(ConfigError):
        load_sut_file(_sut(tmp_path, "  invalid_deployments:\n    instead: skips it\n"))
    with pytest.raises(ConfigError):
        load_sut_file(_sut(tmp_path, "  invalid_deployments:\n    reported_failed: maybe\n"))


def test_only_the_schema_breaking_example_of_the_failures_outline_depends_on_the_choice() -> None:
    from pytest_bdd.parser import FeatureParser

    from margo_conformance.base.paths import FEATURES_DIR

    feature = FeatureParser(str(FEATURES_DIR), "agent/failures.feature").parse()
    outline = next(s for s in feature.scenarios.values() if s.name.startswith("A deployment the agent cannot"))
    tagged = {row[0] for e in outline.examples if "needs_invalid_deployments_reported" in e.tags for row in e.examples}
    untagged = {row[0] for e in outline.examples if not e.tags for row in e.examples}
    assert tagged == {"parameter-without-targets"} and untagged == {"unknown-profile-type"}
    assert "must" in outline.tags


def test_the_pr1_capabilities_route_defaults_to_per_device_and_can_be_declared(tmp_path: Path) -> None:
    assert load_sut_file(DEFAULT_SUT_FILE).interop.pr1_capabilities_route == PER_DEVICE
    declared = load_sut_file(_sut(tmp_path, "  pr1_capabilities_route: per-client\n")).interop
    assert declared.pr1_capabilities_route == PER_CLIENT
    assert declared.declared()["pr1_capabilities_route"] == PER_CLIENT
    tags = frozenset({"needs_device_capabilities_route"})
    why = not_applicable(tags, declared)
    assert why is not None and "I-15" in why
    assert not_applicable(tags, load_sut_file(DEFAULT_SUT_FILE).interop) is None
