"""The V24 DeviceCapabilities document (CAP-003..CAP-005), read from the running system.

Field names and units follow the pre-draft's field tables rather than its example (I-4):
kind `DeviceCapabilities`, integer GB and GHz, `cpuArchitecture`, object `resources`.
Inside a container /proc and /sys describe the host kernel, which is the device.
"""

from __future__ import annotations

import copy
import os
import platform
import shutil
from pathlib import Path
from typing import Any

API_VERSION = "device.margo/v1"
ROLE = "Standalone Device"
UNKNOWN = "unknown"
_GB = 1024**3


def collect_capabilities(
    device_id: str,
    serial_number: str | None,
    proc: Path = Path("/proc"),
    sys: Path = Path("/sys"),
    storage_path: Path = Path("/"),
) -> dict[str, Any]:
    dmi = sys / "class/dmi/id"
    return {
        "apiVersion": API_VERSION,
        "kind": "DeviceCapabilities",
        "properties": {
            "id": device_id,
            "vendor": _read(dmi / "sys_vendor") or UNKNOWN,
            "modelNumber": _read(dmi / "product_name") or UNKNOWN,
            "serialNumber": serial_number or _read(dmi / "product_serial") or UNKNOWN,
            "roles": [ROLE],
            "resources": {
                "cpus": [
                    {
                        "cpuArchitecture": platform.machine() or UNKNOWN,
                        "cores": _cpu_cores(),
                        "frequency": cpu_frequency_ghz(proc, sys),
                    }
                ],
                "memory": memory_gb(proc),
                "storage": _whole_gb(shutil.disk_usage(storage_path).total),
            },
            "peripherals": [],
            "interfaces": network_interfaces(sys / "class/net"),
        },
    }


def with_roles(document: dict[str, Any], roles: list[str]) -> dict[str, Any]:
    """A copy claiming other roles (the capabilities-bad-role fault)."""
    changed = copy.deepcopy(document)
    changed["properties"]["roles"] = list(roles)
    return changed


def with_memory_in_mebibytes(document: dict[str, Any]) -> dict[str, Any]:
    """A copy giving memory as a MiB string, e.g. "16384Mi" (the capabilities-memory-in-mb fault)."""
    changed = copy.deepcopy(document)
    resources = changed["properties"]["resources"]
    resources["memory"] = f"{int(resources['memory']) * 1024}Mi"
    return changed


def without_serial_number(document: dict[str, Any]) -> dict[str, Any]:
    """A copy missing the required serialNumber (the refused-capabilities fault)."""
    changed = copy.deepcopy(document)
    del changed["properties"]["serialNumber"]
    return changed


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _whole_gb(n_bytes: float) -> int:
    """Integer GB as V24 demands; round half up so 7.6 GiB of RAM reads as 8."""
    return int(n_bytes / _GB + 0.5)


def _cpu_cores() -> int:
    """Cores this process may use: respects cpusets, unlike os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def memory_gb(proc: Path) -> int:
    for line in _read(proc / "meminfo").splitlines():
        key, _, value = line.partition(":")
        if key == "MemTotal":
            return _whole_gb(int(value.split()[0]) * 1024)
    return 0


def cpu_frequency_ghz(proc: Path, sys: Path) -> int:
    """Maximum frequency from cpufreq when the kernel exposes it, else the current
    "cpu MHz" of /proc/cpuinfo (x86 VMs); 0 when neither is known."""
    max_khz = _read(sys / "devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if max_khz.isdigit():
        return int(int(max_khz) / 1e6 + 0.5)
    for line in _read(proc / "cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "cpu MHz":
            try:
                return int(float(value) / 1000 + 0.5)
            except ValueError:
                break
    return 0


def network_interfaces(net: Path) -> list[dict[str, Any]]:
    if not net.is_dir():
        return []
    return [
        _interface(entry)
        for entry in sorted(net.iterdir(), key=lambda p: p.name)
        if entry.name != "lo"
    ]


def _interface(path: Path) -> dict[str, Any]:
    device = path / "device"
    properties = {
        "macAddress": _read(path / "address"),
        "mtu": _read(path / "mtu"),
        "speedMbps": _speed_mbps(path),
        "driver": _driver(device),
    }
    return {
        "name": path.name,
        "type": _interface_type(path),
        "modelNumber": _model_number(device),
        "properties": {key: value for key, value in properties.items() if value},
    }


def _interface_type(path: Path) -> str:
    if (path / "wireless").exists() or (path / "phy80211").exists():
        return "Wi-Fi"
    if not (path / "device").exists():
        return "Virtual"
    # ARPHRD_ETHER is 1 (include/uapi/linux/if_arp.h).
    return "Ethernet" if _read(path / "type") == "1" else "Other"


def _driver(device: Path) -> str:
    try:
        return (device / "driver").resolve(strict=True).name
    except OSError:
        return ""


def _model_number(device: Path) -> str:
    """PCI/USB ids as vendor:device; sysfs has no marketing names without a hwdata table."""
    if not device.exists():
        return "virtual"
    ids = [_read(device / "vendor"), _read(device / "device")]
    return ":".join(part for part in ids if part) or UNKNOWN


def _speed_mbps(path: Path) -> str:
    """Empty when unknown: the kernel answers -1, or EINVAL for an interface that is down."""
    speed = _read(path / "speed")
    return speed if speed.isdigit() else ""
