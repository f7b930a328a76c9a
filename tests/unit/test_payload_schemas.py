"""The wire schemas and their payload corpus (fixtures/payloads/README.md explains the layout)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.base.requirements import load_catalogue
from margo_conformance.base.schemas import (
    SCHEMA_DIR,
    SCHEMA_SUFFIX,
    load_schema,
    validation_errors,
)

PAYLOAD_DIR = FIXTURES_DIR / "payloads"
ID_BASE = "https://margo-conformance.dev/schemas/"
REQUIREMENT_ID = re.compile(r"\b[A-Z]{3}-\d{3}\b")
# The spec's own examples may break several rules at once; see the corpus README.
SPEC_EXAMPLE_PREFIX = "spec-example-"

# Payload schemas: one folder per target profile (schemas/v24/, schemas/pr1/, ...). Top-level
# schemas (e.g. sut.schema.json) are configuration, not wire documents, and have no corpus.
PROFILES = sorted(path.name for path in SCHEMA_DIR.iterdir() if path.is_dir())
SCHEMA_NAMES = sorted(
    path.relative_to(SCHEMA_DIR).as_posix().removesuffix(SCHEMA_SUFFIX)
    for profile in PROFILES
    for path in (SCHEMA_DIR / profile).glob(f"*{SCHEMA_SUFFIX}")
)


def _corpus(verdict: str) -> list[tuple[str, Path]]:
    return [
        (name, path)
        for name in SCHEMA_NAMES
        for path in sorted((PAYLOAD_DIR / name / verdict).glob("*"))
        if path.suffix in {".json", ".yaml"}
    ]


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _case_id(case: tuple[str, Path]) -> str:
    return f"{case[0]}/{case[1].name}"


def test_there_are_payload_schemas() -> None:
    assert {"v24", "pr1"} <= set(PROFILES)
    assert "v24/device-capabilities" in SCHEMA_NAMES
    assert "pr1/state-manifest" in SCHEMA_NAMES


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_covers_the_common_documents(profile: str) -> None:
    # Every profile describes these wire documents; profile-only ones (the V24 token response,
    # the PR1 state manifest) come on top.
    common = {
        "application-deployment",
        "deployment-status",
        "device-capabilities",
        "onboarding-request",
        "onboarding-response",
        "problem-details",
        "root-certificate-response",
    }
    documents = {name.split("/", 1)[1] for name in SCHEMA_NAMES if name.startswith(f"{profile}/")}
    assert common <= documents, f"{profile}: missing {sorted(common - documents)}"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"{ID_BASE}{name}{SCHEMA_SUFFIX}"
    assert schema.get("title")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_description_cites_known_requirements(name: str) -> None:
    cited = REQUIREMENT_ID.findall(load_schema(name).get("description", ""))
    assert cited, f"{name}: description cites no requirement id"
    unknown = sorted(set(cited) - load_catalogue().keys())
    assert not unknown, f"{name}: description cites ids not in the catalogue: {unknown}"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_schema_has_a_corpus(name: str) -> None:
    valid = [p for n, p in _corpus("valid") if n == name]
    invalid = [p for n, p in _corpus("invalid") if n == name]
    assert len(valid) >= 2, f"{name}: needs at least two must-pass payloads"
    assert len(invalid) >= 4, f"{name}: needs at least four must-fail payloads"


def test_corpus_folders_match_schemas() -> None:
    # A corpus folder without a schema would silently never run.
    folders = {
        path.parent.relative_to(PAYLOAD_DIR).as_posix()
        for verdict in ("valid", "invalid")
        for path in PAYLOAD_DIR.glob(f"*/*/{verdict}")
    }
    assert folders <= set(SCHEMA_NAMES)


@pytest.mark.parametrize("case", _corpus("valid"), ids=_case_id)
def test_valid_payload_passes(case: tuple[str, Path]) -> None:
    name, path = case
    assert validation_errors(_load(path), name) == []


@pytest.mark.parametrize("case", _corpus("invalid"), ids=_case_id)
def test_invalid_payload_fails_for_one_reason(case: tuple[str, Path]) -> None:
    name, path = case
    errors = validation_errors(_load(path), name)
    assert errors, f"{path.name} should fail {name}"
    if not path.name.startswith(SPEC_EXAMPLE_PREFIX):
        assert len(errors) == 1, f"{path.name} breaks more than one rule: {errors}"


def test_messages_name_the_missing_member_in_dotted_form() -> None:
    path = PAYLOAD_DIR / "v24/device-capabilities/invalid/missing-serialNumber.json"
    assert validation_errors(_load(path), "v24/device-capabilities") == [
        "properties.serialNumber: 'serialNumber' is a required property"
    ]


def test_messages_for_the_document_root_and_array_items() -> None:
    assert validation_errors([], "v24/token-response") == ["(root): [] is not of type 'object'"]
    path = PAYLOAD_DIR / "v24/device-capabilities/invalid/role-unknown.json"
    (message,) = validation_errors(_load(path), "v24/device-capabilities")
    assert message.startswith("properties.roles.1: 'cluster lead' is not one of")


def test_messages_are_sorted_and_stable() -> None:
    path = PAYLOAD_DIR / "v24/device-capabilities/invalid/spec-example-violates-field-tables.json"
    document = _load(path)
    first = validation_errors(document, "v24/device-capabilities")
    assert first == sorted(first)
    assert first == validation_errors(document, "v24/device-capabilities")


@pytest.mark.parametrize("profile", PROFILES)
def test_empty_parameters_map_is_allowed(profile: str) -> None:
    # spec.parameters is required but an application may have nothing to configure.
    name = f"{profile}/application-deployment"
    documents = (_load(path) for n, path in _corpus("valid") if n == name)
    document = next(d for d in documents if d["spec"]["parameters"])
    document["spec"]["parameters"] = {}
    assert validation_errors(document, name) == []


def test_pr1_manifest_without_deployments_needs_a_null_bundle() -> None:
    path = PAYLOAD_DIR / "pr1/state-manifest/invalid/bundle-object-without-deployments.json"
    (message,) = validation_errors(_load(path), "pr1/state-manifest")
    assert message.startswith("bundle: ") and message.endswith("is not of type 'null'")


def test_pr1_manifest_version_is_a_uint64() -> None:
    # Above 2**53 a double would round; the schema keeps the full integer range (I-23).
    document: dict[str, Any] = {"manifestVersion": 2**64 - 1, "bundle": None, "deployments": []}
    assert validation_errors(document, "pr1/state-manifest") == []
    document["manifestVersion"] = 2**64
    (message,) = validation_errors(document, "pr1/state-manifest")
    assert message.startswith("manifestVersion: ")


def test_pr1_non_hosting_device_reports_identity_only() -> None:
    # A see-thru gateway that hosts nothing omits every hosting field (CAP-015) ...
    path = PAYLOAD_DIR / "pr1/device-capabilities/valid/spec-example-gateway-without-hosting.json"
    document = _load(path)
    assert validation_errors(document, "pr1/device-capabilities") == []
    # ... and reporting any one of them makes it a hosting device that must report them all.
    document["properties"]["memory"] = "4Gi"
    assert validation_errors(document, "pr1/device-capabilities") == [
        f"properties.{member}: '{member}' is a required property"
        for member in sorted(
            ["cpu", "storage", "otelCollector", "supportedRuntimes", "supportedDeploymentTypes"]
        )
    ]


def test_pr1_root_certificate_response_is_the_v24_document() -> None:
    def contract(name: str) -> dict[str, Any]:
        schema = load_schema(name)
        return {k: v for k, v in schema.items() if k not in {"$id", "title", "description"}}

    assert contract("pr1/root-certificate-response") == contract("v24/root-certificate-response")


def test_unknown_schema_name_is_reported() -> None:
    with pytest.raises(FileNotFoundError, match="v24/no-such-document"):
        load_schema("v24/no-such-document")
