"""`python -m margo_conformance` is the `margo-conformance` command."""

from margo_conformance.commands.cli import main

raise SystemExit(main())
