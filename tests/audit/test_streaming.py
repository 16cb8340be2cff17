"""Audit streaming against real receivers on loopback: a webhook server and a syslog collector started here."""

import hashlib
import hmac
import json
import re
import socket
import socketserver
import threading
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from audit.models import AuditEvent, StreamDestination
from audit.streaming import services as streaming
from audit.streaming import transport
from audit.tasks import stream_deliver
from chatapp.chat import services as chat

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-signing-key-0123456789abcdef"


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that checks the signature and records accepted event ids.

    `mode`: "ok" (204), "error" (500) or "redirect" (302). `stop()` closes the port; `start()` opens the same port.
    """

    def __init__(self, secret=SECRET):
        self.secret = secret
        self.mode = "ok"
        self.accepted: list[str] = []
        self.bodies: list[dict] = []
        self.bad_signatures = 0
        self.requests = 0
        self.port = 0
        self.server = None

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.requests += 1
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["X-Chatapp-Timestamp"]
                expected = "v1=" + hmac.new(receiver.secret.encode(), f"{timestamp}.".encode() + raw,
                                            hashlib.sha256).hexdigest()  # fmt: skip
                if not hmac.compare_digest(expected, self.headers.get("X-Chatapp-Signature", "")):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif receiver.mode == "error":
                    self.send_response(500)
                elif receiver.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                else:
                    body = json.loads(raw)
                    receiver.bodies.append(body)
                    receiver.accepted.extend(event["event_id"] for event in body["events"])
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hooks/audit?token=abc"


class SyslogReceiver:
    """A TCP collector that reads RFC 6587 octet-counted frames until the sender closes."""

    def __init__(self):
        self.messages: list[bytes] = []
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                data = b""
                while chunk := self.request.recv(65536):
                    data += chunk
                while data:
                    length, _, rest = data.partition(b" ")
                    receiver.messages.append(rest[: int(length)])
                    data = rest[int(length) :]

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.AUDIT_STREAM_ALLOW_PRIVATE = True


@pytest.fixture
def receiver(loopback_allowed):
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def syslog(loopback_allowed):
    server = SyslogReceiver()
    yield server
    server.stop()


def webhook(org, receiver, **values):
    values = {"name": "siem", "kind": "webhook", "url": receiver.url, "signing_secret": SECRET, **values}
    return streaming.stream_destination_create(actor=org.owner, org=org.org, **values)


_rooms = iter(range(10**6))


def make_events(org, count):
    for _ in range(count):
        chat.channel_create(actor=org.member, org=org.org, name=f"room-{next(_rooms)}")


def expected_ids(org, destination_created):
    """Every event id of the organization from the destination's creation on (both chains)."""
    rows = AuditEvent.objects.filter(organization=org.org, id__gte=destination_created.pk)
    return {f"{chain}:{sequence}" for chain, sequence in rows.values_list("chain", "sequence")}


def test_webhook_receives_signed_events_with_unique_ids(acme, receiver):
    make_events(acme, 2)  # before the destination: not streamed (history is what the export is for)
    destination = webhook(acme, receiver)
    make_events(acme, 3)
    result = streaming.destination_deliver(destination)
    assert result.ok and result.delivered == 4
    assert receiver.bad_signatures == 0
    names = [event["event_name"] for body in receiver.bodies for event in body["events"]]
    assert names == ["audit.stream.created", "channel.created", "channel.created", "channel.created"]
    event = receiver.bodies[0]["events"][1]
    stored = AuditEvent.objects.get(organization=acme.org, chain=acme.org.pk, sequence=event["sequence"])
    assert event["event_id"] == f"{acme.org.pk}:{stored.sequence}"
    assert event["hash"] == stored.hash and event["prev_hash"] == stored.prev_hash
    assert receiver.bodies[0]["organization"] == "acme"
    destination.refresh_from_db()
    assert destination.delivered_count == 4 and destination.consecutive_failures == 0
    assert destination.last_success_at is not None and destination.lease_expires_at is None
    # nothing new: nothing sent
    assert streaming.destination_deliver(destination).delivered == 0
    assert len(receiver.bodies) == 1


