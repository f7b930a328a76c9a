"""Which runtime the agent's workloads go to (MARGO_AGENT_RUNTIME)."""

from __future__ import annotations

import ssl

from margo_agent.config import AgentConfig
from margo_agent.ledger import LedgerRuntime
from margo_agent.workloads import DockerRuntime


def workload_runtime(config: AgentConfig, ssl_context: ssl.SSLContext | None) -> DockerRuntime | LedgerRuntime:
    if config.runtime == "ledger":
        return LedgerRuntime(config.state_dir, config.device_images, ssl_context)
    return DockerRuntime(config.device_id, config.workload_labels, ssl_context)
