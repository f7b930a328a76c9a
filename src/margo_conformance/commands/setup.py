"""`margo-conformance setup`: get this machine ready to run the suite.

Makes sure a Docker engine answers, picks or builds the base image every suite Dockerfile
builds FROM, and (when asked) builds the reference implementations' images. Everything is
cached, so running it again on a ready machine takes a couple of seconds and pulls nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker

from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.config.run_config import SutConfig, build_arguments, load_sut_file
from margo_conformance.engine.base_image import choose_base_image
from margo_conformance.engine.daemon import engine_answers, ensure_engine
from margo_conformance.engine.images import BuildOutcome, build_if_stale, needs_build

Log = Callable[[str], None]

#: The bundled SUT files whose images setup prepares; their `build` sections say how.
REFERENCE_SUT_FILES = (FIXTURES_DIR / "sut" / "reference-agent.yaml", FIXTURES_DIR / "sut" / "reference-wos.yaml")


def run_setup(base_image: str | None, with_reference_images: bool, log: Log) -> dict[str, Any]:
    """Prepare engine and images; return a summary for the CLI to print."""
    started = time.monotonic()
    engine = "running" if engine_answers() else "started"
    if engine == "started":
        ensure_engine(log)
    client = docker.from_env()
    built: list[str] = []
    cached: list[str] = []
    references = [load_sut_file(f) for f in REFERENCE_SUT_FILES] if with_reference_images else []

    def references_stale(base: str) -> bool:
        return any(_reference_stale(client, sut, base) for sut in references)

    try:
        base = choose_base_image(client, base_image, references_stale, log)
        log(f"base image: {base}")
        for sut in references:
            outcome = _build_reference(client, sut, base, log)
            (built if outcome.built else cached).append(outcome.tag)
    finally:
        client.close()
    return {
        "engine": engine,
        "base_image": base,
        "built": built,
        "cached": cached,
        "seconds": round(time.monotonic() - started, 2),
    }


def _reference_stale(client: docker.DockerClient, sut: SutConfig, base: str) -> bool:
    assert sut.build is not None, f"{sut.path} names no build context"
    return needs_build(client, sut.image, sut.build.context, sut.build.dockerfile, build_arguments(sut.build, base))


def _build_reference(client: docker.DockerClient, sut: SutConfig, base: str, log: Log) -> BuildOutcome:
    assert sut.build is not None, f"{sut.path} names no build context"
    args = build_arguments(sut.build, base)
    outcome = build_if_stale(client, sut.image, sut.build.context, sut.build.dockerfile, args, log=log)
    if not outcome.built:
        log(f"{outcome.tag} is up to date")
    return outcome
