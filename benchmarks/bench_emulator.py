"""Emulator capacity: how many agents polling once a second the emulated WOS carries on one core.

    python benchmarks/bench_emulator.py [--devices 1000] [--interval 1] [--ramp 10] [--duration 20]

The emulated WOS (`margo_conformance.emulated_wos.server.EmulatedWos`) runs in a subprocess pinned to
CPU 0 (`taskset -c 0`) with DEVICES registered devices, each with its own desired-state
repository holding one commit. This process pins itself to CPU 1 and runs one asyncio
poller per device. Each poll is what `git fetch` sends when nothing changed, byte for byte
(`margo_conformance.commands.fleet.gitwire`): a new connection, GET info/refs with protocol v2, POST
git-upload-pack with ls-refs, close. Pollers start over RAMP seconds (the first poll of each
repository fills the poll cache from `git http-backend`), then DURATION seconds are measured:
achieved polls/s, latency percentiles per poll and per request, errors, and the CPU the
server and the pollers used. The load stays on 127.0.0.1 and stops by itself.

The poller is a small asyncio HTTP/1.1 client rather than httpx: at 2,000 requests and 1,000
connections a second, httpx's per-request overhead would make the load generator, not the
server, the bottleneck on one core (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from margo_conformance.commands.fleet.gitwire import (
    ADVERTISE_HEADERS,
    LS_REFS_BODY,
    LS_REFS_HEADERS,
    advertise_path,
    bearer,
    ls_refs_path,
    parse_ls_refs,
)
from margo_conformance.commands.fleet.stats import percentile

SERVER_CPU = 0
CLIENT_CPU = 1
READY = "ready"


# -- the server side (runs in the pinned subprocess) -------------------------------------------


def serve(workdir: Path, devices: int, manifest: Path) -> None:
    """Start the emulated WOS with `devices` devices and repositories; run until stdin closes."""
    from margo_conformance.base.evidence import EvidenceLog
    from margo_conformance.base.paths import FIXTURES_DIR
    from margo_conformance.emulated_wos.desired_state import DeviceRepository
    from margo_conformance.emulated_wos.server import EmulatedWos

    with EmulatedWos(workdir / "wos", FIXTURES_DIR / "artifacts", {}) as wos:
        template = workdir / "template.git"
        DeviceRepository(template, workdir / "template-clone", EvidenceLog())
        entries = []
        for _ in range(devices):
            record = wos.state.register_device(EvidenceLog())
            # A copy of one real repository: as a GitPython clone-commit-push per device it
            # would take a minute to set up 1,000 of them, and serve exactly the same.
            shutil.copytree(template, record.repo_path)
            entries.append({"device_id": record.device_id, "git_token": record.git_token})
        manifest.write_text(json.dumps({"port": wos.port, "devices": entries}))
        print(READY, flush=True)
        sys.stdin.read()  # the benchmark closes our stdin when it is done
        from margo_conformance.emulated_wos.git_http import POLL_CACHE

        print(f"cache {POLL_CACHE.hits} {POLL_CACHE.misses}", flush=True)


# -- the poller side -----------------------------------------------------------------------------


@dataclass
class PollerStats:
    polls: int = 0
    errors: int = 0
    poll_ms: list[float] = field(default_factory=list)
    advertise_ms: list[float] = field(default_factory=list)
    ls_refs_ms: list[float] = field(default_factory=list)
    problems: dict[str, int] = field(default_factory=dict)

    def failed(self, problem: str) -> None:
        self.errors += 1
        self.problems[problem] = self.problems.get(problem, 0) + 1


def request_bytes(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response with Content-Length or chunked encoding."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    body = bytearray()
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, bytes(body)
        body.extend(chunk[:-2])


@dataclass(frozen=True)
class Device:
    advertise: bytes
    ls_refs: bytes


def device_requests(device_id: str, token: str) -> Device:
    repository = f"/git/{device_id}.git"
    auth = {"Authorization": bearer(token)}
    return Device(
        advertise=request_bytes("GET", advertise_path(repository), {**ADVERTISE_HEADERS, **auth}),
        ls_refs=request_bytes(
            "POST", ls_refs_path(repository), {**LS_REFS_HEADERS, **auth}, LS_REFS_BODY
        ),
    )


async def poll_once(port: int, device: Device, stats: PollerStats, measured: bool) -> None:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(device.advertise)
            status, _ = await read_response(reader)
            advertised = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"info/refs {status}")
            writer.write(device.ls_refs)
            status, body = await read_response(reader)
            if status != 200 or "refs/heads/main" not in parse_ls_refs(body):
                raise RuntimeError(f"ls-refs {status}")
        finally:
            writer.close()
    except (OSError, RuntimeError, ValueError, asyncio.IncompleteReadError) as exc:
        if measured:
            stats.failed(f"{type(exc).__name__}: {exc}"[:80])
        return
    done = time.perf_counter()
    if measured:
        stats.polls += 1
        stats.poll_ms.append((done - started) * 1000)
        stats.advertise_ms.append((advertised - started) * 1000)
        stats.ls_refs_ms.append((done - advertised) * 1000)


async def poller(
    port: int, device: Device, start_at: float, interval: float, window: tuple[float, float],
    stats: PollerStats,
) -> None:
    """Poll every `interval` seconds from `start_at` (a fixed cadence, like a timer-driven agent)
    until the window ends; a poll that overruns its slot is followed at once, never doubled."""
    next_at = start_at
    loop = asyncio.get_running_loop()
    while next_at < window[1]:
        delay = next_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # the load generator pacing itself
        measured = window[0] <= loop.time() < window[1]
        await poll_once(port, device, stats, measured)
        next_at = max(next_at + interval, loop.time())


async def drive(
    port: int, devices: Sequence[Device], interval: float, ramp_s: float, duration_s: float
) -> tuple[PollerStats, float, float]:
    """Run every poller; (stats, measurement start, end) in the event loop's clock."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    window = (began + ramp_s + interval, began + ramp_s + interval + duration_s)
    stats = PollerStats()
    rng = random.Random(7)
    tasks = [
        poller(port, d, began + ramp_s * i / len(devices) + rng.random() * interval, interval,
               window, stats)
        for i, d in enumerate(devices)
    ]
    await asyncio.gather(*tasks)
    return stats, window[0], window[1]


