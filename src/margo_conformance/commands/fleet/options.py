"""The `margo-conformance fleet` command line, parsed into one frozen `FleetRequest`.

Kept free of heavy imports: `cli` uses it to validate and show help, then runs the fleet in
a process of its own (`python -m margo_conformance.commands.fleet`), because Locust must monkey-patch
the interpreter with gevent before anything else is imported.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from margo_conformance.base.errors import ConfigError

LOCAL, MASTER, WORKER = "local", "master", "worker"
DEFAULT_MASTER_PORT = 5557
DEFAULT_APPLICATION = "hello-compose"


@dataclass(frozen=True)
class FleetRequest:
    sut_file: Path | None
    devices: int
    duration_s: float
    poll_interval_s: float
    report_dir: Path
    spawn_rate: float | None = None  # devices started per second; default devices / 10
    thresholds_file: Path | None = None
    base_image: str | None = None
    application: str = DEFAULT_APPLICATION
    mode: str = LOCAL  # local | master | worker
    master_host: str = "127.0.0.1"
    master_port: int = DEFAULT_MASTER_PORT
    expect_workers: int = 1

    @property
    def effective_spawn_rate(self) -> float:
        return self.spawn_rate or max(10.0, self.devices / 10)


def add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sut", type=Path, default=None,
                        help="WOS SUT file (YAML); not needed with --worker")
    parser.add_argument("--devices", type=int, default=100, metavar="N",
                        help="simulated devices (default 100)")
    parser.add_argument("--duration", type=float, default=60.0, metavar="S",
                        help="seconds measured once every device has started (default 60)")
    parser.add_argument("--poll-interval", type=float, default=1.0, metavar="S",
                        help="seconds between a device's polls and status reports (default 1)")
    parser.add_argument("--spawn-rate", type=float, default=None, metavar="R",
                        help="devices started per second (default N/10, at least 10)")
    parser.add_argument("--thresholds", type=Path, default=None, metavar="FILE",
                        help="YAML bounds (schemas/fleet-thresholds.schema.json); "
                             "without it the run is measured, not judged")
    parser.add_argument("--report-dir", type=Path, default=Path("reports/fleet"))
    parser.add_argument("--base-image", default=None, help="base image for images the suite builds")
    parser.add_argument("--application", default=DEFAULT_APPLICATION,
                        help="deployment fixture deployed to every device (default hello-compose)")
    role = parser.add_mutually_exclusive_group()
    role.add_argument("--master", action="store_true",
                      help="drive Locust workers on other machines instead of generating load here")
    role.add_argument("--worker", action="store_true",
                      help="generate load for a --master (needs no SUT file)")
    parser.add_argument("--master-host", default="127.0.0.1",
                        help="--worker: where the master runs; --master: address to bind")
    parser.add_argument("--master-port", type=int, default=DEFAULT_MASTER_PORT)
    parser.add_argument("--expect-workers", type=int, default=1, metavar="W",
                        help="--master: workers to wait for before starting (default 1)")


def request_from_arguments(args: argparse.Namespace) -> FleetRequest:
    """Validate once (ConfigError: exit 2) into the frozen request."""
    mode = MASTER if args.master else WORKER if args.worker else LOCAL
    if mode != WORKER and args.sut is None:
        raise ConfigError("fleet: give the WOS's SUT file with --sut")
    if args.devices < 1:
        raise ConfigError(f"fleet: --devices {args.devices}: give 1 or more")
    if args.duration <= 0 or args.poll_interval <= 0:
        raise ConfigError("fleet: --duration and --poll-interval must be positive")
    if args.spawn_rate is not None and args.spawn_rate <= 0:
        raise ConfigError("fleet: --spawn-rate must be positive")
    if args.expect_workers < 1:
        raise ConfigError("fleet: --expect-workers must be 1 or more")
    if args.thresholds is not None and not args.thresholds.is_file():
        raise ConfigError(f"fleet: --thresholds {args.thresholds}: no such file")
    return FleetRequest(
        sut_file=args.sut.resolve() if args.sut else None,
        devices=args.devices,
        duration_s=args.duration,
        poll_interval_s=args.poll_interval,
        report_dir=args.report_dir.resolve(),
        spawn_rate=args.spawn_rate,
        thresholds_file=args.thresholds.resolve() if args.thresholds else None,
        base_image=args.base_image,
        application=args.application,
        mode=mode,
        master_host=args.master_host,
        master_port=args.master_port,
        expect_workers=args.expect_workers,
    )


def to_argv(request: FleetRequest) -> list[str]:
    """The command line that makes `request` again (for the fleet's own process)."""
    argv = [
        "--devices", str(request.devices),
        "--duration", f"{request.duration_s:g}",
        "--poll-interval", f"{request.poll_interval_s:g}",
        "--report-dir", str(request.report_dir),
        "--application", request.application,
        "--master-host", request.master_host,
        "--master-port", str(request.master_port),
        "--expect-workers", str(request.expect_workers),
    ]
    optional = {
        "--sut": request.sut_file,
        "--spawn-rate": request.spawn_rate,
        "--thresholds": request.thresholds_file,
        "--base-image": request.base_image,
    }
    for flag, value in optional.items():
        if value is not None:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if request.mode == MASTER:
        argv.append("--master")
    elif request.mode == WORKER:
        argv.append("--worker")
    return argv


def parse(argv: Sequence[str]) -> FleetRequest:
    parser = argparse.ArgumentParser(prog="margo-conformance fleet")
    add_fleet_arguments(parser)
    return request_from_arguments(parser.parse_args(list(argv)))
