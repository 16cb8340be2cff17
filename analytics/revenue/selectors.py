"""Revenue figures: MRR over time, its movements, and the KPIs derived from them, in the reporting currency.

How MRR is computed. Each subscription's history is its revisions (state from an instant on). A customer's
MRR at an instant is the sum, over its subscriptions, of the MRR of each one's latest revision before that
instant, converted with the exchange rate of that day. The MRR of a bucket (a day, week or month) is the MRR at
its end; for the bucket that is still running, now.

Movements of a bucket compare each customer's MRR at its start and at its end (month-end snapshots, as
ChartMogul and Baremetrics do, so an upgrade and a downgrade within one month net out):

    start 0, end > 0   new (first revenue ever) or reactivation (had revenue before)
    start > 0, end 0   churned
    both > 0           expansion (up) or contraction (down)

Both sides of a comparison are converted at the bucket end's rates, so a change of exchange rate is not
counted as expansion or contraction; it shows separately as `fx`, and every row reconciles:
`ending = starting + new + reactivation + expansion - contraction - churned + fx`.

Every read is a fixed number of queries (revisions, rates; plus payments for the summary), whatever the
number of subscriptions or buckets.
"""

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from analytics.revenue import money
from analytics.revenue.models import ExchangeRate, Payment, Subscription, SubscriptionRevision

INTERVALS = ("day", "week", "month")
MAX_BUCKETS = 800


class MissingExchangeRate(Exception):
    def __init__(self, currency: str, reporting: str, day: date):
        self.currency, self.reporting, self.day = currency, reporting, day
        super().__init__(
            f"No exchange rate from {currency} to {reporting} on or before {day.isoformat()}: add one in "
            "Admin → Revenue analytics → Exchange rates."
        )


# --- buckets ------------------------------------------------------------------------------------------------


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def bucket_floor(value: date | datetime, interval: str) -> datetime:
    moment = _as_datetime(value).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "week":
        return moment - timedelta(days=moment.weekday())  # ISO weeks start on Monday
    if interval == "month":
        return moment.replace(day=1)
    return moment


