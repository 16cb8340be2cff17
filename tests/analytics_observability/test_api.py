"""/api/v1/orgs/{org}/analytics/errors|performance/... and the operator's /api/v1/instance/analytics/..."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.observability.models import EndpointHour, ErrorIssue, ErrorProject, IssueStatus
from analytics.observability.perf import buffer
from audit.models import AuditEvent
from tests.analytics_observability.envelope import envelope, exception_event
from tests.analytics_observability.test_ingest import post
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ERRORS = "/api/v1/orgs/{}/analytics/errors/"
PROJECTS = "/api/v1/orgs/{}/analytics/errors/projects/"
PERF = "/api/v1/orgs/{}/analytics/performance/"


def make_issues(project, count, first=0):
    for index in range(first, first + count):
        post(project, envelope(("event", exception_event(function=f"f{index}"))))


def test_issue_list_detail_and_query_count(acme, project, client_for, django_assert_max_num_queries):
    make_issues(project, 3)
    client = client_for(acme.admin)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(ERRORS.format("acme")).json()["results"]) == 3
    baseline = len(few.captured_queries)
    make_issues(project, 30, first=3)
    with django_assert_max_num_queries(baseline):  # a page of 33 costs what a page of 3 did
        body = client.get(ERRORS.format("acme"), {"page_size": 50}).json()
    assert len(body["results"]) == 33 and body["results"][0]["project"] == {"id": project.pk, "name": "web"}
    issue = body["results"][0]
    detail = client.get(f"{ERRORS.format('acme')}{issue['id']}/").json()
    assert detail["latest_event"]["data"]["exception"]["values"][0]["type"] == "KeyError"
    assert len(detail["hourly"]) == 24 and detail["hourly"][-1]["count"] == 1


def test_filters_and_bad_filters(acme, project, client_for):
    make_issues(project, 2)
    client = client_for(acme.admin)
    first = ErrorIssue.objects.order_by("id").first()
    client.post(f"{ERRORS.format('acme')}{first.pk}/resolve")
    assert [i["id"] for i in client.get(ERRORS.format("acme"), {"status": "resolved"}).json()["results"]] == [first.pk]
    assert len(client.get(ERRORS.format("acme"), {"q": "f1"}).json()["results"]) == 1
    response = client.get(ERRORS.format("acme"), {"status": "fixed"})
    assert response.status_code == 400 and "status" in response.json()["errors"]


def test_resolve_ignore_unresolve_are_audited(acme, project, client_for):
    make_issues(project, 1)
    issue = ErrorIssue.objects.get()
    client = client_for(acme.admin)
    url = f"{ERRORS.format('acme')}{issue.pk}/"
    assert client.post(url + "resolve").json()["status"] == "resolved"
    assert client.post(url + "ignore").json()["status"] == "ignored"
    assert client.post(url + "unresolve").json()["status"] == "unresolved"
    names = list(AuditEvent.objects.filter(organization=acme.org, event_name__startswith="errors.issue")
                 .order_by("id").values_list("event_name", flat=True))  # fmt: skip
    assert names == ["errors.issue.resolved", "errors.issue.ignored", "errors.issue.reopened"]


def test_members_without_the_permission_are_refused(acme, project, client_for):
    make_issues(project, 1)
    issue = ErrorIssue.objects.get()
    member = client_for(acme.member)
    assert member.get(ERRORS.format("acme")).status_code == 403
    assert member.post(f"{ERRORS.format('acme')}{issue.pk}/resolve").status_code == 403
    assert member.get(PERF.format("acme") + "endpoints").status_code == 403
    assert member.post(PROJECTS.format("acme"), {"name": "x"}, format="json").status_code == 403
    assert ErrorIssue.objects.get().status == IssueStatus.UNRESOLVED and ErrorProject.objects.count() == 1
    assert client_for(acme.auditor).get(ERRORS.format("acme")).status_code == 403


def test_another_organizations_issues_and_projects_are_404(acme, globex, globex_project, client_for):
    make_issues(globex_project, 1)
    issue = ErrorIssue.objects.get()
    client = client_for(acme.owner)
    assert client.get(ERRORS.format("acme")).json()["results"] == []
    for url in (f"{ERRORS.format('acme')}{issue.pk}/", f"{PROJECTS.format('acme')}{globex_project.pk}/"):
        assert client.get(url).status_code == 404
    assert client.post(f"{ERRORS.format('acme')}{issue.pk}/resolve").status_code == 404
    assert (
        client.patch(f"{PROJECTS.format('acme')}{globex_project.pk}/", {"name": "x"}, format="json").status_code == 404
    )
    assert client.get(ERRORS.format("globex")).status_code == 404
    issue.refresh_from_db()
    globex_project.refresh_from_db()
    assert issue.status == IssueStatus.UNRESOLVED and globex_project.name == "globex web"


def test_projects_create_update_rotate_delete(acme, client_for):
    client = client_for(acme.owner)
    created = client.post(PROJECTS.format("acme"), {"name": "ios", "platform": "cocoa",
                                                    "alert_emails": ["dev@acme.test"]}, format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["dsn"] == f"http://{body['public_key']}@testserver/ingest/sentry/{body['id']}"
    url = f"{PROJECTS.format('acme')}{body['id']}/"
    assert client.patch(url, {"rate_limit_per_minute": 10}, format="json").json()["rate_limit_per_minute"] == 10
    rotated = client.post(url + "rotate-key").json()
    assert rotated["public_key"] != body["public_key"]
    assert client.delete(url).status_code == 204 and not ErrorProject.objects.exists()
    names = set(AuditEvent.objects.filter(organization=acme.org).values_list("event_name", flat=True))
    assert {"errors.project.created", "errors.project.updated", "errors.project.key_rotated",
            "errors.project.deleted"} <= names  # fmt: skip


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x", "alert_webhook_url": "http://127.0.0.1/hook"}, "alert_webhook_url"),
        ({"name": "x", "alert_emails": ["not-an-address"]}, "alert_emails"),
        ({"name": "x", "rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_project_input_is_a_400_and_nothing_is_written(acme, client_for, payload, field):
    response = client_for(acme.owner).post(PROJECTS.format("acme"), payload, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert not ErrorProject.objects.exists()


def test_a_duplicate_project_name_is_a_400(acme, project, client_for):
    response = client_for(acme.owner).post(PROJECTS.format("acme"), {"name": "web"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]


def test_performance_counts_requests_by_route_pattern_per_organization(acme, globex, client_for):
    client = client_for(acme.admin)
    for channel in (acme.public, acme.private):
        client.get(f"/api/v1/orgs/acme/channels/{channel.pk}/")
    client_for(globex.admin).get(f"/api/v1/orgs/globex/channels/{globex.public.pk}/")
    buffer.flush()
    rows = client.get(PERF.format("acme") + "endpoints", {"order": "requests"}).json()["results"]
    route = "GET /api/v1/orgs/<slug:org_slug>/channels/<int:pk>/"
    mine = next(row for row in rows if row["route"] == route)
    assert mine["requests"] == 2 and mine["errors"] == 0 and mine["p95_ms"] > 0 and mine["db_queries_per_request"] > 0
    series = client.get(PERF.format("acme") + "series", {"metric": "requests"}).json()
    assert len(series["points"]) == 25 and series["points"][-1]["value"] >= 2
    slo = client.get(PERF.format("acme") + "slo").json()
    assert slo["requests"] >= 2 and slo["availability"]["met"] is True
    instance = client_for(UserFactory(is_superuser=True)).get(
        "/api/v1/instance/analytics/performance/endpoints", {"order": "requests"}
    )
    assert next(row for row in instance.json()["results"] if row["route"] == route)["requests"] == 3


def test_performance_bad_queries_are_400(acme, client_for):
    client = client_for(acme.admin)
    for params in ({"metric": "nope"}, {"metric": "requests", "interval": "minute"},
                   {"metric": "requests", "start": "2026-01-02T00:00Z", "end": "2026-01-01T00:00Z"},
                   {"metric": "requests", "start": "2020-01-01T00:00Z", "end": "2026-01-01T00:00Z"}):  # fmt: skip
        assert client.get(PERF.format("acme") + "series", params).status_code == 400, params
    assert client.get(PERF.format("acme") + "slo", {"days": 0}).status_code == 400


def test_slo_error_budget_and_burn(acme, client_for, settings):
    now = timezone.now().replace(minute=30)
    hour = now.replace(minute=0, second=0, microsecond=0)
    # 10,000 requests an hour for the last 6 hours, 5 failures each (0.05 %), all under 100 ms; one bad hour before.
    for back in range(6):
        EndpointHour.objects.create(scope=acme.org.pk, hour=hour - timedelta(hours=back), route="GET /x",
                                    requests=10_000, errors=5, b3=10_000)  # fmt: skip
    EndpointHour.objects.create(scope=acme.org.pk, hour=hour - timedelta(hours=10), route="GET /x",
                                requests=1000, errors=100, b7=1000)  # fmt: skip
    slo = client_for(acme.admin).get(PERF.format("acme") + "slo", {"days": 1}).json()
    assert slo["requests"] == 61_000
    assert slo["errors"]["burn_rate_1h"] == 0.5 and slo["errors"]["budget_spent_requests"] == 130
    assert slo["errors"]["met"] is False  # 130 / 61,000 = 0.21 %
    assert slo["availability"]["down_hours"] == 1 and slo["availability"]["met"] is False
    assert slo["latency"]["met"] is True and slo["latency"]["share_within_target"] == pytest.approx(60 / 61)


def test_instance_endpoints_are_for_superusers_and_audited(acme, client_for, anon):
    urls = ["/api/v1/instance/analytics/performance/endpoints", "/api/v1/instance/analytics/performance/slo",
            "/api/v1/instance/analytics/performance/tasks", "/api/v1/instance/analytics/errors/",
            "/api/v1/instance/analytics/performance/series?metric=error_events"]  # fmt: skip
    for url in urls:
        assert anon.get(url).status_code in (401, 403)
        assert client_for(acme.owner).get(url).status_code == 403
    operator = client_for(UserFactory(is_superuser=True))
    for url in urls:
        assert operator.get(url).status_code == 200, url
    assert AuditEvent.objects.filter(event_name="performance.instance_read").count() == len(urls)


def test_instance_error_list_shows_server_issues_only(acme, project, client_for):
    make_issues(project, 1)
    server = ErrorIssue.objects.create(fingerprint="a" * 64, title="server boom", first_seen=timezone.now(),
                                       last_seen=timezone.now())  # fmt: skip
    operator = client_for(UserFactory(is_superuser=True))
    body = operator.get("/api/v1/instance/analytics/errors/").json()
    assert [item["id"] for item in body["results"]] == [server.pk]
    assert operator.post(f"/api/v1/instance/analytics/errors/{server.pk}/ignore").json()["status"] == "ignored"
    assert operator.get(f"/api/v1/instance/analytics/errors/{ErrorIssue.objects.exclude(pk=server.pk).get().pk}/"
                        ).status_code == 404  # fmt: skip
