"""Retention: purge by category, legal hold, signed checkpoints at the cut, and the chain still verifying."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from audit.models import AuditChain, AuditCheckpoint, AuditEvent, RetentionPolicy
from audit.retention import checkpoint_verify, checkpoints_daily, retention_policy_update, retention_purge
from audit.selectors import audit_verify
from audit.services import audit_record
from chatapp.chat import services as chat

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def record_at(org, actor, when, event="channel.created"):
    with time_machine.travel(when, tick=False), transaction.atomic():
        audit_record(org=org, event=event, actor=actor)


@pytest.fixture
def aged_chain(acme):
    """Sequences 1-3: 500 days old; 4-5: 100 days old; 6: today."""
    for days in (500, 500, 500, 100, 100, 0):
        record_at(acme.org, acme.owner, NOW - timedelta(days=days))
    return acme


def sequences(org):
    return list(AuditEvent.objects.filter(chain=org.pk).order_by("sequence").values_list("sequence", flat=True))


def test_purge_deletes_the_expired_prefix_and_the_chain_still_verifies(aged_chain):
    org = aged_chain.org
    assert retention_purge(org=org, now=NOW) == 3
    assert sequences(org)[:3] == [4, 5, 6]  # and then the purge's own event
    purge_event = AuditEvent.objects.filter(chain=org.pk).order_by("-sequence").first()
    assert purge_event.event_name == "audit.purged"
    assert purge_event.metadata["deleted"] == 3 and purge_event.metadata["through_sequence"] == 3
    head = AuditChain.objects.get(chain=org.pk)
    checkpoint = AuditCheckpoint.objects.get(chain=org.pk, sequence=3)
    assert (head.base_sequence, head.base_hash) == (3, checkpoint.head_hash)
    assert checkpoint_verify(checkpoint)
    assert audit_verify(org=org).ok
    assert retention_purge(org=org, now=NOW) == 0  # nothing more has expired: running it twice is harmless


def test_shorter_retention_for_a_category(aged_chain):
    org = aged_chain.org
    retention_policy_update(actor=aged_chain.owner, org=org, category_days={"data_change": 30})
    assert retention_purge(org=org, now=NOW) == 5
    assert audit_verify(org=org).ok


def test_legal_hold_deletes_nothing(aged_chain):
    org = aged_chain.org
    retention_policy_update(actor=aged_chain.owner, org=org, legal_hold=True, legal_hold_reason="Case 42")
    before = sequences(org)
    assert retention_purge(org=org, now=NOW + timedelta(days=5000)) == 0
    assert sequences(org) == before


def test_a_base_without_a_valid_checkpoint_fails_verification(aged_chain, bypass_triggers):
    org = aged_chain.org
    retention_purge(org=org, now=NOW)
    AuditCheckpoint.objects.filter(chain=org.pk).update(signature="00" * 64)
    result = audit_verify(org=org)
    assert (result.ok, result.first_broken_sequence) == (False, 3)


def test_retention_changes_are_recorded_and_owner_only(acme, client_for):
    url = f"/api/v1/orgs/{acme.org.slug}/audit/retention"
    assert client_for(acme.admin).patch(url, {"category_days": {"api_call": 30}}, format="json").status_code == 403
    response = client_for(acme.owner).patch(url, {"category_days": {"api_call": 30}, "legal_hold": True}, format="json")
    assert response.status_code == 200
    assert response.json()["category_days"]["api_call"] == 30
    assert response.json()["category_days"]["security"] == 400
    assert response.json()["legal_hold"] is True
    changed = AuditEvent.objects.get(organization=acme.org, event_name="audit.retention_changed")
    assert changed.changes["legal_hold"] == [False, True]
    assert client_for(acme.auditor).get(url).json()["legal_hold"] is True
    bad = client_for(acme.owner).patch(url, {"category_days": {"gossip": 3}}, format="json")
    assert bad.status_code == 400
    assert RetentionPolicy.objects.get(organization=acme.org).category_days == {"api_call": 30}


def test_daily_checkpoints_and_their_api(acme, client_for):
    chat.channel_create(actor=acme.member, org=acme.org, name="one")
    assert checkpoints_daily() >= 1
    assert checkpoints_daily() == 0  # nothing grew since
    body = client_for(acme.auditor).get(f"/api/v1/orgs/{acme.org.slug}/audit/checkpoints").json()
    checkpoint = body["results"][0]
    keys = client_for(acme.auditor).get(f"/api/v1/orgs/{acme.org.slug}/audit/checkpoints/keys").json()
    assert checkpoint["key_id"] in keys
    # anyone with the public key can check the signature, without the database or the HMAC key
    from audit import signing

    payload = signing.checkpoint_payload(
        chain=checkpoint["chain"], sequence=checkpoint["sequence"], head_hash=checkpoint["head_hash"],
        event_count=checkpoint["event_count"],
        created_at=AuditCheckpoint.objects.get(pk=checkpoint["id"]).created_at,
    )  # fmt: skip
    assert signing.verify_signature(payload, checkpoint["signature"], keys[checkpoint["key_id"]])
    assert not signing.verify_signature(payload.replace(b'"sequence":', b'"sequence":9'), checkpoint["signature"],
                                        keys[checkpoint["key_id"]])  # fmt: skip
    assert client_for(acme.member).get(f"/api/v1/orgs/{acme.org.slug}/audit/checkpoints").status_code == 403
