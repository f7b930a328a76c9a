"""No pull unless something is built: run, setup and the base-image choice against a fake engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from margo_conformance.commands import runner
from margo_conformance.commands import setup as setup_cmd
from margo_conformance.config.run_config import SutConfig, load_sut_file
from margo_conformance.engine import base_image, images

SUT_IMAGE = "vendor/agent:dev"


@dataclass
class FakeImage:
    id: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def attrs(self) -> dict[str, Any]:
        return {"Id": self.id, "RepoDigests": []}


@dataclass
class FakeEngine:
    """A Docker client with no registry behind it; records every pull, build and tag it is asked for."""

    present: dict[str, FakeImage] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    timeout: float = 60.0

    def __post_init__(self) -> None:
        self.images = self  # client.images.get / .build
        self.api = self  # client.api.pull / .tag / .timeout

    def add(self, ref: str, labels: dict[str, str] | None = None) -> None:
        self.present[ref] = FakeImage(f"sha256:{len(self.present)}", labels or {})

    def get(self, ref: str) -> FakeImage:
        if ref not in self.present:
            raise docker.errors.ImageNotFound(ref)
        return self.present[ref]

    def pull(self, repository: str, tag: str, **_: Any) -> list[dict[str, str]]:
        self.calls.append(("pull", f"{repository}:{tag}"))
        raise docker.errors.APIError("no registry", explanation="no such host")

    def build(self, *, tag: str, buildargs: dict[str, str], labels: dict[str, str], **_: Any) -> None:
        self.calls.append(("build", f"{tag} BASE_IMAGE={buildargs.get('BASE_IMAGE')}"))
        self.add(tag, labels)

    def tag(self, source: str, repository: str, version: str, force: bool = False) -> None:
        self.present[f"{repository}:{version}"] = self.present[source]

    def close(self) -> None:
        pass

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


def _sut_file(tmp_path: Path, with_build: bool) -> SutConfig:
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY app.py /\n")
    (context / "app.py").write_text("print('hi')\n")
    build = 'build:\n  context: ctx\n  args:\n    BASE_IMAGE: "{base_image}"\n' if with_build else ""
    path = tmp_path / "sut.yaml"
    path.write_text(f'name: x\nrole: agent\nimage: {SUT_IMAGE}\n{build}env:\n  URL: "{{wos_url}}"\nready:\n  log: up\n')
    return load_sut_file(path)


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    for module in (runner, setup_cmd):
        monkeypatch.setattr(module, "engine_answers", lambda: True)
        monkeypatch.setattr(module.docker, "from_env", lambda: fake)
    return fake


def _built_before(engine: FakeEngine, sut: SutConfig, base: str) -> None:
    assert sut.build is not None
    images.build_if_stale(engine, sut.image, sut.build.context, build_args={"BASE_IMAGE": base})
    engine.calls.clear()


def test_a_run_whose_images_are_current_pulls_nothing(tmp_path: Path, engine: FakeEngine) -> None:
    engine.add(base_image.LOCAL_BASE_IMAGE)  # a machine without a registry: the public image is absent
    sut = _sut_file(tmp_path, with_build=True)
    _built_before(engine, sut, base_image.LOCAL_BASE_IMAGE)
    prepared = runner.prepare_images(sut, None, lambda line: None)
    assert prepared.base_image == base_image.LOCAL_BASE_IMAGE and prepared.sut_image.startswith(SUT_IMAGE + "-")
    assert engine.calls == []


def test_a_run_of_a_ready_made_image_pulls_nothing(tmp_path: Path, engine: FakeEngine) -> None:
    engine.add(base_image.LOCAL_BASE_IMAGE)
    engine.add(SUT_IMAGE)
    prepared = runner.prepare_images(_sut_file(tmp_path, with_build=False), None, lambda line: None)
    assert prepared.sut_image == SUT_IMAGE and engine.calls == []


def test_a_run_that_builds_may_try_the_public_image_first(tmp_path: Path, engine: FakeEngine) -> None:
    engine.add(base_image.LOCAL_BASE_IMAGE)
    sut = _sut_file(tmp_path, with_build=True)  # never built: the SUT image has to be built
    runner.prepare_images(sut, None, lambda line: None)
    assert engine.calls == [
        ("pull", base_image.PUBLIC_BASE_IMAGE),
        ("build", f"{engine.calls[1][1].split()[0]} BASE_IMAGE={base_image.LOCAL_BASE_IMAGE}"),
    ]


def test_a_present_public_image_is_used_without_a_pull_even_to_build(tmp_path: Path, engine: FakeEngine) -> None:
    engine.add(base_image.PUBLIC_BASE_IMAGE)
    runner.prepare_images(_sut_file(tmp_path, with_build=True), None, lambda line: None)
    assert engine.kinds() == ["build"]


def test_a_given_base_image_on_the_engine_is_never_pulled(tmp_path: Path, engine: FakeEngine) -> None:
    engine.add("vendor/base:1")
    runner.prepare_images(_sut_file(tmp_path, with_build=True), "vendor/base:1", lambda line: None)
    assert engine.kinds() == ["build"]


def test_setup_with_current_reference_images_pulls_nothing(
    tmp_path: Path, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.add(base_image.LOCAL_BASE_IMAGE)
    sut = _sut_file(tmp_path, with_build=True)
    monkeypatch.setattr(setup_cmd, "REFERENCE_SUT_FILES", (sut.path,))
    _built_before(engine, sut, base_image.LOCAL_BASE_IMAGE)
    summary = setup_cmd.run_setup(None, True, lambda line: None)
    assert summary["base_image"] == base_image.LOCAL_BASE_IMAGE and summary["built"] == []
    assert engine.calls == []

    (sut.build.context / "app.py").write_text("print('changed')\n")  # type: ignore[union-attr]
    setup_cmd.run_setup(None, True, lambda line: None)
    assert engine.kinds() == ["pull", "build"]  # a build is due: now the public image is worth a try
