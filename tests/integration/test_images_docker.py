"""ensure_built_image against a real engine: offline wheels, then a cached no-op."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import docker
import pytest

from margo_conformance.engine.base_image import LOCAL_BASE_IMAGE
from margo_conformance.engine.images import build_if_stale, image_exists

DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY . /src
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-index --find-links=/src/wheelhouse -r /src/requirements.txt
CMD ["/opt/venv/bin/python", "-c", "import six; print(six.__name__)"]
"""


@pytest.mark.docker
def test_tiny_context_builds_once_then_is_cached(tmp_path: Path) -> None:
    client = docker.from_env()
    if not image_exists(client, LOCAL_BASE_IMAGE):
        pytest.skip(f"{LOCAL_BASE_IMAGE} is missing: run `margo-conformance setup` first")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "requirements.txt").write_text("six\n")
    tag = f"margo-conformance/selftest-tiny:{uuid.uuid4().hex[:8]}"
    args = {"BASE_IMAGE": LOCAL_BASE_IMAGE}
    try:
        first = build_if_stale(client, tag, tmp_path, build_args=args)
        assert first.built
        output = client.containers.run(tag, remove=True)
        assert output.strip() == b"six"

        started = time.monotonic()
        second = build_if_stale(client, tag, tmp_path, build_args=args)
        assert not second.built
        assert time.monotonic() - started < 0.5
    finally:
        if image_exists(client, tag):
            client.images.remove(tag, force=True)
        client.close()
