"""One SUT instance per scenario, by the SUT file's launcher: a container or a local process (or a
WOS that already runs, at a URL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.config.run_config import SutConfig
from margo_conformance.engine.process import SutProcess
from margo_conformance.engine.sut import SutContainer
from margo_conformance.engine.url import SutAtUrl


class RunningSut(Protocol):
    """What scenarios ask of a started SUT, whichever launcher started it."""

    exit_code: int | None

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def is_running(self) -> bool: ...

    def exec(self, command: list[str], timeout_s: float) -> tuple[int, str]: ...


def sut_instance(
    config: SutConfig,
    values: Mapping[str, str],
    evidence: EvidenceLog,
    run_id: str,
    published: Mapping[int, int] | None = None,
) -> RunningSut:
    """A SUT ready to start. `published`: container port -> host port (a container's; a
    process listens on the host ports themselves, handed to it as `{port}`/`{control_port}`)."""
    if config.in_containers:
        return SutContainer(config, values, evidence, run_id, published)
    if config.url is not None:
        return SutAtUrl(config, evidence)
    return SutProcess(config, values, evidence)
