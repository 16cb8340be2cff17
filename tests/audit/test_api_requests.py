"""api.request: every organization-scoped API call, buffered, written in bulk to the organization's API chain."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from prometheus_client import REGISTRY

from audit.api_requests import api_chain_id, buffer
from audit.models import AuditEvent
from audit.retention import retention_purge
from audit.selectors import audit_verify

pytestmark = pytest.mark.django_db


def test_calls_are_buffered_then_written_with_route_status_and_latency(acme, client_for):
    client = client_for(acme.member)
    client.get(f"/api/v1/orgs/acme/channels/{acme.public.pk}/messages/", HTTP_X_REQUEST_ID="req-7")
    client.post(f"/api/v1/orgs/acme/channels/{acme.public.pk}/archive")  # refused: 403
    client.get("/api/v1/me")  # not organization-scoped: not an api.request event
    assert not AuditEvent.objects.filter(event_name="api.request").exists()  # nothing written yet
    assert buffer.flush() == 2
    calls = list(AuditEvent.objects.filter(event_name="api.request").order_by("sequence"))
    assert [c.target_label for c in calls] == [
        "GET /api/v1/orgs/<slug:org_slug>/channels/<int:channel_pk>/messages/",
        "POST /api/v1/orgs/<slug:org_slug>/channels/<int:pk>/archive",
    ]
    assert [(c.metadata["status"], c.outcome) for c in calls] == [(200, "success"), (403, "denied")]
    assert calls[0].metadata["latency_ms"] > 0
    assert (calls[0].actor_label, calls[0].request_id, calls[0].category) == (acme.member.email, "req-7", "api_call")
    assert {c.chain for c in calls} == {api_chain_id(acme.org.pk)}
    assert audit_verify(chain_id=api_chain_id(acme.org.pk)).ok


def test_a_failed_write_never_breaks_the_request_and_is_counted(acme, client_for, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr("audit.services._seal_batch", broken)
    before = REGISTRY.get_sample_value("chatapp_audit_write_failures_total", {"kind": "api.request"}) or 0
    assert client_for(acme.member).get("/api/v1/orgs/acme/channels/").status_code == 200
    assert buffer.flush() == 0
    after = REGISTRY.get_sample_value("chatapp_audit_write_failures_total", {"kind": "api.request"})
    assert after == before + 1


def test_api_calls_keep_their_own_shorter_retention(acme, client_for):
    with time_machine.travel(timezone.now() - timedelta(days=100), tick=False):
        client_for(acme.member).get("/api/v1/orgs/acme/channels/")
        client_for(acme.member).post("/api/v1/orgs/acme/channels/", {"name": "old"})  # a data change, 100 days old
        buffer.flush()
    client_for(acme.member).get("/api/v1/orgs/acme/channels/")
    buffer.flush()
    assert retention_purge(org=acme.org) == 2  # two API calls older than 90 days; the channel event stays
    assert AuditEvent.objects.filter(event_name="channel.created", organization=acme.org).exists()
    assert AuditEvent.objects.filter(chain=api_chain_id(acme.org.pk)).count() == 1
    assert audit_verify(chain_id=api_chain_id(acme.org.pk)).ok and audit_verify(org=acme.org).ok


def test_verify_endpoint_covers_both_chains(acme, client_for):
    client_for(acme.member).get("/api/v1/orgs/acme/channels/")
    buffer.flush()
    body = client_for(acme.owner).get("/api/v1/orgs/acme/audit/verify").json()
    assert body["status"] == "ok"
    assert body["api_calls"]["checked"] == 1


def test_written_after_the_response_when_due(acme, client_for, settings):
    settings.AUDIT_API_AUTOFLUSH = True
    settings.AUDIT_API_FLUSH_SECONDS = 3600
    settings.AUDIT_API_FLUSH_MAX = 2
    client = client_for(acme.member)
    client.get("/api/v1/orgs/acme/channels/")
    assert not AuditEvent.objects.filter(event_name="api.request").exists()  # not due yet: one event waits
    client.get("/api/v1/orgs/acme/channels/")
    assert AuditEvent.objects.filter(event_name="api.request").count() == 2  # the buffer filled: written
