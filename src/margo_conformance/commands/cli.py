"""The `margo-conformance` command: setup, run, list, report, verify, selftest, cleanup.

Exit codes: 0 pass; 1 fail or partial (for verify: the bundle does not verify); 2 usage or
configuration error; 3 error (the SUT could not be brought up, or the suite broke).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from margo_conformance import __version__
from margo_conformance.base.errors import ConfigError, SuiteError
from margo_conformance.base.paths import DEFAULT_SUT_FILE
from margo_conformance.commands.exit_codes import EXIT_ERROR, EXIT_FAIL, EXIT_USAGE
from margo_conformance.commands.run_request import RunRequest, only_scenarios
from margo_conformance.commands.runner import execute, print_line
from margo_conformance.config.run_config import load_sut_file
from margo_conformance.config.workers import AUTO_WORKERS, parse_workers, resolve_workers

EPILOG = """exit codes:
  0  pass: every mandatory scenario of the SUT's role and claimed profiles ran and passed
  1  fail (the SUT broke a requirement, or a waiver is stale) or partial (something was
     skipped, waived or not selected); verify: the bundle does not verify
  2  usage or configuration error (bad option, SUT file, waivers file or key); nothing ran
  3  error: the SUT could not be brought up, or the suite or its infrastructure broke
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="margo-conformance",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run(commands)
    _add_fleet(commands)
    _add_list(commands)
    _add_report(commands)
    _add_verify(commands)

    setup = commands.add_parser(
        "setup", help="make sure a Docker engine and the suite's images exist"
    )
    setup.add_argument("--base-image", default=None)
    setup.add_argument("--no-reference-images", action="store_true")

    commands.add_parser("cleanup", help="remove containers left by interrupted runs")

    stability = commands.add_parser(
        "stability", help="certify the same SUTs N times; fail on any change of outcome"
    )
    stability.add_argument("--runs", type=int, default=10)
    stability.add_argument("--sut", type=Path, action="append", default=None,
                           help="SUT file (repeatable); default: both bundled references")
    stability.add_argument("--report-dir", type=Path, default=Path("reports/stability"))
    stability.add_argument("--workers", type=int, default=1, help="passed to each run (see `run --workers`)")

    selftest = commands.add_parser(
        "selftest", help="certify the references and every mutant; print the kill matrix"
    )
    selftest.add_argument("--report-dir", type=Path, default=Path("reports/selftest"))
    selftest.add_argument("--role", choices=("agent", "wos"), action="append", default=None,
                          help="limit to one role (repeatable); default: both")
    selftest.add_argument("--jobs", type=int, default=1,
                          help="mutant runs at a time (references always run alone, first); default 1")
    selftest.add_argument("--mutant", action="append", default=None, metavar="FAULT",
                          help="only this mutant (repeatable; 'reference' for the references); default: all")
    selftest.add_argument("--scope", choices=("traced", "reached", "full"), default="traced",
                          help="scenarios a mutant runs: those tracing what it violates (default); those "
                               "whose code reaches its fault switch in the reference's run (where its "
                               "outcome can differ: false failures show there); or all of its role")
    return parser


def _add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="certify a SUT (default: the bundled reference agent)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--sut", type=Path, default=DEFAULT_SUT_FILE, help="SUT file (YAML)")
    run.add_argument("--report-dir", type=Path, default=Path("reports/latest"))
    run.add_argument("--run-id", default=None,
                     help="label value for this run's containers (org.margo.conformance.run); default: generated")
    run.add_argument("--base-image", default=None, help="base image for images the suite builds")
    run.add_argument(
        "-m", dest="select", default=None, help="tag expression, e.g. 'must and gitops'"
    )
    run.add_argument("-k", dest="keyword", default=None,
                     help="scenario name expression, or a phrase of the name (see README)")
    run.add_argument(
        "--rerun-failed",
        type=Path,
        metavar="RESULTS_JSON",
        default=None,
        help="run only the scenarios that failed or errored in that results.json",
    )
    run.add_argument(
        "--only-scenarios",
        type=Path,
        metavar="JSON",
        default=None,
        help="run only these scenarios: a JSON list of node ids as results.json names them "
             "(the kill matrix uses it to run a mutant where its fault switch is reached)",
    )
    run.add_argument(
        "--waivers",
        type=Path,
        metavar="FILE",
        default=None,
        help="expected failures (YAML list of {scenario, reason, requirement?})",
    )
    run.add_argument(
        "--certification",
        action="store_true",
        help="certification run: no waivers, no selection, and a signed bundle",
    )
    run.add_argument(
        "--bundle", action="store_true", help="also write the signed REPORT_DIR/bundle.tar.gz"
    )
    run.add_argument(
        "--signing-key",
        type=Path,
        metavar="PEM",
        default=None,
        help="Ed25519 private key (PEM) to sign the bundle with (default: a fresh key)",
    )
    run.add_argument(
        "--allure",
        action="store_true",
        help="also render the Allure 3 single-file HTML (needs Node.js/npx)",
    )
    run.add_argument(
        "--workers",
        type=parse_workers,
        default=AUTO_WORKERS,
        metavar="N|auto",
        help="run scenarios in N parallel processes (pytest-xdist); default auto: twice the cores, "
        "at most 8 (scenarios mostly wait on the SUT)",
    )
    run.add_argument(
        "-v", "--verbose", action="store_true", help="pytest's own verbose output as well"
    )


