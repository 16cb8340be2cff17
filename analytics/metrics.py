"""The metric catalogue: everything a dashboard tile can show, by key.

A metric is a function that returns a TimeSeries for (org or None for instance-wide, start, end, interval,
breakdown, filters). Analytics registers its own (active users, retention, adoption, events); other apps add
theirs in one line, from their AppConfig.ready() or any module imported at start-up:

    from analytics.metrics import register_metric
    register_metric("requests", "Requests", requests_series, unit="", scope=("org", "instance"),
                    breakdowns=("endpoint",), summary="sum")

`summary` says how a "number with change" tile reduces the series: sum (counts), last (a level such as MRR or
MAU) or mean (a ratio such as stickiness or error rate).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from analytics.timeseries import INTERVALS, TimeSeries
from chatapp.kernel.registry import Registry

SeriesFunction = Callable[..., TimeSeries]
FILTERS = ("team", "client", "channel", "event", "feature")


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    series: SeriesFunction = field(compare=False, repr=False)
    unit: str = ""
    scope: tuple[str, ...] = ("org", "instance")
    breakdowns: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    intervals: tuple[str, ...] = INTERVALS
    summary: str = "sum"
    description: str = ""
    time_series: bool = True  # False for tables that are not over time (retention cohorts)


catalogue: Registry[Metric] = Registry("metric")


def register_metric(
    key: str,
    title: str,
    series: SeriesFunction,
    *,
    unit: str = "",
    scope: tuple[str, ...] = ("org", "instance"),
    breakdowns: tuple[str, ...] = (),
    filters: tuple[str, ...] = (),
    intervals: tuple[str, ...] = INTERVALS,
    summary: str = "sum",
    description: str = "",
    time_series: bool = True,
) -> Metric:
    if summary not in ("sum", "last", "mean"):
        raise ValueError("summary is one of sum, last, mean")
    return catalogue.register(
        Metric(key, title, series, unit, tuple(scope), tuple(breakdowns), tuple(filters), tuple(intervals), summary,
               description, time_series)
    )  # fmt: skip


def register_pairs(
    key: str,
    title: str,
    pairs: Callable[..., list],
    *,
    org_scoped: bool = True,
    intervals: tuple[str, ...] = INTERVALS,
    unit: str = "",
    summary: str = "sum",
    description: str = "",
) -> Metric:
    """Register a metric from another app's selector returning [(bucket_start, value), ...].

    `pairs(*, org, start, end, interval)` for org-scoped ones (org None: instance-wide), `pairs(*, start, end,
    interval)` for instance-only ones (`org_scoped=False`, e.g. revenue). Decimals become floats for the charts."""

    def series(*, org, start, end, interval, breakdown="", filters=None) -> TimeSeries:
        found = (
            pairs(org=org, start=start, end=end, interval=interval)
            if org_scoped
            else pairs(start=start, end=end, interval=interval)
        )
        values = [None if value is None else float(value) for _, value in found]
        return TimeSeries.over([bucket for bucket, _ in found], interval, {"": values}, unit)

    return register_metric(
        key, title, series, unit=unit, scope=("org", "instance") if org_scoped else ("instance",),
        intervals=intervals, summary=summary, description=description,
    )  # fmt: skip


class MetricInputError(ValueError):
    """A request the metric cannot answer, with the field it is about."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


