"""The real sentry-sdk, in a separate process, reports to a live chatapp server on loopback."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.observability.models import ErrorEvent, ErrorIssue

USER = json.dumps({"id": "user-42", "email": "alice@example.com", "ip_address": "203.0.113.9"})
CLIENT = Path(__file__).with_name("sdk_client.py")


def run_sdk(dsn: str, calls: str) -> None:
    result = subprocess.run(
        [sys.executable, str(CLIENT), dsn, calls, "pw-SECRET-hunter2", "sk_live_SECRET0123456789abcdef", USER],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def dsn_of(live_server, project, key=None) -> str:
    host = live_server.url.removeprefix("http://")
    return f"http://{key or project.public_key}@{host}/ingest/sentry/{project.pk}"


@pytest.mark.django_db(transaction=True)
def test_an_exception_becomes_an_issue_twice_is_count_two_another_line_another_issue(
    live_server, allow_audit_flush, project, mailoutbox
):
    project.alert_emails = ["oncall@acme.test"]
    project.save()
    run_sdk(dsn_of(live_server, project), "line2,line2")
    issue = ErrorIssue.objects.get(project=project)
    assert issue.times_seen == 2 and issue.users_affected == 1
    assert issue.title == "ValueError: payment declined" and issue.culprit == "__main__ in charge"
    assert issue.organization_id == project.organization_id and issue.last_release == "shop@1.2.3"
    assert issue.events.count() == 2
    assert [m.to for m in mailoutbox] == [["oncall@acme.test"]]  # one alert: the issue is new once

    run_sdk(dsn_of(live_server, project), "line1")
    assert ErrorIssue.objects.filter(project=project).count() == 2
    assert ErrorIssue.objects.get(project=project, pk__gt=issue.pk).times_seen == 1


@pytest.mark.django_db(transaction=True)
def test_secrets_in_local_variables_and_headers_are_not_stored(live_server, allow_audit_flush, project):
    run_sdk(dsn_of(live_server, project), "line2")
    event = ErrorEvent.objects.get(project=project)
    stored = json.dumps(event.data) + json.dumps(list(ErrorIssue.objects.values()), default=str)
    frames = event.data["exception"]["values"][-1]["stacktrace"]["frames"]
    assert any(frame.get("vars") for frame in frames), "the SDK sent local variables"
    assert "SECRET" not in stored
    for personal in ("alice@example.com", "203.0.113.9", "4111111111111111", "user-42"):
        assert personal not in stored
    assert event.user_hash and "user" not in event.data
    headers = event.data["request"]["headers"]
    assert headers["Authorization"] == "[Filtered]" and headers["User-Agent"] == "sdk-test"


@pytest.mark.django_db(transaction=True)
def test_a_wrong_key_stores_nothing(live_server, allow_audit_flush, project):
    run_sdk(dsn_of(live_server, project, key="0" * 32), "line2")
    assert not ErrorIssue.objects.exists()
