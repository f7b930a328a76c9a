"""The plugin registers every step module exactly once, every step the features use has exactly
one definition, and a pytest session without --sut finds the plugin inert."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_bdd.parser import FeatureParser, Step
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry

from margo_conformance.base.paths import FEATURES_DIR, FIXTURES_DIR, STEPS_DIR, SUITE_ROOT
from margo_conformance.commands.plugin import step_modules
from margo_conformance.commands.pytest_session import PreparedImages, pytest_arguments, run_config_for
from margo_conformance.commands.run_request import RunRequest
from margo_conformance.config.run_config import load_sut_file, save_run_config

SUT_FILE = FIXTURES_DIR / "sut" / "reference-agent.yaml"
NOT_STEP_MODULES = {"__init__.py", "scenarios.py"}
# This process imported the step modules already, so pytest cannot rewrite their asserts again.
QUIET_REIMPORT = ("-W", "ignore::pytest.PytestAssertRewriteWarning")


@dataclass(frozen=True)
class Definition:
    """One step definition, by where it is written (a module imported twice counts once)."""

    module: str
    function: str
    context: StepFunctionContext

    def matches(self, step: Step) -> bool:
        return self.context.type in (None, step.type) and bool(self.context.parser.is_matching(step.name))

    def __str__(self) -> str:
        return f"{self.module}.{self.function} ({self.context.type} {self.context.parser.name!r})"


class _Session:
    """What a pytest session configured and collected."""

    def __init__(self) -> None:
        self.config: pytest.Config | None = None
        self.nodeids: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.config = session.config
        self.nodeids = [item.nodeid for item in session.items]


@pytest.fixture
def keep_sigterm() -> Iterator[None]:
    """A conformance session turns SIGTERM into KeyboardInterrupt; give this process its own back."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def step_files_on_disk() -> list[str]:
    return sorted(
        ".".join(path.relative_to(SUITE_ROOT).with_suffix("").parts)
        for path in STEPS_DIR.rglob("*.py")
        if path.name not in NOT_STEP_MODULES
    )


def definitions() -> list[Definition]:
    modules = {importlib.import_module(name).__name__ for name in step_modules()}
    found = {
        (context.step_func.__module__, context.step_func.__qualname__, context.type, context.parser.name): context
        for context in step_function_context_registry.values()
        if context.step_func.__module__ in modules
    }
    return [Definition(module, function, context) for (module, function, _, _), context in found.items()]


def feature_steps() -> Iterator[tuple[str, Step]]:
    """Every step of every scenario, an outline's once per Examples row, as pytest-bdd renders it."""
    for path in sorted(FEATURES_DIR.rglob("*.feature")):
        relative = str(path.relative_to(FEATURES_DIR))
        for template in FeatureParser(str(FEATURES_DIR), relative).parse().scenarios.values():
            rows = [row for examples in template.examples for row in examples.as_contexts()] or [{}]
            for row in rows:
                for step in template.render(row).steps:
                    yield f"{relative}: {template.name}", step


def test_the_plugin_lists_every_step_module_on_disk_once() -> None:
    listed = step_modules()
    assert len(listed) == len(set(listed)), listed
    assert sorted(listed) == step_files_on_disk()
    assert {name.split(".")[1] for name in listed} == {"agent", "wos"}


def test_every_step_in_the_features_has_exactly_one_definition() -> None:
    known = definitions()
    assert len(known) > 100  # the registry was read, not an empty import
    wrong = []
    for where, step in feature_steps():
        matching = [str(d) for d in known if d.matches(step)]
        if len(matching) != 1:
            wrong.append(f"{where}: {step.type} {step.name!r} -> {matching or 'no definition'}")
    assert wrong == []


def test_every_step_definition_is_used_by_a_feature() -> None:
    """A definition no feature step reaches is dead vocabulary (or a step text that drifted)."""
    steps = [step for _, step in feature_steps()]
    unused = [str(d) for d in definitions() if not any(d.matches(step) for step in steps)]
    assert unused == []


def test_a_conformance_session_registers_each_step_module(tmp_path: Path, keep_sigterm: None) -> None:
    """The runner's own pytest arguments, collection only: no conformance.ini `-p` list needed."""
    request = RunRequest(sut=load_sut_file(SUT_FILE), report_dir=tmp_path)
    handover = tmp_path / "run-config.pickle"
    save_run_config(run_config_for(request, PreparedImages(base_image="b:x", sut_image="s:x"), "run-steps"), handover)
    session = _Session()
    code = pytest.main([*pytest_arguments(request, handover), "--collect-only", *QUIET_REIMPORT], plugins=[session])
    assert code == pytest.ExitCode.OK
    assert session.config is not None
    registered = [name for name, _ in session.config.pluginmanager.list_name_plugin() if name.startswith("steps.")]
    assert sorted(registered) == sorted(step_modules())


RUNNER_COLLECTS = """
import sys
from pathlib import Path
from margo_conformance.config.run_config import load_sut_file, save_run_config
from margo_conformance.commands.pytest_session import PreparedImages, pytest_arguments, run_config_for
from margo_conformance.commands.run_request import RunRequest
import pytest
request = RunRequest(sut=load_sut_file(Path(sys.argv[1])), report_dir=Path(sys.argv[2]))
handover = Path(sys.argv[2]) / "run-config.pickle"
save_run_config(run_config_for(request, PreparedImages(base_image="b:x", sut_image="s:x"), "run-w"), handover)
sys.exit(pytest.main([*pytest_arguments(request, handover), "--collect-only"]))
"""


def test_the_runner_s_pytest_prints_no_warning_about_the_entry_point(tmp_path: Path) -> None:
    """`run` imports the package before pytest, which then finds it as a pytest11 plugin's: its
    'cannot be rewritten' warning would be a new block in every run's output."""
    completed = subprocess.run([sys.executable, "-c", RUNNER_COLLECTS, str(SUT_FILE), str(tmp_path)],
                               capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "warnings summary" not in completed.stdout, completed.stdout[-2000:]


def test_a_bare_pytest_with_sut_collects_the_features(tmp_path: Path, keep_sigterm: None) -> None:
    """No test paths named: the features are collected, not pyproject's testpaths."""
    session = _Session()
    arguments = ["-c", str(SUITE_ROOT / "pyproject.toml"), "--rootdir", str(SUITE_ROOT), "-p", "no:cacheprovider",
                 "--sut", str(SUT_FILE), "--report-dir", str(tmp_path / "report"), "--collect-only", "-q"]
    arguments += QUIET_REIMPORT
    code = pytest.main(arguments, plugins=[session])
    assert code == pytest.ExitCode.OK
    assert session.nodeids and all(n.startswith("steps/scenarios.py::") for n in session.nodeids)
    assert session.config is not None
    loaded = [name for name, _ in session.config.pluginmanager.list_name_plugin() if name.endswith("conftest.py")]
    assert loaded == []  # not the harness tests' conftests either


def test_a_session_without_sut_finds_the_plugin_inert(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    session = _Session()
    code = pytest.main([str(tmp_path / "test_plain.py"), "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
                       plugins=[session])
    assert code == pytest.ExitCode.OK and session.config is not None
    manager = session.config.pluginmanager
    assert manager.has_plugin("margo_conformance.commands.plugin")  # the pytest11 entry point
    assert not manager.has_plugin("margo-results") and not manager.has_plugin("margo-redaction")
    assert not [name for name, _ in manager.list_name_plugin() if name.startswith("steps.")]
    assert session.nodeids == ["test_plain.py::test_plain"]
