"""The SSRF-safe transport (chatapp.kernel.outbound): refusals happen before any socket is opened (DNS stubbed)."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chatapp.kernel import outbound
from plugins.integrations.models import Delivery
from plugins.integrations.services import webhooks
from tests.integrations.conftest import free_port

STRICT = outbound.Policy()


@pytest.fixture
def no_sockets(monkeypatch):
    """Any attempt to open a TCP socket fails the test."""
    opened = []

    def refuse(*args, **kwargs):
        opened.append(args)
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(outbound.socket, "socket", refuse)
    return opened


def stub_dns(monkeypatch, answers: dict[str, list[str]]):
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in answers[host]]  # fmt: skip
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake)


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True), ("127.0.0.1", False),
        ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.0.1", False), ("169.254.169.254", False),
        ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False), ("::", False), ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False), ("64:ff9b::7f00:1", False), ("64:ff9b::a9fe:a9fe", False),
        ("2002:7f00:1::", False), ("2002:a9fe:a9fe::", False), ("::127.0.0.1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False), ("fe80::1%eth0", False), ("fc00::1", False),
        ("fd00:ec2::254", False), ("224.0.0.1", False), ("255.255.255.255", False),
        ("::ffff:93.184.216.34", True), ("not-an-ip", False),
    ],
)  # fmt: skip
def test_address_is_public(address, public):
    assert outbound.address_is_public(address) is public


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1/x", "https://169.254.169.254/latest/meta-data/", "https://[::ffff:127.0.0.1]/x",
     "https://[64:ff9b::7f00:1]/x", "https://[::1]:443/x", "https://0.0.0.0/x", "http://example.com/x",
     "https://user:pw@example.com/x", "https://example.com:8080/x", "ftp://example.com/x", "https:///x"],
)  # fmt: skip
def test_refused_urls_never_open_a_socket(url, no_sockets):
    with pytest.raises(outbound.AddressRefused):
        outbound.request("GET", url, policy=STRICT)
    assert no_sockets == []


@pytest.mark.parametrize("answers", [["10.0.0.7"], ["93.184.216.34", "192.168.1.1"], ["::ffff:127.0.0.1"],
                                     ["169.254.169.254"], ["2002:7f00:1::"]])  # fmt: skip
def test_a_name_resolving_to_a_private_address_is_refused_without_a_socket(answers, monkeypatch, no_sockets):
    stub_dns(monkeypatch, {"hooks.example.com": answers})
    with pytest.raises(outbound.AddressRefused, match="non-public address"):
        outbound.request("POST", "https://hooks.example.com/x", body=b"{}", policy=STRICT)
    assert no_sockets == []


class Redirector:
    """A loopback server (trusted through the operator allowlist) that redirects, sleeps or floods."""

    def __init__(self, location="", sleep=0.0, size=0):
        self.port, self.hits = free_port(), 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits += 1
                if sleep:
                    time.sleep(sleep)
                self.send_response(302 if location else 200)
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                if size:
                    self.wfile.write(b"x" * size)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:1/admin",
                                      "http://internal.example.com/", "https://[::ffff:10.0.0.1]/"])  # fmt: skip
def test_a_redirect_to_an_internal_address_is_refused_before_connecting(location, monkeypatch):
    # The first hop is an internal host the operator trusts by name; where it redirects is checked afresh.
    stub_dns(monkeypatch, {"internal.example.com": ["10.1.1.1"], "receiver.test": ["127.0.0.1"]})
    server = Redirector(location=location)
    connects = []
    real_connect = outbound.connect

    def spy(host, port, policy, timeout=None):
        sock = real_connect(host, port, policy, timeout)  # raises before any socket when refused
        connects.append(sock.getpeername()[:2])
        return sock

    monkeypatch.setattr(outbound, "connect", spy)
    policy = outbound.Policy(require_https=False, allowed_hosts=("receiver.test",))
    try:
        with pytest.raises(outbound.AddressRefused):
            outbound.request("GET", f"http://receiver.test:{server.port}/", policy=policy, max_redirects=3)
    finally:
        server.close()
    assert server.hits == 1 and connects == [("127.0.0.1", server.port)]


def test_redirects_are_not_followed_by_default(allow_private):
    server = Redirector(location="https://example.com/")
    try:
        response = outbound.request(
            "GET", f"http://127.0.0.1:{server.port}/", policy=outbound.Policy(allow_private=True)
        )
    finally:
        server.close()
    assert response.status == 302


def test_ports_beyond_80_and_443_need_the_operator(settings):
    settings.OUTBOUND_ALLOWED_PORTS = [80, 443]
    assert "Port 8443" in outbound.check_url("https://example.com:8443/", outbound.Policy.from_settings())
    settings.OUTBOUND_ALLOWED_PORTS = [80, 443, 8443]
    assert outbound.check_url("https://example.com:8443/", outbound.Policy.from_settings()) == ""


def test_the_operator_allowlist_lets_in_internal_hosts(settings, monkeypatch):
    stub_dns(monkeypatch, {"jira.corp.internal": ["10.2.3.4"], "evil.example.com": ["10.2.3.4"]})
    settings.OUTBOUND_ALLOWED_HOSTS = [".corp.internal"]
    policy = outbound.Policy.from_settings()
    assert outbound.resolve("jira.corp.internal", 443, policy) == [(socket.AF_INET, "10.2.3.4")]
    with pytest.raises(outbound.AddressRefused):
        outbound.resolve("evil.example.com", 443, policy)
    settings.OUTBOUND_ALLOWED_HOSTS = ["10.2.0.0/16"]
    assert outbound.resolve("evil.example.com", 443, outbound.Policy.from_settings())


def test_size_and_time_caps():
    policy = outbound.Policy(allow_private=True, max_response_bytes=1000, timeout=0.5)
    big = Redirector(size=50_000)
    slow = Redirector(sleep=2.0)
    try:
        response = outbound.request("GET", f"http://127.0.0.1:{big.port}/", policy=policy)
        assert response.truncated and len(response.body) == 1000
        started = time.monotonic()
        with pytest.raises(outbound.OutboundError, match=r"TimeoutError|timed out"):
            outbound.request("GET", f"http://127.0.0.1:{slow.port}/", policy=policy)
        assert time.monotonic() - started < 1.5
    finally:
        big.close()
        slow.close()


@pytest.mark.django_db
def test_a_webhook_to_a_name_that_resolves_privately_fails_without_a_socket(acme, monkeypatch, settings, no_sockets):
    settings.INTEGRATIONS_ALLOW_PRIVATE = False
    stub_dns(monkeypatch, {"hooks.example.com": ["169.254.169.254"]})
    webhooks.endpoint_create(actor=acme.owner, org=acme.org, name="x", url="https://hooks.example.com/h",
                             event_types=["*"])  # fmt: skip
    webhooks.event_publish(org=acme.org, event_type="message.posted", data={})
    webhooks.deliveries_run_due()
    delivery = Delivery.objects.get()
    assert "non-public address (169.254.169.254)" in delivery.last_error and no_sockets == []
