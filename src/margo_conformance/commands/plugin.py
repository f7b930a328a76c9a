"""The pytest plugin behind a conformance run: options, markers, fixtures, results, cleanup.

`margo-conformance run` loads it through conformance.ini; installed, it is also a pytest11
plugin, so `pytest --sut <SUT file>` from a checkout runs the features. It acts only in a
conformance run (`is_conformance_run`): there it registers the step modules (`step_modules`),
turns the command line into one frozen `RunConfig`, starts the emulated WOS once per run, gives
each scenario a fresh `AgentUnderTest`, and removes every container labelled with the run at
the end, on failure and on SIGINT/SIGTERM. Any other pytest session (the harness's own tests)
sees its options and nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import pkgutil
import re
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from margo_conformance.base import credentials, redaction
from margo_conformance.base.errors import ConfigError
from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.paths import CONFORMANCE_INI, DEFAULT_SUT_FILE, FIXTURES_DIR, STEPS_DIR
from margo_conformance.base.requirements import id_to_tag, load_catalogue
from margo_conformance.config.interop import not_applicable
from margo_conformance.config.run_config import RunConfig, load_run_config, load_sut_file
from margo_conformance.config.selection import Selection, scenario_ref
from margo_conformance.emulated_wos.server import CONTAINER_HOSTNAME, EmulatedWos
from margo_conformance.engine.sut import remove_run_resources
from margo_conformance.report.allure import attach_evidence_to_allure, label_allure_result
from margo_conformance.results.collector import EVIDENCE_KEY, ResultsCollector
from margo_conformance.results.model import NOT_CLAIMED
from margo_conformance.scenario.agent import AgentUnderTest
from margo_conformance.scenario.wos import WosUnderTest

RUN_CONFIG_KEY = pytest.StashKey[RunConfig]()
LEDGER_KEY = pytest.StashKey[contextlib.ExitStack]()
CONFORMANCE_RUN_KEY = pytest.StashKey[bool]()
INTERRUPTED_KEY = pytest.StashKey[bool]()
#: How long an interrupted run's cleanup watches for containers whose create was in flight.
LATE_CREATES_S = 3.0
# The step packages, one per role; every module in them is registered, in this order.
STEP_PACKAGES = ("steps.agent", "steps.wos")
PROFILES = ("V24", "PR1", "PR2")
MARKERS = {
    "agent": "scenario certifies a device agent (the suite plays the WOS)",
    "wos": "scenario certifies a WOS (the suite plays the device)",
    "must": "verifies a MUST requirement",
    "should": "verifies a SHOULD requirement",
    "V24": "2024 pre-draft profile (GitOps, OAuth2)",
    "PR1": "Margo 1.0.0 OpenAPI profile",
    "PR2": "Margo 1.0.0-rc.3 profile (mutual TLS)",
    "onboarding": "onboarding and capabilities",
    "gitops": "desired state through Git",
    "status": "deployment status reporting",
    "capabilities": "capabilities reports",
    "update": "changed desired state is re-applied",
    "removal": "removed desired state is undone",
    "polling": "desired-state polling cadence",
    "downtime": "the peer is unreachable for a while",
    "tokens": "access tokens expire or are revoked",
    "failure": "desired state that cannot be applied",
    "robustness": "bad input is refused and the server keeps serving",
    "isolation": "one device cannot see or change another's data",
    "manifest": "desired state through the HTTP state manifest (PR1)",
    "signing": "requests signed with the device's certificate (PR1, RFC 9421)",
    "needs_device_capabilities_route": (
        "applies only to a WOS serving PR1 capabilities per device (interop.pr1_capabilities_route)"
    ),
    "needs_onboarding_keys": "applies only to a WOS that hands out one-time onboarding keys (interop.onboarding.keys)",
    "needs_invalid_deployments_reported": (
        "applies only to an agent that reports a deployment breaking the schema as Failed (interop.invalid_deployments)"
    ),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("margo", "Margo conformance")
    # No default: giving --sut (or --run-config) is what makes a pytest session a conformance run.
    group.addoption("--sut", type=Path, default=None,
                    help=f"SUT file (YAML); runs the features (default under conformance.ini: {DEFAULT_SUT_FILE.name})")
    group.addoption("--run-config", type=Path, default=None,
                    help="the run's validated configuration (margo-conformance run hands it over)")
    group.addoption("--report-dir", type=Path, default=Path("reports/latest"), help="where results go")
    group.addoption("--run-id", default=None, help="label for containers of this run")
    group.addoption("--base-image", default=None, help="base image the suite's images were built from")
    group.addoption("--sut-image", default=None, help="image to run instead of the SUT file's (a content tag)")
    group.addoption("--workload-image", default=None, help="image workloads may use (present locally)")
    # The run's -m/-k: margo_conformance.config.selection, the engine `list scenarios` uses too.
    group.addoption("--select-tags", default=None, help="tag expression (margo-conformance run -m)")
    group.addoption("--select-keyword", default=None, help="name expression or phrase (margo-conformance run -k)")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """A bare `pytest --sut ...` names no test files: it runs the features, so name them before
    pytest falls back on the ini's testpaths (the harness's own tests, whose conftests would load)."""
    known = early_config.known_args_namespace
    asked = getattr(known, "sut", None) is not None or getattr(known, "run_config", None) is not None
    if not asked or known.file_or_dir:
        return
    features = str(STEPS_DIR / "scenarios.py")
    args.append(features)
    known.file_or_dir = [features]


def pytest_configure(config: pytest.Config) -> None:
    config.stash[CONFORMANCE_RUN_KEY] = is_conformance_run(config)
    if not config.stash[CONFORMANCE_RUN_KEY]:
        return
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    for requirement in load_catalogue().values():
        config.addinivalue_line("markers", f"{id_to_tag(requirement.id)}: {requirement.summary[:80]}")
    register_steps(config)
    try:
        run = configured_run(config)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.stash[RUN_CONFIG_KEY] = run
    open_redaction(config, run)
    config.pluginmanager.register(ReportRedaction(), "margo-redaction")
    collector = ResultsCollector(run.report_dir, describe_sut(run), run.run_id, effective_config=run.effective())
    config.pluginmanager.register(collector, "margo-results")
    _stop_on_sigterm()


def is_conformance_run(config: pytest.Config) -> bool:
    """A session runs the features when told which SUT (--sut, or the runner's --run-config) or
    when configured by conformance.ini; the plugin loaded in any other session stays inert."""
    if config.getoption("--run-config", None) is not None or config.getoption("--sut", None) is not None:
        return True
    return config.inipath is not None and config.inipath.resolve() == CONFORMANCE_INI


def step_modules() -> list[str]:
    """Every step module of the role packages, by dotted name (the one place they are listed)."""
    names: list[str] = []
    for package_name in STEP_PACKAGES:
        package = importlib.import_module(package_name)
        names += [f"{package_name}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if not m.ispkg]
    return names


def register_steps(config: pytest.Config) -> None:
    for name in step_modules():
        config.pluginmanager.import_plugin(name)


def configured_run(config: pytest.Config) -> RunConfig:
    """The configuration `margo-conformance run` validated and handed over (every xdist worker
    loads the same file), or, for a bare pytest run, the SUT file and options read here."""
    handover = config.getoption("--run-config")
    if handover is not None:
        return load_run_config(handover)
    sut = load_sut_file(config.getoption("--sut") or DEFAULT_SUT_FILE)
    if config.getoption("--sut-image"):
        sut = dataclasses.replace(sut, image=config.getoption("--sut-image"))
    return RunConfig(
        sut=sut,
        report_dir=config.getoption("--report-dir").resolve(),
        run_id=config.getoption("--run-id") or f"run-{uuid.uuid4().hex[:12]}",
        base_image=config.getoption("--base-image"),
        workload_image=config.getoption("--workload-image") or config.getoption("--base-image"),
    )


def open_redaction(config: pytest.Config, run: RunConfig) -> None:
    """Join the run's redaction ledger (the runner's, or the controller's for a worker), or
    open one for a bare pytest run; the SUT file's secret values are the first it learns."""
    stack = contextlib.ExitStack()
    try:
        redactor = stack.enter_context(redaction.run_ledger(run.report_dir))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.stash[LEDGER_KEY] = stack
    for value in run.sut.secret_values():
        redactor.learn(credentials.SUT_SECRET, value)


class ReportRedaction:
    """Registered in a conformance run only: the harness's own test reports stay as written."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Credentials out of a report before anyone writes it: junit.xml, the terminal, and a
        pytest-xdist worker's hand-off to the controller (this runs before either)."""
        redact_report(report, redaction.current())


def redact_report(report: pytest.TestReport, redactor: redaction.Redactor) -> None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], redactor.redact_text(str(longrepr[2])))
    elif longrepr is not None:
        text = str(longrepr)
        cleaned = redactor.redact_text(text)
        if cleaned != text:
            report.longrepr = cleaned
    report.sections = [(title, redactor.redact_text(content)) for title, content in report.sections]
    report.user_properties = [(name, redactor.redact(value)) for name, value in report.user_properties]


