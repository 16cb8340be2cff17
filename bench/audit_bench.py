"""Audit trail costs, our code against a baseline in the same run (run by bench/run on its PostgreSQL database).

- write path: `channel_update` with its audit event, against the same service with recording switched off
- api.request: what a request pays to buffer its event (building it and appending it)
- bulk ingest: events sealed and inserted per second through the bulk path
- verify: events checked per second by audit_verify
- events list: p50/p95 of one page of GET .../audit/events (common filters) with BENCH_AUDIT_ROWS rows in the
  organization (5 million by default, 500,000 quick), seeded in SQL with generate_series in a minute or two

The audited and unaudited writes alternate call by call, so a busy machine slows both sides alike. For the issue's
"seal at write time or in batches from a task" question it also measures what a write would cost with batch
sealing: one INSERT of an unsealed row and nothing else (the sealing task's own cost is the bulk path).

Prints a table and PASS/MISSED against the targets of the audit issue (docs/performance.md).
"""

import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
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
LIST_ROWS = int(os.environ.get("BENCH_AUDIT_ROWS", 500_000 if QUICK else 5_000_000))
LIST_FILTERS = [{}, {"event": "channel."}, {"category": "security"}, {"actor_type": "user", "actor_id": "2"},
                {"event": "api.request", "outcome": "denied"}]  # fmt: skip


