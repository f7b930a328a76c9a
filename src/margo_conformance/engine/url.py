"""A WOS that already runs (`launcher: url` in the SUT file): a lab installation, or one a CI
job brought up before the suite.

The suite neither starts nor stops it and sees none of its logs; every scenario shares it,
each with devices of its own (as the fleet profile shares one WOS among many devices).
"Starting" it checks that its API answers at all, so a wrong URL or a WOS that is down is one
line before any scenario judges anything.
"""

from __future__ import annotations

import httpx

from margo_conformance.base.errors import SutError
from margo_conformance.base.evidence import CONTAINER, EvidenceLog
from margo_conformance.config.run_config import SutConfig

#: How long one reachability probe may take.
PROBE_TIMEOUT_S = 5.0


class SutAtUrl:
    """The RunningSut of a WOS reached at a URL (engine/launch.py)."""

    exit_code: int | None = None

    def __init__(self, config: SutConfig, evidence: EvidenceLog) -> None:
        if config.url is None:
            raise SutError("the SUT file's launcher is `url` but it has no `url.api`")
        self.config = config
        self.evidence = evidence
        self.api = config.url.api

    def start(self) -> None:
        """Check that the API answers (any HTTP status: the suite asks nothing of the base URL)."""
        self.evidence.record(CONTAINER, f"using the WOS at {self.api} (it runs outside the suite)", url=self.api)
        why = self._unreachable()
        if why is not None:
            raise SutError(f"the WOS at {self.api} does not answer: {why}")

    def _unreachable(self) -> str | None:
        timeout = min(PROBE_TIMEOUT_S, self.config.timeouts.request)
        try:  # reachability only: a device's own requests verify the WOS as its profile says
            with self.evidence.waiting(), httpx.Client(timeout=timeout, verify=False) as client:
                client.get(self.api)
        except httpx.HTTPError as exc:
            return str(exc) or type(exc).__name__
        return None

    def is_running(self) -> bool:
        return self._unreachable() is None

    def stop(self) -> None:
        """Nothing to stop: the WOS belongs to whoever started it."""

    def exec(self, command: list[str], timeout_s: float) -> tuple[int, str]:
        return -1, f"a WOS at a URL ({self.api}) runs no command for the suite; give control.http"
