"""Error ingestion and request-metrics costs, our code against a baseline in the same run.

- error ingestion: Sentry envelopes (gzip, one exception event of 12 frames with local variables, as sentry-sdk
  sends them) posted through the whole Django stack to /ingest/sentry/api/<project>/envelope/, each a new event
  spread over 50 issues: envelopes per second (target >= 500 on one worker), against the baseline of only
  decoding and parsing the same envelopes (what any ingest must do), and the retry path (an event id already
  stored);
- middleware overhead: the same request through the whole middleware stack with and without
  ObservabilityMiddleware, side by side (medians of alternating rounds, in CPU time of the process so that
  waiting for a core on a shared machine does not count): microseconds added per request, on a request without
  queries (/health) and on an org-scoped API list (which also counts its queries);
- record_request alone (the in-request part) and a flush of one hour of 200 routes.

It works in a throwaway database (Django's test database, created and dropped here):
  .venv/bin/python bench/observability_bench.py                        # SQLite (the default settings)
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatapp_bench .venv/bin/python bench/observability_bench.py
Prints a table and PASS/MISSED against the targets (docs/performance.md).
"""

import gzip
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from accounts.models import Membership, Organization, User  # noqa: E402
from analytics.observability import envelopes  # noqa: E402
from analytics.observability.models import ErrorIssue, ErrorProject  # noqa: E402
from analytics.observability.perf import PerfBuffer, buffer  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
ENVELOPES = 500 if QUICK else 3000
ROUNDS = 5 if QUICK else 9
PER_ROUND = 100 if QUICK else 200
TARGET_ENVELOPES_PER_SECOND = 500
MIDDLEWARE = "analytics.observability.middleware.ObservabilityMiddleware"


def sdk_envelope(issue: int) -> bytes:
    frames = [
        {"filename": f"app/module{index}.py", "module": f"app.module{index}", "function": f"step{index}",
         "lineno": 10 + index, "context_line": f"    return step{index + 1}(order)", "in_app": index > 2,
         "pre_context": ["", "def step(order):"], "post_context": [""],
         "vars": {"order": "{'id': 42, 'total': 1999}", "attempt": "3", "api_token": "'tok_live_abcdef123456'"}}
        for index in range(11)
    ] + [{"filename": "app/views.py", "module": "app.views", "function": f"handler{issue}", "lineno": 99,
          "context_line": f"    raise KeyError('order-{issue}')", "in_app": True}]  # fmt: skip
    event = {
        "event_id": uuid.uuid4().hex, "level": "error", "platform": "python", "release": "shop@1.2.3",
        "environment": "production", "timestamp": time.time(), "user": {"id": f"user-{issue % 7}"},
        "exception": {"values": [{"type": "KeyError", "value": f"'order-{issue}'", "stacktrace": {"frames": frames}}]},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}, "os": {"name": "Linux"}},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
    }  # fmt: skip
    body = json.dumps(event).encode()
    header = json.dumps({"event_id": event["event_id"], "sent_at": "2026-11-25T12:00:00Z"}).encode()
    item = json.dumps({"type": "event", "length": len(body)}).encode()
    return gzip.compress(header + b"\n" + item + b"\n" + body + b"\n")


