"""Analytics costs, our code against a baseline in the same run (PostgreSQL; run by bench/run, or alone with
DATABASE_URL pointing at a migrated database, which it fills with bench organizations and cleans afterwards).

- track(): the median cost a request pays to record an event, against appending the same tuple to a list
- ingestion: events/s through the events API's validation and bulk store, against a bare bulk_create
- fill: one day of raw events rolled up by `fill_all` (events/s; the target is 10 million a day in 60 s)
- dashboard: p95 of the 8-tile "Organization overview" over 90 days (rollups), against the same numbers computed
  by GROUP BY over the raw events

Sizes: BENCH_QUICK=1 200,000 events in the filled day and 300,000 over the 89 days before; otherwise 2,000,000
and 3,000,000 (BENCH_ANALYTICS_DAY / BENCH_ANALYTICS_HISTORY override them). The 10-million/50-million targets are
extrapolated linearly and printed as such.
"""

import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import Organization  # noqa: E402
from analytics.models import Event, FillState, RollupCount  # noqa: E402
from analytics.rendering import dashboard_render  # noqa: E402
from analytics.services import events_ingest, org_overview_ensure, partitions_ensure  # noqa: E402
from analytics.stats import fill_all  # noqa: E402
from analytics.tracking import buffer, track  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
DAY_EVENTS = int(os.environ.get("BENCH_ANALYTICS_DAY", 200_000 if QUICK else 2_000_000))
HISTORY_EVENTS = int(os.environ.get("BENCH_ANALYTICS_HISTORY", 300_000 if QUICK else 3_000_000))
PEOPLE = 2_000
SLUG = "analytics-bench"


def ms(values, q):
    return statistics.median(values) * 1000 if q == 50 else statistics.quantiles(values, n=100)[q - 1] * 1000


def seed_raw(org_id: int, start: datetime, seconds: int, n: int) -> None:
    """n events spread over `seconds` from `start`, received as they occurred (not late), written in SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO analytics_event (organization_id, name, occurred_at, received_at, uuid, person, channel_id,
                                         client, source, ip, properties)
            SELECT %s, (ARRAY['message.posted','message.posted','channel.created','user.logged_in','$pageview'])
                       [1 + (i %% 5)],
                   %s::timestamptz + ((i::bigint * %s) / %s) * interval '1 second',
                   %s::timestamptz + ((i::bigint * %s) / %s) * interval '1 second', gen_random_uuid(),
                   1 + (i::bigint * 7919) %% %s, 1 + (i %% 20), (ARRAY['web','mobile','api'])[1 + (i %% 3)],
                   'server', NULL, '{}'::jsonb
            FROM generate_series(0, %s - 1) AS i
            """,
            [org_id, start, seconds, n, start, seconds, n, PEOPLE, n],  # received as they occurred
        )


def bench_track(org) -> tuple[float, float]:
    settings.ANALYTICS_AUTOFLUSH = False
    samples, base = [], []
    sink = []
    for _ in range(20_000):
        t = time.perf_counter()
        track("message.posted", org=org, user=7, channel=3)
        samples.append(time.perf_counter() - t)
        t = time.perf_counter()
        sink.append((org.pk, "message.posted", None, 7, 3, "web", None, {}))
        base.append(time.perf_counter() - t)
    buffer.clear()
    return ms(samples, 50), ms(base, 50)


def bench_ingest(org, user) -> tuple[float, float]:
    now = datetime.now(UTC)
    items = [{"event": "checkout_opened", "properties": {"n": i}, "client": "web"} for i in range(1000)]
    batches = 5 if QUICK else 20
    t = time.perf_counter()
    for _ in range(batches):
        events_ingest(org=org, user=user, items=items, ip="203.0.113.9")
    ours = batches * 1000 / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(batches):
        Event.objects.bulk_create(
            [Event(organization=org, name="x", occurred_at=now, received_at=now, uuid=__import__("uuid").uuid4(),
                   person=1, client="web", properties={"n": i}) for i in range(1000)],
            batch_size=2000,
        )  # fmt: skip
    baseline = batches * 1000 / (time.perf_counter() - t)
    Event.objects.filter(organization=org).delete()
    return ours, baseline