# -- the benchmark -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityResult:
    devices: int
    interval_s: float
    duration_s: float
    polls: int
    errors: int
    polls_per_s: float
    poll_ms: tuple[float, float, float]
    advertise_ms: tuple[float, float, float]
    ls_refs_ms: tuple[float, float, float]
    server_cpu: float  # share of one core, measurement window
    client_cpu: float
    cache_note: str
    problems: dict[str, int]

    @property
    def target_polls_per_s(self) -> float:
        return self.devices / self.interval_s


def triple(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    return tuple(round(percentile(ordered, q), 1) for q in (50, 95, 99))  # type: ignore[return-value]


def start_server(devices: int, workdir: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    manifest = workdir / "manifest.json"
    command = [sys.executable, __file__, "--serve", str(workdir), "--devices", str(devices),
               "--manifest", str(manifest)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", str(SERVER_CPU), *command]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline().strip()  # blocks until the server says it is ready
    if line != READY:
        server.kill()
        raise SystemExit(f"the emulated WOS did not start (said {line!r})")
    manifest_document: dict[str, Any] = json.loads(manifest.read_text())
    return server, manifest_document


def stop_server(server: subprocess.Popen[str]) -> str:
    """Close the server's stdin (its signal to stop); its poll-cache line, as it reported it."""
    assert server.stdin is not None and server.stdout is not None
    server.stdin.close()
    said = server.stdout.read().split()
    server.wait(timeout=30)
    if len(said) == 3 and said[0] == "cache":
        hits, misses = int(said[1]), int(said[2])
        return f"{hits} hits, {misses} misses ({misses} answers from git http-backend)"
    return "not reported"


def measure(devices: int, interval: float, ramp_s: float, duration_s: float) -> CapacityResult:
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        server, manifest = start_server(devices, Path(tmp))
        try:
            if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
                os.sched_setaffinity(0, {CLIENT_CPU})
            port = int(manifest["port"])
            requests = [device_requests(d["device_id"], d["git_token"])
                        for d in manifest["devices"]]
            server_process, me = psutil.Process(server.pid), psutil.Process()
            stats, cpu = asyncio.run(_drive_and_meter(port, requests, interval, ramp_s,
                                                      duration_s, server_process, me))
        finally:
            cache_note = stop_server(server)
    return CapacityResult(
        devices=devices, interval_s=interval, duration_s=duration_s, polls=stats.polls,
        errors=stats.errors, polls_per_s=round(stats.polls / duration_s, 1),
        poll_ms=triple(stats.poll_ms), advertise_ms=triple(stats.advertise_ms),
        ls_refs_ms=triple(stats.ls_refs_ms), server_cpu=cpu[0], client_cpu=cpu[1],
        cache_note=cache_note,
        problems=stats.problems,
    )


async def _drive_and_meter(
    port: int, requests: Sequence[Device], interval: float, ramp_s: float, duration_s: float,
    server: psutil.Process, me: psutil.Process,
) -> tuple[PollerStats, tuple[float, float]]:
    """Drive the pollers and read both processes' CPU time at the measurement window's edges."""
    loop = asyncio.get_running_loop()
    readings: dict[str, tuple[float, float]] = {}

    def cpu_seconds(process: psutil.Process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    def read(label: str) -> None:
        readings[label] = (cpu_seconds(server), cpu_seconds(me))

    began = loop.time()
    loop.call_at(began + ramp_s + interval, read, "start")
    loop.call_at(began + ramp_s + interval + duration_s, read, "end")
    stats, _, _ = await drive(port, requests, interval, ramp_s, duration_s)
    if "end" not in readings:
        read("end")
    start, end = readings["start"], readings["end"]
    return stats, (round((end[0] - start[0]) / duration_s, 2),
                   round((end[1] - start[1]) / duration_s, 2))


def print_result(result: CapacityResult) -> None:
    ok = result.polls_per_s >= 0.98 * result.target_polls_per_s and result.errors == 0
    rows = [
        ("devices polling", f"{result.devices}, every {result.interval_s:g} s"),
        ("target", f"{result.target_polls_per_s:.0f} polls/s ({2 * result.target_polls_per_s:.0f} requests/s)"),
        ("achieved", f"{result.polls_per_s:.1f} polls/s over {result.duration_s:g} s ({result.polls} polls)"),
        ("errors", f"{result.errors}" + (f" {result.problems}" if result.problems else "")),
        ("poll latency p50/p95/p99", "/".join(f"{v:g}" for v in result.poll_ms) + " ms"),
        ("  info/refs p50/p95/p99", "/".join(f"{v:g}" for v in result.advertise_ms) + " ms"),
        ("  ls-refs p50/p95/p99", "/".join(f"{v:g}" for v in result.ls_refs_ms) + " ms"),
        ("server CPU (pinned to CPU 0)", f"{result.server_cpu:.0%} of one core"),
        ("poller CPU (pinned to CPU 1)", f"{result.client_cpu:.0%} of one core"),
        ("poll cache (whole run)", result.cache_note),
        ("verdict", "MET: carries the fleet" if ok else "NOT MET"),
    ]
    width = max(len(k) for k, _ in rows)
    print("Emulated WOS capacity (one core)")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds to start all pollers")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.devices, args.manifest)
        return 0
    result = measure(args.devices, args.interval, args.ramp, args.duration)
    print_result(result)
    if args.json:
        print(json.dumps(result.__dict__, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
