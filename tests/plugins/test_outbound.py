"""Outbound HTTP from a plugin: to a declared host through the SSRF-safe transport (a real local server, DNS
stubbed as the audit stream tests do), refused for an undeclared host and for a declared host that resolves to a
private address."""

import http.server
import socket
import threading
import types

import pytest

from audit.models import AuditEvent
from audit.streaming import transport
from plugins.host import PluginContext, PluginDenied
from plugins.models import Installation
from plugins.registry import builtin_plugins, builtin_register
from tests.plugins.conftest import install

PLUGIN = "com.example.fetcher"
module = types.ModuleType("fetcher_plugin")
module.MANIFEST = {
    "id": PLUGIN, "name": "Fetcher", "version": "1.0.0", "publisher": "tests", "description": "Fetches a URL.",
    "category": "utilities", "min_chatapp_version": "0.1.0", "capabilities": ["http.outbound"],
    "http_domains": ["hooks.example.com"],
}  # fmt: skip


@pytest.fixture(autouse=True)
def registered():
    builtin_plugins._frozen = False
    builtin_register(module, source="test")
    builtin_plugins._frozen = True
    yield
    builtin_plugins._frozen = False
    builtin_plugins._entries.pop(PLUGIN, None)
    builtin_plugins._frozen = True


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


@pytest.fixture
def ctx(acme, client_for):
    assert install(client_for(acme.admin), "acme", PLUGIN, ["http.outbound"]).status_code == 201
    return PluginContext(Installation.objects.get())


def stub_dns(monkeypatch, address):
    def fake(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(transport.socket, "getaddrinfo", fake)


def test_a_declared_host_is_reached_through_the_transport(ctx, server, settings, monkeypatch):
    settings.INTEGRATIONS_ALLOW_PRIVATE = True  # the local server is on loopback
    stub_dns(monkeypatch, "127.0.0.1")
    response = ctx.http_request("GET", f"http://hooks.example.com:{server}/ping", {"Host": "evil.test"})
    assert response["status"] == 200 and response["body"] == f"hello from hooks.example.com:{server}"
    call = AuditEvent.objects.get(event_name="plugin.api_call")
    assert call.metadata["host"] == "hooks.example.com" and call.metadata["status"] == 200


def test_a_declared_host_resolving_to_a_private_address_is_refused(ctx, settings, monkeypatch):
    settings.INTEGRATIONS_ALLOW_PRIVATE = False
    stub_dns(monkeypatch, "10.0.0.7")
    with pytest.raises(PluginDenied, match="non-public address"):
        ctx.http_request("GET", "https://hooks.example.com/ping")
    assert AuditEvent.objects.get(event_name="plugin.api_denied").metadata["capability"] == "http.outbound"


def test_an_undeclared_host_is_refused_before_any_connection(ctx, monkeypatch):
    def no_dns(*args, **kwargs):
        raise AssertionError("no lookup for an undeclared host")

    monkeypatch.setattr(transport.socket, "getaddrinfo", no_dns)
    with pytest.raises(PluginDenied, match="not among the domains"):
        ctx.http_request("GET", "https://hooks.example.com.evil.test/")
