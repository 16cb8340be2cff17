"""Other apps' series reach dashboards through the metric catalogue: performance per organization and for the
operator, revenue for the operator only."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_performance_metrics_per_organization(acme, client_for):
    client = client_for(acme.owner)
    client.get("/api/v1/orgs/acme/channels/")  # a request the middleware counts (flushed below)
    from analytics.observability.perf import buffer

    buffer.flush()
    response = client.get(
        "/api/v1/orgs/acme/analytics/series", {"metric": "requests", "interval": "hour", "range": "1d"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    values = [v for serie in body["series"] for v in serie["values"] if v]
    assert sum(values) >= 1
    latency = client.get("/api/v1/orgs/acme/analytics/series", {"metric": "latency_p95", "interval": "hour"})
    assert latency.status_code == 200, latency.content
    weekly = client.get("/api/v1/orgs/acme/analytics/series", {"metric": "latency_p95", "interval": "week"})
    assert weekly.status_code == 400 and "interval" in str(weekly.json())


def test_revenue_is_instance_wide_only(acme, client_for):
    org = client_for(acme.owner).get("/api/v1/orgs/acme/analytics/series", {"metric": "revenue.mrr"})
    assert org.status_code == 400 and "not available per organization" in str(org.json())
    operator = client_for(UserFactory(is_staff=True, is_superuser=True))
    response = operator.get("/api/v1/instance/analytics/series", {"metric": "revenue.mrr", "interval": "month"})
    assert response.status_code == 200, response.content
    assert response.json()["series"][0]["values"]  # one value per month of the default range
