"""Which scenarios a run or a listing takes: `-m` over tags and `-k` over names, one engine for both.

`margo-conformance list scenarios` applies a `Selection` to the Gherkin features; `run` hands
the same expressions to the conformance plugin, which applies it to the collected items in
every pytest process (pytest-xdist workers included). Both sides see a scenario the same way:
its name and its tags (feature, rule and scenario tags), so the same inputs select the same
scenarios. pytest's own `-m`/`-k` are not used: they also see module, directory and parameter
names, which a listing of the features has no way to know.

`-m` is pytest's expression language (and, or, not, parentheses) over the tags. `-k` is:
- an *expression* when pytest's `-k` parser accepts it: each word is matched, case-insensitively,
  as a substring of the scenario's name, of its test function name, of one of its tags, or of
  an Examples value (a listing shows an outline when any of its rows matches; a run takes the
  matching rows);
- otherwise a *phrase*: the whole text, case-insensitively and with runs of spaces taken as
  one, is a substring of the scenario's name. Two words side by side without `and`, `or` or
  `not` between them are never a valid expression, so a plain phrase such as
  `-k "wrong key is refused"` always reads as a phrase.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from margo_conformance.base.errors import ConfigError

EXPRESSION = "expression"
PHRASE = "phrase"


@dataclass(frozen=True)
class ScenarioRef:
    """A scenario as selection sees it: its name, its tags and its Examples values.

    `variants` are the values of an outline's Examples rows (a listing sees all of them) or the id
    of the one example a collected test runs, so `-k new-greeting` takes that example.
    """

    name: str
    tags: frozenset[str]
    variants: frozenset[str] = frozenset()

    @property
    def test_name(self) -> str:
        """The pytest function name pytest-bdd gives the scenario."""
        from pytest_bdd.scenario import make_python_name

        return "test_" + make_python_name(self.name)


def scenario_ref(template: Any, variant: str | None = None) -> ScenarioRef:
    """A pytest-bdd ScenarioTemplate as selection sees it: the tags pytest-bdd turns into markers,
    and every Examples value (or, for one collected example, its `variant` id)."""
    rule_tags = template.rule.tags if template.rule is not None else set()
    if variant is not None:
        variants = frozenset({variant})
    else:
        variants = frozenset(str(v) for e in template.examples for row in e.examples for v in row)
    return ScenarioRef(
        name=template.name, tags=frozenset(template.tags | template.feature.tags | rule_tags), variants=variants
    )


def keyword_kind(keyword: str) -> str:
    """EXPRESSION when pytest's -k parser accepts the text (without call arguments), else PHRASE."""
    from _pytest.mark.expression import Expression

    try:
        compiled = Expression.compile(keyword)
    except SyntaxError:
        return PHRASE
    calls: list[bool] = []
    compiled.evaluate(lambda name, **kwargs: bool(calls.append(bool(kwargs))))
    return PHRASE if any(calls) else EXPRESSION


def _normalised(text: str) -> str:
    return " ".join(text.split()).lower()


@dataclass(frozen=True)
class Selection:
    """`-m` and `-k` as given; `None` or empty selects everything. A bad `-m` is a ConfigError."""

    tags: str | None = None
    keyword: str | None = None

    def __post_init__(self) -> None:
        _ = self._tag_expression  # refuse a bad -m now, before anything runs

    @cached_property
    def _tag_expression(self) -> Any:
        if not self.tags:
            return None
        from _pytest.mark.expression import Expression

        try:
            return Expression.compile(self.tags)
        except SyntaxError as exc:
            raise ConfigError(f"-m {self.tags!r}: {exc}") from exc

    @cached_property
    def keyword_kind(self) -> str | None:
        return keyword_kind(self.keyword) if self.keyword else None

    @cached_property
    def _keyword_expression(self) -> Any:
        if self.keyword_kind != EXPRESSION:
            return None
        from _pytest.mark.expression import Expression

        return Expression.compile(self.keyword or "")

    @property
    def is_everything(self) -> bool:
        return not self.tags and not self.keyword

    def selects(self, scenario: ScenarioRef) -> bool:
        return self._tags_match(scenario) and self._keyword_matches(scenario)

    def select(self, scenarios: Iterable[ScenarioRef]) -> list[ScenarioRef]:
        return [s for s in scenarios if self.selects(s)]

    def _tags_match(self, scenario: ScenarioRef) -> bool:
        if self._tag_expression is None:
            return True
        # A tag carries no arguments, so `tag(x=1)` matches nothing.
        return bool(self._tag_expression.evaluate(lambda name, **kwargs: not kwargs and name in scenario.tags))

    def _keyword_matches(self, scenario: ScenarioRef) -> bool:
        if not self.keyword:
            return True
        if self._keyword_expression is None:  # a phrase
            return _normalised(self.keyword) in _normalised(scenario.name)
        words = [scenario.name.lower(), scenario.test_name.lower(), *(t.lower() for t in scenario.tags),
                 *(v.lower() for v in scenario.variants)]
        return bool(self._keyword_expression.evaluate(lambda name, **kwargs: any(name.lower() in w for w in words)))
