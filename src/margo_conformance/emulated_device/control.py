"""The control adapter: the suite asks a WOS under test to do what an operator would.

See docs/control-adapter.md. A verb that fails is a `ControlError`: the suite could not set
the scene, so the scenario ends in ERROR, never in a conformance failure.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import httpx

from margo_conformance.base import redaction, trust
from margo_conformance.base.errors import SutError
from margo_conformance.base.evidence import NOTE, EvidenceLog
from margo_conformance.config.run_config import Control
from margo_conformance.engine.launch import RunningSut

VERBS = ("register-device", "deploy", "remove", "deployment-status", "device-capabilities")


class ControlError(SutError):
    """A control verb failed or answered something that is not a JSON object."""


class ControlAdapter(Protocol):
    def call(self, verb: str, request: dict[str, Any]) -> dict[str, Any]: ...


class HttpControl:
    def __init__(self, base_url: str, evidence: EvidenceLog, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.evidence = evidence
        self.timeout_s = timeout_s

    def call(self, verb: str, request: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/{verb}"
        try:
            with self.evidence.waiting():
                response = httpx.post(url, json=request, timeout=self.timeout_s, verify=trust.public_roots())
        except httpx.HTTPError as exc:
            raise ControlError(f"control verb {verb}: {type(exc).__name__} calling {url}") from exc
        if response.status_code >= 400:
            raise ControlError(f"control verb {verb}: {response.status_code} {_cut(response.text)}")
        return _record(self.evidence, verb, request, _json_object(verb, response.text))


class ExecControl:
    def __init__(self, command: tuple[str, ...], sut: RunningSut, evidence: EvidenceLog, timeout_s: float) -> None:
        self.command = list(command)
        self.sut = sut
        self.evidence = evidence
        self.timeout_s = timeout_s

    def call(self, verb: str, request: dict[str, Any]) -> dict[str, Any]:
        with self.evidence.waiting():
            code, output = self.sut.exec([*self.command, verb, json.dumps(request)], self.timeout_s)
        if code != 0:
            raise ControlError(f"control verb {verb}: exit {code}: {_cut(output.strip(), tail=True)}")
        return _record(self.evidence, verb, request, _json_object(verb, output))


def adapter_for(
    control: Control, sut: RunningSut, http_base: str | None, evidence: EvidenceLog, timeout_s: float
) -> ControlAdapter:
    if control.http_port is not None:
        assert http_base is not None
        return HttpControl(http_base + control.http_path, evidence, timeout_s)
    return ExecControl(control.command, sut, evidence, timeout_s)


def _json_object(verb: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ControlError(f"control verb {verb}: answer is not JSON: {_cut(text.strip())!r}") from exc
    if not isinstance(value, dict):
        raise ControlError(f"control verb {verb}: answer is not a JSON object: {_cut(text.strip())!r}")
    return value


def _record(evidence: EvidenceLog, verb: str, request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    redaction.current().learn_document(answer)  # the onboarding key register-device hands out
    evidence.record(NOTE, f"control {verb} -> {_cut(json.dumps(answer), 160)}", verb=verb, request=request,
                    answer=answer)
    return answer


def _cut(text: str, limit: int = 200, tail: bool = False) -> str:
    """Redacted before it is cut: a credential across the cut would otherwise leave a prefix."""
    shown = redaction.redact_text(text)
    return shown[-limit:] if tail else shown[:limit]
