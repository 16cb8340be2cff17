"""Reads of error tracking and performance: org-scoped (org None = instance-wide, the operator's), N+1-free.

The time-series functions are the seam the analytics metric catalogue registers; each has the signature

    fn(*, org: Organization | None, start: datetime, end: datetime, interval: "hour" | "day")
        -> list[tuple[datetime, value]]

with one point per interval from the one containing `start` up to `end` (exclusive), empty intervals included
(0 for counts, None for rates and latencies, which are undefined without requests). They read the hourly rows,
never raw requests: at most 24 x days rows per query, merged in Python (histograms add bucket by bucket).
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncHour

from analytics.observability.histogram import BUCKET_FIELDS, quantile, share_at_most
from analytics.observability.models import (
    EndpointHour,
    ErrorEvent,
    ErrorIssue,
    ErrorIssueHour,
    ErrorProject,
    TaskHour,
)

INTERVALS = ("hour", "day")
# An hour is counted "down" for availability when at least this share of its requests failed (5xx).
DOWN_HOUR_ERROR_RATE = 0.05
HOUR = timedelta(hours=1)


def bucket_start(moment: datetime, interval: str) -> datetime:
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if interval == "day" else moment


def _buckets(start: datetime, end: datetime, interval: str) -> list[datetime]:
    step = timedelta(days=1) if interval == "day" else HOUR
    current, points = bucket_start(start, interval), []
    while current < end:
        points.append(current)
        current += step
    return points


def _scoped(queryset: QuerySet, org, *, source: str | None = "server") -> QuerySet:
    if org is not None:
        queryset = queryset.filter(scope=org.pk)
    return queryset.filter(source=source) if source else queryset


# --- errors ------------------------------------------------------------------------------------------------------


def issues_of(*, org) -> QuerySet[ErrorIssue]:
    """The organization's issues (of its projects); org None: chatapp's own server issues (the operator's)."""
    queryset = ErrorIssue.objects.select_related("project")
    return queryset.filter(organization=org) if org is not None else queryset.filter(organization__isnull=True)


def issue_latest_event(*, issue: ErrorIssue) -> ErrorEvent | None:
    return issue.events.order_by("-received", "-id").first()


def issue_hourly_counts(*, issue: ErrorIssue, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    counts = dict(
        ErrorIssueHour.objects.filter(issue=issue, hour__gte=bucket_start(start, "hour"), hour__lt=end).values_list(
            "hour", "count"
        )
    )
    return [(point, counts.get(point, 0)) for point in _buckets(start, end, "hour")]


def projects_of(*, org) -> QuerySet[ErrorProject]:
    return ErrorProject.objects.filter(organization=org)


def error_events_series(*, org, start: datetime, end: datetime, interval: str = "hour") -> list[tuple[datetime, int]]:
    """Error events per interval (of the organization's projects; org None: every event, server ones included)."""
    rows = ErrorIssueHour.objects.filter(hour__gte=bucket_start(start, interval), hour__lt=end)
    if org is not None:
        rows = rows.filter(organization=org)
    totals = defaultdict(int)
    for hour, count in rows.values("hour").annotate(total=Sum("count")).values_list("hour", "total"):
        totals[bucket_start(hour, interval)] += count
    return [(point, totals.get(point, 0)) for point in _buckets(start, end, interval)]


def new_issues_series(*, org, start: datetime, end: datetime, interval: str = "hour") -> list[tuple[datetime, int]]:
    """Issues first seen in each interval."""
    rows = ErrorIssue.objects.filter(first_seen__gte=bucket_start(start, interval), first_seen__lt=end)
    if org is not None:
        rows = rows.filter(organization=org)
    totals = defaultdict(int)
    hourly = rows.annotate(hour=TruncHour("first_seen")).values("hour").annotate(total=Count("id"))
    for hour, count in hourly.values_list("hour", "total"):
        totals[bucket_start(hour, interval)] += count
    return [(point, totals.get(point, 0)) for point in _buckets(start, end, interval)]


# --- performance -------------------------------------------------------------------------------------------------

_SUMS = {name: Sum(name) for name in ("requests", "errors", "db_queries", "duration_ms", *BUCKET_FIELDS)}


def _hourly(*, org, start: datetime, end: datetime, source: str | None = "server") -> list[dict]:
    rows = _scoped(EndpointHour.objects.filter(hour__gte=bucket_start(start, "hour"), hour__lt=end), org, source=source)
    return list(rows.values("hour").annotate(**_SUMS).order_by("hour"))


def _merged_by(rows: list[dict], interval: str) -> dict[datetime, dict]:
    merged: dict[datetime, dict] = {}
    for row in rows:
        point = bucket_start(row["hour"], interval)
        into = merged.setdefault(point, dict.fromkeys(_SUMS, 0))
        for name in _SUMS:
            into[name] += row[name] or 0
    return merged


def _series(org, start, end, interval, value) -> list[tuple[datetime, object]]:
    merged = _merged_by(_hourly(org=org, start=start, end=end), interval)
    return [(point, value(merged[point]) if point in merged else None) for point in _buckets(start, end, interval)]


def _counts(row: dict) -> list[int]:
    return [row[name] or 0 for name in BUCKET_FIELDS]


def request_count_series(*, org, start: datetime, end: datetime, interval: str = "hour") -> list[tuple[datetime, int]]:
    """Requests per interval (measured by the server middleware)."""
    return [(point, value or 0) for point, value in _series(org, start, end, interval, lambda row: row["requests"])]


def error_rate_series(*, org, start: datetime, end: datetime, interval: str = "hour") -> list[tuple[datetime, float]]:
    """Share of requests answered 5xx per interval (None without requests)."""
    return _series(org, start, end, interval, lambda row: row["errors"] / row["requests"] if row["requests"] else None)


def _latency_series(q: float):
    def series(*, org, start: datetime, end: datetime, interval: str = "hour") -> list[tuple[datetime, float]]:
        return _series(org, start, end, interval, lambda row: quantile(_counts(row), q))

    series.__name__ = f"latency_p{round(q * 100)}_series"
    series.__doc__ = f"Estimated {round(q * 100)}th percentile latency in ms per interval (None without requests)."
    return series


latency_p50_series = _latency_series(0.50)
latency_p95_series = _latency_series(0.95)
latency_p99_series = _latency_series(0.99)


def _summary(row: dict) -> dict:
    counts, requests = _counts(row), row["requests"] or 0
    return {
        "requests": requests,
        "errors": row["errors"] or 0,
        "error_rate": (row["errors"] or 0) / requests if requests else None,
        "p50_ms": quantile(counts, 0.50),
        "p95_ms": quantile(counts, 0.95),
        "p99_ms": quantile(counts, 0.99),
        "mean_ms": round((row["duration_ms"] or 0) / requests, 2) if requests else None,
        "db_queries_per_request": round((row["db_queries"] or 0) / requests, 2) if requests else None,
    }


ENDPOINT_ORDERS = {"p95": "p95_ms", "p99": "p99_ms", "requests": "requests", "errors": "errors", "mean": "mean_ms"}


def endpoint_summary(
    *, org, start: datetime, end: datetime, source: str = "server", order: str = "p95", limit: int = 50
) -> list[dict]:
    """Per endpoint over the period, slowest first by default (the "slowest endpoints" view)."""
    rows = _scoped(EndpointHour.objects.filter(hour__gte=bucket_start(start, "hour"), hour__lt=end), org, source=source)
    summaries = [{"route": row["route"], **_summary(row)} for row in rows.values("route").annotate(**_SUMS)]
    key = ENDPOINT_ORDERS[order]
    summaries.sort(key=lambda item: (item[key] is None, -(item[key] or 0), item["route"]))
    return summaries[:limit]


def task_summary(*, start: datetime, end: datetime, limit: int = 100) -> list[dict]:
    """Celery tasks over the period (instance-wide): runs, failures, duration quantiles, queue lag."""
    sums = {name: Sum(name) for name in ("runs", "failures", "duration_ms", "lag_ms", "lag_samples", *BUCKET_FIELDS)}
    merged: dict[str, dict] = {}
    for row in TaskHour.objects.filter(hour__gte=bucket_start(start, "hour"), hour__lt=end).values():
        into = merged.setdefault(row["task"], dict.fromkeys(sums, 0) | {"lag_max_ms": 0.0})
        for name in sums:
            into[name] += row[name] or 0
        into["lag_max_ms"] = max(into["lag_max_ms"], row["lag_max_ms"] or 0.0)
    result = []
    for task, row in merged.items():
        counts, runs = [row[name] for name in BUCKET_FIELDS], row["runs"]
        result.append({
            "task": task, "runs": runs, "failures": row["failures"],
            "failure_rate": row["failures"] / runs if runs else None,
            "p50_ms": quantile(counts, 0.5), "p95_ms": quantile(counts, 0.95), "p99_ms": quantile(counts, 0.99),
            "mean_ms": round(row["duration_ms"] / runs, 2) if runs else None,
            "mean_queue_lag_ms": round(row["lag_ms"] / row["lag_samples"], 2) if row["lag_samples"] else None,
            "max_queue_lag_ms": round(row["lag_max_ms"], 2) if row["lag_samples"] else None,
        })  # fmt: skip
    result.sort(key=lambda item: (-(item["p95_ms"] or 0), item["task"]))
    return result[:limit]


def slo_report(*, org, end: datetime, days: int = 30) -> dict:
    """The SLO over the last `days` days ending at `end`, with the error budget and its burn rates.

    - latency: p95 < OBSERVABILITY_SLO_P95_MS (100 ms is a bucket bound, so "95 % of requests at or under it"
      is exact); its budget is the 5 % of requests allowed to be slower;
    - errors: 5xx share < OBSERVABILITY_SLO_ERROR_RATE (0.1 %); the error budget is that share of the period's
      requests, `budget_used` how much of it the 5xx answers consumed, the burn rates how fast the last 1 h, 6 h
      and 24 h spend it (1.0 spends exactly the budget over the period; 14.4 over 1 h is the usual page);
    - availability: share of the period's hours that were up (an hour is down when >= 5 % of its requests
      failed; hours without traffic are up), target OBSERVABILITY_SLO_AVAILABILITY (99.9 %).
    """
    start = bucket_start(end - timedelta(days=days), "hour")
    hourly = _hourly(org=org, start=start, end=end)
    total = {name: sum(row[name] or 0 for row in hourly) for name in _SUMS}
    counts, requests, errors = _counts(total), total["requests"], total["errors"]
    p95_bound, error_target = settings.OBSERVABILITY_SLO_P95_MS, settings.OBSERVABILITY_SLO_ERROR_RATE
    fast = share_at_most(counts, p95_bound)
    error_rate = errors / requests if requests else None
    hours = max(1, round((end - start) / HOUR))
    down = sum(1 for row in hourly if row["requests"] and row["errors"] / row["requests"] >= DOWN_HOUR_ERROR_RATE)
    availability = 1 - down / hours

    def burn(window: timedelta) -> float | None:
        recent = [row for row in hourly if row["hour"] >= bucket_start(end - window, "hour")]
        seen = sum(row["requests"] or 0 for row in recent)
        return round(sum(row["errors"] or 0 for row in recent) / seen / error_target, 3) if seen else None

    p95 = quantile(counts, 0.95)
    return {
        "start": start, "end": end, "requests": requests,
        "latency": {"p95_ms": p95, "target_ms": p95_bound, "met": None if p95 is None else p95 < p95_bound,
                    "share_within_target": fast,
                    "budget_used": round((1 - fast) / 0.05, 4) if fast is not None else None},
        "errors": {"error_rate": error_rate, "target": error_target,
                   "met": None if error_rate is None else error_rate < error_target,
                   "budget_requests": round(requests * error_target, 2), "budget_spent_requests": errors,
                   "budget_used": round(errors / (requests * error_target), 4) if requests else None,
                   "burn_rate_1h": burn(HOUR), "burn_rate_6h": burn(6 * HOUR), "burn_rate_24h": burn(24 * HOUR)},
        "availability": {"availability": round(availability, 6), "target": settings.OBSERVABILITY_SLO_AVAILABILITY,
                         "met": availability >= settings.OBSERVABILITY_SLO_AVAILABILITY, "down_hours": down,
                         "hours": hours},
    }  # fmt: skip


SERIES = {
    "requests": request_count_series,
    "error_rate": error_rate_series,
    "latency_p50": latency_p50_series,
    "latency_p95": latency_p95_series,
    "latency_p99": latency_p99_series,
    "error_events": error_events_series,
    "new_issues": new_issues_series,
}
