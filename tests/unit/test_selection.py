"""selection: one engine for `list scenarios` and `run`; -m over tags, -k as expression or phrase."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from margo_conformance.base.errors import ConfigError
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.commands.cli import main
from margo_conformance.commands.exit_codes import EXIT_USAGE
from margo_conformance.commands.listing import selected_scenarios
from margo_conformance.commands.pytest_session import PreparedImages, RunnerPlugin, pytest_arguments, run_config_for
from margo_conformance.commands.run_request import RunRequest
from margo_conformance.config.run_config import load_sut_file, save_run_config
from margo_conformance.config.selection import EXPRESSION, PHRASE, ScenarioRef, Selection, keyword_kind

SUT_FILES = {"agent": FIXTURES_DIR / "sut" / "reference-agent.yaml", "wos": FIXTURES_DIR / "sut" / "reference-wos.yaml"}
WRONG_KEY = ScenarioRef("Onboarding with a wrong onboarding key is refused", frozenset({"wos", "must", "V24"}))
SECRET = ScenarioRef("The token endpoint refuses a wrong client secret", frozenset({"wos", "should", "PR1"}))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("refused", EXPRESSION),
        ("wrong and not secret", EXPRESSION),
        ("(key or secret) and not token", EXPRESSION),
        ("wrong onboarding key is refused", PHRASE),  # words side by side: no operator between
        ("the device's repository", PHRASE),  # an apostrophe is not in pytest's -k alphabet
        ("key(x=1)", PHRASE),  # call arguments are for -m, not -k
        ("and or", PHRASE),
    ],
)
def test_keyword_is_an_expression_only_when_pytest_would_accept_it(text: str, kind: str) -> None:
    assert keyword_kind(text) == kind


def test_a_phrase_is_a_case_insensitive_substring_of_the_name() -> None:
    phrase = Selection(keyword="WRONG  onboarding key is")
    assert phrase.selects(WRONG_KEY) and not phrase.selects(SECRET)
    assert not Selection(keyword="key is wrong").selects(WRONG_KEY)  # the words in their order


def test_an_expression_matches_names_test_names_and_tags() -> None:
    assert Selection(keyword="wrong and not secret").select([WRONG_KEY, SECRET]) == [WRONG_KEY]
    assert Selection(keyword="wrong_onboarding_key").selects(WRONG_KEY)  # the test function's name
    assert Selection(keyword="pr1").select([WRONG_KEY, SECRET]) == [SECRET]  # a tag, any case


def test_tags_select_with_pytest_marker_expressions() -> None:
    assert Selection(tags="must and V24").select([WRONG_KEY, SECRET]) == [WRONG_KEY]
    assert Selection(tags="must(x=1)").select([WRONG_KEY, SECRET]) == []
    with pytest.raises(ConfigError, match="-m 'and or'"):
        Selection(tags="and or")


def test_list_takes_a_plain_phrase(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "scenarios", "--role", "wos", "-k", "wrong onboarding key is refused"]) == 0
    captured = capsys.readouterr()
    assert "Onboarding with a wrong onboarding key is refused" in captured.out
    assert "1 scenarios" in captured.err


def test_run_refuses_a_bad_tag_expression_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "-m", "and or", "--report-dir", str(tmp_path)]) == EXIT_USAGE
    assert "-m 'and or'" in capsys.readouterr().err


# -- list and run select the same scenarios ---------------------------------------------------

SELECTIONS = [  # each is one in-process collection (about a second): few, but each of a kind
    ("must and not robustness", None),  # tags
    (None, "refuse or digest"),  # a -k expression
    (None, "within the polling interval"),  # a phrase
    (None, "the device's repository"),  # a phrase pytest's own -k cannot parse
    ("should or PR1", "not status"),  # both
    (None, "hello-compose or new-greeting"),  # Examples values: an outline's rows
]


class _Collected:
    """Records the node ids a collection ends with."""

    def __init__(self) -> None:
        self.nodeids: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.nodeids = [item.nodeid for item in session.items]


@pytest.fixture
def keep_sigterm() -> Iterator[None]:
    """The conformance plugin turns SIGTERM into KeyboardInterrupt; give this process its own back."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def _run_collects(role: str, select: str | None, keyword: str | None, report_dir: Path) -> set[str]:
    """The test functions `run` would execute: its own pytest arguments and plugins, collection only."""
    request = RunRequest(sut=load_sut_file(SUT_FILES[role]), report_dir=report_dir, select=select, keyword=keyword)
    handover = report_dir / "run-config.pickle"
    report_dir.mkdir(parents=True, exist_ok=True)
    images = PreparedImages(base_image="base:x", sut_image="sut:x")
    save_run_config(run_config_for(request, images, "run-selection"), handover)
    arguments = pytest_arguments(request, handover)
    collected = _Collected()
    plugins = [RunnerPlugin(_run_context(request), (), lambda line: None), collected]
    code = pytest.main([*arguments, "--collect-only"], plugins=plugins)
    assert code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED), code
    return {nodeid.split("::", 1)[1].split("[", 1)[0] for nodeid in collected.nodeids}


def _run_context(request: RunRequest):  # noqa: ANN202 - the runner's own RunContext
    from margo_conformance.commands.pytest_session import run_context

    return run_context(request)


@pytest.mark.parametrize("role", ["agent", "wos"])
def test_list_and_run_select_the_same_scenarios(role: str, tmp_path: Path, keep_sigterm: None) -> None:
    outcomes = set()
    for select, keyword in SELECTIONS:
        listed = [s.ref.test_name for s in selected_scenarios(role, Selection(select, keyword))]
        assert len(set(listed)) == len(listed), "two scenarios with one test name: compare by name is unsafe"
        ran = _run_collects(role, select, keyword, tmp_path)
        assert ran == set(listed), f"-m {select!r} -k {keyword!r}"
        outcomes.add(frozenset(ran))
    assert len(outcomes) >= 4, "the selections should tell scenarios apart, not all take everything or nothing"
