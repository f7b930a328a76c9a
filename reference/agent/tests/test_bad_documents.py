"""Desired state that breaks the rules: unreadable files, schema violations, and what is reported."""

from __future__ import annotations

from pathlib import Path

import yaml
from margo_agent.gitops import parse_deployment, read_desired_state, validate_document
from margo_agent.reconciler import INVALID_DEPLOYMENT, Reconciler
from test_gitops import V24_EXAMPLE, write
from test_reconciler import FakeRuntime


def example() -> dict:
    return yaml.safe_load(V24_EXAMPLE)


def test_the_pre_draft_example_is_valid() -> None:
    assert validate_document(example()) == []


def test_schema_violations_are_named() -> None:
    document = example()
    del document["spec"]["parameters"]["siteId"]["targets"]
    document["metadata"]["annotations"]["applicationId"] = "Not_Lowercase"
    document["metadata"]["annotations"]["id"] = "not-a-uuid"
    del document["metadata"]["namespace"]
    problems = validate_document(document)
    assert "spec.parameters.siteId.targets must list at least one target" in problems
    assert any(p.startswith("metadata.annotations.applicationId 'Not_Lowercase' does not match") for p in problems)
    assert any(p.startswith("metadata.annotations.id 'not-a-uuid'") for p in problems)
    assert "metadata.namespace must be a non-empty string" in problems


def test_an_unknown_profile_type_is_left_to_the_runtime() -> None:
    document = example()
    document["spec"]["deploymentProfile"]["type"] = "wasm-module"
    assert validate_document(document) == []


def test_desired_state_keeps_refused_documents_and_lists_unreadable_ones(tmp_path: Path) -> None:
    write(tmp_path, "deployments/good.yaml", V24_EXAMPLE)
    write(tmp_path, "deployments/broken.yaml", "metadata: {annotations: [\n")
    write(tmp_path, "deployments/other.yaml", "kind: Something\n")
    bad = example()
    bad["metadata"]["annotations"]["id"] = "0d3b2f4e-8912-45f4-a523-372358765def"
    del bad["spec"]["parameters"]["siteId"]["targets"]
    write(tmp_path, "deployments/bad.yaml", yaml.safe_dump(bad))
    state = read_desired_state(tmp_path)
    assert state.unreadable == (
        "deployments/broken.yaml (not YAML)",
        "deployments/other.yaml (not an ApplicationDeployment)",
    )
    assert not state.deployments["ad9b614e-8912-45f4-a523-372358765def"].problems
    refused = state.deployments["0d3b2f4e-8912-45f4-a523-372358765def"]
    assert refused.problems == ("spec.parameters.siteId.targets must list at least one target",)
    assert len(state.broken) == 3


def test_a_refused_document_is_reported_failed_and_never_installed(tmp_path: Path) -> None:
    document = example()
    del document["spec"]["parameters"]["siteId"]["targets"]
    deployment = parse_deployment(document, "deployments/bad.yaml")
    from dataclasses import replace

    deployment = replace(deployment, problems=tuple(validate_document(document)))
    runtime = FakeRuntime()
    reports: list[dict] = []
    reconciler = Reconciler(runtime, reports.append, tmp_path / "applied.json", False)
    reconciler.reconcile({deployment.id: deployment})
    reconciler.reconcile({deployment.id: deployment})  # not retried until it changes
    assert runtime.calls == []
    assert [r["status"]["state"] for r in reports] == ["Pending", "Failed"]
    failed = reports[-1]
    assert failed["status"]["error"]["code"] == INVALID_DEPLOYMENT
    assert "targets" in failed["status"]["error"]["message"]
    assert [c["state"] for c in failed["components"]] == ["Failed"]
    assert failed["components"][0]["error"] == failed["status"]["error"]
