"""The OCSF export: every line an OCSF event with the base fields, and our events in the right OCSF classes."""

import json

import pytest
from django.core.management import call_command
from django.db import transaction

from audit.api_requests import api_chain_id, buffer
from audit.context import RequestContext
from audit.export import EXPORT_FIELDS, export_lines
from audit.models import PLATFORM_CHAIN, ActorType, AuditEvent
from audit.services import Actor, audit_record
from chatapp.chat import services as chat

pytestmark = pytest.mark.django_db

# OCSF base event attributes every class requires, and the ones we promise besides.
REQUIRED = {"class_uid", "category_uid", "activity_id", "type_uid", "severity_id", "time", "metadata"}
PROMISED = {"status_id", "status", "actor", "src_endpoint", "http_request", "unmapped"}
CTX = RequestContext(ip="203.0.113.9", user_agent="sso-client/2.0", request_id="req-7")


def ocsf_lines(chain_id: int) -> list[dict]:
    rows = AuditEvent.objects.filter(chain=chain_id).order_by("sequence").values(*EXPORT_FIELDS)
    return [json.loads(line) for line in export_lines(rows.iterator(), "ocsf")]


def by_name(lines: list[dict]) -> dict[str, dict]:
    return {line["unmapped"]["event_name"]: line for line in lines}


def assert_base_fields(line: dict, chain: int, sequence: int):
    assert set(line) >= REQUIRED | PROMISED
    assert line["type_uid"] == line["class_uid"] * 100 + line["activity_id"]
    assert line["category_uid"] == line["class_uid"] // 1000
    assert line["metadata"]["product"] == {"name": "chatapp", "vendor_name": "chatapp"}
    assert line["metadata"]["version"] == "1.3.0"
    assert line["metadata"]["uid"] == f"{chain}:{sequence}"


def test_login_and_failed_login_are_authentication_events(acme):
    with transaction.atomic():
        audit_record(org=None, event="auth.login", actor=acme.owner, target=acme.owner,
                     request_context=CTX)  # fmt: skip
        audit_record(
            org=None,
            event="auth.login_failed",
            actor=Actor(ActorType.USER, "", "mallory@example.com"),
            outcome="failure",
            request_context=CTX,
        )
    lines = ocsf_lines(PLATFORM_CHAIN)
    for sequence, line in enumerate(lines, start=1):
        assert_base_fields(line, PLATFORM_CHAIN, sequence)
    login, failed = by_name(lines)["auth.login"], by_name(lines)["auth.login_failed"]
    assert (login["class_uid"], login["activity_id"], login["status_id"], login["severity_id"]) == (3002, 1, 1, 1)
    assert login["actor"]["user"] == {"uid": str(acme.owner.pk), "name": acme.owner.email, "type": "user"}
    assert login["src_endpoint"] == {"ip": "203.0.113.9"}
    assert login["http_request"] == {"user_agent": "sso-client/2.0"}
    assert login["metadata"]["correlation_uid"] == "req-7"
    assert (failed["class_uid"], failed["activity_id"], failed["status_id"]) == (3002, 1, 2)
    assert failed["status"] == "Failure"
    assert failed["user"]["name"] == "mallory@example.com"
    assert failed["severity_id"] == 2
    # OCSF time is milliseconds since the epoch, the same instant as the sealed occurred_at
    row = AuditEvent.objects.get(chain=PLATFORM_CHAIN, event_name="auth.login_failed")
    assert failed["time"] == int(row.occurred_at.timestamp() * 1000)


def test_a_data_change_is_an_api_activity_update_with_its_resource_and_unmapped_fields(acme):
    channel = chat.channel_create(actor=acme.owner, org=acme.org, name="ocsf")
    chat.channel_update(actor=acme.owner, org=acme.org, channel=channel, topic="Schemas")
    lines = by_name(ocsf_lines(acme.org.pk))
    created, updated = lines["channel.created"], lines["channel.updated"]
    assert (created["class_uid"], created["activity_id"], created["activity_name"]) == (6003, 1, "Create")
    assert (updated["class_uid"], updated["activity_id"], updated["activity_name"]) == (6003, 3, "Update")
    assert updated["api"]["operation"] == "channel.updated"
    assert updated["resources"] == [{"type": "chat.channel", "uid": str(channel.pk), "name": str(channel)}]
    assert updated["unmapped"]["changes"] == {"topic": ["", "Schemas"]}
    row = AuditEvent.objects.get(chain=acme.org.pk, event_name="channel.updated")
    assert updated["unmapped"]["hash"] == row.hash  # the seal travels with the event
    assert_base_fields(updated, acme.org.pk, row.sequence)


def test_api_request_activity_follows_the_http_method(acme, client_for):
    buffer.clear()
    client_for(acme.owner).get(f"/api/v1/orgs/acme/channels/{acme.public.pk}/", HTTP_USER_AGENT="cli/1.0")
    client_for(acme.member).post(f"/api/v1/orgs/acme/channels/{acme.public.pk}/archive")  # refused: 403
    buffer.flush()
    lines = ocsf_lines(api_chain_id(acme.org.pk))
    read, refused = lines
    assert (read["class_uid"], read["activity_id"], read["status_id"]) == (6003, 2, 1)
    assert read["http_request"]["user_agent"] == "cli/1.0"
    assert read["unmapped"]["metadata"]["status"] == 200
    assert (refused["class_uid"], refused["activity_id"], refused["status_id"]) == (6003, 1, 2)
    assert (refused["status_detail"], refused["severity_id"]) == ("denied", 3)
    for sequence, line in enumerate(lines, start=1):
        assert_base_fields(line, api_chain_id(acme.org.pk), sequence)


def test_api_and_command_export_ocsf(acme, client_for, tmp_path):
    chat.channel_create(actor=acme.owner, org=acme.org, name="exported")
    response = client_for(acme.auditor).get("/api/v1/orgs/acme/audit/export", {"type": "ocsf", "event": "channel."})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.ocsf.jsonl"')
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [line["api"]["operation"] for line in lines] == ["channel.created"]
    out = tmp_path / "acme.ocsf.jsonl"
    call_command("audit_export", "--org", "acme", "--type", "ocsf", "--output", str(out))
    names = [json.loads(line)["unmapped"]["event_name"] for line in out.read_text().splitlines()]
    assert names[0] == "channel.created" and "audit.exported" in names
