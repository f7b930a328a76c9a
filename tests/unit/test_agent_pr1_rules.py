"""The agent role's PR1 judgements that need no agent: which capabilities row a schema error of a
DeviceCapabilitiesManifest breaks, what a hosting device's document lacks (CAP-012), and the
emulated WOS listing a deployment under a digest algorithm 1.0 does not name (DSA-033)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from margo_conformance.base.schemas import validation_errors
from margo_conformance.checks import capability_rules
from margo_conformance.dialects import PR1, V24
from margo_conformance.emulated_wos.manifest import ClientDesiredState, digest_of

HOSTING = PR1.payloads / "device-capabilities" / "valid" / "spec-example-hosting-device.json"


def hosting_device() -> dict[str, Any]:
    return json.loads(HOSTING.read_text())


def broken(change: str) -> list[str]:
    document = hosting_device()
    properties = document["properties"]
    if change == "no serial":
        del properties["serialNumber"]
    elif change == "otel false":
        properties["otelCollector"] = False
    elif change == "no otel":
        del properties["otelCollector"]
    elif change == "no runtime":
        properties["supportedRuntimes"] = []
    elif change == "runtime docker":
        properties["supportedRuntimes"] = ["docker"]
    elif change == "no cpu":
        del properties["cpu"]
    return PR1.capability_rules.requirements_of(validation_errors(document, PR1.schema("device-capabilities")))


@pytest.mark.parametrize(("change", "rows"), [
    ("no serial", ["CAP-011"]), ("runtime docker", ["CAP-011"]), ("no cpu", ["CAP-011"]),
    ("otel false", ["CAP-012"]), ("no otel", ["CAP-012"]), ("no runtime", ["CAP-012"]),
])
def test_a_pr1_capabilities_error_names_the_row_it_breaks(change: str, rows: list[str]) -> None:
    assert broken(change) == rows


def test_each_dialect_reads_its_own_capabilities_errors() -> None:
    assert V24.capability_rules.all == capability_rules.ALL
    assert PR1.capability_rules.all == ("CAP-011", "CAP-012")
    assert PR1.capability_rules.ambiguities == ("I-5", "I-13")
    assert PR1.capabilities_refusal(["properties.otelCollector: True was expected"]) == "CAP-012"
    assert PR1.capabilities_refusal([]) == "CAP-011"


def test_hosting_gaps_name_each_member_and_never_raise_on_a_wrong_shape() -> None:
    assert capability_rules.hosting_gaps(hosting_device()) == []
    document = copy.deepcopy(hosting_device())
    document["properties"]["otelCollector"] = False
    del document["properties"]["supportedDeploymentTypes"]
    gaps = capability_rules.hosting_gaps(document)
    assert [g.split(" ")[0] for g in gaps] == ["properties.otelCollector", "properties.supportedDeploymentTypes"]
    assert capability_rules.hosting_gaps(None) == ["no properties object (properties: missing)"]
    assert capability_rules.hosting_gaps({"properties": []})[0].startswith("no properties object")


def test_a_device_that_reports_no_hosting_field_passes_the_schema_but_not_cap_012() -> None:
    document = hosting_device()
    for member in ("cpu", "memory", "storage", "otelCollector", "supportedRuntimes", "supportedDeploymentTypes"):
        del document["properties"][member]
    assert validation_errors(document, PR1.schema("device-capabilities")) == []  # a see-thru gateway's shape
    assert len(capability_rules.hosting_gaps(document)) == 3


def test_a_deployment_can_be_listed_under_a_sha512_digest_and_is_served_under_it() -> None:
    desired = ClientDesiredState("client-1")
    desired.deployments["d-1"] = b"kind: ApplicationDeployment\n"
    desired.deployments["d-2"] = b"kind: ApplicationDeployment\nid: 2\n"
    desired.unsupported_digests.add("d-1")
    entries = {e["deploymentId"]: e for e in desired.manifest()["deployments"]}
    assert re.fullmatch(r"sha512:[0-9a-f]{128}", entries["d-1"]["digest"])
    assert entries["d-1"]["url"].endswith(entries["d-1"]["digest"])
    assert entries["d-2"]["digest"] == digest_of(desired.deployments["d-2"])
    assert desired.deployment_body("d-1", entries["d-1"]["digest"]) == desired.deployments["d-1"]
    assert desired.deployment_body("d-1", digest_of(desired.deployments["d-1"])) is None
