"""The one seam between reports and metrics: `metric_series` (and `available()` for what may be asked).

Reports' own metrics come from tables directly (messages, memberships, the audit trail: what a security report
needs without analytics' rollups); every other organization metric of the analytics catalogue (active users,
adoption, latency, error rate...) is read through `analytics.metrics` and re-bucketed into the report's periods.
Buckets are UTC and half-open: [start, end).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet

# None as the interval: one bucket over the whole range (a period's value of a "distinct" metric).
INTERVALS = ("hour", "day", "week", "month", "quarter")


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str = ""
    # How buckets add up to a period: "sum" for counts of things; "distinct" metrics are recomputed over the
    # whole period (active members of a week are not the sum of each day's).
    aggregate: str = "sum"


METRICS = {
    m.key: m
    for m in (
        Metric("messages_posted", "Messages posted"),
        Metric("active_members", "Active members", aggregate="distinct"),
        Metric("new_members", "New members"),
        Metric("failed_logins", "Failed logins"),
        Metric("admin_actions", "Admin actions"),
    )
}


def available() -> dict[str, Metric]:
    """Every metric a report section may use: reports' own, then the analytics catalogue's per-organization time
    series (an analytics metric that sums, such as events, adds up over a period; the others — active users, a rate,
    a latency — are averaged over it, or the last value taken, as the metric declares)."""
    from analytics.metrics import catalogue

    found = dict(METRICS)
    for metric in catalogue:
        if metric.key not in found and "org" in metric.scope and metric.time_series:
            aggregate = "sum" if metric.summary == "sum" else metric.summary
            found[metric.key] = Metric(metric.key, metric.title, metric.unit.strip(), aggregate)
    return found


def bucket_starts(start: datetime, end: datetime, interval: str | None) -> list[datetime]:
    """The starts of the buckets that cover [start, end)."""
    if interval is None:
        return [start] if start < end else []
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}; one of {', '.join(INTERVALS)}")
    starts, current = [], start
    while current < end:
        starts.append(current)
        current = next_bucket(current, interval)
    return starts


def next_bucket(moment: datetime, interval: str) -> datetime:
    if interval == "hour":
        return moment + timedelta(hours=1)
    if interval == "day":
        return moment + timedelta(days=1)
    if interval == "week":
        return moment + timedelta(days=7)
    months = 3 if interval == "quarter" else 1
    year, month = divmod(moment.month - 1 + months, 12)
    return moment.replace(year=moment.year + year, month=month + 1, day=1)


def _rows(key: str, *, org, start: datetime, end: datetime) -> QuerySet:
    """(timestamp, who) pairs of the metric's events in [start, end)."""
    from accounts.models import Membership
    from audit.models import PLATFORM_CHAIN, AuditEvent
    from chatapp.chat.models import Message

    if key in ("messages_posted", "active_members"):
        return (
            Message.objects.for_org(org).filter(created__gte=start, created__lt=end).values_list("created", "author_id")
        )
    if key == "new_members":
        return Membership.objects.filter(organization=org, joined__gte=start, joined__lt=end).values_list(
            "joined", "user_id"
        )
    if key == "failed_logins":  # logins are platform events: the org's are those naming one of its members
        emails = Membership.objects.filter(organization=org).values("user__email")
        return AuditEvent.objects.filter(
            chain=PLATFORM_CHAIN, event_name="auth.login_failed", occurred_at__gte=start, occurred_at__lt=end,
            actor_label__in=emails,
        ).values_list("occurred_at", "actor_label")  # fmt: skip
    if key == "admin_actions":
        admins = Membership.objects.filter(organization=org, role__in=["owner", "admin"]).values_list(
            "user_id", flat=True
        )
        return (
            AuditEvent.objects.filter(organization=org, occurred_at__gte=start, occurred_at__lt=end, actor_type="user")
            .filter(actor_id__in=[str(pk) for pk in admins])
            .exclude(event_name__in=["api.request", "audit.events_read"])
            .values_list("occurred_at", "actor_id")
        )
    raise ValueError(f"unknown metric {key!r}")


def metric_series(
    key: str, *, org, start: datetime, end: datetime, interval: str | None
) -> list[tuple[datetime, float]]:
    """The metric per bucket over [start, end): [(bucket start, value), ...], zeros included. One query.

    `interval` is hour, day, week, month (calendar months from `start`'s day 1) or quarter; None gives one
    bucket for the whole range."""
    if key not in METRICS:
        if key in available():
            return _analytics_series(key, org=org, start=start, end=end, interval=interval)
        raise ValueError(f"unknown metric {key!r}; one of {', '.join(available())}")
    starts = bucket_starts(start, end, interval)
    if not starts:
        return []
    counts: dict[int, float] = defaultdict(float)
    distinct: dict[int, set] = defaultdict(set)
    for moment, who in _rows(key, org=org, start=start, end=end).order_by().iterator(chunk_size=5000):
        index = _bucket_index(starts, moment)
        counts[index] += 1
        distinct[index].add(who)
    if METRICS[key].aggregate == "distinct":
        return [(s, float(len(distinct[i]))) for i, s in enumerate(starts)]
    return [(s, counts[i]) for i, s in enumerate(starts)]


def _analytics_series(key: str, *, org, start: datetime, end: datetime, interval: str | None):
    """An analytics metric read at hour or day grain and folded into the report's buckets by its aggregate."""
    from analytics.metrics import metric_series as analytics_series

    starts = bucket_starts(start, end, interval)
    if not starts:
        return []
    grain = "hour" if interval == "hour" else "day"
    series = analytics_series(key, org=org, start=start, end=end, interval=grain)
    values = series.series.get("") or next(iter(series.series.values()), [])
    # A grain bucket counts for the report bucket where it overlaps the range (a trigger's 15-minute window still
    # sees the current hour's row).
    width = timedelta(hours=1) if grain == "hour" else timedelta(days=1)
    grouped: dict[int, list[float]] = defaultdict(list)
    for moment, value in zip(series.buckets, values, strict=False):
        if value is not None and moment < end and moment + width > start:
            grouped[_bucket_index(starts, max(moment, start))].append(float(value))
    aggregate = available()[key].aggregate

    def fold(found: list[float]) -> float:
        if not found:
            return 0.0
        if aggregate == "last":
            return found[-1]
        return sum(found) / len(found) if aggregate == "mean" else sum(found)

    return [(s, fold(grouped[i])) for i, s in enumerate(starts)]


def _bucket_index(starts: list[datetime], moment: datetime) -> int:
    # Binary search: buckets are sorted and contiguous.
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= moment:
            lo = mid
        else:
            hi = mid - 1
    return lo
