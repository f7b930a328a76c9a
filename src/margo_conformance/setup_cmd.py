"""`margo-conformance setup`: get this machine ready to run the suite.

Makes sure a Docker engine answers, picks or builds the base image every suite Dockerfile
builds FROM, and (when asked) builds the reference implementations' images. Everything is
cached, so running it again on a ready machine takes a couple of seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker

from margo_conformance.environment import engine_answers, ensure_engine
from margo_conformance.images import build_if_stale, ensure_base_image
from margo_conformance.paths import SUITE_ROOT

Log = Callable[[str], None]

REFERENCE_AGENT_IMAGE = "margo-conformance/reference-agent:dev"
REFERENCE_AGENT_DIR = SUITE_ROOT / "reference" / "agent"


def run_setup(base_image: str | None, with_reference_images: bool, log: Log) -> dict[str, Any]:
    """Prepare engine and images; return a summary for the CLI to print."""
    started = time.monotonic()
    engine = "running" if engine_answers() else "started"
    if engine == "started":
        ensure_engine(log)
    client = docker.from_env()
    try:
        base = ensure_base_image(client, base_image, log)
        log(f"base image: {base}")
        built: list[str] = []
        cached: list[str] = []
        skipped: list[str] = []
        if with_reference_images:
            _reference_agent(client, base, log, built, cached, skipped)
    finally:
        client.close()
    return {
        "engine": engine,
        "base_image": base,
        "built": built,
        "cached": cached,
        "skipped": skipped,
        "seconds": round(time.monotonic() - started, 2),
    }


def _reference_agent(
    client: docker.DockerClient,
    base: str,
    log: Log,
    built: list[str],
    cached: list[str],
    skipped: list[str],
) -> None:
    if not (REFERENCE_AGENT_DIR / "Dockerfile").is_file():
        log(f"{REFERENCE_AGENT_DIR}/Dockerfile not found; skipping {REFERENCE_AGENT_IMAGE}")
        skipped.append(REFERENCE_AGENT_IMAGE)
        return
    outcome = build_if_stale(
        client,
        REFERENCE_AGENT_IMAGE,
        REFERENCE_AGENT_DIR,
        build_args={"BASE_IMAGE": base},
        log=log,
    )
    (built if outcome.built else cached).append(outcome.tag)
    if not outcome.built:
        log(f"{outcome.tag} is up to date")
