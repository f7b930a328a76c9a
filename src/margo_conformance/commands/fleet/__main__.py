"""`python -m margo_conformance.commands.fleet`: the fleet's own process (`margo-conformance fleet` runs it).

gevent must patch the interpreter before the ssl, socket and threading users among the
suite's modules are imported, or Locust's greenlets and the HTTP clients misbehave; so this
module patches first and imports the rest afterwards.
"""

from gevent import monkey

monkey.patch_all()

import signal  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import gevent  # noqa: E402


def _interrupt_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main greenlet, so the WOS container is
    stopped and removed on the way out (gevent's hub would otherwise swallow them)."""
    main_greenlet = gevent.getcurrent()
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, main_greenlet.throw, KeyboardInterrupt)


def main(argv: Sequence[str] | None = None) -> int:
    from margo_conformance.base.errors import ConfigError, SuiteError, SutError
    from margo_conformance.commands.exit_codes import EXIT_USAGE
    from margo_conformance.commands.fleet.options import parse
    from margo_conformance.commands.fleet.runner import EXIT_ERROR, run_fleet
    from margo_conformance.commands.runner import print_line

    _interrupt_on_signals()
    try:
        request = parse(sys.argv[1:] if argv is None else argv)
        return run_fleet(request, print_line)
    except KeyboardInterrupt:
        print_line("error: interrupted; the WOS container was removed")
        return EXIT_ERROR
    except ConfigError as exc:
        print_line(f"error: {exc}")
        return EXIT_USAGE
    except (SuiteError, SutError) as exc:  # the WOS could not be brought up, or the run broke
        print_line(f"error: {exc}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