def test_receiver_down_for_a_while_gets_every_event_exactly_once(acme, receiver, monkeypatch):
    monkeypatch.setattr(streaming, "BATCH_SIZE", 4)
    destination = webhook(acme, receiver)
    make_events(acme, 5)
    now = timezone.now()
    assert streaming.destination_deliver(destination, now=now).delivered == 6
    delivered_before = set(receiver.accepted)

    receiver.mode = "error"
    make_events(acme, 7)
    failed = streaming.destination_deliver(destination, now=now)
    assert not failed.ok and failed.error == "webhook answered HTTP 500"
    destination.refresh_from_db()
    assert destination.consecutive_failures == 1
    assert destination.next_attempt_at == now + timedelta(minutes=1)
    assert destination.cursor == int(sorted(delivered_before, key=lambda i: int(i.split(":")[1]))[-1].split(":")[1])
    # backing off: not even attempted before next_attempt_at
    requests = receiver.requests
    assert not streaming.destination_deliver(destination, now=now + timedelta(seconds=59)).attempted
    assert receiver.requests == requests

    receiver.stop()  # now the port is closed
    make_events(acme, 3)
    refused = streaming.destination_deliver(destination, now=now + timedelta(minutes=1))
    assert not refused.ok and "cannot connect" in refused.error
    destination.refresh_from_db()
    assert destination.consecutive_failures == 2
    assert destination.next_attempt_at == now + timedelta(minutes=1) + timedelta(minutes=2)
    assert "abc" not in destination.last_error  # the URL's token is not in the error

    receiver.mode = "ok"
    receiver.start()  # back on the same port
    later = now + timedelta(minutes=3)
    recovered = streaming.destination_deliver(destination, now=later)
    assert recovered.ok
    assert streaming.destination_deliver(destination, now=later).ok  # the "recovered" event itself
    destination.refresh_from_db()
    assert destination.consecutive_failures == 0 and destination.next_attempt_at is None
    assert destination.last_error == ""

    counts = Counter(receiver.accepted)
    assert max(counts.values()) == 1, "an event was delivered twice"
    created = AuditEvent.objects.get(organization=acme.org, event_name="audit.stream.created")
    assert set(counts) == expected_ids(acme, created)
    names = Counter(AuditEvent.objects.filter(organization=acme.org).values_list("event_name", flat=True))
    assert names["audit.stream.failing"] == 1 and names["audit.stream.recovered"] == 1
    # in order within the chain
    main = [int(i.split(":")[1]) for i in receiver.accepted if i.startswith(f"{acme.org.pk}:")]
    assert main == sorted(main)


def test_api_call_chain_is_streamed_too(acme, receiver, client_for):
    from audit.api_requests import api_chain_id, buffer

    destination = webhook(acme, receiver)
    client_for(acme.member).get(f"/api/v1/orgs/{acme.org.slug}/channels/")
    buffer.flush()
    streaming.destination_deliver(destination)
    assert any(event_id.startswith(f"{api_chain_id(acme.org.pk)}:") for event_id in receiver.accepted)
    destination.refresh_from_db()
    assert destination.api_cursor > 0


def test_category_filter_skips_but_advances(acme, receiver):
    destination = webhook(acme, receiver, categories=["security"])
    make_events(acme, 3)  # data_change: filtered out
    result = streaming.destination_deliver(destination)
    assert result.ok and result.delivered == 1  # audit.stream.created is a security event
    assert [event["category"] for body in receiver.bodies for event in body["events"]] == ["security"]
    destination.refresh_from_db()
    assert destination.cursor == AuditEvent.objects.filter(chain=acme.org.pk).order_by("-sequence")[0].sequence


