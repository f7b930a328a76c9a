"""PR1 documents and pure functions: manifests, ApplicationDeployments, the stored cursor,
status and capabilities documents (checked against schemas/pr1 inside the repository)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from margo_agent.config import ConfigError, load_config
from margo_agent.faults import Faults, parse_faults
from margo_agent.gitops import Component, Deployment
from margo_agent.pr1 import capabilities, status
from margo_agent.pr1.faults import PR1_FAULTS
from margo_agent.pr1.manifest import (
    DeploymentRef,
    ManifestCursor,
    ManifestError,
    digest_of,
    parse_deployment,
    parse_manifest,
)
from margo_agent.reconciler import apply_deployment, reject_deployment
from margo_agent.workloads import WorkloadError, parameter_environment
from pr1_fakes import deployment_yaml, schema_validator
from suite_schemas import SCHEMAS

PAYLOADS = SCHEMAS.parent / "fixtures" / "payloads" / "pr1"
A = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def payloads(kind: str, validity: str) -> list[Path]:
    folder = PAYLOADS / kind / validity
    return sorted(folder.iterdir()) if folder.is_dir() else []


# -- manifests -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", payloads("state-manifest", "valid"), ids=lambda p: p.name)
def test_the_suites_valid_manifests_parse(path: Path) -> None:
    manifest = parse_manifest(path.read_bytes())
    document = json.loads(path.read_text())
    assert manifest.version == document["manifestVersion"]
    assert [r.deployment_id for r in manifest.deployments] == [d["deploymentId"] for d in document["deployments"]]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"manifestVersion": 0, "bundle": null, "deployments": []}',
        b'{"manifestVersion": true, "bundle": null, "deployments": []}',
        b'{"manifestVersion": 1.5, "bundle": null, "deployments": []}',
        b'{"manifestVersion": 18446744073709551616, "bundle": null, "deployments": []}',
        b'{"manifestVersion": 2, "bundle": null, "deployments": {}}',
        b'{"manifestVersion": 2, "bundle": null, "deployments": [{"deploymentId": "x", "digest": "sha256:'
        + b"0" * 64
        + b'", "url": "/u"}]}',
        # DSA-033: a digest algorithm other than sha256 makes the manifest invalid
        b'{"manifestVersion": 2, "bundle": null, "deployments": [{"deploymentId": "'
        + A.encode()
        + b'", "digest": "sha512:'
        + b"0" * 128
        + b'", "url": "/u"}]}',
        b'{"manifestVersion": 2, "bundle": null, "deployments": [{"deploymentId": "'
        + A.encode()
        + b'", "digest": "SHA256:'
        + b"0" * 64
        + b'", "url": "/u"}]}',
    ],
)
def test_unusable_manifests_are_refused(body: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(body)


def test_digest_is_sha256_over_the_exact_bytes() -> None:
    assert digest_of(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_the_cursor_survives_a_round_trip_with_a_uint64_version(tmp_path: Path) -> None:
    path = tmp_path / "cursor.json"
    assert ManifestCursor.load(path) == ManifestCursor(0, None)
    held = ManifestCursor(2**64 - 1, '"sha256:' + "a" * 64 + '"', "client-1")
    held.save(path)
    assert ManifestCursor.load(path) == held
    path.write_text("{broken")
    assert ManifestCursor.load(path) == ManifestCursor(0, None)


# -- ApplicationDeployments ------------------------------------------------------------------


def ref_for(body: bytes, deployment_id: str) -> DeploymentRef:
    url = f"/api/v1/clients/c/deployments/{deployment_id}/{digest_of(body)}"
    return DeploymentRef(deployment_id, digest_of(body), url)


def test_a_compose_deployment_becomes_a_docker_compose_deployment_with_env_pointers() -> None:
    body = deployment_yaml(A, "hello", "side")
    deployment = parse_deployment(body, ref_for(body, A))
    assert deployment.id == A and deployment.problems == ()
    assert deployment.profile_type == "docker-compose"
    assert [c.name for c in deployment.components] == ["hello", "side"]
    assert deployment.digest == digest_of(body)
    assert parameter_environment(deployment, "hello") == {"GREETING": "hello"}
    assert parameter_environment(deployment, "side") == {}


@pytest.mark.parametrize("path", payloads("application-deployment", "valid"), ids=lambda p: p.name)
def test_the_suites_valid_deployments_have_no_problems(path: Path) -> None:
    import yaml

    body = path.read_bytes()
    deployment_id = yaml.safe_load(body)["id"]
    deployment = parse_deployment(body, ref_for(body, deployment_id))
    assert deployment.problems == ()  # x-*-extensions included (DSA-039)


def test_a_helm_deployment_stays_helm_for_the_runtime_to_refuse() -> None:
    body = (PAYLOADS / "application-deployment" / "valid" / "helm-with-extensions.yaml").read_bytes()
    deployment = parse_deployment(body, ref_for(body, "5f0c8a52-3b1e-4c7d-9e2f-8a6b4c3d2e1f"))
    assert deployment.profile_type == "helm"
    assert deployment.parameters["replicas"]["targets"][0]["pointer"] == "deployment.replicas"


def test_an_id_other_than_the_manifests_is_a_problem() -> None:
    body = deployment_yaml(A, "hello")
    deployment = parse_deployment(body, ref_for(body, "ad9b614e-8912-45f4-a523-372358765def"))
    assert deployment.id == "ad9b614e-8912-45f4-a523-372358765def"
    assert any("differs from the manifest" in p for p in deployment.problems)


@pytest.mark.parametrize("body", [b"a: [", b"kind: Something\n", b"kind: ApplicationDeployment\nspec: {}\n"])
def test_content_that_names_no_deployment_is_unusable(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_deployment(body, ref_for(body, A))


# -- status documents ------------------------------------------------------------------------


def two_components() -> Deployment:
    body = deployment_yaml(A, "db", "web")
    return parse_deployment(body, ref_for(body, A))


@pytest.mark.parametrize("fail_on", [None, "db", "web"])
def test_installation_reports_are_valid_pr1_documents(fail_on: str | None) -> None:
    validator = schema_validator("deployment-status")
    reports: list[dict[str, Any]] = []

    def install(deployment: Deployment, component: Component) -> None:
        if component.name == fail_on:
            raise WorkloadError("IMAGE_NOT_FOUND", "image is not on the device")

    apply_deployment(two_components(), install, lambda d: reports.append(status.to_pr1(d)))
    for report in reports:
        assert list(validator.iter_errors(report)) == []
        assert report["apiVersion"] == "deployment.margo.org/v1alpha1"
    final = reports[-1]
    if fail_on is None:
        assert final["status"] == {"state": "installed"}
    else:
        assert final["status"]["state"] == "failed"
        assert final["status"]["error"] == {"code": "IMAGE_NOT_FOUND", "message": "image is not on the device"}
        failed = next(c for c in final["components"] if c["name"] == fail_on)
        assert failed["state"] == "failed" and failed["error"]["code"] == "IMAGE_NOT_FOUND"


@pytest.mark.parametrize(("switch", "schema_error"), [
    ("status-without-components", "'components' is a required property"),
    ("capitalised-states", "'Installed' is not one of"),
])
def test_each_status_fault_spoils_the_report_the_way_its_requirement_forbids(switch: str, schema_error: str) -> None:
    reports: list[dict[str, Any]] = []
    apply_deployment(two_components(), lambda deployment, component: None, lambda d: reports.append(status.to_pr1(d)))
    final = reports[-1]
    assert status.with_faults(final, Faults()) == final
    spoiled = status.with_faults(final, Faults(frozenset({switch})))
    errors = [e.message for e in schema_validator("deployment-status").iter_errors(spoiled)]
    assert any(schema_error in e for e in errors), errors
    assert final["status"] == {"state": "installed"}  # the document reported is not changed


def test_a_rejected_deployment_report_is_valid() -> None:
    validator = schema_validator("deployment-status")
    reports: list[dict[str, Any]] = []
    deployment = two_components()
    from dataclasses import replace

    reject_deployment(replace(deployment, problems=("id is wrong",)), lambda d: reports.append(status.to_pr1(d)))
    assert [r["status"]["state"] for r in reports] == ["pending", "failed"]
    for report in reports:
        assert list(validator.iter_errors(report)) == []


@pytest.mark.parametrize("state", ["removing", "removed"])
def test_removal_reports_are_valid(state: str) -> None:
    validator = schema_validator("deployment-status")
    document = status.removal_document(A, ["db", "web"], state)
    assert list(validator.iter_errors(document)) == []
    failed = status.removal_document(A, ["db"], "failed", {"code": "CONTAINER_REMOVE_FAILED", "message": "x"})
    assert list(validator.iter_errors(failed)) == []


# -- capabilities ----------------------------------------------------------------------------


def test_the_real_system_yields_a_valid_capabilities_manifest() -> None:
    validator = schema_validator("device-capabilities")
    document = capabilities.collect_pr1_capabilities("dev-1", "SN-1")
    assert list(validator.iter_errors(document)) == []
    properties = document["properties"]
    assert properties["id"] == "dev-1" and properties["serialNumber"] == "SN-1"
    assert properties["supportedDeploymentTypes"] == ["compose"] and properties["otelCollector"] is True


def test_the_v24_reading_is_reshaped_for_rc2() -> None:
    validator = schema_validator("device-capabilities")
    v24 = {
        "properties": {
            "vendor": "Acme", "modelNumber": "M1", "serialNumber": "S1",
            "resources": {"cpus": [{"cpuArchitecture": "aarch64", "cores": 4, "frequency": 2}],
                          "memory": 8, "storage": 0},
            "interfaces": [{"type": "Ethernet"}, {"type": "Virtual"}, {"type": "Wi-Fi"}],
        }
    }  # fmt: skip
    document = capabilities.to_pr1(v24, "gw/dev-1")
    properties = document["properties"]
    assert properties["cpu"] == [{"cores": 4, "architecture": "arm64"}]
    assert (properties["memory"], properties["storage"]) == ("8Gi", "512Mi")
    assert properties["interfaces"] == [{"type": "ethernet"}, {"type": "wifi"}]
    assert list(validator.iter_errors(document)) == []
    assert capabilities.architecture("x86_64") == "amd64"
    assert capabilities.architecture("armv7l") == "arm"
    assert capabilities.architecture("riscv64") is None


# -- configuration ---------------------------------------------------------------------------

ENV = {"MARGO_WOS_URL": "http://wos", "MARGO_DEVICE_ID": "dev-1", "MARGO_ONBOARDING_KEY": "k"}


def test_the_profile_defaults_to_v24_and_accepts_pr1() -> None:
    assert load_config(ENV).profile == "V24"
    assert load_config({**ENV, "MARGO_PROFILE": "PR1"}).profile == "PR1"
    assert load_config({**ENV, "MARGO_PROFILE": " pr1 "}).profile == "PR1"
    with pytest.raises(ConfigError, match="MARGO_PROFILE"):
        load_config({**ENV, "MARGO_PROFILE": "PR2"})


def test_the_pr1_fault_switches_are_known_names() -> None:
    assert parse_faults(",".join(sorted(PR1_FAULTS))) == PR1_FAULTS
    faults = Faults(parse_faults("no-etag,skip-installing"))
    assert faults.no_etag and faults.skip_installing and not faults.ignore_digests
    for name in PR1_FAULTS:
        assert getattr(Faults(frozenset({name})), name.replace("-", "_")) is True
    with pytest.raises(ValueError):
        parse_faults("ignore-digest")


# -- fault switches that spoil documents (the suite's mutants) -------------------------------


def test_the_capabilities_faults_break_the_rows_they_name() -> None:
    validator = schema_validator("device-capabilities")
    without_serial = Faults(frozenset({"pr1-capabilities-without-serial"}))
    no_serial = capabilities.collect_pr1_capabilities("dev-1", "SN-1", without_serial)
    assert "serialNumber" not in no_serial["properties"]
    assert [e.message for e in validator.iter_errors(no_serial)] == ["'serialNumber' is a required property"]
    no_otel = capabilities.collect_pr1_capabilities("dev-1", "SN-1", Faults(frozenset({"pr1-no-otel-collector"})))
    assert no_otel["properties"]["otelCollector"] is False


EXTENDED = deployment_yaml(A, "hello").replace(
    b"\nspec:\n", b"\nx-acme-extensions: {a: 1}\nspec:\n  x-acme-extensions: {b: 2}\n"
)


def test_extensions_are_ignored_unless_a_fault_rejects_them() -> None:
    ref = DeploymentRef(A, digest_of(EXTENDED), "/x")
    assert b"x-acme-extensions" in EXTENDED
    assert parse_deployment(EXTENDED, ref).problems == ()
    problems = parse_deployment(EXTENDED, ref, reject_extensions=True).problems
    assert problems == ("x-acme-extensions is not an ApplicationDeployment member",
                        "spec.x-acme-extensions is not an ApplicationDeployment member")


def test_a_sha512_digest_is_refused_unless_a_fault_accepts_it() -> None:
    body = b"content"
    sha512 = digest_of(body, "sha512")
    manifest = json.dumps({"manifestVersion": 2, "bundle": None,
                           "deployments": [{"deploymentId": A, "digest": sha512, "url": "/x"}]}).encode()
    with pytest.raises(ManifestError, match="sha256"):
        parse_manifest(manifest)
    assert parse_manifest(manifest, accept_sha512=True).deployments[0].digest == sha512
    assert sha512.startswith("sha512:") and len(sha512) == len("sha512:") + 128
