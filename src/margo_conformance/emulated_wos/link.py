"""The device's network link to the emulated WOS: a TCP relay the suite can cut.

Each agent scenario's device reaches the emulated WOS (its API and its Git server) through a
`DeviceLink` of its own, so the suite can take the orchestrator away from one device without
touching any other. While the link is up it relays bytes both ways and changes nothing. While
it is down, the orchestrator is *unreachable* for the device, not merely unwell: every
connection the device opens is accepted, the request line it carries is noted as evidence (one
attempt to reach the orchestrator, `link` events), and the connection is reset before any byte
of an answer. The device sees a network failure (connection reset, empty reply), never an HTTP
status: a 503 would be an answer from a reachable server. Connections open when the link goes
down are reset too.

Usage::

    link = DeviceLink(("127.0.0.1", wos.port), evidence).start()
    agent_url = f"http://host.docker.internal:{link.port}"
    link.cut("maintenance", duration_s=4)        # comes back up by itself
    link.cut_when(fetched_commit_x, duration_s=4)  # down from the first connection after x
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from margo_conformance.base.evidence import LINK, NOTE, Event, EvidenceLog

REQUEST_LINE_WAIT_S = 1.0
#: When the link is cut because something happened, the exchange that made it happen may still
#: be answering; connections open at the cut are reset only after this grace.
IN_FLIGHT_GRACE_S = 0.5
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def request_line(head: bytes) -> tuple[str, str]:
    """(method, path) of the first line of an HTTP request, as far as it arrived."""
    first = head.split(b"\r\n", 1)[0].decode("latin-1", errors="replace")
    parts = first.split(" ")
    if len(parts) >= 2 and parts[0].isalpha():
        return parts[0], parts[1]
    return "", ""


def channel_of(path: str) -> str:
    """What the device was after: its desired-state repository or the device API."""
    return "git" if "/git/" in path else "api"


class DeviceLink:
    def __init__(self, target: tuple[str, int], evidence: EvidenceLog, name: str = "device") -> None:
        self.target = target
        self.evidence = evidence
        self.name = name
        self._lock = threading.RLock()  # _cut_locked resets relays while holding it
        self._listener: socket.socket | None = None
        self._down_since: float | None = None
        self._armed: tuple[Callable[[list[Event]], Any], float | None, str] | None = None
        self._timer: threading.Timer | None = None
        # How an outage ends: (earliest, condition, latest, settle); see end_when.
        self._end: tuple[float, Callable[[list[Event]], Any], float, float] | None = None
        self._condition_since: float | None = None
        self._relays: set[socket.socket] = set()
        self._stopped = False
        #: (went down, came up) for every cut so far; the last one may still be open (None).
        self.outages: list[tuple[float, float | None]] = []

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> DeviceLink:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", 0))
        listener.listen(256)
        self._listener = listener
        threading.Thread(target=self._accept_loop, name=f"link-{self.name}", daemon=True).start()
        return self

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the link has not been started")
        return int(self._listener.getsockname()[1])

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._end = None
            if self._timer is not None:
                self._timer.cancel()
            relays, self._relays = list(self._relays), set()
        if self._listener is not None:
            _close(self._listener)
        for sock in relays:
            _reset(sock)

    # -- cutting -----------------------------------------------------------------------

    @property
    def is_down(self) -> bool:
        with self._lock:
            return self._down_since is not None

    def cut(self, reason: str, duration_s: float | None = None) -> float:
        """Take the orchestrator away from the device now; back by itself after `duration_s`."""
        with self._lock:
            return self._cut_locked(reason, duration_s)

    def cut_when(self, condition: Callable[[list[Event]], Any], duration_s: float | None, reason: str) -> None:
        """Cut the link as soon as `condition(evidence)` holds. It is checked whenever the device
        opens a connection (so the first connection after the condition came true is refused)
        and whenever `check_armed` is called. The exchange that made the condition true still
        gets its answer: connections already open are reset after `IN_FLIGHT_GRACE_S`."""
        with self._lock:
            self._armed = (condition, duration_s, reason)

    def end_when(
        self, earliest_s: float, condition: Callable[[list[Event]], Any], latest_s: float, settle_s: float = 0.0
    ) -> None:
        """Bring the link back up once it has been down `earliest_s` and `condition(evidence)`
        has held for `settle_s` (checked then, at every refused attempt and when the settling
        time is up), or at `latest_s` whatever happened."""
        with self._lock:
            self._end = (earliest_s, condition, latest_s, settle_s)
            self._condition_since = None

    def check_armed(self) -> bool:
        """Cut now if the armed condition holds; True when the link is down."""
        with self._lock:
            self._fire_if_armed()
            return self._down_since is not None

    def restore(self, reason: str = "") -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._restore_locked(reason)

    def _cut_locked(self, reason: str, duration_s: float | None, grace_s: float = 0.0) -> float:
        self._armed = None
        if self._down_since is None:
            self._down_since = time.time()
            self.outages.append((self._down_since, None))
            self.evidence.record(NOTE, f"the orchestrator and its repository are unreachable for the device: {reason}",
                                 link="down", reason=reason)
            if grace_s > 0:
                late = threading.Timer(grace_s, self._reset_relays, args=(set(self._relays),))
                late.daemon = True
                late.start()
            else:
                self._reset_relays(set(self._relays))
        if self._end is not None and not self._stopped:
            earliest, _, latest, _ = self._end
            for delay in (earliest, latest):
                self._later(delay, self._check_end)
        elif duration_s is not None and not self._stopped:
            self._timer = threading.Timer(duration_s, self.restore, kwargs={"reason": "the outage is over"})
            self._timer.daemon = True
            self._timer.start()
        return self._down_since

    def _check_end(self) -> None:
        """End an outage whose end depends on what happened during it, when it may end."""
        with self._lock:
            if self._end is None or self._down_since is None:
                return
            earliest, condition, latest, settle = self._end
            now = time.time()
            elapsed = now - self._down_since
            if elapsed >= latest - 0.01:
                self._end = None
                self._restore_locked("the outage is over (it lasted as long as it may)")
                return
            if self._condition_since is None and condition(self.evidence.events(since=self._down_since)):
                self._condition_since = now
                if settle > 0:
                    self._later(settle, self._check_end)
            if (self._condition_since is not None and elapsed >= earliest - 0.01
                    and now - self._condition_since >= settle - 0.01):
                self._end = None
                self._restore_locked("the outage is over")

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(delay, action)
        timer.daemon = True
        timer.start()

    def _reset_relays(self, chosen: set[socket.socket]) -> None:
        """Reset those of the chosen connections that are still open (while the link is down)."""
        with self._lock:
            if self._down_since is None:
                return
            doomed = chosen & self._relays
            self._relays -= doomed
        for sock in doomed:
            _reset(sock)

    def _restore_locked(self, reason: str) -> None:
        if self._down_since is None:
            return
        self.outages[-1] = (self._down_since, time.time())
        self._down_since = None
        self.evidence.record(NOTE, "the orchestrator and its repository are reachable for the device again"
                             + (f": {reason}" if reason else ""), link="up", reason=reason)

    def _fire_if_armed(self) -> None:
        if self._armed is None or self._down_since is not None:
            return
        condition, duration_s, reason = self._armed
        if condition(self.evidence.events()):
            self._cut_locked(reason, duration_s, grace_s=IN_FLIGHT_GRACE_S)

    # -- relaying ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self._fire_if_armed()
            down = self._down_since is not None
            if not down and not self._stopped:
                self._relays.add(client)
        if down:
            self._refuse(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            self._forget(client)
            _reset(client)
            return
        with self._lock:
            if client not in self._relays:  # the link went down meanwhile
                _reset(upstream)
                return
            self._relays.add(upstream)
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        self._pipe(client, upstream)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            _reset(sink)
            _reset(source)
        finally:
            # Each direction ends on its own; the second to end closes both sockets.
            with self._lock:
                done = source not in self._relays or sink not in self._relays
                if done:
                    self._relays.discard(source)
                    self._relays.discard(sink)
                else:
                    self._relays.discard(source)
            if done:
                _close(source)
                _close(sink)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._relays.discard(sock)

    def _refuse(self, client: socket.socket) -> None:
        """Note the attempt (its request line) and reset the connection before any answer."""
        head = b""
        client.settimeout(REQUEST_LINE_WAIT_S)
        try:
            while b"\r\n" not in head and len(head) < 8192:
                chunk = client.recv(4096)
                if not chunk:
                    break
                head += chunk
        except OSError:
            pass
        method, path = request_line(head)
        shown = f"{method} {path}" if method else "a connection without a request"
        self.evidence.record(LINK, f"refused {shown} (orchestrator unreachable)",
                             method=method, path=path, channel=channel_of(path))
        _reset(client)
        self._check_end()


def _reset(sock: socket.socket) -> None:
    """Abort a connection: RST, no FIN. Shutting the read side first wakes a thread blocked in
    recv() on it (close() alone does not on Linux) and sends nothing to the peer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
