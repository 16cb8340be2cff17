"""The admin screens: pages render with filters and search; saves and actions go through the services."""

import pytest

from analytics.observability.models import ErrorIssue, ErrorProject, IssueStatus
from analytics.observability.perf import buffer
from audit.models import AuditEvent
from tests.analytics_observability.envelope import envelope, exception_event
from tests.analytics_observability.test_ingest import post
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_pages_render_with_filters_and_search(acme, project, root):
    post(project, envelope(("event", exception_event(value="secret=hunter2hunter2"))))
    buffer.record_request(route="GET /x", status=200, duration_ms=12.0, db_queries=3)
    buffer.record_task(task="chat.retention", duration_ms=40.0, failed=False, lag_ms=5.0)
    buffer.flush()
    issue = ErrorIssue.objects.get()
    for path in ["/admin/observability/errorissue/", "/admin/observability/errorissue/?status__exact=unresolved",
                 "/admin/observability/errorissue/?q=KeyError", f"/admin/observability/errorissue/{issue.pk}/change/",
                 "/admin/observability/errorproject/", "/admin/observability/errorproject/add/",
                 f"/admin/observability/errorproject/{project.pk}/change/", "/admin/observability/endpointhour/",
                 "/admin/observability/taskhour/"]:  # fmt: skip
        response = root.get(path)
        assert response.status_code == 200, path
    page = root.get(f"/admin/observability/errorissue/{issue.pk}/change/").content.decode()
    assert "KeyError" in page and "hunter2hunter2" not in page
    assert "KeyError" in root.get("/admin/observability/errorissue/?q=KeyError").content.decode()
    assert "KeyError" not in root.get("/admin/observability/errorissue/?q=nothing-like-it").content.decode()


def test_issue_actions_call_the_services(acme, project, root):
    post(project, envelope(("event", exception_event())))
    issue = ErrorIssue.objects.get()
    for action, status in [("resolve", IssueStatus.RESOLVED), ("ignore", IssueStatus.IGNORED)]:
        response = root.post("/admin/observability/errorissue/", {"action": action, "_selected_action": [issue.pk]})
        assert response.status_code == 302
        issue.refresh_from_db()
        assert issue.status == status
    assert AuditEvent.objects.filter(event_name__in=["errors.issue.resolved", "errors.issue.ignored"]).count() == 2


def test_project_add_and_refused_save(acme, root):
    response = root.post("/admin/observability/errorproject/add/", {
        "organization": acme.org.pk, "name": "android", "platform": "android", "is_active": "on",
        "rate_limit_per_minute": 100, "alert_emails": "a@acme.test\nb@acme.test", "alert_webhook_url": ""})  # fmt: skip
    assert response.status_code == 302
    project = ErrorProject.objects.get()
    assert project.alert_emails == ["a@acme.test", "b@acme.test"]
    assert AuditEvent.objects.filter(event_name="errors.project.created").count() == 1
    response = root.post(f"/admin/observability/errorproject/{project.pk}/change/", {
        "name": "android", "platform": "android", "is_active": "on", "rate_limit_per_minute": 100,
        "alert_emails": "", "alert_webhook_url": "https://127.0.0.1/hook"}, follow=True)  # fmt: skip
    assert "Not saved" in response.content.decode()
    project.refresh_from_db()
    assert project.alert_webhook_url == "" and project.alert_emails == ["a@acme.test", "b@acme.test"]


def test_rotate_key_action(acme, project, root):
    old = project.public_key
    root.post("/admin/observability/errorproject/", {"action": "rotate_key", "_selected_action": [project.pk]})
    project.refresh_from_db()
    assert project.public_key != old
