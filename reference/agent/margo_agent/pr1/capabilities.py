"""The PR1 DeviceCapabilitiesManifest (CAP-010..CAP-013, rc.2 shape, I-5).

The device is read exactly as for V24 (`margo_agent.capabilities.collect_capabilities`:
/proc, /sys, DMI); this module only reshapes that reading: `cpu[]` with cores and an rc.2
architecture, memory and storage as whole binary units ("7Gi"), lowercase interface types,
and the hosting fields of a device that runs compose workloads on an OCI runtime.
"""

from __future__ import annotations

from typing import Any

from margo_agent.capabilities import collect_capabilities
from margo_agent.faults import Faults

API_VERSION = "device.margo.org/v1alpha1"
KIND = "DeviceCapabilitiesManifest"

#: `platform.machine()` spellings to the rc.2 architecture enumeration.
_ARCHITECTURES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
}
#: V24 interface types (from sysfs) to the rc.2 enumeration; virtual ones are not reported.
_INTERFACES = {"Ethernet": "ethernet", "Wi-Fi": "wifi"}


def architecture(machine: str) -> str | None:
    machine = machine.lower()
    if machine in _ARCHITECTURES:
        return _ARCHITECTURES[machine]
    return "arm" if machine.startswith("arm") else None


def binary_amount(whole_gb: int) -> str:
    """rc.2 wants whole binary units; the V24 reading is whole GiB (0 for less than half)."""
    return f"{whole_gb}Gi" if whole_gb > 0 else "512Mi"


def to_pr1(v24: dict[str, Any], device_id: str) -> dict[str, Any]:
    """Reshape a V24 DeviceCapabilities document into a PR1 DeviceCapabilitiesManifest."""
    properties = v24["properties"]
    resources = properties["resources"]
    cpus = []
    for cpu in resources.get("cpus", []):
        entry: dict[str, Any] = {"cores": max(int(cpu.get("cores") or 1), 1)}
        arch = architecture(str(cpu.get("cpuArchitecture", "")))
        if arch is not None:
            entry["architecture"] = arch
        cpus.append(entry)
    interfaces = [
        {"type": _INTERFACES[interface["type"]]}
        for interface in properties.get("interfaces", [])
        if interface.get("type") in _INTERFACES
    ]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "properties": {
            "id": device_id,
            "vendor": properties["vendor"],
            "modelNumber": properties["modelNumber"],
            "serialNumber": properties["serialNumber"],
            "cpu": cpus or [{"cores": 1}],
            "memory": binary_amount(int(resources.get("memory") or 0)),
            "storage": binary_amount(int(resources.get("storage") or 0)),
            "peripherals": [],
            "interfaces": interfaces,
            "otelCollector": True,
            "supportedRuntimes": ["oci"],
            "supportedDeploymentTypes": ["compose"],
        },
    }


def collect_pr1_capabilities(device_id: str, serial_number: str | None, faults: Faults | None = None) -> dict[str, Any]:
    return with_faults(to_pr1(collect_capabilities(device_id, serial_number), device_id), faults or Faults())


def with_faults(document: dict[str, Any], faults: Faults) -> dict[str, Any]:
    """The document as the active fault switches spoil it (CAP-011, CAP-012)."""
    properties = document["properties"]
    if faults.pr1_capabilities_without_serial:
        properties.pop("serialNumber", None)
    if faults.pr1_no_otel_collector:
        properties["otelCollector"] = False
    return document
