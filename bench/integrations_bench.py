"""Integrations: outgoing webhook fan-out and delivery, inbound GitHub push (targets in docs/performance.md).

Three figures, each beside a baseline in the same run, on a throw-away test database (created and dropped here):
  - fan-out: one event published to 100 subscribed endpoints, until its deliveries are written and the task is
    queued (the on-commit `.delay()` included; target <= 50 ms). Baseline: the naive way, one INSERT and one
    queued task per endpoint.
  - delivery: deliveries/s one worker process sends to a local receiver (a separate process on loopback),
    signing, the SSRF-checked connection, the attempt log and the status update included (target >= 200/s).
    Baseline: the same signed POSTs with bare http.client, no checks, no database (the transport's floor).
  - inbound GitHub push: POST /hooks/github/<token>/ through Django's test client: signature over the raw body,
    de-duplication row, render, message_post as the bot (target <= 20 ms at the median). Baseline: message_post
    alone with the same text.

    .venv/bin/python -m bench.integrations_bench            (BENCH_QUICK=1 for a short run)
"""

import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
FANOUT_ROUNDS = 20 if QUICK else 100
DELIVERIES = 300 if QUICK else 2000
PUSHES = 100 if QUICK else 500
RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def median_ms(samples):
    return statistics.median(samples) * 1000


def main():
    setup_test_environment()
    settings.DEBUG = False  # as in production: no query log in the cursor
    settings.INTEGRATIONS_ALLOW_PRIVATE = True  # the receiver is on loopback
    settings.CELERY_TASK_ALWAYS_EAGER = False
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(receiver.stdout.readline())
        return run(port)
    finally:
        receiver.terminate()
        receiver.wait()
        connection.creation.destroy_test_db(test_db, verbosity=0)


def setup_org():
    from accounts.models import Membership, Organization, User
    from chatapp.chat.models import Channel

    org = Organization.objects.create(slug="acme", name="Acme")
    owner = User.objects.create_user("owner@acme.test", "x" * 20)
    Membership.objects.create(organization=org, user=owner, role="owner")
    channel = Channel.objects.create(organization=org, name="general", created_by=owner)
    return org, owner, channel


def bench_fanout(org, owner, port):
    from plugins.integrations import tasks
    from plugins.integrations.models import Delivery, WebhookEndpoint, WebhookEvent
    from plugins.integrations.services import webhooks

    for i in range(100):
        webhooks.endpoint_create(actor=owner, org=org, name=f"e{i}", url=f"http://127.0.0.1:{port}/h{i}",
                                 event_types=["message.posted"])  # fmt: skip
    queued = []
    tasks.deliver_many.delay = lambda ids: queued.append(ids)  # count what is queued; the broker is not the bench
    data = {"channel": {"id": 1, "name": "general"}, "message": {"id": 1, "body": "deploy done"}}

    def ours():
        with transaction.atomic():
            webhooks.event_publish(org=org, event_type="message.posted", data=data)
        # (outside a test transaction on_commit runs at the end of the atomic block)

    def naive():
        with transaction.atomic():
            event = WebhookEvent.objects.create(organization=org, event_id=webhooks.new_event_id(),
                                                event_type="message.posted", data=data)  # fmt: skip
            for endpoint in WebhookEndpoint.objects.filter(organization=org, enabled=True):
                delivery = Delivery.objects.create(organization=org, endpoint=endpoint, event=event)
                queued.append([delivery.pk])

    results = {}
    for name, fn in (("ours", ours), ("naive", naive)):
        for _ in range(3):
            fn()
        samples = []
        for _ in range(FANOUT_ROUNDS):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
        results[name] = median_ms(samples)
    Delivery.objects.all().delete()
    WebhookEndpoint.objects.all().delete()
    return results


def bench_delivery(org, owner, port):
    from plugins.integrations import tasks
    from plugins.integrations.models import Delivery, DeliveryStatus
    from plugins.integrations.services import webhooks

    endpoint, secret = webhooks.endpoint_create(actor=owner, org=org, name="sink", url=f"http://127.0.0.1:{port}/h",
                                                event_types=["message.posted"])  # fmt: skip
    data = {"channel": {"id": 1, "name": "general"}, "message": {"id": 1, "body": "x" * 200}}
    for _ in range(DELIVERIES // 100):
        with transaction.atomic():
            events = [webhooks.event_publish(org=org, event_type="message.posted", data=data) for _ in range(100)]
    ids = list(Delivery.objects.filter(endpoint=endpoint).values_list("pk", flat=True))
    started = time.perf_counter()
    for start in range(0, len(ids), tasks.DELIVER_CHUNK):  # what each queued task does
        webhooks.deliveries_send(ids[start : start + tasks.DELIVER_CHUNK])
    ours = len(ids) / (time.perf_counter() - started)
    assert Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED).count() == len(ids)

    body = json.dumps({"id": events[0].event_id, "data": data}).encode()
    started = time.perf_counter()
    for _ in ids:
        timestamp = int(time.time())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/h", body=body, headers={
            "webhook-id": events[0].event_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": webhooks.signature(secret, events[0].event_id, timestamp, body),
            "Content-Type": "application/json"})  # fmt: skip
        conn.getresponse().read()
        conn.close()
    bare = len(ids) / (time.perf_counter() - started)
    return {"ours": ours, "bare": bare, "count": len(ids)}


