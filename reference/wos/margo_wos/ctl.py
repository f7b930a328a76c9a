"""`margo-wos-ctl <verb> <request-json>`: the control verbs as a command (exec transport).

It posts the request to the control port of the WOS in the same container and prints the
JSON answer. On failure it prints one line on stderr and exits 1 (2 for bad usage).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 30


def call(verb: str, request_json: str, port: int) -> object:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/control/{verb}",
        data=request_json.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return json.loads(response.read())


def _reason(error: urllib.error.HTTPError) -> str:
    """The problem body's detail when there is one, so the suite's ERROR line says why."""
    try:
        body = json.loads(error.read())
        return f"{error.code} {body.get('detail') or body.get('title')}"
    except (ValueError, AttributeError):
        return f"{error.code} {error.reason}"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: margo-wos-ctl <verb> <request-json>", file=sys.stderr)
        return 2
    verb, request_json = argv
    try:
        json.loads(request_json)
    except ValueError as exc:
        print(f"margo-wos-ctl: the request is not JSON: {exc}", file=sys.stderr)
        return 2
    port = int(os.environ.get("MARGO_WOS_CONTROL_PORT") or 8081)
    try:
        answer = call(verb, request_json, port)
    except urllib.error.HTTPError as exc:
        print(f"margo-wos-ctl: {verb} failed: {_reason(exc)}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"margo-wos-ctl: {verb} failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