def metric_series(
    key: str,
    *,
    org,
    start: datetime,
    end: datetime,
    interval: str = "day",
    breakdown: str = "",
    filters: dict | None = None,
) -> TimeSeries:
    """The series of a metric, after checking the request against what the metric declares."""
    if key not in catalogue:
        raise MetricInputError("metric", f"Unknown metric {key!r}; see the metric catalogue.")
    metric = catalogue[key]
    scope = "org" if org is not None else "instance"
    if scope not in metric.scope:
        where = "per organization" if org is not None else "instance-wide"
        raise MetricInputError("metric", f"Metric {key!r} is not available {where}.")
    if interval not in metric.intervals:
        raise MetricInputError("interval", f"Metric {key!r} takes one of: {', '.join(metric.intervals)}.")
    if breakdown and breakdown not in metric.breakdowns:
        allowed = ", ".join(metric.breakdowns) or "none"
        raise MetricInputError("breakdown", f"Metric {key!r} can be broken down by: {allowed}.")
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    unknown = set(filters) - set(metric.filters)
    if unknown:
        allowed = ", ".join(metric.filters) or "none"
        raise MetricInputError("filters", f"Metric {key!r} takes the filters: {allowed}.")
    if end <= start:
        raise MetricInputError("end", "end must be after start.")
    return metric.series(org=org, start=start, end=end, interval=interval, breakdown=breakdown, filters=filters)


def summarize(metric: Metric, series: TimeSeries) -> float | None:
    """One number for a series, the way the metric says (see `summary`)."""
    values = [v for v in (series.series.get("") or next(iter(series.series.values()), [])) if v is not None]
    if not values:
        return None
    if metric.summary == "last":
        return values[-1]
    if metric.summary == "mean":
        return round(sum(values) / len(values), 4)
    return sum(values)


def register_builtin() -> None:
    """Analytics' own metrics (called once from AnalyticsConfig.ready)."""
    from analytics import selectors as s

    if "active_users" in catalogue:
        return
    people = "person"
    register_metric("events", "Events", s.events_series, breakdowns=("event",), filters=("event",),
                    description="Events recorded (server, API and PostHog clients), by name.")  # fmt: skip
    register_metric("messages_sent", "Messages sent", s.messages_series, breakdowns=("client", "channel"),
                    filters=("team", "client", "channel"), description="Messages posted.")  # fmt: skip
    for key, title, names in (
        ("channels_created", "Channels created", ("channel.created",)),
        ("members_joined", "Members joined", ("member.joined",)),
        ("logins", "Sign-ins", ("user.logged_in", "user.sso_logged_in")),
        ("api_key_uses", "API key requests", ("api_key.used",)),
    ):
        register_metric(key, title, s.event_count_series(names), breakdowns=("event",) if len(names) > 1 else (),
                        filters=("team",))  # fmt: skip
    register_metric("active_users", "Active users", s.active_users_series, unit="", summary="mean",
                    breakdowns=("client",), filters=("team", "client"),
                    description="Daily active users (DAU); with interval week or month: WAU or MAU.")  # fmt: skip
    register_metric("wau", "Weekly active users", s.window_series(7), summary="last", filters=("team",),
                    intervals=("day",), description="People active in the 7 days ending each day.")  # fmt: skip
    register_metric("mau", "Monthly active users", s.window_series(30), summary="last", filters=("team",),
                    intervals=("day",), description="People active in the 30 days ending each day.")  # fmt: skip
    register_metric(
        "stickiness",
        "Stickiness (DAU/MAU)",
        s.stickiness_series,
        unit="%",
        summary="mean",
        intervals=("day",),
        description="Daily active users as a share of monthly active users.",
    )
    register_metric("lifecycle", "New, returning, resurrected and dormant " + people, s.lifecycle_series,
                    summary="sum", filters=("team",), intervals=("day", "week", "month"),
                    description="Active people split by lifecycle; dormant ones are shown negative.")  # fmt: skip
    register_metric("retention", "Weekly retention", s.retention_series, unit="%", summary="mean",
                    filters=("team",), intervals=("week",), time_series=False,
                    description="Share of each weekly cohort (first seen that week) active N weeks later.")  # fmt: skip
    register_metric("feature_adoption", "Feature adoption", s.adoption_series, unit="%", summary="last",
                    breakdowns=("feature",), filters=("team", "feature"), intervals=("day", "week", "month"),
                    description="Share of active people who used each feature.")  # fmt: skip
