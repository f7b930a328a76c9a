"""A fleet run: start the WOS, register the fleet, drive it with Locust, write performance.json.

The WOS is started the way the WOS role starts it (`roles.wos.WosUnderTest`, the image
prepared by `runner.prepare_images`), with its ports reached on 127.0.0.1 so the load never
leaves the machine. Devices are registered and given a deployment through the control
adapter; then Locust runs headless in this process: a local runner by default, or a master
that waits for `--expect-workers` workers (`--worker` processes run only `run_worker`).

Exit codes follow `margo-conformance run`: 0 measured (and every threshold held), 1 a
threshold failed, 2 usage, 3 the WOS could not be brought up or the run broke.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gevent
import yaml
from gevent.event import Event as GeventEvent
from gevent.pool import Pool
from locust import constant_pacing
from locust.env import Environment
from locust.stats import StatsEntry

from margo_conformance.base.errors import ConfigError, SuiteError, SutError
from margo_conformance.base.evidence import EvidenceLog
from margo_conformance.base.schemas import validation_errors
from margo_conformance.commands.fleet import locustfile
from margo_conformance.commands.fleet.locustfile import FLEET, FleetDevice, MargoDevice
from margo_conformance.commands.fleet.options import MASTER, WORKER, FleetRequest
from margo_conformance.commands.fleet.stats import (
    PERFORMANCE_FORMAT,
    DeviceTally,
    EndpointFigures,
    devices_sustained,
    evaluate_thresholds,
    parse_thresholds,
    performance_verdict,
    totals,
)
from margo_conformance.commands.runner import prepare_images
from margo_conformance.config.run_config import RunConfig, load_sut_file
from margo_conformance.dialects.v24 import V24
from margo_conformance.engine.sut import remove_run_resources
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import application_components, application_request

Log = Callable[[str], None]
PERFORMANCE_FILE = "performance.json"
LOAD_HOST = "127.0.0.1"  # load goes to the published ports on loopback, never off the machine
SETUP_CONCURRENCY = 16  # control calls in flight while registering the fleet
WORKER_WAIT_S = 300.0
EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 3


def run_fleet(request: FleetRequest, log: Log) -> int:
    if request.mode == WORKER:
        return run_worker(request, log)
    thresholds = load_thresholds(request.thresholds_file)
    assert request.sut_file is not None  # options guarantee it outside worker mode
    sut = load_sut_file(request.sut_file)
    if sut.role != "wos":
        raise ConfigError(f"fleet: {request.sut_file} describes the {sut.role} role; the fleet needs a WOS")
    request.report_dir.mkdir(parents=True, exist_ok=True)
    (request.report_dir / PERFORMANCE_FILE).unlink(missing_ok=True)
    images = prepare_images(sut, request.base_image, log)
    run = RunConfig(
        sut=dataclasses.replace(sut, image=images.sut_image),
        report_dir=request.report_dir,
        run_id=f"fleet-{uuid.uuid4().hex[:12]}",
        base_image=images.base_image,
        workload_image=images.base_image,
    )
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="margo-fleet-") as tmp:
        wos = WosUnderTest(run, EvidenceLog(), Path(tmp))
        try:
            wos.start(host=LOAD_HOST)
            log(f"WOS {sut.name} up at {wos.client.base_url}; registering {request.devices} devices")
            devices = register_fleet(wos, request.devices, request.application)
            log(f"registered {len(devices)} devices, each with a deployment; starting Locust")
            measured = drive(request, wos.client.base_url, devices, log)
        finally:
            wos.stop()
            if sut.in_containers:  # a WOS run as a local process leaves nothing on an engine
                remove_run_resources(run.run_id)
    document = performance_document(request, measured, thresholds,
                                    sut_identity(run, images.sut_identity), started, run.run_id)
    path = write_performance(request.report_dir, document)
    log(f"performance: {path}")
    render_report(request.report_dir, log)
    for line in summary_lines(document):
        log(line)
    return EXIT_FAIL if document["verdict"] == "fail" else EXIT_OK


def load_thresholds(path: Path | None) -> list[Any]:
    if path is None:
        return []
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        problems = validation_errors(document, "fleet-thresholds")
        if problems:
            raise ValueError(problems[0])
        return parse_thresholds(document)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"fleet: --thresholds {path}: {exc}") from exc


# -- the fleet -----------------------------------------------------------------------------------


def register_fleet(wos: WosUnderTest, count: int, application: str) -> list[FleetDevice]:
    """Register `count` devices through the control adapter and deploy `application` to each;
    each onboards the way the SUT file declares (interop.onboarding: path, body, answer, keys)."""
    application_document = application_request(application)
    components = tuple(application_components(application))
    exchange = wos.run.sut.interop.onboarding

    def one(_: int) -> FleetDevice:
        device_id = f"fleet-{uuid.uuid4().hex[:10]}"
        key = wos.control.call("register-device", {"deviceId": device_id}).get("onboardingKey")
        if exchange.keys and (not isinstance(key, str) or not key):
            raise SutError(f"control verb register-device gave no onboardingKey for {device_id}")
        deployed = wos.control.call("deploy", {"deviceId": device_id,
                                               "application": application_document})
        deployment_id = deployed.get("deploymentId")
        if not isinstance(deployment_id, str) or not deployment_id:
            raise SutError(f"control verb deploy gave no deploymentId for {device_id}")
        key = key if exchange.keys and isinstance(key, str) else ""
        call = V24.onboarding_call(device_id, key, exchange)
        return FleetDevice(device_id, key, deployment_id, components, call.path, call.body, dict(exchange.answer))

    return list(Pool(SETUP_CONCURRENCY).imap_unordered(one, range(count)))


@dataclasses.dataclass(frozen=True)
class Measured:
    """What Locust saw, as plain values: per-endpoint figures, errors, device tallies, window."""

    endpoints: list[EndpointFigures]
    errors: list[dict[str, Any]]
    tallies: dict[str, DeviceTally]
    steady_s: float
    ramp_s: float
    workers: int


def device_class(interval_s: float) -> type[MargoDevice]:
    return type("MargoDevice", (MargoDevice,), {"wait_time": constant_pacing(interval_s)})


def drive(request: FleetRequest, host: str, devices: Sequence[FleetDevice], log: Log) -> Measured:
    """Run Locust: spawn one user per device, measure `duration_s` once all have spawned."""
    FLEET.pool.extend(devices)
    environment = Environment(user_classes=[device_class(request.poll_interval_s)], host=host,
                              events=locustfile.events)
    runner: Any
    if request.mode == MASTER:
        runner = environment.create_master_runner(request.master_host, request.master_port)
        locustfile.wire_runner(runner, MASTER)
        await_workers(environment, runner, request.expect_workers, log)
    else:
        runner = environment.create_local_runner()
    spawned = GeventEvent()
    environment.events.spawning_complete.add_listener(lambda user_count, **_: spawned.set())
    began = time.time()
    runner.start(request.devices, spawn_rate=request.effective_spawn_rate)
    spawned.wait()  # every device started (its on_start may still be onboarding)
    steady_from = FLEET.measuring_since or time.time()
    log(f"all {request.devices} devices started after {steady_from - began:.1f} s; "
        f"measuring {request.duration_s:g} s")
    gevent.sleep(request.duration_s)  # the length of the measurement, not a synchronisation
    FLEET.measuring_until = time.time()
    workers = runner.worker_count if request.mode == MASTER else 0
    runner.quit()
    runner.greenlet.join()
    return Measured(
        endpoints=[endpoint_figures(e) for e in environment.stats.entries.values()],
        errors=error_rows(environment.stats.errors.values()),
        tallies={d: DeviceTally(t.onboarded, t.polls, t.errors) for d, t in FLEET.tallies.items()},
        steady_s=FLEET.measuring_until - steady_from,
        ramp_s=steady_from - began,
        workers=workers,
    )


def await_workers(environment: Environment, runner: Any, expected: int, log: Log) -> None:
    """Block until `expected` Locust workers have connected (woken by each connection)."""
    enough = GeventEvent()

    def connected(client_id: str, **_: Any) -> None:
        if len(runner.clients) >= expected:
            enough.set()

    environment.events.worker_connect.add_listener(connected)
    connected("")  # workers that were waiting for us connected before the listener was added
    log(f"waiting for {expected} Locust worker(s) on {request_address(runner)}")
    if not enough.wait(WORKER_WAIT_S):
        raise SuiteError(f"only {len(runner.clients)} of {expected} Locust workers connected "
                         f"within {WORKER_WAIT_S:.0f} s")


def request_address(runner: Any) -> str:
    return f"{runner.master_bind_host}:{runner.master_bind_port}"


def run_worker(request: FleetRequest, log: Log) -> int:
    """A Locust worker: devices and pacing come from the master; it only generates load."""
    environment = Environment(user_classes=[device_class(request.poll_interval_s)],
                              events=locustfile.events)
    runner = environment.create_worker_runner(request.master_host, request.master_port)
    locustfile.wire_runner(runner, WORKER)
    log(f"Locust worker connected to {request.master_host}:{request.master_port}")
    runner.greenlet.join()
    return EXIT_OK


def endpoint_figures(entry: StatsEntry) -> EndpointFigures:
    span = (entry.last_request_timestamp or 0) - (entry.start_time or 0)
    histogram: dict[int | float, int] = {k: v for k, v in entry.response_times.items()}
    return EndpointFigures(
        name=entry.name,
        requests=entry.num_requests,
        failures=entry.num_failures,
        duration_s=max(span, 1e-9) if entry.num_requests else 0.0,
        response_times_ms=histogram,
        max_ms=float(entry.max_response_time or 0),
        mean_ms=float(entry.avg_response_time or 0),
    )


def error_rows(errors: Any) -> list[dict[str, Any]]:
    rows = [{"endpoint": e.name, "method": e.method, "error": str(e.error), "occurrences": e.occurrences}
            for e in errors]
    return sorted(rows, key=lambda r: -r["occurrences"])


# -- performance.json ----------------------------------------------------------------------------


def sut_identity(run: RunConfig, image: Mapping[str, Any]) -> dict[str, Any]:
    sut = run.sut
    return {"name": sut.name, "vendor": sut.vendor, "version": sut.version, "role": sut.role,
            "profiles": list(sut.profiles), "image": sut.image, **dict(image)}


def performance_document(
    request: FleetRequest,
    measured: Measured,
    thresholds: Sequence[Any],
    sut: Mapping[str, Any],
    started: float,
    run_id: str,
) -> dict[str, Any]:
    endpoints = sorted(measured.endpoints, key=lambda e: _endpoint_order(e.name))
    overall = totals(endpoints, max(measured.ramp_s + measured.steady_s, 1e-9))
    onboarded = sum(1 for t in measured.tallies.values() if t.onboarded)
    figures: dict[str, Any] = {
        "format": PERFORMANCE_FORMAT,
        "sut": dict(sut),
        "run": {
            "id": run_id,
            "started": _iso(started),
            "finished": _iso(time.time()),
            "devices": request.devices,
            "poll_interval_s": request.poll_interval_s,
            "spawn_rate": request.effective_spawn_rate,
            "ramp_s": round(measured.ramp_s, 2),
            "duration_s": round(measured.steady_s, 2),
            "mode": request.mode,
            "workers": measured.workers,
            "engine": "locust",
            "target": "127.0.0.1 (the WOS container's published ports)",
        },
        "devices": {
            "requested": request.devices,
            "onboarded": onboarded,
            "sustained": devices_sustained(measured.tallies, measured.steady_s,
                                           request.poll_interval_s),
            "rule": "onboarded, no failed request in the measured window, and at least 90% of "
                    "the polls the interval asks for",
        },
        "totals": overall.to_json(),
        "endpoints": [e.to_json() for e in endpoints],
        "errors": measured.errors[:20],
    }
    rows = evaluate_thresholds(thresholds, figures)
    figures["thresholds"] = rows
    figures["verdict"] = performance_verdict(rows)
    return figures


def _endpoint_order(name: str) -> int:
    return locustfile.ENDPOINTS.index(name) if name in locustfile.ENDPOINTS else len(locustfile.ENDPOINTS)


def write_performance(report_dir: Path, document: Mapping[str, Any]) -> Path:
    target = report_dir / PERFORMANCE_FILE
    target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return target


def render_report(report_dir: Path, log: Log) -> None:
    """report.html with the performance section (next to a certification run's results, if any)."""
    from margo_conformance.report.html.page import write_report

    log(f"report: {write_report(report_dir)}")


def summary_lines(document: Mapping[str, Any]) -> list[str]:
    totals_ = document["totals"]
    devices = document["devices"]
    lines = [
        f"devices: {devices['sustained']}/{devices['requested']} sustained "
        f"({devices['onboarded']} onboarded) over {document['run']['duration_s']:g} s",
        f"all endpoints: {totals_['requests']} requests, {totals_['throughput_rps']:g}/s, "
        f"error rate {totals_['error_rate']:.2%}, p50/p95/p99 "
        f"{totals_['p50_ms']:g}/{totals_['p95_ms']:g}/{totals_['p99_ms']:g} ms",
    ]
    for endpoint in document["endpoints"]:
        lines.append(
            f"  {endpoint['name']:<42} {endpoint['requests']:>7} req {endpoint['throughput_rps']:>8.1f}/s "
            f"p50/p95/p99 {endpoint['p50_ms']:g}/{endpoint['p95_ms']:g}/{endpoint['p99_ms']:g} ms "
            f"errors {endpoint['failures']}"
        )
    for row in document["thresholds"]:
        lines.append(f"  threshold {row['check']}: observed {row['observed']} -> "
                     f"{'held' if row['passed'] else 'FAILED'}")
    verdict = document["verdict"]
    lines.append(f"verdict: {verdict.upper() if verdict else 'MEASURED (no thresholds given)'}")
    return lines


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
