"""chatapp's own unhandled exceptions, in requests and Celery tasks, become the operator's server issues."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery import shared_task
from django.test import Client

from analytics.observability.models import ErrorEvent, ErrorIssue, IssueStatus, TaskHour
from analytics.observability.perf import buffer
from analytics.observability.services.issues import issue_resolve
from audit.models import AuditEvent
from tests.analytics_observability.envelope import envelope, exception_event
from tests.analytics_observability.test_ingest import post
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Post one envelope and run what its commit scheduled (alerts), as a real request would."""

    def run(project, event):
        with django_capture_on_commit_callbacks(execute=True):
            return post(project, envelope(("event", event)))

    return run


@shared_task(name="tests.observability.fails")
def failing_task(secret):
    raise ValueError("task failed")


@shared_task(name="tests.observability.works")
def working_task():
    return 1


@pytest.mark.urls("tests.analytics_observability.urls")
def test_an_unhandled_exception_in_a_request_becomes_a_server_issue(
    settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.OBSERVABILITY_ALERT_EMAILS = ["ops@chatapp.test"]
    client = Client(raise_request_exception=False)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            response = client.get("/test-fails/1/", HTTP_X_DEBUG="Bearer debug-SECRET-token-1234")
            assert response.status_code == 500
        client.get("/test-fails/2/")
    first, second = ErrorIssue.objects.order_by("id")
    assert first.organization_id is None and first.project_id is None
    assert (first.title, first.times_seen, second.exception_type) == (
        "RuntimeError: the first way to fail",
        2,
        "LookupError",
    )
    assert first.culprit == "tests.analytics_observability.urls in fails"
    event = ErrorEvent.objects.filter(issue=first).first()
    assert event.data["tags"]["route"] == "GET /test-fails/<int:n>/"
    assert "SECRET" not in json.dumps(event.data)
    assert [m.to for m in mailoutbox] == [["ops@chatapp.test"], ["ops@chatapp.test"]]  # two new issues
    buffer.flush()


def test_a_failing_celery_task_is_captured_and_timed(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    failing_task.apply(args=["sk_live_SECRET0123456789"])
    working_task.apply()
    issue = ErrorIssue.objects.get()
    assert issue.title == "ValueError: task failed" and issue.organization_id is None
    assert "SECRET" not in json.dumps(list(ErrorEvent.objects.values("data")))
    buffer.flush()
    rows = {row.task: row for row in TaskHour.objects.all()}
    assert rows["tests.observability.fails"].failures == 1 and rows["tests.observability.works"].failures == 0
    assert rows["tests.observability.works"].runs == 1


def test_a_resolved_issue_that_happens_again_is_regressed_and_alerts(project, mailoutbox, acme, send):
    project.alert_emails = ["dev@acme.test"]
    project.save()
    send(project, exception_event())
    issue = ErrorIssue.objects.get()
    issue_resolve(actor=acme.admin, org=acme.org, issue=issue)
    send(project, exception_event())
    issue.refresh_from_db()
    assert issue.status == IssueStatus.REGRESSED and issue.times_seen == 2
    assert [m.subject.split(":")[0] for m in mailoutbox] == [
        "[chatapp errors] New issue",
        "[chatapp errors] Regression",
    ]
    names = list(AuditEvent.objects.filter(organization=acme.org).values_list("event_name", flat=True))
    assert "errors.issue.resolved" in names and "errors.issue.regressed" in names


def test_a_spike_alerts_once_an_hour_and_ignored_issues_never(project, mailoutbox, settings, acme, send):
    settings.OBSERVABILITY_SPIKE_MIN_EVENTS = 3
    project.alert_emails = ["dev@acme.test"]
    project.save()
    for _ in range(5):
        send(project, exception_event())
    assert [m.subject.split(":")[0].split("] ")[1] for m in mailoutbox] == ["New issue", "Spike"]
    other = exception_event(function="other")
    send(project, other)
    from analytics.observability.services.issues import issue_ignore

    issue_ignore(actor=acme.admin, org=acme.org, issue=ErrorIssue.objects.get(culprit__endswith="in other"))
    for _ in range(4):
        send(project, exception_event(function="other"))
    assert len(mailoutbox) == 3  # the second issue's "new" only


class _Receiver:
    def __init__(self):
        self.bodies = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def test_a_webhook_alert_goes_through_the_safe_transport(project, settings, send):
    receiver = _Receiver()
    try:
        settings.AUDIT_STREAM_ALLOW_PRIVATE = True  # loopback receiver (tests only)
        project.alert_webhook_url = receiver.url
        project.save()
        send(project, exception_event(value="token=abcdefgh12345"))
        assert [body["type"] for body in receiver.bodies] == ["error_issue.new"]
        assert "abcdefgh12345" not in json.dumps(receiver.bodies)
        settings.AUDIT_STREAM_ALLOW_PRIVATE = False  # the default: loopback is refused, and the refusal audited
        send(project, exception_event(function="again"))
        assert len(receiver.bodies) == 1
        failed = AuditEvent.objects.filter(event_name="errors.alert.failed").get()
        assert failed.outcome == "failure"
    finally:
        receiver.server.shutdown()


def test_only_superusers_manage_server_issues():
    issue = ErrorIssue.objects.create(fingerprint="f" * 64, title="x", first_seen="2026-01-01T00:00Z",
                                      last_seen="2026-01-01T00:00Z")  # fmt: skip
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        issue_resolve(actor=UserFactory(), org=None, issue=issue)
    issue_resolve(actor=UserFactory(is_superuser=True), org=None, issue=issue)
    issue.refresh_from_db()
    assert issue.status == IssueStatus.RESOLVED
