"""Revenue analytics costs, our code against a baseline in the same run.

- movements: the 24-month MRR movements table (`selectors.mrr_movements`, one pass over the revisions) against
  the straightforward ORM way: one query per month-end that picks each subscription's latest revision with a
  correlated subquery, then the same classification in Python. Both give the same table (checked).
- webhook: Stripe events delivered through the whole stack (Django test client, middleware, signature check,
  store, apply) against `stripe.Webhook.construct_event` alone (Stripe's own verify-and-parse, the floor any
  endpoint pays): events a second, p50/p95 per delivery.

It works in a throwaway database (Django's test database, created and dropped here, migrations applied):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatapp_bench .venv/bin/python bench/revenue_bench.py
BENCH_QUICK=1 makes it smaller. Prints a table and the ratios (docs/performance.md, "Revenue analytics").
"""

import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

import stripe  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import OuterRef, Subquery  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from analytics.revenue import selectors  # noqa: E402
from analytics.revenue.models import Customer, Plan, Subscription, SubscriptionRevision  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
CUSTOMERS = 2_000 if QUICK else 10_000
EVENTS = 200 if QUICK else 1_000
ROUNDS = 3
START = date(2024, 1, 1)
MONTHS = 24


def seed() -> int:
    """One subscription per customer starting in a random month; a third change seats later, 15 % churn."""
    rng = random.Random(7)
    plan = Plan.objects.create(external_id="price_bench", currency="USD", unit_amount=1000, source="csv")
    customers = Customer.objects.bulk_create(
        [Customer(external_id=f"cus_{n}", source="csv") for n in range(CUSTOMERS)], batch_size=2000
    )
    base = datetime(2024, 1, 1, tzinfo=UTC)
    subs = []
    for n, customer in enumerate(customers):
        started = base + timedelta(days=rng.randrange(MONTHS * 30))
        subs.append(Subscription(external_id=f"sub_{n}", customer=customer, plan=plan, status="active", seats=1,
                                 currency="USD", mrr=1000, started_at=started, source="csv",
                                 source_updated_at=started))  # fmt: skip
    subs = Subscription.objects.bulk_create(subs, batch_size=2000)
    revisions = []

    def revision(sub, ref, moment, status, seats):
        mrr = seats * 1000 if status == "active" else 0
        return SubscriptionRevision(subscription=sub, source_ref=ref, effective_at=moment, status=status,
                                    currency="USD", mrr=mrr, seats=seats)  # fmt: skip

    for sub in subs:
        moment, seats = sub.started_at, rng.randint(1, 20)
        revisions.append(revision(sub, "start", moment, "active", seats))
        for step in range(rng.choice([0, 0, 1, 2, 3])):
            moment += timedelta(days=rng.randrange(20, 120))
            seats = max(1, seats + rng.choice([-3, -1, 2, 5]))
            revisions.append(revision(sub, f"change{step}", moment, "active", seats))
        if rng.random() < 0.15:
            moment += timedelta(days=rng.randrange(10, 200))
            revisions.append(revision(sub, "end", moment, "canceled", seats))
    SubscriptionRevision.objects.bulk_create(revisions, batch_size=5000)
    return len(revisions)


def baseline_movements(start: date, end: date) -> list[tuple[int, int, int, int, int, int]]:
    """The obvious ORM way: per month-end, each subscription's latest revision by a correlated subquery."""
    starts = selectors.buckets(start, end, "month")
    instants = [*starts, selectors.bucket_next(starts[-1], "month")]
    snapshots, first = [], {}
    for instant in instants:
        latest = SubscriptionRevision.objects.filter(subscription=OuterRef("pk"), effective_at__lt=instant).order_by(
            "-effective_at", "-id"
        )
        rows = Subscription.objects.annotate(mrr_then=Subquery(latest.values("mrr")[:1])).values_list(
            "customer_id", "mrr_then"
        )
        per_customer = defaultdict(int)
        for customer, mrr in rows:
            if mrr:
                per_customer[customer] += mrr
        snapshots.append(per_customer)
    for customer, moment in SubscriptionRevision.objects.filter(mrr__gt=0).values_list(
        "subscription__customer_id", "effective_at"
    ):
        if customer not in first or moment < first[customer]:
            first[customer] = moment
    table = []
    for index in range(len(starts)):
        before, after = snapshots[index], snapshots[index + 1]
        new = expansion = contraction = churned = reactivation = 0
        for customer in set(before) | set(after):
            old, now = before.get(customer, 0), after.get(customer, 0)
            if not old and now:
                if first[customer] < instants[index]:
                    reactivation += now
                else:
                    new += now
            elif old and not now:
                churned += old
            elif now > old:
                expansion += now - old
            else:
                contraction += old - now
        table.append((new, expansion, contraction, churned, reactivation, sum(after.values())))
    return table


