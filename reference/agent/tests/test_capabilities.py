"""The DeviceCapabilities document follows the V24 field tables (CAP-003..CAP-005)."""

from __future__ import annotations

from pathlib import Path

from margo_agent.capabilities import collect_capabilities, cpu_frequency_ghz, memory_gb
from suite_schemas import suite_validator


def fake_system(root: Path) -> tuple[Path, Path]:
    proc, sys = root / "proc", root / "sys"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal:        8024876 kB\nMemFree: 1 kB\n")
    (proc / "cpuinfo").write_text("processor\t: 0\ncpu MHz\t\t: 2599.998\n")
    dmi = sys / "class/dmi/id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("Northstar\n")
    (dmi / "product_name").write_text("332ANZE1-N1\n")
    eth = sys / "class/net/eth0"
    (eth / "device").mkdir(parents=True)
    (eth / "device/vendor").write_text("0x8086\n")
    (eth / "device/device").write_text("0x15f3\n")
    (eth / "type").write_text("1\n")
    (eth / "address").write_text("02:00:00:00:00:01\n")
    (eth / "mtu").write_text("1500\n")
    (eth / "speed").write_text("2500\n")
    bridge = sys / "class/net/docker0"
    bridge.mkdir(parents=True)
    (bridge / "speed").write_text("-1\n")
    (sys / "class/net/lo").mkdir()
    return proc, sys


def test_document_follows_the_v24_field_tables(tmp_path: Path) -> None:
    proc, sys = fake_system(tmp_path)
    document = collect_capabilities("dev-1", "SN-1", proc=proc, sys=sys, storage_path=tmp_path)
    assert document["apiVersion"] == "device.margo/v1"
    assert document["kind"] == "DeviceCapabilities"
    properties = document["properties"]
    assert properties["id"] == "dev-1"
    assert properties["vendor"] == "Northstar"
    assert properties["modelNumber"] == "332ANZE1-N1"
    assert properties["serialNumber"] == "SN-1"
    assert properties["roles"] == ["Standalone Device"]
    assert properties["peripherals"] == []
    resources = properties["resources"]
    assert resources["memory"] == 8
    assert isinstance(resources["storage"], int) and resources["storage"] >= 0
    (cpu,) = resources["cpus"]
    assert set(cpu) == {"cpuArchitecture", "cores", "frequency"}
    assert isinstance(cpu["cores"], int) and cpu["cores"] >= 1
    assert cpu["frequency"] == 3


def test_interfaces_come_from_sysfs_with_string_properties(tmp_path: Path) -> None:
    proc, sys = fake_system(tmp_path)
    interfaces = collect_capabilities("d", None, proc=proc, sys=sys)["properties"]["interfaces"]
    assert [i["name"] for i in interfaces] == ["docker0", "eth0"]  # no loopback
    docker0, eth0 = interfaces
    assert eth0["type"] == "Ethernet"
    assert eth0["modelNumber"] == "0x8086:0x15f3"
    assert eth0["properties"]["speedMbps"] == "2500"
    assert docker0["type"] == "Virtual"
    assert "speedMbps" not in docker0["properties"]  # -1 means unknown
    for interface in interfaces:
        assert set(interface) == {"name", "type", "modelNumber", "properties"}
        assert all(isinstance(v, str) for v in interface["properties"].values())


def test_missing_system_information_degrades_to_placeholders(tmp_path: Path) -> None:
    document = collect_capabilities("d", None, proc=tmp_path, sys=tmp_path)
    properties = document["properties"]
    assert properties["vendor"] == properties["serialNumber"] == "unknown"
    assert properties["interfaces"] == []
    assert memory_gb(tmp_path) == 0
    assert cpu_frequency_ghz(tmp_path, tmp_path) == 0


def test_cpufreq_maximum_wins_over_cpuinfo(tmp_path: Path) -> None:
    proc, sys = fake_system(tmp_path)
    cpufreq = sys / "devices/system/cpu/cpu0/cpufreq"
    cpufreq.mkdir(parents=True)
    (cpufreq / "cpuinfo_max_freq").write_text("4700000\n")
    assert cpu_frequency_ghz(proc, sys) == 5


def test_the_real_system_yields_a_schema_valid_document() -> None:
    """Cross-check with the suite's own schema when this runs inside the repository."""
    suite_validator("v24/device-capabilities").validate(collect_capabilities("dev-1", None))
