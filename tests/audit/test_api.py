import pytest

from audit.models import AuditEvent
from chatapp.chat import services as chat
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def events_url(org):
    return f"/api/v1/orgs/{org.org.slug}/audit/events"


@pytest.fixture
def history(acme):
    channel = chat.channel_create(actor=acme.member, org=acme.org, name="design")
    chat.channel_update(actor=acme.owner, org=acme.org, channel=channel, topic="Pixels")
    chat.message_post(actor=acme.member, org=acme.org, channel=channel, body="hello")
    return channel


def test_admins_read_events_newest_first_with_context(acme, history, client_for):
    response = client_for(acme.admin).get(events_url(acme), HTTP_USER_AGENT="pytest-agent")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [e["event"] for e in results] == ["message.posted", "channel.updated", "channel.created"]
    assert results[1]["changes"] == {"topic": ["", "Pixels"]}
    assert results[1]["actor"] == {"type": "user", "id": str(acme.owner.pk), "label": acme.owner.email}
    assert results[2]["target"]["id"] == str(history.pk)
    assert "body" not in str(results[0]) and "hello" not in str(results[0])


def test_filters(acme, history, client_for):
    client = client_for(acme.owner)
    by_prefix = client.get(events_url(acme), {"event": "channel."}).json()["results"]
    assert {e["event"] for e in by_prefix} == {"channel.created", "channel.updated"}
    by_actor = client.get(events_url(acme), {"actor_id": acme.owner.pk, "event": "channel."}).json()["results"]
    assert [e["event"] for e in by_actor] == ["channel.updated"]
    by_target = client.get(events_url(acme), {"target_type": "chat.channel", "target_id": history.pk}).json()
    assert len(by_target["results"]) == 2
    assert client.get(events_url(acme), {"event": "nothing."}).json()["results"] == []
    assert client.get(events_url(acme), {"category": "nonsense"}).status_code == 400


def test_reading_is_itself_recorded_with_the_request_context(acme, history, client_for):
    client_for(acme.owner).get(events_url(acme), {"event": "channel."}, HTTP_X_REQUEST_ID="req-123",
                                REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="auditor-tool/1.0")  # fmt: skip
    read = AuditEvent.objects.filter(organization=acme.org, event_name="audit.events_read").get()
    assert read.metadata == {"filters": {"event": "channel."}}
    assert (read.request_id, read.ip, read.user_agent) == ("req-123", "203.0.113.9", "auditor-tool/1.0")


