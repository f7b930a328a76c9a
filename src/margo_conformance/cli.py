"""The `margo-conformance` command: setup, run, list, cleanup.

Exit codes: 0 pass, 1 fail or partial, 2 usage or configuration error, 3 error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from margo_conformance import __version__
from margo_conformance.config import load_sut_file
from margo_conformance.errors import ConfigError, SuiteError
from margo_conformance.paths import DEFAULT_SUT_FILE
from margo_conformance.runner import EXIT_ERROR, EXIT_USAGE, RunRequest, execute, print_line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="margo-conformance", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="certify a SUT (default: the bundled reference agent)")
    run.add_argument("--sut", type=Path, default=DEFAULT_SUT_FILE, help="SUT file (YAML)")
    run.add_argument("--report-dir", type=Path, default=Path("reports/latest"))
    run.add_argument("--base-image", default=None, help="base image for images the suite builds")
    run.add_argument("-m", dest="select", default=None, help="tag expression, e.g. 'must and gitops'")
    run.add_argument("-k", dest="keyword", default=None, help="scenario name expression")
    run.add_argument("-v", "--verbose", action="store_true")

    setup = commands.add_parser("setup", help="make sure a Docker engine and the suite's images exist")
    setup.add_argument("--base-image", default=None)
    setup.add_argument("--no-reference-images", action="store_true")

    commands.add_parser("cleanup", help="remove containers left by interrupted runs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "setup":
            return _setup(args)
        if args.command == "cleanup":
            return _cleanup()
    except ConfigError as exc:
        print_line(f"error: {exc}")
        return EXIT_USAGE
    except SuiteError as exc:
        print_line(f"error: {exc}")
        return EXIT_ERROR
    return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    sut = load_sut_file(args.sut.resolve())
    request = RunRequest(
        sut=sut,
        report_dir=args.report_dir.resolve(),
        base_image=args.base_image,
        select=args.select,
        keyword=args.keyword,
        verbose=args.verbose,
    )
    print_line(f"certifying {sut.name} ({sut.role}, {', '.join(sut.profiles)}) from {sut.path}")
    return execute(request, print_line)


def _setup(args: argparse.Namespace) -> int:
    from margo_conformance.setup_cmd import run_setup

    summary = run_setup(args.base_image, not args.no_reference_images, print_line)
    print_line(f"ready in {summary['seconds']} s: engine {summary['engine']}, base image {summary['base_image']}")
    return 0


def _cleanup() -> int:
    from margo_conformance.sut import remove_all_suite_resources

    removed = remove_all_suite_resources()
    print_line(f"removed {removed} container(s) and network(s) left by earlier runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