def test_a_redirect_is_not_followed(acme, receiver):
    destination = webhook(acme, receiver)
    receiver.mode = "redirect"
    result = streaming.destination_deliver(destination)
    assert not result.ok and result.error == "webhook answered HTTP 302"
    assert receiver.requests == 1 and receiver.accepted == []


def test_disabled_destination_sends_nothing(acme, receiver):
    destination = webhook(acme, receiver, enabled=False)
    assert not streaming.destination_deliver(destination).attempted
    stream_deliver(destination.pk)  # the Celery task: a no-op too
    assert receiver.requests == 0


def test_task_delivers(acme, receiver):
    destination = webhook(acme, receiver)
    stream_deliver(destination.pk)
    assert len(receiver.accepted) == 1


RFC5424 = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (?P<host>[!-~]{1,255}) chatapp - "
    rb"(?P<msgid>[!-~]{1,32}) \[chatapp@32473 (?P<sd>(?:[^\]\\]|\\.)*)\] \xef\xbb\xbf(?P<msg>.*)$",
    re.DOTALL,
)


def test_syslog_rfc5424_octet_counted(acme, syslog):
    destination = streaming.stream_destination_create(
        actor=acme.owner, org=acme.org, name="collector", kind="syslog", host="127.0.0.1", port=syslog.port,
        use_tls=False,
    )  # fmt: skip
    make_events(acme, 2)
    chat.channel_create(actor=acme.member, org=acme.org, name='quote"and]bracket\nline')
    result = streaming.destination_deliver(destination)
    assert result.ok and result.delivered == 4
    assert len(syslog.messages) == 4
    ids = []
    for message in syslog.messages:
        match = RFC5424.match(message)
        assert match, message
        assert int(match["pri"]) == 13 * 8 + 6  # log audit, informational
        params = dict(re.findall(rb'(\w+)="((?:[^"\\]|\\.)*)"', match["sd"]))
        payload = json.loads(match["msg"].decode())
        assert params[b"event_id"].decode() == payload["event_id"]
        assert match["msgid"].decode() == payload["event_name"]
        ids.append(payload["event_id"])
    label = json.loads(syslog.messages[-1].split(b"\xef\xbb\xbf", 1)[1])["target_label"]
    assert label == '#quote"and]bracket\nline'
    assert len(set(ids)) == 4
    destination.refresh_from_db()
    assert destination.delivered_count == 4


def test_syslog_collector_down_backs_off_then_catches_up(acme, syslog):
    port = syslog.port
    destination = streaming.stream_destination_create(
        actor=acme.owner, org=acme.org, name="collector", kind="syslog", host="127.0.0.1", port=port, use_tls=False
    )
    syslog.stop()
    now = timezone.now()
    assert not streaming.destination_deliver(destination, now=now).ok
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    revived = SyslogReceiver.__new__(SyslogReceiver)
    revived.messages = syslog.messages
    revived.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), syslog.server.RequestHandlerClass)
    threading.Thread(target=revived.server.serve_forever, daemon=True).start()
    try:
        assert streaming.destination_deliver(destination, now=now + timedelta(minutes=1)).ok
        assert streaming.destination_deliver(destination, now=now + timedelta(minutes=1)).ok
    finally:
        revived.server.shutdown()
        revived.server.server_close()
    names = [json.loads(m.split(b"\xef\xbb\xbf", 1)[1])["event_name"] for m in syslog.messages]
    assert names == ["audit.stream.created", "audit.stream.failing", "audit.stream.recovered"]


# --- SSRF -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True), ("127.0.0.1", False),
        ("10.1.2.3", False), ("192.168.0.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
        ("0.0.0.0", False), ("::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
        ("64:ff9b::7f00:1", False), ("2002:7f00:1::", False), ("::127.0.0.1", False), ("fe80::1%eth0", False),
        ("fc00::1", False), ("224.0.0.1", False), ("::ffff:93.184.216.34", True), ("not-an-ip", False),
    ],
)  # fmt: skip
def test_address_is_public(address, public):
    assert transport.address_is_public(address) is public