def test_trusted_proxy_decides_the_client_address(acme, history, client_for, settings):
    settings.AUDIT_TRUSTED_PROXIES = 1
    client_for(acme.owner).get(events_url(acme), REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.7")
    read = AuditEvent.objects.filter(organization=acme.org, event_name="audit.events_read").get()
    assert read.ip == "198.51.100.7"  # the entry the proxy appended; "1.1.1.1" could be forged by the client


@pytest.mark.parametrize("role", ["member", "guest"])
def test_without_audit_read_it_is_403(acme, history, client_for, role):
    response = client_for(getattr(acme, role)).get(events_url(acme))
    assert response.status_code == 403
    assert "audit.read" in response.json()["detail"]
    assert client_for(getattr(acme, role)).get(events_url(acme).replace("events", "verify")).status_code == 403


def test_verify_endpoint(acme, history, client_for):
    body = client_for(acme.owner).get(f"/api/v1/orgs/{acme.org.slug}/audit/verify").json()
    assert body["status"] == "ok"
    assert body["checked"] == body["last_sequence"] == 3
    assert AuditEvent.objects.filter(organization=acme.org, event_name="audit.verified").exists()


class TestCrossOrganization:
    def test_other_orgs_events_are_invisible(self, acme, globex, history, client_for):
        chat.channel_create(actor=globex.member, org=globex.org, name="globex-only")
        assert client_for(acme.owner).get(events_url(globex)).status_code == 404
        names = [e["target"]["label"] for e in client_for(acme.owner).get(events_url(acme)).json()["results"]]
        assert "#globex-only" not in names


def test_admin_is_read_only(acme, history, client):
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    assert client.get("/admin/audit/auditevent/?q=channel").status_code == 200
    event = AuditEvent.objects.filter(organization=acme.org).first()
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    page = client.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in page


def test_docs_catalogue_is_current():
    from pathlib import Path

    from audit.management.commands.audit_catalogue import catalogue_markdown

    assert catalogue_markdown() in (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()


def test_refusals_are_recorded_as_denied(acme, client_for):
    url = f"/api/v1/orgs/{acme.org.slug}/channels/{acme.public.pk}/archive"
    assert client_for(acme.member).post(url).status_code == 403
    denied = AuditEvent.objects.get(organization=acme.org, event_name="access.denied")
    assert denied.outcome == "denied"
    assert denied.actor_label == acme.member.email
    assert denied.target_label == "POST api/v1/orgs/<slug:org_slug>/channels/<int:pk>/archive"
    assert "channels.manage" in denied.metadata["reason"]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_export_streams_every_sealed_field_and_verifies_offline(acme, history, client_for, kind):
    import csv
    import io
    import json

    response = client_for(acme.auditor).get("/api/v1/orgs/acme/audit/export", {"type": kind, "event": "channel."})
    assert response.status_code == 200
    assert response.streaming
    assert f".{kind}" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    if kind == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["event_name"] for r in rows] == ["channel.created", "channel.updated"]
    assert AuditEvent.objects.filter(organization=acme.org, event_name="audit.exported").count() == 1


def test_export_of_a_whole_chain_verifies_offline(acme, history, client_for):
    import json
    from datetime import datetime

    from audit.chain import verify_rows

    body = b"".join(client_for(acme.owner).get("/api/v1/orgs/acme/audit/export", {"type": "jsonl"}).streaming_content)
    rows = [json.loads(line) for line in body.decode().splitlines()]
    for row in rows:
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
    assert verify_rows(rows, base_sequence=0, base_hash="0" * 64, expected_last=None).ok
    rows[1]["actor_label"] = "tampered"
    assert verify_rows(rows, base_sequence=0, base_hash="0" * 64, expected_last=None).first_broken_sequence == 2


def test_export_refuses_unknown_types_and_readers_without_audit_read(acme, client_for):
    assert client_for(acme.owner).get("/api/v1/orgs/acme/audit/export", {"type": "xml"}).status_code == 400
    assert client_for(acme.member).get("/api/v1/orgs/acme/audit/export").status_code == 403


def test_offline_verification_command(acme, history, client_for, tmp_path):
    from django.core.management import CommandError, call_command

    body = b"".join(client_for(acme.owner).get("/api/v1/orgs/acme/audit/export", {"type": "jsonl"}).streaming_content)
    good = tmp_path / "audit.jsonl"
    good.write_bytes(body)
    call_command("audit_verify_export", str(good))
    bad = tmp_path / "tampered.jsonl"
    bad.write_text(body.decode().replace('"outcome": "success"', '"outcome": "failure"', 1))
    with pytest.raises(CommandError, match="BROKEN at #1"):
        call_command("audit_verify_export", str(bad))


def test_compliance_summary(acme, history, client_for):
    from datetime import timedelta

    from django.utils import timezone

    from accounts import services as accounts

    client_for(acme.member).post(f"/api/v1/orgs/acme/channels/{acme.public.pk}/archive")  # denied
    from rest_framework.test import APIClient

    APIClient().post("/api/v1/auth/session", {"email": acme.member.email, "password": "wrong"}, format="json")
    membership = acme.org.memberships.get(user=acme.guest)
    accounts.member_update(actor=acme.owner, org=acme.org, membership=membership, role="member")
    now = timezone.now()
    url = "/api/v1/orgs/acme/audit/summary"
    body = client_for(acme.auditor).get(url, {"since": (now - timedelta(days=1)).isoformat(),
                                               "until": (now + timedelta(days=1)).isoformat()}).json()  # fmt: skip
    assert body["sections"]["permission_changes"]["events"] == {"member.updated": 1}
    assert body["sections"]["access_denied"]["total"] == 1
    assert body["failed_logins"] == {"total": 1, "by_account": {acme.member.email: 1}}
    assert body["admin_actions"] >= 2  # the owner's channel update and role change
    assert client_for(acme.auditor).get(url, {"since": now.isoformat(), "until": "yesterday"}).status_code == 400
    assert client_for(acme.member).get(url, {"since": now.isoformat(), "until": now.isoformat()}).status_code == 403
