"""The movements table equals a brute-force recomputation (each customer's MRR at each month end, from scratch)
for generated histories: several subscriptions per customer, changes, ends, restarts, two currencies, and
revisions written in random order (as late events are)."""

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.revenue import selectors
from analytics.revenue.models import Customer, ExchangeRate, Subscription, SubscriptionRevision

START, END = date(2026, 1, 1), date(2026, 6, 30)
EUR = Decimal("1.25")


def _generate(seed: int) -> list[tuple[int, int, datetime, str, int]]:
    rng = random.Random(seed)
    rows = []
    for sub in range(rng.randint(1, 25)):
        customer, currency = rng.randint(0, 8), rng.choice(["USD", "USD", "EUR"])
        moment = datetime(2025, 12, 1, tzinfo=UTC) + timedelta(days=rng.randrange(200), hours=rng.randrange(24))
        for _ in range(rng.randint(1, 5)):
            rows.append((sub, customer, moment, currency, rng.choice([0, 1000, 2000, 5000, 7500])))
            moment += timedelta(days=rng.randrange(1, 70))
    rng.shuffle(rows)
    return rows


def _brute(rows, instants):
    """Per instant: {customer: USD value} from each subscription's latest revision before it."""
    out = []
    for instant in instants:
        latest = {}
        for row in sorted(rows, key=lambda r: r[2]):
            if row[2] < instant:
                latest[row[0]] = row
        value = defaultdict(Decimal)
        for _, customer, _, currency, mrr in latest.values():
            value[customer] += mrr * (EUR if currency == "EUR" else 1)
        out.append({c: v for c, v in value.items() if v})
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=10**6))
@pytest.mark.django_db
def test_movements_equal_brute_force(seed):
    SubscriptionRevision.objects.all().delete()
    Subscription.objects.all().delete()
    Customer.objects.all().delete()
    ExchangeRate.objects.get_or_create(currency="EUR", reporting_currency="USD", valid_from=date(2025, 1, 1),
                                       defaults={"rate": EUR})  # fmt: skip
    rows = _generate(seed)
    customers = {n: Customer.objects.create(external_id=f"c{n}", source="csv") for n in {r[1] for r in rows}}
    subs = {}
    for sub, customer, moment, currency, _ in sorted(rows, key=lambda r: r[2]):
        if sub not in subs:
            subs[sub] = Subscription.objects.create(
                external_id=f"s{sub}",
                customer=customers[customer],
                status="active",
                currency=currency,
                started_at=moment,
                source="csv",
                source_updated_at=moment,
            )
    SubscriptionRevision.objects.bulk_create(
        SubscriptionRevision(subscription=subs[sub], source_ref=f"r{n}", effective_at=moment, status="active",
                             currency=currency, mrr=mrr)
        for n, (sub, _, moment, currency, mrr) in enumerate(rows)
    )  # fmt: skip
    table = selectors.mrr_movements(start=START, end=END)
    starts = selectors.buckets(START, END, "month")
    instants = [*starts, selectors.bucket_next(starts[-1], "month")]
    brute = _brute([(s, c, m, cur, v) for s, c, m, cur, v in rows], instants)
    seen_before = set()
    for index, row in enumerate(table):
        before, after = brute[index], brute[index + 1]
        seen_before |= {r[1] for r in rows if r[4] and r[2] < instants[index]}
        expect = defaultdict(Decimal)
        for customer in before.keys() | after.keys():
            old, new = before.get(customer, 0), after.get(customer, 0)
            if not old and new:
                expect["reactivation" if customer in seen_before else "new"] += new
            elif old and not new:
                expect["churned"] += old
            elif new > old:
                expect["expansion"] += new - old
            else:
                expect["contraction"] += old - new
        got = {k: getattr(row, k) for k in ("new", "reactivation", "churned", "expansion", "contraction")}
        assert got == {k: int(expect[k]) for k in got}, (seed, index)
        assert (row.starting_mrr, row.ending_mrr) == (int(sum(before.values())), int(sum(after.values())))
        assert (row.customers_start, row.customers_end) == (len(before), len(after))