def ours(start: date, end: date):
    return [(r.new, r.expansion, r.contraction, r.churned, r.reactivation, r.ending_mrr)
            for r in selectors.mrr_movements(start=start, end=end)]  # fmt: skip


def timed(function, *args) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(ROUNDS):
        started = time.perf_counter()
        result = function(*args)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


def webhook(secret: str) -> tuple[float, list[float], float]:
    """(events/s through the stack, per-delivery ms, events/s of stripe.Webhook.construct_event alone)."""
    price = {"id": "price_wh", "object": "price", "currency": "usd", "unit_amount": 1500, "active": True,
             "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}  # fmt: skip
    base = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    bodies = []
    for n in range(EVENTS):
        obj = {"id": f"sub_wh{n % (EVENTS // 2)}", "object": "subscription", "customer": f"cus_wh{n % (EVENTS // 2)}",
               "status": "active", "currency": "usd", "start_date": base, "created": base, "metadata": {},
               "items": {"data": [{"id": f"si_{n}", "price": price, "quantity": 1 + n % 7}]}}  # fmt: skip
        kind = "customer.subscription.created" if n < EVENTS // 2 else "customer.subscription.updated"
        bodies.append(json.dumps({"id": f"evt_wh{n}", "object": "event", "type": kind, "created": base + n,
                                  "livemode": False, "data": {"object": obj}}))  # fmt: skip
    headers = [stripe.WebhookSignature.generate_signature_header(body, secret) for body in bodies]
    client, url = Client(SERVER_NAME="localhost"), "/api/v1/instance/analytics/revenue/stripe/webhook"
    latencies = []
    started = time.perf_counter()
    for body, header in zip(bodies, headers, strict=True):
        began = time.perf_counter()
        response = client.post(url, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
        latencies.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.content[:300]
    ours_rate = EVENTS / (time.perf_counter() - started)
    started = time.perf_counter()
    for body, header in zip(bodies, headers, strict=True):
        stripe.Webhook.construct_event(body, header, secret)
    floor_rate = EVENTS / (time.perf_counter() - started)
    return ours_rate, latencies, floor_rate


def main():
    old_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        revisions = seed()
        end = date(2025, 12, 31)
        timed(ours, START, end)  # warm-up
        ours_s, table = timed(ours, START, end)
        base_s, base_table = timed(baseline_movements, START, end)
        assert table == base_table, "the baseline disagrees with the selector"
        secret = "whsec_bench_" + os.urandom(8).hex()
        with override_settings(STRIPE_WEBHOOK_SECRET=[secret]):
            rate, latencies, floor = webhook(secret)
        quantiles = statistics.quantiles(latencies, n=20)
        print(f"revenue bench on {connection.vendor}: {CUSTOMERS} customers, {revisions} revisions, {MONTHS} months")
        print("| measure | ours | baseline | ratio |")
        print("| --- | ---: | ---: | ---: |")
        print(f"| {MONTHS}-month movements table | {ours_s * 1000:.0f} ms | {base_s * 1000:.0f} ms "
              f"(a query per month-end) | {base_s / ours_s:.1f}x faster |")  # fmt: skip
        print(f"| webhook events/s (store + apply, whole stack) | {rate:.0f}/s | {floor:.0f}/s "
              f"(stripe verify+parse alone) | {floor / rate:.1f}x the floor's cost |")  # fmt: skip
        print(f"| webhook delivery p50 / p95 | {statistics.median(latencies):.1f} / {quantiles[18]:.1f} ms | | |")
    finally:
        connection.creation.destroy_test_db(old_db, verbosity=0)


if __name__ == "__main__":
    main()