def describe_sut(run: RunConfig) -> dict[str, Any]:
    return run.sut.describe()


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so pytest unwinds fixtures and writes results."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A scenario tagged with several profiles runs once per profile (transport-neutral Gherkin)."""
    if not metafunc.config.stash.get(CONFORMANCE_RUN_KEY, False) or "profile" not in metafunc.fixturenames:
        return
    tagged = scenario_profiles(metafunc.definition)
    if len(tagged) > 1:
        metafunc.parametrize("profile", tagged, ids=tagged)


def scenario_profiles(node: pytest.Item | pytest.Function | Any) -> list[str]:
    return [p for p in PROFILES if node.get_closest_marker(p) is not None]


def item_profile(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "profile" in callspec.params:
        return str(callspec.params["profile"])
    tagged = scenario_profiles(item)
    return tagged[0] if len(tagged) == 1 else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the scenarios of the SUT's role (the other role's are not applicable, not
    skipped) that the run's -m/-k select.

    Scenarios of a profile the SUT does not claim stay visible as skipped, with that reason.
    """
    run = config.stash.get(RUN_CONFIG_KEY, None)
    if run is None:
        return
    role = run.sut.role
    try:
        selection = Selection(config.getoption("--select-tags"), config.getoption("--select-keyword"))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
    kept = [
        i for i in items
        if role in {m.name for m in i.iter_markers()}
        and _selected(i, selection)
        and (not run.only or i.nodeid in run.only)  # --rerun-failed, --only-scenarios
    ]
    dropped = [i for i in items if i not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    for item in items:
        profile = item_profile(item)
        if profile is not None and profile not in run.sut.profiles:
            claimed = ", ".join(run.sut.profiles)
            item.add_marker(pytest.mark.skip(
                reason=f"{NOT_CLAIMED} the SUT claims {claimed}, not {profile}"))
            continue
        why = not_applicable({m.name for m in item.iter_markers()}, run.sut.interop)
        if why is not None:
            item.add_marker(pytest.mark.skip(reason=why))


def _selected(item: pytest.Item, selection: Selection) -> bool:
    """Does the selection take the scenario this item runs (seen as `list scenarios` sees it)?"""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    if selection.is_everything:
        return True
    function = getattr(item, "function", None)
    template = scenario_wrapper_template_registry.get(function) if function is not None else None
    if template is None:
        return False
    example = re.search(r"\[(.+)\]$", item.name)  # the one Examples row this item runs
    return selection.selects(scenario_ref(template, example.group(1) if example else None))


@pytest.fixture
def profile(request: pytest.FixtureRequest) -> str:
    """The profile a scenario speaks: its parameter, else its only profile tag, else V24."""
    return item_profile(request.node) or "V24"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """An interrupted run (SIGINT, SIGTERM): its cleanup also watches for creates in flight."""
    session.config.stash[INTERRUPTED_KEY] = exitstatus == pytest.ExitCode.INTERRUPTED


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_CONFIG_KEY, None)
    # A pytest-xdist worker that finishes first must not remove its siblings' containers:
    # the controller, which ends last, removes everything labelled with the run. A
    # collection-only session started nothing (and may run where no engine answers).
    # A run whose SUT is a local process started nothing on the engine (its processes end with
    # their scenario, or with the worker that started them).
    if run is not None and not hasattr(config, "workerinput") and not config.option.collectonly \
            and run.sut.in_containers:
        remove_run_resources(run.run_id, LATE_CREATES_S if config.stash.get(INTERRUPTED_KEY, False) else 0.0)
        redact_outputs(config, run)
    ledger = config.stash.get(LEDGER_KEY, None)
    if ledger is not None:
        ledger.close()


def redact_outputs(config: pytest.Config, run: RunConfig) -> None:
    """The last pass over what this run wrote, by every value the run's processes learned:
    third-party writers (junit.xml, allure-results, written by the workers too) included."""
    redactor = redaction.current()
    redactor.redact_tree(run.report_dir)
    for option in ("xmlpath", "allure_report_dir"):
        written = getattr(config.option, option, None)
        if written:
            redactor.redact_tree(Path(written))


@pytest.fixture(scope="session")
def run_config(pytestconfig: pytest.Config) -> RunConfig:
    return pytestconfig.stash[RUN_CONFIG_KEY]


@pytest.fixture(scope="session")
def run_workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="margo-conformance-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def emulated_wos(run_config: RunConfig, run_workdir: Path) -> Iterator[EmulatedWos]:
    values = {"WORKLOAD_IMAGE": run_config.workload_image or ""}
    # A SUT in a container reaches this machine as host.docker.internal; a local process, on the loopback.
    sut_host = CONTAINER_HOSTNAME if run_config.sut.in_containers else "127.0.0.1"
    with EmulatedWos(run_workdir / "wos", FIXTURES_DIR / "artifacts", values, sut_host) as wos:
        yield wos


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> EvidenceLog:
    log = EvidenceLog()
    request.node.stash[EVIDENCE_KEY] = log
    return log


@pytest.fixture
def agent(
    run_config: RunConfig,
    emulated_wos: EmulatedWos,
    evidence: EvidenceLog,
    run_workdir: Path,
    profile: str,
) -> Iterator[AgentUnderTest]:
    scenario_dir = Path(tempfile.mkdtemp(prefix="scenario-", dir=run_workdir))
    under_test = AgentUnderTest(run_config, emulated_wos, evidence, scenario_dir, profile=profile)
    yield under_test
    under_test.stop()
    if under_test._device is not None:
        credentials.audit_issued(under_test._device.issued_credentials())
        emulated_wos.state.forget_device(under_test._device.device_id)
    attach_evidence_to_allure(evidence)


@pytest.fixture
def wos(
    run_config: RunConfig, evidence: EvidenceLog, run_workdir: Path, profile: str
) -> Iterator[WosUnderTest]:
    scenario_dir = Path(tempfile.mkdtemp(prefix="scenario-", dir=run_workdir))
    under_test = WosUnderTest(run_config, evidence, scenario_dir, profile=profile)
    yield under_test
    under_test.stop()
    for device in under_test.devices.values():
        credentials.audit_issued(device.issued_credentials())
    attach_evidence_to_allure(evidence)


@pytest.hookimpl(trylast=True, optionalhook=True)  # after allure-pytest-bdd opened the result
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    label_allure_result(request.node.nodeid)