def test_private_addresses_are_refused_by_default(acme, receiver, settings, monkeypatch):
    destination = webhook(acme, receiver)
    settings.AUDIT_STREAM_ALLOW_PRIVATE = False
    destination.url = "https://collector.example.com/hook"
    StreamDestination.objects.filter(pk=destination.pk).update(url=destination.url)

    def private_dns(host, port, *args, **kwargs):  # a public name that resolves into our network
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]  # fmt: skip

    monkeypatch.setattr(transport.socket, "getaddrinfo", private_dns)
    result = streaming.destination_deliver(destination)
    assert not result.ok and "non-public address (10.0.0.7)" in result.error
    destination.refresh_from_db()
    assert destination.cursor == destination.cursor and destination.consecutive_failures == 1


def test_loopback_and_plain_http_refused_at_save_when_not_allowed(acme, client_for, settings):
    settings.AUDIT_STREAM_ALLOW_PRIVATE = False
    url = f"/api/v1/orgs/{acme.org.slug}/audit/destinations/"
    client = client_for(acme.owner)
    for bad in ("https://127.0.0.1/hook", "https://[::ffff:127.0.0.1]/hook", "http://siem.example.com/hook"):
        response = client.post(url, {"name": "x", "kind": "webhook", "url": bad, "signing_secret": SECRET},
                               format="json")  # fmt: skip
        assert response.status_code == 400, bad
        assert "url" in str(response.json()["errors"])
    syslog = client.post(url, {"name": "x", "kind": "syslog", "host": "10.0.0.1"}, format="json")
    assert syslog.status_code == 400
    assert not StreamDestination.objects.exists()


# --- API --------------------------------------------------------------------------------------------------------


def destinations_url(org):
    return f"/api/v1/orgs/{org.org.slug}/audit/destinations/"