def bench_inbound(org, owner, channel):
    from accounts.models import Organization, User
    from chatapp.chat.models import Channel
    from chatapp.chat.services import message_post
    from plugins.integrations.services.installations import integration_install

    secret = "bench-secret"
    installation, token = integration_install(actor=owner, org=org, integration="github", settings={
        "webhook_secret": secret, "routes": [{"channel_id": channel.pk, "events": ["push"]}]})  # fmt: skip
    payload = {"ref": "refs/heads/main", "compare": "https://github.com/o/r/compare/a...b", "forced": False,
               "pusher": {"name": "octocat"}, "sender": {"login": "octocat"},
               "repository": {"full_name": "o/r", "html_url": "https://github.com/o/r"},
               "commits": [{"id": f"{i:040x}", "message": f"Commit {i}\n\nbody", "url": "https://github.com/o/r/c"}
                           for i in range(3)]}  # fmt: skip
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    client = Client()
    samples = []
    for i in range(PUSHES + 20):
        started = time.perf_counter()
        response = client.post(f"/hooks/github/{token}/", body, content_type="application/json",
                               HTTP_X_GITHUB_EVENT="push", HTTP_X_GITHUB_DELIVERY=f"d-{i}",
                               HTTP_X_HUB_SIGNATURE_256=signature)  # fmt: skip
        if i >= 20:
            samples.append(time.perf_counter() - started)
        assert response.status_code == 200 and response.json()["posted"] == 1, response.content
    from plugins.integrations.services import inbound

    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}
    service = []
    for i in range(PUSHES + 20):
        started = time.perf_counter()
        outcome = inbound.receive(integration="github", token=token, body=body,
                                  headers={**headers, "X-GitHub-Delivery": f"s-{i}"})  # fmt: skip
        if i >= 20:
            service.append(time.perf_counter() - started)
        assert outcome.posted == 1
    text = "**octocat** pushed [3 commits](https://github.com/o/r/compare/a...b) to `main` in [o/r](https://github.com/o/r)"
    baseline = []
    for i in range(PUSHES + 20):
        started = time.perf_counter()
        # fresh rows, as a request has: the bot's permissions are not cached on a reused instance
        bot = User.objects.get(pk=installation.bot_user_id)
        message_post(actor=bot, org=Organization.objects.get(pk=org.pk), channel=Channel.objects.get(pk=channel.pk),
                     body=text)  # fmt: skip
        if i >= 20:
            baseline.append(time.perf_counter() - started)
    return {"ours": median_ms(samples), "p95": statistics.quantiles(samples, n=20)[-1] * 1000,
            "service": median_ms(service), "baseline": median_ms(baseline)}  # fmt: skip


def run(port):
    org, owner, channel = setup_org()
    load = os.getloadavg()[0]
    print(f"integrations bench ({'quick' if QUICK else 'full'}; {connection.vendor}; {os.cpu_count()} vCPUs, "
          f"load average {load:.1f} when it started)")  # fmt: skip
    fan = bench_fanout(org, owner, port)
    ok = fan["ours"] <= 50
    verdict = "PASS" if ok else "MISSED"
    print(
        f"  fan-out to 100 endpoints: {fan['ours']:.1f} ms median (naive per-endpoint inserts and tasks: "
        f"{fan['naive']:.1f} ms, ratio {fan['naive'] / fan['ours']:.1f}x)  target <= 50 ms: {verdict}"
    )
    delivery = bench_delivery(org, owner, port)
    ok = delivery["ours"] >= 200
    print(f"  delivery worker: {delivery['ours']:.0f} deliveries/s over {delivery['count']} (bare signed http.client "
          f"POSTs: {delivery['bare']:.0f}/s, ratio {delivery['ours'] / delivery['bare']:.2f})  target >= 200/s: "
          f"{'PASS' if ok else 'MISSED'}")  # fmt: skip
    inbound = bench_inbound(org, owner, channel)
    verdict = "PASS" if inbound["ours"] <= 20 else "MISSED"
    ratio = inbound["ours"] / inbound["baseline"]
    print(f"  inbound GitHub push: {inbound['ours']:.1f} ms median, p95 {inbound['p95']:.1f} ms")
    print(f"    (message_post alone, fresh rows: {inbound['baseline']:.1f} ms, ratio {ratio:.1f}x; the service without")
    print(f"    Django's request stack: {inbound['service']:.1f} ms)  target <= 20 ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