def bench_dashboard(org, start, end) -> tuple[float, float, list[float]]:
    dashboard = org_overview_ensure(org=org)
    tiles = list(dashboard.tiles.all())
    runs = 10 if QUICK else 20
    ours = []
    for _ in range(runs):
        t = time.perf_counter()
        results = dashboard_render(dashboard, org=org, start=start, end=end, tiles=tiles)
        ours.append(time.perf_counter() - t)
    assert not any(r.error for r in results), [r.error for r in results if r.error]
    raw_queries = [
        "SELECT date_trunc('day', occurred_at), count(DISTINCT person) FROM analytics_event WHERE organization_id=%s "
        "AND occurred_at >= %s AND occurred_at < %s GROUP BY 1",
        "SELECT count(DISTINCT person) FROM analytics_event WHERE organization_id=%s AND occurred_at >= %s - "
        "interval '30 days' + (%s - %s) AND occurred_at < %s",
        "SELECT date_trunc('day', occurred_at), client, count(*) FROM analytics_event WHERE organization_id=%s AND "
        "name='message.posted' AND occurred_at >= %s AND occurred_at < %s GROUP BY 1, 2",
        "SELECT name, count(DISTINCT person) FROM analytics_event WHERE organization_id=%s AND occurred_at >= %s AND "
        "occurred_at < %s GROUP BY 1",
        "SELECT person, min(occurred_at) FROM analytics_event WHERE organization_id=%s AND occurred_at >= %s AND "
        "occurred_at < %s GROUP BY 1",
    ]
    baseline = []
    for _ in range(max(3, runs // 4)):
        t = time.perf_counter()
        with connection.cursor() as cursor:
            for sql in raw_queries:
                params = [org.pk, start, end] if sql.count("%s") == 3 else [org.pk, end, end, start, end]
                cursor.execute(sql, params)
                cursor.fetchall()
        baseline.append(time.perf_counter() - t)
    return ms(ours, 95), ms(baseline, 50), ours


def main():
    if connection.vendor != "postgresql":
        raise SystemExit("analytics bench: needs PostgreSQL (DATABASE_URL)")
    if "bench" not in connection.settings_dict["NAME"]:
        raise SystemExit("analytics bench: it empties the analytics tables; run it on a database named *bench*")
    print(f"analytics bench ({'quick' if QUICK else 'full'}): {DAY_EVENTS:,} events in the filled day, "
          f"{HISTORY_EVENTS:,} over the 89 days before; 2 vCPUs shared with other work")  # fmt: skip
    Event.objects.all().delete()
    RollupCount.objects.all().delete()
    FillState.objects.all().delete()
    # Kept between runs: its audit events (dashboard creation) protect it from deletion.
    org, _ = Organization.objects.get_or_create(slug=SLUG, defaults={"name": "Analytics bench"})
    from accounts.models import Membership, User

    user, _ = User.objects.get_or_create(email="analytics-bench@example.test")
    Membership.objects.get_or_create(organization=org, user=user, defaults={"role": "member"})
    try:
        track_ms, base_ms = bench_track(org)
        ingest, ingest_base = bench_ingest(org, user)
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        day = today - timedelta(days=1)
        history_start = day - timedelta(days=89)
        partitions_ensure(now=day)
        t = time.perf_counter()
        seed_raw(org.pk, history_start, 89 * 86400, HISTORY_EVENTS)
        seed_raw(org.pk, day, 86400, DAY_EVENTS)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE analytics_event")
        seeded = time.perf_counter() - t
        t = time.perf_counter()
        fill_all(now=day)  # the history first, up to the start of the measured day
        history_fill = time.perf_counter() - t
        t = time.perf_counter()
        fill_all(now=day + timedelta(days=1))
        day_fill = time.perf_counter() - t
        p95, group_by, _ = bench_dashboard(org, history_start, day + timedelta(days=1))
    finally:
        Event.objects.all().delete()
        RollupCount.objects.all().delete()
        FillState.objects.all().delete()
    rate = DAY_EVENTS / day_fill
    rows = [
        ("track() median", f"{track_ms * 1000:.1f} µs", f"{base_ms * 1000:.2f} µs (list append)",
         f"{track_ms / base_ms:.0f}x", "≤ 0.2 ms", track_ms <= 0.2),
        ("ingestion (events API path)", f"{ingest:,.0f} ev/s", f"{ingest_base:,.0f} ev/s (bulk_create)",
         f"{ingest / ingest_base:.2f}x", "≥ 10,000 ev/s", ingest >= 10_000),
        ("fill one day", f"{day_fill:.1f} s for {DAY_EVENTS:,} ({rate:,.0f} ev/s)", "",
         f"10M ≈ {10_000_000 / rate:.0f} s", "10M in ≤ 60 s", 10_000_000 / rate <= 60),
        ("dashboard 8 tiles, 90 days", f"p95 {p95:.1f} ms", f"{group_by:.1f} ms (GROUP BY raw, median)",
         f"{group_by / p95:.1f}x faster", "p95 < 100 ms", p95 < 100),
    ]  # fmt: skip
    print(f"seeded {HISTORY_EVENTS + DAY_EVENTS:,} raw events in {seeded:.1f} s; filled 89 days of history in "
          f"{history_fill:.1f} s")  # fmt: skip
    print(f"{'measure':32} {'ours':38} {'baseline':38} {'ratio':16} {'target':16} result")
    for name, ours, base, ratio, target, ok in rows:
        print(f"{name:32} {ours:38} {base:38} {ratio:16} {target:16} {'PASS' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