def test_api_crud_secret_write_only_and_audited(acme, receiver, client_for):
    client = client_for(acme.owner)
    created = client.post(
        destinations_url(acme),
        {"name": "siem", "kind": "webhook", "url": receiver.url, "signing_secret": SECRET, "categories": ["security"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert SECRET not in json.dumps(body) and "signing_secret" not in body
    assert body["signing_secret_hint"] == "****" + SECRET[-4:]
    assert body["url"].endswith("/hooks/audit?[redacted]")
    assert body["status"]["lag"] == 1  # its own creation event waits
    detail = f"{destinations_url(acme)}{body['id']}/"

    new_secret = "another-signing-secret-0123456789"
    patched = client.patch(detail, {"signing_secret": new_secret, "name": "siem-2"}, format="json")
    assert patched.status_code == 200 and new_secret not in json.dumps(patched.json())
    assert patched.json()["name"] == "siem-2"
    receiver.secret = new_secret
    tested = client.post(f"{detail}test/")
    assert tested.json() == {"ok": True, "error": ""}
    assert receiver.accepted[0].startswith("test:")

    listed = client_for(acme.auditor).get(destinations_url(acme))
    assert listed.status_code == 200 and [d["name"] for d in listed.json()] == ["siem-2"]
    assert SECRET not in listed.content.decode() and new_secret not in listed.content.decode()
    assert client.delete(detail).status_code == 204
    assert client.get(detail).status_code == 404

    rows = AuditEvent.objects.filter(organization=acme.org, event_name__startswith="audit.stream.")
    assert [r.event_name for r in rows.order_by("sequence")] == [
        "audit.stream.created", "audit.stream.updated", "audit.stream.tested", "audit.stream.deleted",
    ]  # fmt: skip
    updated = rows.get(event_name="audit.stream.updated")
    assert updated.changes == {"name": ["siem", "siem-2"]} and updated.metadata == {"secret_changed": True}
    assert rows.get(event_name="audit.stream.created").changes["categories"] == [None, ["security"]]
    everything = json.dumps(list(AuditEvent.objects.values("changes", "metadata", "target_label")))
    assert SECRET not in everything and new_secret not in everything and "token=abc" not in everything


def test_api_validation(acme, client_for, loopback_allowed):
    client = client_for(acme.owner)
    short = client.post(destinations_url(acme), {"name": "a", "kind": "webhook", "url": "https://siem.example.com/",
                                                 "signing_secret": "short"}, format="json")  # fmt: skip
    assert short.status_code == 400 and "signing_secret" in str(short.json()["errors"])
    unknown = client.post(destinations_url(acme), {"name": "a", "kind": "syslog", "host": "h", "bogus": 1},
                          format="json")  # fmt: skip
    assert unknown.status_code == 400
    syslog = client.post(destinations_url(acme), {"name": "a", "kind": "syslog", "host": "siem.example.com"},
                         format="json")  # fmt: skip
    assert syslog.status_code == 201 and syslog.json()["port"] == 6514 and syslog.json()["use_tls"] is True
    duplicate = client.post(destinations_url(acme), {"name": "a", "kind": "syslog", "host": "siem.example.com"},
                            format="json")  # fmt: skip
    assert duplicate.status_code == 400


def test_permissions(acme, receiver, client_for):
    destination = webhook(acme, receiver)
    detail = f"{destinations_url(acme)}{destination.pk}/"
    assert client_for(acme.member).get(destinations_url(acme)).status_code == 403
    assert client_for(acme.member).get(detail).status_code == 403
    assert client_for(acme.auditor).get(detail).status_code == 200
    # audit.read is not enough to change where the trail goes
    admin = client_for(acme.admin)
    assert admin.patch(detail, {"enabled": False}, format="json").status_code == 403
    assert admin.post(destinations_url(acme), {"name": "b", "kind": "syslog", "host": "h.example.com"},
                      format="json").status_code == 403  # fmt: skip
    assert admin.post(f"{detail}test/").status_code == 403
    assert admin.delete(detail).status_code == 403
    assert receiver.requests == 0


class TestCrossOrganization:
    def test_other_orgs_destinations_are_404(self, acme, globex, receiver, client_for):
        destination = webhook(acme, receiver)
        other = webhook(globex, receiver)
        assert client_for(globex.owner).get(f"{destinations_url(acme)}{destination.pk}/").status_code == 404
        assert client_for(globex.owner).get(destinations_url(acme)).status_code == 404
        # acme's owner cannot reach globex's destination through acme's URL either
        owner = client_for(acme.owner)
        assert owner.get(f"{destinations_url(acme)}{other.pk}/").status_code == 404
        assert owner.patch(f"{destinations_url(acme)}{other.pk}/", {"enabled": False}, format="json").status_code == 404
        assert owner.delete(f"{destinations_url(acme)}{other.pk}/").status_code == 404
        assert [d["id"] for d in owner.get(destinations_url(acme)).json()] == [destination.pk]

    def test_delivery_sends_only_the_orgs_events(self, acme, globex, receiver):
        destination = webhook(acme, receiver)
        make_events(globex, 3)
        streaming.destination_deliver(destination)
        assert all(event_id.split(":")[0] in (str(acme.org.pk), str(-acme.org.pk)) for event_id in receiver.accepted)


def test_backoff_is_exponential_and_capped():
    delays = [streaming.backoff(n).total_seconds() for n in (1, 2, 3, 4, 6, 7, 30)]
    assert delays == [60, 120, 240, 480, 1920, 3600, 3600]


def test_the_signing_secret_is_encrypted_at_rest_and_still_signs(acme, receiver):
    from django.db import connection

    destination = webhook(acme, receiver)
    with connection.cursor() as cursor:
        cursor.execute("SELECT signing_secret FROM audit_streamdestination WHERE id = %s", [destination.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored and stored.startswith("v1:")
    make_events(acme, 1)
    result = streaming.destination_deliver(StreamDestination.objects.get(pk=destination.pk))
    assert result.ok and result.delivered == 2
    assert receiver.bad_signatures == 0 and len(receiver.accepted) == 2  # the receiver checked every signature
