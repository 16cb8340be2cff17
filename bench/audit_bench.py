"""Audit trail costs, our code against a baseline in the same run (run by bench/run on its PostgreSQL database).

- write path: `channel_update` with its audit event, against the same service with recording switched off
- api.request: what a request pays to buffer its event (building it and appending it)
- bulk ingest: events sealed and inserted per second through the bulk path
- verify: events checked per second by audit_verify
- events list: p50/p95 of one page of GET .../audit/events with many rows in the organization's chain

Prints a table and PASS/MISSED against the targets of the audit issue (docs/performance.md).
"""

import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.client import RequestFactory  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Organization, User  # noqa: E402
from audit import api_requests, services  # noqa: E402
from audit.models import AuditEvent  # noqa: E402
from audit.selectors import audit_verify  # noqa: E402
from chatapp.chat import services as chat  # noqa: E402
from chatapp.chat.models import Channel  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
WRITES = 200 if QUICK else 1000
BULK = 10_000 if QUICK else 50_000
LIST_ROWS = 50_000 if QUICK else 200_000  # the 5 million take ~25 min to ingest here: see performance.md


def timed(fn, n):
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def ms(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if q != 50 else statistics.median(values) * 1000


def main():
    org = Organization.objects.get(slug="acme")
    owner = User.objects.get(email="owner@acme.example")
    channel = Channel.objects.get(organization=org, name="random")
    results, verdicts = [], []

    # 1. the audited write path against the same service with recording off
    audited = timed(lambda i: chat.channel_update(actor=owner, org=org, channel=channel, topic=f"a{i}"), WRITES)
    real_record = chat.audit_record
    chat.audit_record = lambda **kwargs: None
    try:
        bare = timed(lambda i: chat.channel_update(actor=owner, org=org, channel=channel, topic=f"b{i}"), WRITES)
    finally:
        chat.audit_record = real_record
    added = ms(audited, 50) - ms(bare, 50)
    ratio = statistics.mean(bare) / statistics.mean(audited)
    results.append(("channel_update, audited", ms(audited, 50), ms(audited, 95), 1 / statistics.mean(audited)))
    results.append(("channel_update, not audited", ms(bare, 50), ms(bare, 95), 1 / statistics.mean(bare)))
    verdicts.append((added <= 1.0, f"audited write adds <= 1 ms at the median [{added:.2f} ms]"))
    verdicts.append((ratio >= 0.65, f"audited write keeps >= 0.65x the unaudited throughput [{ratio:.2f}x]"))

    # 2. what a request pays for its api.request event
    request = RequestFactory().get(f"/api/v1/orgs/acme/channels/{channel.pk}/messages/")
    request.user, request.resolver_match = owner, None

    class Response:
        status_code = 200

    api_requests.settings.AUDIT_API_AUTOFLUSH = False  # measure the request's share only; the flush is measured below
    per_request = timed(lambda i: api_requests.buffer.append(api_requests._event(request, Response, org, 0.01)), 5000)
    api_requests.buffer.clear()
    cost = ms(per_request, 50)
    results.append(("api.request, per request", cost, ms(per_request, 95), 1 / statistics.mean(per_request)))
    verdicts.append((cost <= 0.3, f"api.request adds <= 0.3 ms at the median [{cost:.3f} ms]"))

    # 3. bulk ingest through the sealing path, 1,000 events a transaction
    template = api_requests._event(request, Response, org, 0.01)
    template.pop("org_id")
    started = time.perf_counter()
    for _ in range(BULK // 1000):
        with transaction.atomic():
            services._seal_batch(org.pk, api_requests.api_chain_id(org.pk), [dict(template) for _ in range(1000)])
    rate = BULK / (time.perf_counter() - started)
    results.append((f"bulk ingest ({BULK:,} events)", None, None, rate))
    verdicts.append((rate >= 20_000, f"bulk ingest >= 20,000 events/s [{rate:,.0f}/s]"))

    # 4. verification speed
    started = time.perf_counter()
    result = audit_verify(chain_id=api_requests.api_chain_id(org.pk))
    vrate = result.checked / (time.perf_counter() - started)
    results.append((f"audit_verify ({result.checked:,} events)", None, None, vrate))
    verdicts.append((result.ok and vrate >= 200_000, f"audit_verify >= 200,000 events/s [{vrate:,.0f}/s]"))

    # 5. the events list with many rows in the chain
    missing = LIST_ROWS - AuditEvent.objects.filter(organization=org).count()
    for _ in range(max(0, missing) // 5000 + 1):
        with transaction.atomic():
            services._seal_batch(org.pk, api_requests.api_chain_id(org.pk), [dict(template) for _ in range(5000)])
    client = Client(HTTP_HOST="127.0.0.1", **{"wsgi.url_scheme": "https"})
    client.force_login(owner)
    pages = timed(lambda i: client.get("/api/v1/orgs/acme/audit/events", {"event": "channel."}, secure=True), 50)
    total = AuditEvent.objects.filter(organization=org).count()
    results.append((f"events list ({total:,} rows)", ms(pages, 50), ms(pages, 95), 1 / statistics.mean(pages)))
    verdicts.append((ms(pages, 95) < 100, f"events list p95 < 100 ms [{ms(pages, 95):.1f} ms at {total:,} rows]"))

    print(f"\naudit bench ({timezone.now():%Y-%m-%d %H:%M} UTC, {'quick' if QUICK else 'full'})\n")
    print(f"{'what':42} {'p50 ms':>8} {'p95 ms':>8} {'per second':>12}")
    for name, p50, p95, per_second in results:
        p50s = f"{p50:8.3f}" if p50 is not None else f"{'':>8}"
        p95s = f"{p95:8.3f}" if p95 is not None else f"{'':>8}"
        print(f"{name:42} {p50s} {p95s} {per_second:12,.0f}")
    print()
    for ok, text in verdicts:
        print(f"{'PASS' if ok else 'MISSED':7} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
