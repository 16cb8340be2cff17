"""Slack: v0 signatures within ±300 s, answered at once with the work in a task; Block Kit notifications; and
the import of a workspace export generated here, counted and idempotent."""

import hashlib
import hmac
import io
import json
import time
import zipfile
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from audit.models import AuditEvent
from chatapp.celery import app
from chatapp.chat.models import Channel, Message
from plugins.integrations.models import ImportedItem, SlackImport
from plugins.integrations.slack.importer import import_run
from tests.factories import MembershipFactory
from tests.integrations.conftest import pk_of, written_fixtures

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FIXTURES = written_fixtures("slack")
pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def slack(acme, client_for):
    response = client_for(acme.owner).post(
        f"/api/v1/orgs/{acme.org.slug}/integrations/installations/",
        {
            "integration": "slack",
            "settings": {
                "signing_secret": SIGNING_SECRET,
                "mirrors": [{"slack_channel": "C123ABC456", "channel_id": acme.public.pk}],
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["inbound_url"]


def signed(url, body: bytes, content_type, offset=0, secret=SIGNING_SECRET, signature=None):
    timestamp = str(int(time.time()) + offset)  # computed when the request is made, not when tests are collected
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp, "HTTP_X_SLACK_SIGNATURE": signature or f"v0={digest}"}
    return APIClient().post(url, body, content_type=content_type, **headers)


def event(url, name, **kwargs):
    return signed(url + "events/", json.dumps(FIXTURES[name]).encode(), "application/json", **kwargs)


def test_url_verification_answers_the_challenge(slack):
    response = event(slack, "url_verification__default")
    assert response.status_code == 200 and response.json() == {
        "challenge": FIXTURES["url_verification__default"]["challenge"]
    }


def test_a_message_is_answered_at_once_and_mirrored_by_the_task(acme, slack, django_capture_on_commit_callbacks, eager):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        started = time.monotonic()
        response = event(slack, "event_callback__message")
        assert time.monotonic() - started < 3
    assert response.status_code == 200 and not Message.objects.exists()  # nothing done in the request
    assert len(queued) == 1
    queued[0]()  # the worker runs the task
    assert Message.objects.get(channel=acme.public).body == "**U123ABC456** (Slack): Live long and prospect."
    # Slack retries (no 2xx in 3 s, or X-Slack-Retry-Num): the same event_id is taken once
    with django_capture_on_commit_callbacks(execute=True):
        assert event(slack, "event_callback__message").status_code == 200
    assert Message.objects.count() == 1


def test_bot_messages_and_edits_are_not_mirrored(slack, django_capture_on_commit_callbacks, eager):
    with django_capture_on_commit_callbacks(execute=True):
        event(slack, "event_callback__message_bot")
        event(slack, "event_callback__message_changed")
    assert not Message.objects.exists()


@pytest.mark.parametrize("kwargs", [{"offset": -301}, {"offset": 400},
                                    {"secret": "wrong"}, {"signature": "v0=abc"}, {"signature": "v1=x"}])  # fmt: skip
def test_stale_or_wrong_signatures_are_401_and_do_nothing(slack, kwargs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = event(slack, "event_callback__message", **kwargs)
    assert response.status_code == 401 and queued == [] and not Message.objects.exists()
    assert AuditEvent.objects.filter(event_name="integrations.inbound.refused").exists()


def test_missing_signature_is_401(slack):
    body = json.dumps(FIXTURES["event_callback__message"])
    assert APIClient().post(slack + "events/", body, content_type="application/json").status_code == 401


def test_slash_command_and_message_shortcut(acme, slack, django_capture_on_commit_callbacks, eager):
    form = urlencode(FIXTURES["slash_command__default"]).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = signed(slack + "commands/", form, "application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.json()["response_type"] == "ephemeral"
    shortcut = urlencode({"payload": json.dumps(FIXTURES["interactivity__message_action"])}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert signed(slack + "interactivity/", shortcut, "application/x-www-form-urlencoded").status_code == 200
    actions = urlencode({"payload": json.dumps(FIXTURES["interactivity__block_actions"])}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert signed(slack + "interactivity/", actions, "application/x-www-form-urlencoded").status_code == 200
    bodies = list(Message.objects.order_by("id").values_list("body", flat=True))
    assert bodies == ["**Steve** (Slack): 94070", "**aman** shared from Slack: Can you **share** this?"]
    unmapped = dict(FIXTURES["slash_command__default"], channel_id="C999", trigger_id="t2")
    reply = signed(slack + "commands/", urlencode(unmapped).encode(), "application/x-www-form-urlencoded").json()
    assert "not mirrored" in reply["text"]


def test_block_kit_notification_to_an_incoming_webhook(acme, client_for, slack, receiver):
    client = client_for(acme.owner)
    client.patch(f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('slack')}/",
                 {"settings": {"incoming_webhook_url": receiver.url}}, format="json")  # fmt: skip
    response = client.post(
        f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('slack')}/test-notification/"
    )
    assert response.json() == {"ok": True, "error": ""}
    sent = json.loads(receiver.requests[0]["body"])
    assert [b["type"] for b in sent["blocks"]] == ["header", "section"]
    assert sent["blocks"][0]["text"]["text"] == "chatapp test notification"
    receiver.status = 500
    failed = client.post(
        f"/api/v1/orgs/{acme.org.slug}/integrations/installations/{pk_of('slack')}/test-notification/"
    ).json()
    assert failed == {"ok": False, "error": "Slack answered HTTP 500"}


# --- workspace export import ---------------------------------------------------------------------------------------


def export_zip(acme) -> bytes:
    """A Slack export: 3 users (2 match members by e-mail), 2 channels (one exists here), 7 messages over two
    days with a thread reply, a reaction, a file and a join notice."""
    users = [{"id": "U1", "name": "owner", "profile": {"email": "OWNER@acme.test"}},
             {"id": "U2", "name": "member", "profile": {"email": "member@acme.test"}},
             {"id": "U3", "name": "ghost", "profile": {"email": "ghost@elsewhere.test"}}]  # fmt: skip
    channels = [{"id": "C1", "name": "general"}, {"id": "C2", "name": "random", "topic": {"value": "fun"}}]
    day1 = [
        {"type": "message", "user": "U1", "text": "hello *all*", "ts": "1700000000.000100",
         "reactions": [{"name": "wave", "count": 2, "users": ["U2", "U3"]}]},
        {"type": "message", "user": "U2", "text": "hi", "ts": "1700000001.000100",
         "thread_ts": "1700000000.000100"},
        {"type": "message", "subtype": "channel_join", "user": "U3", "text": "<@U3> has joined",
         "ts": "1700000002.000100"},
    ]  # fmt: skip
    day2 = [
        {"type": "message", "user": "U3", "text": "from a stranger", "ts": "1700090000.000100"},
        {"type": "message", "user": "U1", "text": "file", "ts": "1700090001.000100", "files": [{"id": "F1"}]},
    ]
    random = [
        {"type": "message", "user": "U2", "text": "r1", "ts": "1700000100.000100"},
        {"type": "message", "user": "U1", "text": "r2", "ts": "1700000200.000100"},
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("users.json", json.dumps(users))
        archive.writestr("channels.json", json.dumps(channels))
        archive.writestr("general/2023-11-14.json", json.dumps(day1))
        archive.writestr("general/2023-11-15.json", json.dumps(day2))
        archive.writestr("random/2023-11-14.json", json.dumps(random))
    return buffer.getvalue()


def test_a_slack_export_imports_with_the_right_counts_and_a_rerun_duplicates_nothing(acme, client_for, eager):
    client = client_for(acme.owner)
    before = Message.objects.count()
    upload = SimpleUploadedFile("export.zip", export_zip(acme), content_type="application/zip")
    response = client.post(f"/api/v1/orgs/{acme.org.slug}/integrations/slack/imports/", {"file": upload},
                           format="multipart")  # fmt: skip
    assert response.status_code == 202, response.json()
    job = SlackImport.objects.get()
    import_run(job.pk)  # the task (run here: on_commit does not fire inside the test's transaction)
    shown = client.get(f"/api/v1/orgs/{acme.org.slug}/integrations/slack/imports/{job.pk}/").json()
    assert shown["status"] == "done"
    assert shown["progress"] == {"channels": 2, "messages": 6, "skipped_existing": 0, "total_messages": 7}
    assert shown["unmapped"] == {"users": ["ghost"], "reactions": 2, "files": 1, "notices": 1,
                                 "threads_flattened": 1}  # fmt: skip
    assert Message.objects.count() - before == 6
    random = Channel.objects.get(organization=acme.org, name="random")
    assert random.topic == "fun" and Channel.objects.filter(organization=acme.org, name="general").count() == 1
    general = list(Message.objects.filter(channel=acme.public).order_by("created").values_list("author__email", "body"))
    assert general == [("owner@acme.test", "hello **all**"), ("member@acme.test", "↳ hi"),
                       ("slack-bot.acme@bots.chatapp.invalid", "**ghost** (Slack): from a stranger"),
                       ("owner@acme.test", "file")]  # fmt: skip
    assert (
        Message.objects.filter(channel=acme.public).order_by("created").first().created.timestamp() == 1700000000.0001
    )

    # the same job again, and the same export uploaded again: nothing is duplicated
    SlackImport.objects.filter(pk=job.pk).update(status="running")
    again = import_run(job.pk)
    assert again.progress["messages"] == 0 and again.progress["skipped_existing"] == 6
    second = SimpleUploadedFile("export.zip", export_zip(acme), content_type="application/zip")
    client.post(f"/api/v1/orgs/{acme.org.slug}/integrations/slack/imports/", {"file": second}, format="multipart")
    import_run(SlackImport.objects.latest("id").pk)
    assert Message.objects.count() - before == 6 and ImportedItem.objects.filter(kind="message").count() == 6
    assert Channel.objects.filter(organization=acme.org, name="random").count() == 1


def test_import_refuses_what_is_not_a_zip_and_is_org_isolated(acme, globex, client_for):
    client = client_for(acme.owner)
    bad = SimpleUploadedFile("export.zip", b"not a zip", content_type="application/zip")
    response = client.post(f"/api/v1/orgs/{acme.org.slug}/integrations/slack/imports/", {"file": bad},
                           format="multipart")  # fmt: skip
    assert response.status_code == 400 and not SlackImport.objects.exists()
    MembershipFactory(organization=globex.org, user=acme.owner, role="owner")
    upload = SimpleUploadedFile("export.zip", export_zip(acme), content_type="application/zip")
    client.post(f"/api/v1/orgs/{acme.org.slug}/integrations/slack/imports/", {"file": upload}, format="multipart")
    job = SlackImport.objects.get()
    assert (
        client_for(globex.owner).get(f"/api/v1/orgs/{globex.org.slug}/integrations/slack/imports/{job.pk}/").status_code
        == 404
    )
