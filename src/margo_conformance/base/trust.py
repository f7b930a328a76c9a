"""The TLS trust the suite's HTTP clients share.

httpx builds a fresh SSL context for every client it makes, loading certifi's whole CA
bundle each time: about 15 ms of CPU per client, measured as a quarter of the suite's own
CPU in a run (a client per control verb, per device, per scenario). The context never
changes after it is made, so one serves every client.
"""

from __future__ import annotations

import functools
import ssl

import certifi


@functools.cache
def public_roots() -> ssl.SSLContext:
    """What httpx would build by default: certifi's roots, hostname checks on."""
    return ssl.create_default_context(cafile=certifi.where())