def _add_fleet(commands: argparse._SubParsersAction) -> None:
    from margo_conformance.commands.fleet.options import add_fleet_arguments

    fleet = commands.add_parser(
        "fleet",
        help="load a WOS with N simulated devices (Locust); figures in performance.json",
        description="Start the WOS, register N devices, and let each onboard, report "
        "capabilities, poll its repository and report status at its polling interval. "
        "Needs the perf extra: pip install 'margo-conformance[perf]'.",
    )
    add_fleet_arguments(fleet)


def _add_list(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("list", help="list requirements or scenarios (no Docker needed)")
    listing.add_argument("what", choices=("scenarios", "requirements"))
    listing.add_argument(
        "--sut", type=Path, default=None, help="take role and profiles from this SUT file"
    )
    listing.add_argument("--role", choices=("agent", "wos"), default=None)
    listing.add_argument(
        "--profile", action="append", default=None, help="claimed profile (repeatable)"
    )
    listing.add_argument("-m", dest="select", default=None, help="tag expression (scenarios)")
    listing.add_argument("-k", dest="keyword", default=None, help="name expression or phrase (scenarios), as run -k")


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report", help="(re)render report.html, junit.xml, Allure HTML or the bundle of a run"
    )
    report.add_argument("report_dir", type=Path, metavar="REPORT_DIR")
    report.add_argument(
        "--allure", action="store_true", help="render allure-report.html (needs Node.js/npx)"
    )
    report.add_argument("--bundle", action="store_true", help="write the signed bundle.tar.gz")
    report.add_argument("--signing-key", type=Path, metavar="PEM", default=None)


def _add_verify(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser("verify", help="check a bundle's files and signature")
    verify.add_argument("bundle", type=Path, metavar="BUNDLE")
    verify.add_argument(
        "--trusted-key",
        type=Path,
        metavar="PUBKEY",
        default=None,
        help="require the bundle to be signed by this Ed25519 public key (PEM)",
    )
    verify.add_argument("-v", "--verbose", action="store_true", help="list matching files too")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "run": _run,
        "list": _list,
        "report": _report,
        "verify": _verify,
        "setup": _setup,
        "cleanup": lambda _args: _cleanup(),
        "selftest": _selftest,
        "stability": _stability,
        "fleet": _fleet,
    }
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        print_line(f"error: {exc}")
        return EXIT_USAGE
    except SuiteError as exc:
        print_line(f"error: {exc}")
        return EXIT_ERROR


def _run(args: argparse.Namespace) -> int:
    from margo_conformance.results.waivers import load_waivers

    sut = load_sut_file(args.sut.resolve())
    waivers = load_waivers(args.waivers) if args.waivers else ()
    request = RunRequest(
        sut=sut,
        run_id=args.run_id,
        report_dir=args.report_dir.resolve(),
        base_image=args.base_image,
        select=args.select,
        keyword=args.keyword,
        verbose=args.verbose,
        waivers=waivers,
        waivers_file=args.waivers.resolve() if args.waivers else None,
        certification=args.certification,
        rerun_failed=args.rerun_failed.resolve() if args.rerun_failed else None,
        only=only_scenarios(args.only_scenarios) if args.only_scenarios else (),
        bundle=args.bundle,
        signing_key=args.signing_key.resolve() if args.signing_key else None,
        allure=args.allure,
        workers=resolve_workers(args.workers),
    )
    mode = "certification run" if args.certification else "run"
    print_line(f"{mode}: {sut.name} ({sut.role}, {', '.join(sut.profiles)}) from {sut.path}")
    return execute(request, print_line)