def timed(fn, n):
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def ms(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if q != 50 else statistics.median(values) * 1000


LIST_PAGES = 30
FILLER_CHAIN = -(10**12)  # the list's filler rows get a chain of their own, so no real chain is touched


def unsealed_insert(org, values: dict):
    """What audit_record would pay if a task sealed events later: the same row and INSERT, no head, no HMAC."""
    values.update(chain=FILLER_CHAIN - 1, sequence=-time.perf_counter_ns(), key_id="", prev_hash="", hash="")
    row = services._row(org.pk, values, connection.ops.adapt_datetimefield_value)
    with connection.cursor() as cursor:
        cursor.execute(services._PG_INSERT, row)


def seed_list_rows(org, rows: int) -> int:
    """Fill the organization up to `rows` events in one INSERT ... SELECT generate_series (PostgreSQL), like a busy
    tenant: mostly API calls, some data changes and security events, a few actors, 90 days of time.

    Not sealed (a chain of their own, FILLER_CHAIN): the list neither reads nor checks hashes."""
    missing = rows - AuditEvent.objects.filter(organization=org).count()
    if missing > 0:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO audit_auditevent (organization_id, chain, sequence, occurred_at, event_code, event_name,
                    category, actor_type, actor_id, actor_label, target_type, target_id, target_label, changes,
                    outcome, ip, user_agent, request_id, session_ref, api_key_id, metadata, key_id, prev_hash, hash)
                SELECT %(org)s, %(chain)s, n, now() - interval '90 days' + n * (interval '90 days' / %(rows)s),
                    CASE WHEN n %% 50 = 0 THEN 201 WHEN n %% 97 = 0 THEN 310 ELSE 110 END,
                    CASE WHEN n %% 50 = 0 THEN 'channel.updated' WHEN n %% 97 = 0 THEN 'auth.login'
                         ELSE 'api.request' END,
                    CASE WHEN n %% 50 = 0 THEN 'data_change' WHEN n %% 97 = 0 THEN 'security' ELSE 'api_call' END,
                    'user', (n %% 40 + 1)::text, 'user' || (n %% 40 + 1) || '@acme.example', 'api.route', '',
                    'GET /api/v1/orgs/<slug:org_slug>/channels/', '{}',
                    CASE WHEN n %% 31 = 0 THEN 'denied' ELSE 'success' END, '198.51.100.7', 'bench/1.0',
                    md5(n::text), '', '', '{"status": 200}', 'bench', repeat('0', 64), md5(n::text) || md5(n::text)
                FROM generate_series(1, %(missing)s) AS n
                """,
                {"org": org.pk, "chain": FILLER_CHAIN, "rows": rows, "missing": missing},
            )
            cursor.execute("ANALYZE audit_auditevent")
        print(f"seeded {missing:,} events in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return AuditEvent.objects.filter(organization=org).count()


def main():
    org = Organization.objects.get(slug="acme")
    owner = User.objects.get(email="owner@acme.example")
    channel = Channel.objects.get(organization=org, name="random")
    results, verdicts, notes = [], [], []

    # 1. the audited write path against the same service with recording off, call by call
    real_record, real_seal = chat.audit_record, services._seal_and_insert
    audited, bare, unsealed = [], [], []
    for i in range(WRITES):
        audited += timed(lambda _, i=i: chat.channel_update(actor=owner, org=org, channel=channel, topic=f"a{i}"), 1)
        chat.audit_record = lambda **kwargs: None
        try:
            bare += timed(lambda _, i=i: chat.channel_update(actor=owner, org=org, channel=channel, topic=f"b{i}"), 1)
            chat.audit_record, services._seal_and_insert = real_record, unsealed_insert
            unsealed += timed(
                lambda _, i=i: chat.channel_update(actor=owner, org=org, channel=channel, topic=f"c{i}"), 1
            )
        finally:
            chat.audit_record, services._seal_and_insert = real_record, real_seal
    added = ms(audited, 50) - ms(bare, 50)
    ratio = statistics.mean(bare) / statistics.mean(audited)
    results.append(("channel_update, audited", ms(audited, 50), ms(audited, 95), 1 / statistics.mean(audited)))
    results.append(("channel_update, not audited", ms(bare, 50), ms(bare, 95), 1 / statistics.mean(bare)))
    results.append(("channel_update, unsealed insert only", ms(unsealed, 50), ms(unsealed, 95),
                    1 / statistics.mean(unsealed)))  # fmt: skip
    verdicts.append((added <= 1.0, f"audited write adds <= 1 ms at the median [{added:.2f} ms]"))
    verdicts.append((ratio >= 0.65, f"audited write keeps >= 0.65x the unaudited throughput [{ratio:.2f}x]"))
    notes.append(f"batch sealing would add {ms(unsealed, 50) - ms(bare, 50):.2f} ms at the median to a write "
                 f"(sealing at write time: {added:.2f} ms)")  # fmt: skip

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

    # 5. the events list with many rows in the organization
    total = seed_list_rows(org, LIST_ROWS)
    client = Client(HTTP_HOST="127.0.0.1", **{"wsgi.url_scheme": "https"})
    client.force_login(owner)
    for filters in LIST_FILTERS:
        for _ in range(3):  # warm-up: the first reads after seeding load the index pages from disk
            client.get("/api/v1/orgs/acme/audit/events", filters, secure=True)
        pages = timed(lambda _, f=filters: client.get("/api/v1/orgs/acme/audit/events", f, secure=True), LIST_PAGES)
        label = "&".join(f"{k}={v}" for k, v in filters.items()) or "no filter"
        results.append((f"events list, {label}", ms(pages, 50), ms(pages, 95), 1 / statistics.mean(pages)))
        verdicts.append((ms(pages, 95) < 100, f"events list p95 < 100 ms [{ms(pages, 95):.1f} ms at {total:,} rows, "
                                              f"{label}]"))  # fmt: skip

    print(f"\naudit bench ({timezone.now():%Y-%m-%d %H:%M} UTC, {'quick' if QUICK else 'full'})\n")
    print(f"{'what':42} {'p50 ms':>8} {'p95 ms':>8} {'per second':>12}")
    for name, p50, p95, per_second in results:
        p50s = f"{p50:8.3f}" if p50 is not None else f"{'':>8}"
        p95s = f"{p95:8.3f}" if p95 is not None else f"{'':>8}"
        print(f"{name:42} {p50s} {p95s} {per_second:12,.0f}")
    print()
    for ok, text in verdicts:
        print(f"{'PASS' if ok else 'MISSED':7} {text}")
    for text in notes:
        print(f"note    {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