def bench_ingest(project) -> dict:
    client = Client()
    auth = f"Sentry sentry_version=7, sentry_client=sentry.python/2.75.0, sentry_key={project.public_key}"
    url = f"/ingest/sentry/api/{project.pk}/envelope/"
    bodies = [sdk_envelope(index % 50) for index in range(ENVELOPES)]

    def send(body):
        return client.post(url, body, content_type="application/x-sentry-envelope", HTTP_X_SENTRY_AUTH=auth,
                           HTTP_CONTENT_ENCODING="gzip")  # fmt: skip

    send(sdk_envelope(999))  # warm-up: first issue, imports, connections
    started, cpu_started = time.perf_counter(), time.process_time()
    for body in bodies:
        response = send(body)
        assert response.status_code == 200, response.status_code
    ingest_seconds = time.perf_counter() - started
    ingest_cpu = time.process_time() - cpu_started
    started = time.perf_counter()
    for body in bodies[: ENVELOPES // 5]:
        send(body)  # the same event ids again: SDK retries
    retry_seconds = time.perf_counter() - started
    started = time.process_time()
    for body in bodies:
        envelopes.parse(envelopes.decode_body(body, "gzip", limit=settings.OBSERVABILITY_INGEST_MAX_BYTES))
    parse_cpu = time.process_time() - started
    from analytics.observability.services.errors import event_store

    parsed = [
        json.loads(envelopes.parse(gzip.decompress(sdk_envelope(i % 50)))[1][0][1]) for i in range(ENVELOPES // 2)
    ]
    started = time.process_time()
    for event in parsed:
        event_store(project=project, event=event)
    store_cpu = time.process_time() - started
    issues = ErrorIssue.objects.filter(project=project).count()
    return {
        "ingest": ENVELOPES / ingest_seconds,
        "ingest_cpu": ENVELOPES / ingest_cpu,
        "retry": (ENVELOPES // 5) / retry_seconds,
        "parse": ENVELOPES / parse_cpu,
        "store": len(parsed) / store_cpu,
        "issues": issues,
    }


def _median_us(client, path, count) -> float:
    cache.clear()  # the API's per-user throttle (1200/min) would answer 429 across rounds
    samples = []
    for _ in range(count):
        # CPU time of this process, not wall-clock: on a shared machine the wait for a core is not our cost
        started = time.process_time()
        response = client.get(path)
        samples.append(time.process_time() - started)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(samples) * 1e6


def bench_middleware(user, org) -> dict:
    without = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE]
    clients = {}
    for label, stack in (("with", settings.MIDDLEWARE), ("without", without)):
        with override_settings(MIDDLEWARE=stack):
            client = Client()
            client.force_login(user)
            client.get("/health")  # loads this client's middleware chain under these settings
            clients[label] = client
    results = {}
    for path in ("/health", f"/api/v1/orgs/{org.slug}/channels/"):
        medians = {"with": [], "without": []}
        for _ in range(ROUNDS):  # alternate, so a busy neighbour slows both sides alike
            for label in ("without", "with"):
                medians[label].append(_median_us(clients[label], path, PER_ROUND))
            buffer.clear()
        results[path] = {label: statistics.median(values) for label, values in medians.items()}
    return results


def bench_middleware_alone() -> float:
    """The middleware around a view that does nothing: microseconds per request, nothing else in the way."""
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from analytics.observability.middleware import ObservabilityMiddleware

    request, response = RequestFactory().get("/health"), HttpResponse()
    request.resolver_match = resolve("/health")
    wrapped, bare = ObservabilityMiddleware(lambda r: response), (lambda r: response)
    count, samples = 20_000, {}
    for label, handler in (("bare", bare), ("with", wrapped)):
        started = time.process_time()
        for _ in range(count):
            handler(request)
        samples[label] = (time.process_time() - started) / count * 1e6
    buffer.clear()
    return samples["with"] - samples["bare"]


def bench_record() -> dict:
    local = PerfBuffer()
    count = 200_000
    started = time.perf_counter()
    for index in range(count):
        local.record_request(route=f"GET /api/v1/route{index % 200}/", status=200, duration_ms=index % 300,
                             db_queries=3)  # fmt: skip
    record_us = (time.perf_counter() - started) / count * 1e6
    started = time.perf_counter()
    rows = local.flush()
    return {"record_us": record_us, "flush_ms": (time.perf_counter() - started) * 1000, "rows": rows}


def main():
    old_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        settings.DEBUG = False  # production-like: no query log kept in memory
        settings.ALLOWED_HOSTS = ["testserver"]
        settings.OBSERVABILITY_AUTOFLUSH = False
        settings.CELERY_TASK_ALWAYS_EAGER = True  # the "new issue" alerts run inline (no recipients: no mail)
        org = Organization.objects.create(slug="bench", name="Bench")
        user = User.objects.create_user(email="owner@bench.example", password=None)
        Membership.objects.create(organization=org, user=user, role="owner")
        project = ErrorProject.objects.create(organization=org, name="shop", rate_limit_per_minute=10_000_000)
        ingest = bench_ingest(project)
        middleware = bench_middleware(user, org)
        record = bench_record()
        record["middleware_alone_us"] = bench_middleware_alone()
    finally:
        connection.creation.destroy_test_db(old_db, verbosity=0)

    engine = connection.vendor
    print(f"\nobservability bench ({engine}, {'quick' if QUICK else 'full'}; {os.cpu_count()} CPUs)")
    print(f"{'measure':58} {'ours':>12} {'baseline':>12} {'ratio':>7}")
    print(f"{'error ingestion, envelopes per CPU-second (vs decode+parse only)':58} {ingest['ingest_cpu']:12.0f} "
          f"{ingest['parse']:12.0f} {ingest['ingest_cpu'] / ingest['parse']:7.3f}")  # fmt: skip
    print(f"{'  the same, envelopes per wall-clock second (shared machine)':58} {ingest['ingest']:12.0f}")
    print(f"{'  event_store alone (scrub, group, store), events per CPU-second':58} {ingest['store']:12.0f}")
    print(f"{'  retried envelopes (event id stored), envelopes/s':58} {ingest['retry']:12.0f}")
    for path, values in middleware.items():
        added = values["with"] - values["without"]
        label = f"request {path[:30]} median us CPU (with vs without)"
        print(f"{label:58} {values['with']:12.1f} {values['without']:12.1f} {values['with'] / values['without']:7.3f}"
              f"   +{added:.1f} us")  # fmt: skip
    print(f"{'middleware alone around a no-op view, us CPU per request':58} {record['middleware_alone_us']:12.2f}")
    print(f"{'record_request alone, us per call':58} {record['record_us']:12.2f}")
    print(f"{'flush of ' + str(record['rows']) + ' endpoint-hour rows, ms':58} {record['flush_ms']:12.1f}")
    verdict = "PASS" if ingest["ingest_cpu"] >= TARGET_ENVELOPES_PER_SECOND else "MISSED"
    load = os.getloadavg()[0]
    print(f"\n{verdict}: error ingestion {ingest['ingest_cpu']:.0f} envelopes per CPU-second, one worker (target >= "
          f"{TARGET_ENVELOPES_PER_SECOND}), {ingest['issues']} issues; load average {load:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