def _fleet(args: argparse.Namespace) -> int:
    """Validate here, run in a process of its own: Locust must patch it with gevent first."""
    import importlib.util
    import signal
    import subprocess

    from margo_conformance.commands.fleet.options import request_from_arguments, to_argv

    request = request_from_arguments(args)
    if importlib.util.find_spec("locust") is None:
        raise ConfigError("fleet needs Locust: pip install 'margo-conformance[perf]'")
    command = [sys.executable, "-m", "margo_conformance.commands.fleet", *to_argv(request)]
    child = subprocess.Popen(command)
    # Pass SIGTERM on, so the fleet process removes the WOS container before it ends.
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:  # the terminal sent SIGINT to both of us: wait for its cleanup
            continue


def _list(args: argparse.Namespace) -> int:
    from margo_conformance.commands.listing import requirement_lines, scenario_lines

    role, profiles = args.role, list(args.profile or [])
    if args.sut is not None:
        sut = load_sut_file(args.sut.resolve())
        role, profiles = role or sut.role, profiles or list(sut.profiles)
    if args.what == "scenarios":
        lines = scenario_lines(role, profiles, args.select, args.keyword)
        legend = f"* mandatory for {role} {', '.join(profiles) or '(any profile)'}" if role else ""
    else:
        lines = requirement_lines(role, profiles)
        legend = ""
    for line in lines:
        print(line)
    print_line(f"{len(lines)} {args.what}" + (f"; {legend}" if legend else ""))
    return 0


def _report(args: argparse.Namespace) -> int:
    from margo_conformance.commands.run_outputs import write_tree_outputs

    report_dir = args.report_dir.resolve()
    results = report_dir / "results.json"
    try:
        tree = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{results}: not a readable results.json ({exc})") from exc
    write_tree_outputs(report_dir, tree, print_line)
    if args.allure:
        from margo_conformance.report.allure import generate_allure_html

        generate_allure_html(report_dir, print_line)
    if args.bundle or args.signing_key:
        from margo_conformance.report.bundle import BundleError, create_bundle

        try:
            bundle = create_bundle(report_dir, signing_key=args.signing_key)
        except BundleError as exc:
            raise ConfigError(str(exc)) from exc
        print_line(
            f"bundle: {bundle.path} "
            f"(signed by Ed25519 key {bundle.fingerprint}, {bundle.key_source})"
        )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from margo_conformance.report.bundle import verify_bundle

    if not args.bundle.is_file():
        raise ConfigError(f"{args.bundle}: no such file")
    verification = verify_bundle(args.bundle, args.trusted_key)
    for line in verification.lines(verbose=args.verbose):
        print(line)
    return 0 if verification.ok else EXIT_FAIL


def _setup(args: argparse.Namespace) -> int:
    from margo_conformance.commands.setup import run_setup

    summary = run_setup(args.base_image, not args.no_reference_images, print_line)
    print_line(
        f"ready in {summary['seconds']} s: engine {summary['engine']}, "
        f"base image {summary['base_image']}"
    )
    return 0


def _stability(args: argparse.Namespace) -> int:
    from margo_conformance.commands.stability import DEFAULT_SUTS, run_stability

    report_dir = args.report_dir.resolve()
    suts = [p.resolve() for p in args.sut] if args.sut else list(DEFAULT_SUTS)
    stable, table = run_stability(suts, args.runs, report_dir, print_line, workers=args.workers)
    print_line(f"{'stable' if stable else 'UNSTABLE'}: {len(table)} scenario(s) x {args.runs} run(s); "
               f"{report_dir / 'stability.md'}")
    return 0 if stable else EXIT_FAIL


def _selftest(args: argparse.Namespace) -> int:
    from margo_conformance.commands.mutants import REFERENCES, load_mutants, mutation_coverage
    from margo_conformance.commands.selftest import run_selftest

    report_dir = args.report_dir.resolve()
    rows = run_selftest(report_dir, args.role, print_line, jobs=args.jobs, scope=args.scope, names=args.mutant)
    mutants = [r for r in rows if r.mutant not in REFERENCES]
    references = [r for r in rows if r.mutant in REFERENCES]
    print_line(
        f"kill matrix: {sum(r.ok for r in mutants)}/{len(mutants)} mutants killed, "
        f"{sum(r.ok for r in references)}/{len(references)} references passing; "
        f"{report_dir / 'kill-matrix.md'}"
    )
    print_line(mutation_coverage(load_mutants()).summary())
    return 0 if all(r.ok for r in rows) else EXIT_FAIL


def _cleanup() -> int:
    from margo_conformance.engine.sut import remove_all_suite_resources

    removed = remove_all_suite_resources()
    print_line(f"removed {removed} container(s) and network(s) left by earlier runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
