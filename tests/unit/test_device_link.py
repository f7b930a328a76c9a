"""The device's link to the WOS: relays while up; while cut, notes each attempt and resets it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from margo_conformance.base.evidence import LINK, NOTE, EvidenceLog
from margo_conformance.emulated_wos.link import DeviceLink, channel_of, request_line


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"hello " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def link(server: ThreadingHTTPServer, evidence: EvidenceLog) -> Iterator[DeviceLink]:
    device_link = DeviceLink(("127.0.0.1", server.server_address[1]), evidence).start()
    yield device_link
    device_link.stop()


def get(link: DeviceLink, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{link.port}{path}", timeout=3)


def test_request_lines_and_channels() -> None:
    assert request_line(b"GET /git/d.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n") == (
        "GET", "/git/d.git/info/refs?service=git-upload-pack")
    assert request_line(b"") == ("", "")
    assert channel_of("/git/d.git/info/refs") == "git"
    assert channel_of("/device/d/deployment/x/status") == "api"


def test_an_intact_link_relays_requests(link: DeviceLink) -> None:
    assert get(link, "/a").text == "hello /a"
    assert get(link, "/b").text == "hello /b"


def test_a_cut_link_refuses_with_a_reset_and_notes_the_attempt(link: DeviceLink, evidence: EvidenceLog) -> None:
    link.cut("test")
    with pytest.raises(httpx.TransportError):
        get(link, "/device/d/capabilities")
    (attempt,) = evidence.events(LINK)
    assert attempt.data == {"method": "GET", "path": "/device/d/capabilities", "channel": "api"}
    link.restore("done")
    assert get(link, "/again").text == "hello /again"
    notes = [e.data["link"] for e in evidence.events(NOTE)]
    assert notes == ["down", "up"]
    (outage,) = link.outages
    assert outage[1] is not None and outage[1] >= outage[0]


def test_a_timed_cut_comes_back_by_itself(link: DeviceLink, evidence: EvidenceLog) -> None:
    link.cut("short", duration_s=0.2)
    assert link.is_down
    up = evidence.wait_for(lambda events: next((e for e in events if e.data.get("link") == "up"), None), 3)
    assert up is not None and not link.is_down
    assert get(link, "/x").status_code == 200


def test_an_armed_cut_fires_on_the_first_connection_after_its_condition(
    link: DeviceLink, evidence: EvidenceLog
) -> None:
    link.cut_when(lambda events: any(e.summary == "go" for e in events), None, "on go")
    assert get(link, "/before").status_code == 200
    evidence.record(NOTE, "go")
    with pytest.raises(httpx.TransportError):
        get(link, "/after")
    assert [e.data["path"] for e in evidence.events(LINK)] == ["/after"]
    assert link.check_armed()


def test_connections_open_at_a_cut_are_reset(link: DeviceLink) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{link.port}", timeout=3) as client:
        assert client.get("/kept-alive").status_code == 200
        link.cut("drop everything")  # resets the pooled connection before it returns
        with pytest.raises(httpx.TransportError):
            client.get("/on-the-old-connection")


def test_an_outage_may_last_until_something_happened_during_it(link: DeviceLink, evidence: EvidenceLog) -> None:
    link.end_when(0.1, lambda events: any(e.kind == LINK and e.data["path"] == "/git/d.git/info/refs"
                                          for e in events), 30)
    link.cut("until the repository was tried")
    with pytest.raises(httpx.TransportError):
        get(link, "/device/d/capabilities")
    assert link.is_down  # the device API was tried, the repository not yet
    with pytest.raises(httpx.TransportError):
        get(link, "/git/d.git/info/refs")
    up = evidence.wait_for(lambda events: next((e for e in events if e.data.get("link") == "up"), None), 3)
    assert up is not None and not link.is_down


def test_an_outage_ends_at_its_latest_whatever_happened(link: DeviceLink, evidence: EvidenceLog) -> None:
    link.end_when(0.05, lambda events: False, 0.2)
    link.cut("never satisfied")
    up = evidence.wait_for(lambda events: next((e for e in events if e.data.get("link") == "up"), None), 3)
    assert up is not None and "as long as it may" in up.summary


def test_an_outage_may_outlast_its_condition_by_a_settling_time(link: DeviceLink, evidence: EvidenceLog) -> None:
    link.end_when(0.0, lambda events: any(e.kind == LINK for e in events), 30, settle_s=0.3)
    link.cut("until a while after the first attempt")
    with pytest.raises(httpx.TransportError):
        get(link, "/git/d.git/info/refs")
    attempt = evidence.events(LINK)[0]
    up = evidence.wait_for(lambda events: next((e for e in events if e.data.get("link") == "up"), None), 3)
    assert up is not None and up.at - attempt.at >= 0.28
