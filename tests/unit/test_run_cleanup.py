"""How a run's containers are removed at its end (a fake engine client; no Docker)."""

from __future__ import annotations

from typing import Any

import pytest

from margo_conformance.engine import sut


class FakeContainer:
    def __init__(self, engine: FakeEngine, name: str) -> None:
        self.engine, self.name = engine, name

    def remove(self, force: bool, v: bool) -> None:
        self.engine.live.remove(self.name)
        self.engine.removed.append(self.name)
        # Removing the agent lets the workload create it had in flight land with the engine.
        self.engine.live.extend(self.engine.lands_after.pop(self.name, []))


class FakeEngine:
    """Containers by name; `lands_after[x]`: containers the engine registers once x is removed;
    `late`: a container it registers only after the listing passes (seen as a create event)."""

    def __init__(self, live: list[str], lands_after: dict[str, list[str]], late: list[str]) -> None:
        self.live, self.lands_after, self.late = list(live), lands_after, late
        self.removed: list[str] = []
        self.containers = self
        self.networks = self
        self.events_asked: dict[str, Any] = {}

    def list(self, all: bool = False, filters: dict[str, str] | None = None) -> list[FakeContainer]:
        return [FakeContainer(self, name) for name in self.live] if all else []

    def get(self, name: str) -> FakeContainer:
        return FakeContainer(self, name)

    def events(self, **asked: Any) -> list[dict[str, str]]:
        self.events_asked = asked
        self.live.extend(self.late)
        return [{"id": name} for name in self.late]

    def close(self) -> None:
        pass


def _engine(monkeypatch: pytest.MonkeyPatch, engine: FakeEngine) -> FakeEngine:
    monkeypatch.setattr(sut.docker, "from_env", lambda: engine)
    return engine


def test_a_container_registered_while_the_run_was_removed_goes_in_a_further_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = _engine(monkeypatch, FakeEngine(["agent"], {"agent": ["workload"]}, late=["never-seen"]))
    assert sut.remove_run_resources("run-1") == 2
    assert engine.removed == ["agent", "workload"] and not engine.events_asked  # a normal end: no watch


def test_an_interrupted_run_also_removes_what_its_create_events_name_afterwards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = _engine(monkeypatch, FakeEngine(["agent"], {}, late=["late-sut"]))
    assert sut.remove_run_resources("run-1", late_creates_s=3.0) == 2
    assert engine.removed == ["agent", "late-sut"] and engine.live == []
    assert engine.events_asked["filters"] == {
        "type": "container", "event": "create", "label": f"{sut.RUN_LABEL}=run-1"}
    assert engine.events_asked["until"] > engine.events_asked["since"]
