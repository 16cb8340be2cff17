"""Reports read the analytics metric catalogue through their one seam (reports.metrics): active users from the
rollups, folded into a report's period, usable in sections and triggers."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from analytics.stats import fill_all
from reports.metrics import available, metric_series
from reports.sections import clean_sections
from tests.analytics.conftest import at, store
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db
NOW = at("2026-11-24T12:00:00")


@pytest.fixture
def activity(acme):
    """Three people active on Monday 23 November, one of them again on Tuesday."""
    people = [MembershipFactory(organization=acme.org, user__email=f"p{i}@acme.test").user for i in range(3)]
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        for person in people:
            store(acme.org, "message.posted", at("2026-11-23T09:00"), user=person)
        store(acme.org, "message.posted", at("2026-11-24T08:00"), user=people[0])
    with time_machine.travel(NOW, tick=False):
        fill_all()
    return people


def test_analytics_metrics_are_offered_by_their_organization_scope():
    offered = available()
    assert {"messages_posted", "failed_logins"} <= set(offered)  # reports' own
    assert {"active_users", "latency_p95", "error_rate"} <= set(offered)  # the catalogue's, per organization
    assert "revenue.mrr" not in offered  # instance-wide only: never in an organization's report
    assert offered["active_users"].aggregate == "mean" and offered["events"].aggregate == "sum"


def test_active_users_fold_into_report_buckets(acme, activity):
    start, end = at("2026-11-23T00:00"), at("2026-11-25T00:00")
    by_day = metric_series("active_users", org=acme.org, start=start, end=end, interval="day")
    assert by_day == [(at("2026-11-23T00:00"), 3.0), (at("2026-11-24T00:00"), 1.0)]
    # over the whole range: the mean daily active users (the metric's own summary)
    assert metric_series("active_users", org=acme.org, start=start, end=end, interval=None) == [(start, 2.0)]


def test_sections_accept_catalogue_metrics_and_refuse_instance_ones():
    sections = clean_sections([{"type": "metric", "params": {"metric": "active_users"}}])
    assert sections[0]["title"] == available()["active_users"].title
    with pytest.raises(ValidationError, match="'metric' is one of"):
        clean_sections([{"type": "metric", "params": {"metric": "revenue.mrr"}}])
