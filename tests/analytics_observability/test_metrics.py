"""Histograms, their merge across processes, the middleware's rows and the time-series seam."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.observability import selectors
from analytics.observability.histogram import BOUNDS_MS, BUCKET_FIELDS, BUCKETS, bucket_of, quantile
from analytics.observability.models import EndpointHour, ErrorIssue, ErrorIssueHour
from analytics.observability.perf import PerfBuffer


def exact_quantile(values, q):
    ordered = sorted(values)
    return ordered[max(0, int(-(-q * len(ordered) // 1)) - 1)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=0.01, max_value=9_999), min_size=1, max_size=300), st.sampled_from([0.5, 0.95, 0.99])
)
def test_the_estimate_falls_in_the_bucket_of_the_true_quantile(values, q):
    counts = [0] * BUCKETS
    for value in values:
        counts[bucket_of(value)] += 1
    true = exact_quantile(values, q)
    index = bucket_of(true)
    lower, upper = (BOUNDS_MS[index - 1] if index else 0), BOUNDS_MS[index]
    assert lower <= quantile(counts, q) <= upper


def test_bucket_bounds_are_inclusive_and_the_overflow_reports_the_last_bound():
    assert bucket_of(100) == BOUNDS_MS.index(100) and bucket_of(100.01) == BOUNDS_MS.index(100) + 1
    counts = [0] * BUCKETS
    counts[-1] = 5
    assert quantile(counts, 0.5) == BOUNDS_MS[-1] and quantile([0] * BUCKETS, 0.5) is None


@pytest.mark.django_db
def test_two_processes_merge_into_one_row_by_addition():
    hour = datetime(2026, 3, 1, 10, tzinfo=UTC)
    first, second = PerfBuffer(), PerfBuffer()
    for buffer, durations in ((first, [3, 30, 300]), (second, [3, 3000])):
        for duration in durations:
            buffer.record_request(route="GET /a/<int:pk>", status=200, duration_ms=duration, db_queries=2, at=hour)
        buffer.record_request(route="GET /a/<int:pk>", status=503, duration_ms=1, at=hour + timedelta(minutes=59))
    assert first.flush() == 1 and second.flush() == 1 and first.flush() == 0
    row = EndpointHour.objects.get()
    assert (row.requests, row.errors, row.db_queries) == (7, 2, 10)
    counts = [getattr(row, name) for name in BUCKET_FIELDS]
    assert counts[bucket_of(3)] == 2 + 2 and counts[bucket_of(3000)] == 1 and sum(counts) == 7


@pytest.mark.django_db
def test_series_have_one_point_per_interval_with_gaps_and_days(acme):
    start = datetime(2026, 3, 1, 22, tzinfo=UTC)
    for hours, requests, errors in ((0, 100, 1), (3, 50, 0), (26, 10, 10)):
        EndpointHour.objects.create(scope=acme.org.pk, hour=start + timedelta(hours=hours), route="GET /",
                                    requests=requests, errors=errors, b2=requests)  # fmt: skip
    EndpointHour.objects.create(scope=999, hour=start, route="GET /", requests=7, b0=7)
    end = start + timedelta(hours=27)
    hourly = selectors.request_count_series(org=acme.org, start=start, end=end, interval="hour")
    assert len(hourly) == 27 and hourly[0] == (start, 100) and hourly[1][1] == 0 and hourly[3][1] == 50
    daily = selectors.request_count_series(org=acme.org, start=start, end=end, interval="day")
    assert [value for _, value in daily] == [100, 50, 10]
    assert selectors.request_count_series(org=None, start=start, end=end, interval="day")[0][1] == 107
    rates = dict(selectors.error_rate_series(org=acme.org, start=start, end=end, interval="hour"))
    assert rates[start] == 0.01 and rates[start + timedelta(hours=1)] is None
    p95 = dict(selectors.latency_p95_series(org=acme.org, start=start, end=end, interval="hour"))
    assert BOUNDS_MS[1] <= p95[start] <= BOUNDS_MS[2]


@pytest.mark.django_db
def test_error_series_count_events_and_new_issues(project):
    hour = datetime(2026, 3, 1, 10, tzinfo=UTC)
    issue = ErrorIssue.objects.create(organization=project.organization, project=project, fingerprint="1" * 64,
                                      title="t", first_seen=hour + timedelta(minutes=5), last_seen=hour)  # fmt: skip
    ErrorIssueHour.objects.create(issue=issue, organization=project.organization, hour=hour, count=4)
    ErrorIssueHour.objects.create(
        issue=issue, organization=project.organization, hour=hour + timedelta(hours=2), count=1
    )
    end = hour + timedelta(hours=3)
    events = selectors.error_events_series(org=project.organization, start=hour, end=end, interval="hour")
    assert [value for _, value in events] == [4, 0, 1]
    assert [v for _, v in selectors.new_issues_series(org=project.organization, start=hour, end=end)] == [1, 0, 0]


@pytest.mark.django_db
def test_retention_deletes_old_events_and_rows_but_keeps_issues(project, settings):
    from analytics.observability.models import ErrorEvent
    from analytics.observability.tasks import purge_events

    old = datetime.now(UTC) - timedelta(days=settings.OBSERVABILITY_EVENT_RETENTION_DAYS + 1)
    issue = ErrorIssue.objects.create(organization=project.organization, project=project, fingerprint="2" * 64,
                                      title="t", first_seen=old, last_seen=old)  # fmt: skip
    ErrorEvent.objects.create(issue=issue, project=project, event_id="a" * 32, received=old, data={})
    ErrorEvent.objects.create(issue=issue, project=project, event_id="b" * 32, received=datetime.now(UTC), data={})
    EndpointHour.objects.create(hour=old - timedelta(days=400), route="GET /")
    EndpointHour.objects.create(hour=old, route="GET /")
    assert purge_events() == 2
    assert list(ErrorEvent.objects.values_list("event_id", flat=True)) == ["b" * 32]
    assert ErrorIssue.objects.count() == 1 and EndpointHour.objects.count() == 1