def bucket_next(start: datetime, interval: str) -> datetime:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def buckets(start: date | datetime, end: date | datetime, interval: str) -> list[datetime]:
    """Bucket starts from the one holding `start` to the one holding `end`, inclusive."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")
    first, last = bucket_floor(start, interval), bucket_floor(end, interval)
    result = []
    while first <= last:
        result.append(first)
        if len(result) > MAX_BUCKETS:
            raise ValueError(f"more than {MAX_BUCKETS} {interval}s: use a longer interval or a shorter range")
        first = bucket_next(first, interval)
    return result


# --- rates ----------------------------------------------------------------------------------------------------


class Rates:
    """Every stored rate to the reporting currency, loaded once; `rate(currency, day)` is the newest on or before."""

    def __init__(self, reporting: str | None = None):
        self.reporting = reporting or settings.REVENUE_REPORTING_CURRENCY
        self._days: dict[str, list[date]] = defaultdict(list)
        self._values: dict[str, list[Decimal]] = defaultdict(list)
        rows = ExchangeRate.objects.filter(reporting_currency=self.reporting).order_by("currency", "valid_from")
        for currency, day, value in rows.values_list("currency", "valid_from", "rate"):
            self._days[currency].append(day)
            self._values[currency].append(value)

    def rate(self, currency: str, day: date) -> Decimal:
        if currency == self.reporting:
            return Decimal(1)
        index = bisect.bisect_right(self._days.get(currency, []), day) - 1
        if index < 0:
            raise MissingExchangeRate(currency, self.reporting, day)
        return self._values[currency][index]

    def convert(self, amounts: dict[str, int], day: date) -> Decimal:
        """{currency: minor units} as reporting-currency minor units (unrounded)."""
        return sum(
            (money.convert(value, currency=cur, to=self.reporting, rate=self.rate(cur, day))
             for cur, value in amounts.items() if value),
            Decimal(0),
        )  # fmt: skip


# --- snapshots ---------------------------------------------------------------------------------------------

Snapshot = dict[str, dict[int, int]]  # {currency: {customer id: MRR in minor units}}, customers with MRR only


@dataclass
class _History:
    """MRR per currency and customer at each instant asked for; which customers changed between consecutive
    instants; and when each customer first had revenue."""

    snapshots: list[Snapshot]
    changed: list[set[int]]  # changed[k]: customers whose MRR moved between instants k and k+1
    first_revenue: dict[int, datetime]

    def customer(self, index: int, customer: int) -> dict[str, int]:
        return {cur: by[customer] for cur, by in self.snapshots[index].items() if customer in by}


def _history(instants: list[datetime]) -> _History:
    """One pass over the revisions before the last instant, in time order (one query).

    The running totals are updated revision by revision and copied at each instant (a C-level dict copy per
    currency), so the cost grows with revisions and instants, not with subscriptions x instants."""
    rows = (
        SubscriptionRevision.objects.filter(effective_at__lt=instants[-1])
        .order_by("effective_at", "id")
        .values_list("subscription_id", "subscription__customer_id", "effective_at", "currency", "mrr")
    )
    totals: Snapshot = defaultdict(dict)
    current: dict[int, tuple[int, str, int]] = {}  # subscription -> (customer, currency, mrr)
    snapshots: list[Snapshot] = []
    changed: list[set[int]] = [set() for _ in instants]
    first_revenue: dict[int, datetime] = {}
    index = 0

    def take():
        snapshots.append({cur: by.copy() for cur, by in totals.items() if by})

    def add(customer, currency, amount):
        by = totals[currency]
        value = by.get(customer, 0) + amount
        if value:
            by[customer] = value
        else:
            by.pop(customer, None)

    for subscription, customer, moment, currency, mrr in rows.iterator(chunk_size=5000):
        while index < len(instants) and moment >= instants[index]:
            take()
            index += 1
        old = current.get(subscription)
        if old is not None and old[2]:
            add(old[0], old[1], -old[2])
        if mrr:
            add(customer, currency, mrr)
            if customer not in first_revenue:
                first_revenue[customer] = moment
        current[subscription] = (customer, currency, mrr)
        if index and (old is None or old[1:] != (currency, mrr)):
            changed[index - 1].add(customer)
    while index < len(instants):
        take()
        index += 1
    return _History(snapshots, changed, first_revenue)


def _day_of(instant: datetime) -> date:
    """The day whose rate values a snapshot taken just before `instant` (the last day of the bucket)."""
    return (instant - timedelta(microseconds=1)).date()


def _cap(instant: datetime, now: datetime) -> datetime:
    return min(instant, now)


# --- movements -------------------------------------------------------------------------------------------


@dataclass
class Movement:
    """One bucket of the MRR movements table (amounts in reporting-currency minor units)."""

    bucket_start: datetime
    starting_mrr: int = 0
    new: int = 0
    expansion: int = 0
    contraction: int = 0
    churned: int = 0
    reactivation: int = 0
    fx: int = 0
    ending_mrr: int = 0
    customers_start: int = 0
    customers_end: int = 0
    new_customers: int = 0
    reactivated_customers: int = 0
    churned_customers: int = 0
    # Starting MRR at the end's rates: the base of the churn and retention rates (no exchange-rate noise).
    base_mrr: int = 0

    @property
    def net_new(self) -> int:
        return self.new + self.reactivation + self.expansion - self.contraction - self.churned

    @property
    def logo_churn(self) -> Decimal | None:
        return _ratio(self.churned_customers, self.customers_start)

    @property
    def net_revenue_churn(self) -> Decimal | None:
        return _ratio(self.churned + self.contraction - self.expansion, self.base_mrr)

    @property
    def gross_revenue_churn(self) -> Decimal | None:
        return _ratio(self.churned + self.contraction, self.base_mrr)

    @property
    def net_revenue_retention(self) -> Decimal | None:
        return _ratio(self.base_mrr + self.expansion - self.contraction - self.churned, self.base_mrr)


def _ratio(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


def _total(snapshot: Snapshot, day: date, rates: "Rates") -> int | Decimal:
    """The whole snapshot in the reporting currency (conversion is linear: each currency's sum converted once)."""
    return sum(
        (money.convert(sum(by.values()), currency=cur, to=rates.reporting, rate=rates.rate(cur, day))
         for cur, by in snapshot.items()),
        0,
    )  # fmt: skip


def _customers(snapshot: Snapshot) -> int:
    groups = list(snapshot.values())
    if len(groups) == 1:
        return len(groups[0])
    return len(set().union(*groups))


def mrr_movements(*, start: date | datetime, end: date | datetime, interval: str = "month", now=None) -> list[Movement]:
    """The movements table: one row per bucket from the one holding `start` to the one holding `end`.

    Totals are sums per currency; only the customers whose MRR changed in a bucket are looked at one by one
    (a customer whose amounts did not change has no movement, and its exchange-rate change is in the totals)."""
    now = now or timezone.now()
    starts = buckets(start, end, interval)
    instants = [_cap(moment, now) for moment in [*starts, bucket_next(starts[-1], interval)]]
    history = _history(instants)
    rates = Rates()
    days = [_day_of(instant) for instant in instants]
    rows = []
    for index, bucket_start in enumerate(starts):
        before, after, day = history.snapshots[index], history.snapshots[index + 1], days[index + 1]
        starting, base, ending = (
            _total(before, days[index], rates),
            _total(before, day, rates),
            _total(after, day, rates),
        )
        acc = _Acc()
        for customer in history.changed[index]:
            prev_now = rates.convert(history.customer(index, customer), day)
            current = rates.convert(history.customer(index + 1, customer), day)
            if prev_now <= 0 and current > 0:
                returning = history.first_revenue.get(customer, instants[index]) < instants[index]
                kind = "reactivation" if returning else "new"
                acc.values[kind] += current
                acc.counts["reactivated" if returning else "new"] += 1
            elif prev_now > 0 and current <= 0:
                acc.values["churned"] += prev_now
                acc.counts["churned"] += 1
            elif current > prev_now:
                acc.values["expansion"] += current - prev_now
            elif current < prev_now:
                acc.values["contraction"] += prev_now - current
        value = {name: money.round_minor(amount) for name, amount in acc.values.items()}
        rows.append(
            Movement(
                bucket_start=bucket_start, starting_mrr=money.round_minor(starting), new=value.get("new", 0),
                expansion=value.get("expansion", 0), contraction=value.get("contraction", 0),
                churned=value.get("churned", 0), reactivation=value.get("reactivation", 0),
                fx=money.round_minor(base - starting), ending_mrr=money.round_minor(ending),
                base_mrr=money.round_minor(base), customers_start=_customers(before), customers_end=_customers(after),
                new_customers=acc.counts["new"], reactivated_customers=acc.counts["reactivated"],
                churned_customers=acc.counts["churned"],
            )
        )  # fmt: skip
    return rows


@dataclass
class _Acc:
    values: dict = field(default_factory=lambda: defaultdict(int))  # int until a converted amount joins
    counts: dict = field(default_factory=lambda: defaultdict(int))


# --- time series (the analytics metric catalogue's seam): (start, end, interval) -> [(bucket_start, value)] ----


def mrr_series(*, start, end, interval: str = "month") -> list[tuple[datetime, int]]:
    """MRR at the end of each bucket, in reporting-currency minor units."""
    return [(row.bucket_start, row.ending_mrr) for row in mrr_movements(start=start, end=end, interval=interval)]


def arr_series(*, start, end, interval: str = "month") -> list[tuple[datetime, int]]:
    """ARR (12 x MRR) at the end of each bucket."""
    return [(bucket, value * 12) for bucket, value in mrr_series(start=start, end=end, interval=interval)]


def _column(name: str):
    def series(*, start, end, interval: str = "month") -> list[tuple[datetime, int | Decimal | None]]:
        rows = mrr_movements(start=start, end=end, interval=interval)
        return [(row.bucket_start, getattr(row, name)) for row in rows]

    series.__name__ = f"{name}_series"
    series.__doc__ = f"`{name}` of the MRR movements table, per bucket."
    return series


new_mrr_series = _column("new")
expansion_mrr_series = _column("expansion")
contraction_mrr_series = _column("contraction")
churned_mrr_series = _column("churned")
reactivation_mrr_series = _column("reactivation")
net_new_mrr_series = _column("net_new")
logo_churn_series = _column("logo_churn")  # churned customers / customers at the bucket's start (fraction)
net_revenue_churn_series = _column("net_revenue_churn")
net_revenue_retention_series = _column("net_revenue_retention")

# What the analytics metric catalogue registers (key -> selector, unit). Money is in minor units of
# settings.REVENUE_REPORTING_CURRENCY; ratios are Decimal fractions (0.05 = 5 %), None when undefined.
SERIES = {
    "revenue.mrr": (mrr_series, "money"),
    "revenue.arr": (arr_series, "money"),
    "revenue.new_mrr": (new_mrr_series, "money"),
    "revenue.expansion_mrr": (expansion_mrr_series, "money"),
    "revenue.contraction_mrr": (contraction_mrr_series, "money"),
    "revenue.churned_mrr": (churned_mrr_series, "money"),
    "revenue.reactivation_mrr": (reactivation_mrr_series, "money"),
    "revenue.net_new_mrr": (net_new_mrr_series, "money"),
    "revenue.logo_churn": (logo_churn_series, "ratio"),
    "revenue.net_revenue_churn": (net_revenue_churn_series, "ratio"),
    "revenue.net_revenue_retention": (net_revenue_retention_series, "ratio"),
}


# --- summary ----------------------------------------------------------------------------------------------


@dataclass
class Summary:
    at: datetime
    currency: str
    mrr: int
    arr: int
    customers: int
    arpa: int | None
    month: Movement  # the last complete month before `at`
    nrr_12m: Decimal | None
    average_logo_churn: Decimal | None
    ltv: int | None
    ltv_months: int
    collected: int
    refunded: int


def _month_before(moment: datetime) -> datetime:
    return bucket_floor(bucket_floor(moment, "month") - timedelta(days=1), "month")


def revenue_summary(*, at: datetime | None = None) -> Summary:
    """The KPIs as of `at` (default now): MRR, ARR, customers, ARPA, last complete month's movements and rates,
    12-month net revenue retention, LTV and the money collected and refunded in that month."""
    at = _as_datetime(at) if at else timezone.now()
    rates = Rates()
    months = settings.REVENUE_LTV_CHURN_MONTHS
    last_month = _month_before(at)
    first_month = last_month
    for _ in range(max(months, 1) - 1):
        first_month = _month_before(first_month)
    table = mrr_movements(start=first_month, end=last_month, interval="month", now=at)
    year_ago = at - timedelta(days=365)
    history = _history([year_ago, at])
    day = _day_of(at)
    then_snapshot, now_snapshot = history.snapshots
    mrr_now = _total(now_snapshot, day, rates)
    customers = _customers(now_snapshot)
    # The customers who paid a year ago, then and now, both at today's rates (no exchange-rate noise).
    cohort = set().union(*then_snapshot.values()) if then_snapshot else set()
    cohort_then = _total(then_snapshot, day, rates)
    cohort_now = _total(
        {cur: {c: v for c, v in by.items() if c in cohort} for cur, by in now_snapshot.items()}, day, rates
    )
    churned = sum(row.churned_customers for row in table)
    exposed = sum(row.customers_start for row in table)
    average_churn = _ratio(churned, exposed)
    arpa = mrr_now / customers if customers else None
    ltv = money.round_minor(arpa / average_churn) if arpa is not None and average_churn else None
    collected, refunded = _cash(last_month, bucket_next(last_month, "month"), rates)
    return Summary(
        at=at, currency=rates.reporting, mrr=money.round_minor(mrr_now), arr=money.round_minor(mrr_now * 12),
        customers=customers, arpa=money.round_minor(arpa) if arpa is not None else None, month=table[-1],
        nrr_12m=_ratio(cohort_now, cohort_then) if cohort_then else None, average_logo_churn=average_churn,
        ltv=ltv, ltv_months=months, collected=collected, refunded=refunded,
    )  # fmt: skip


def _cash(start: datetime, end: datetime, rates: Rates) -> tuple[int, int]:
    """Money collected by successful charges made in [start, end), and refunded of them, at the period end's rates."""
    day = _day_of(end)
    collected, refunded = defaultdict(int), defaultdict(int)
    rows = Payment.objects.filter(created_at__gte=start, created_at__lt=end, status="succeeded")
    for currency, amount, back in rows.values_list("currency", "amount", "amount_refunded"):
        collected[currency] += amount
        refunded[currency] += back
    return money.round_minor(rates.convert(collected, day)), money.round_minor(rates.convert(refunded, day))


# --- subscriptions list ---------------------------------------------------------------------------------------


def subscriptions_list(*, filters: dict | None = None):
    """Subscriptions with their customer, organization and main plan in the same query."""
    filters = filters or {}
    queryset = Subscription.objects.select_related("customer", "organization", "plan")
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    if filters.get("currency"):
        queryset = queryset.filter(currency=filters["currency"].upper())
    if filters.get("plan"):
        queryset = queryset.filter(plan__external_id=filters["plan"])
    if filters.get("customer"):
        queryset = queryset.filter(customer__external_id=filters["customer"])
    if filters.get("organization"):
        queryset = queryset.filter(organization__slug=filters["organization"])
    if filters.get("source"):
        queryset = queryset.filter(source=filters["source"])
    if filters.get("active_at"):
        moment = _as_datetime(filters["active_at"])
        queryset = queryset.filter(started_at__lte=moment).exclude(ended_at__lte=moment)
    return queryset
