"""Recording, append-only storage and the hash chain."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts import services as account_services
from audit.models import AuditChain, AuditEvent
from audit.registry import RegistryError
from audit.selectors import audit_verify
from audit.services import audit_record, diff
from chatapp.chat import services as chat
from chatapp.kernel.errors import Conflict
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def events_of(org):
    return list(AuditEvent.objects.filter(organization=org).order_by("sequence"))


def test_service_writes_record_their_diff_in_the_same_chain(acme):
    channel = chat.channel_create(actor=acme.member, org=acme.org, name="design", topic="Pixels")
    chat.channel_update(actor=acme.member, org=acme.org, channel=channel, topic="Vectors")
    created, updated = events_of(acme.org)[-2:]
    assert (created.event_name, created.actor_label, created.target_id) == (
        "channel.created", acme.member.email, str(channel.pk)
    )  # fmt: skip
    assert created.changes["name"] == [None, "design"]
    assert updated.changes == {"topic": ["Pixels", "Vectors"]}
    assert updated.sequence == created.sequence + 1
    assert updated.prev_hash == created.hash
    assert audit_verify(org=acme.org).ok


def test_a_refused_change_records_nothing(acme):
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        chat.channel_create(actor=acme.member, org=acme.org, name="general")
    assert AuditEvent.objects.count() == before


def test_event_rolls_back_with_the_change(acme):
    chat.channel_create(actor=acme.member, org=acme.org, name="kept")
    with pytest.raises(RuntimeError), transaction.atomic():
        chat.channel_create(actor=acme.member, org=acme.org, name="doomed")
        raise RuntimeError("the caller's transaction fails after the service")
    assert [e.event_name for e in events_of(acme.org)] == ["channel.created"]
    assert AuditChain.objects.get(chain=acme.org.pk).last_sequence == 1
    assert audit_verify(org=acme.org).ok


@pytest.mark.django_db(transaction=True)
def test_recording_needs_a_transaction(allow_audit_flush):
    org = OrganizationFactory()
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(org=org, event="channel.created")
    assert not AuditEvent.objects.exists()


def test_recording_needs_a_declared_event(acme):
    with pytest.raises(RegistryError, match="unknown audit event"):
        audit_record(org=acme.org, event="channel.teleported")


def test_secrets_never_reach_the_audit_trail(db):
    user = account_services.user_create(email="new@example.com", password="Very-secret-passw0rd!")
    with transaction.atomic():
        audit_record(org=None, event="user.created", target=user, changes={"password": ["old-pw", "new-pw"]},
                     metadata={"client_secret": "s3cr3t", "nested": {"bind_password": "pw"}})  # fmt: skip
    dump = str(list(AuditEvent.objects.values()))
    for secret in ("Very-secret-passw0rd!", "old-pw", "new-pw", "s3cr3t", "'pw'", user.password):
        assert secret not in dump
    assert diff({"api_token": "a"}, {"api_token": "b"}) == {"api_token": "[redacted]"}


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_auditevent SET outcome = 'failure'", "DELETE FROM audit_auditevent"]
)
def test_database_refuses_update_and_delete(acme, statement):
    chat.channel_create(actor=acme.member, org=acme.org, name="evidence")
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEvent.objects.filter(event_name="channel.created", outcome="success").exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="TRUNCATE triggers exist on PostgreSQL only")
def test_postgres_refuses_truncate(acme):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent CASCADE")


def make_chain(org, actor, count=6):
    for i in range(count):
        chat.channel_create(actor=actor, org=org, name=f"c{i}")
    return [e.sequence for e in events_of(org)]


def test_verify_finds_an_altered_field_at_its_sequence(acme, bypass_triggers):
    sequences = make_chain(acme.org, acme.member)
    target = sequences[3]
    AuditEvent.objects.filter(chain=acme.org.pk, sequence=target).update(actor_label="someone-else@acme.test")
    result = audit_verify(org=acme.org)
    assert (result.ok, result.first_broken_sequence) == (False, target)
    assert "altered" in result.reason


def test_verify_finds_a_deleted_row(acme, bypass_triggers):
    sequences = make_chain(acme.org, acme.member)
    AuditEvent.objects.filter(chain=acme.org.pk, sequence=sequences[2]).delete()
    result = audit_verify(org=acme.org)
    assert (result.ok, result.first_broken_sequence) == (False, sequences[2])


def test_verify_finds_deleted_rows_at_the_end(acme, bypass_triggers):
    sequences = make_chain(acme.org, acme.member)
    AuditEvent.objects.filter(chain=acme.org.pk, sequence=sequences[-1]).delete()
    result = audit_verify(org=acme.org)
    assert (result.ok, result.first_broken_sequence) == (False, sequences[-1])


def test_verify_finds_two_reordered_rows(acme, bypass_triggers):
    sequences = make_chain(acme.org, acme.member)
    a, b = sequences[2], sequences[3]
    rows = AuditEvent.objects.filter(chain=acme.org.pk)
    rows.filter(sequence=a).update(sequence=-1)
    rows.filter(sequence=b).update(sequence=a)
    rows.filter(sequence=-1).update(sequence=b)
    result = audit_verify(org=acme.org)
    assert (result.ok, result.first_broken_sequence) == (False, a)


def test_rewriting_the_chain_without_the_server_key_is_detected(acme, bypass_triggers):
    """An attacker with database access alters row 3 and re-hashes every later row with a key of their own."""
    from audit import chain

    sequences = make_chain(acme.org, acme.member)
    target = sequences[2]
    rows = AuditEvent.objects.filter(chain=acme.org.pk).order_by("sequence")
    previous = rows.get(sequence=target - 1).hash
    for row in rows.filter(sequence__gte=target).values(*chain.SEALED_FIELDS, "hash", "id"):
        if row["sequence"] == target:
            row["actor_label"] = "framed@acme.test"
        row["prev_hash"] = previous
        previous = chain.seal(row, b"attacker-chosen-key-of-32-bytes!!")
        AuditEvent.objects.filter(pk=row["id"]).update(
            actor_label=row["actor_label"], prev_hash=row["prev_hash"], hash=previous
        )
    AuditChain.objects.filter(chain=acme.org.pk).update(last_hash=previous)
    result = audit_verify(org=acme.org)
    assert (result.ok, result.first_broken_sequence) == (False, target)


def test_verify_command(acme, globex, capsys, bypass_triggers):
    make_chain(acme.org, acme.member, 2)
    make_chain(globex.org, globex.member, 1)
    account_services.user_create(email="platform@example.com", password=None)
    call_command("audit_verify")
    out = capsys.readouterr().out
    assert "acme: ok" in out and "globex: ok" in out and "platform: ok" in out
    AuditEvent.objects.filter(chain=acme.org.pk, sequence=1).update(outcome="denied")
    with pytest.raises(CommandError, match="1 chain"):
        call_command("audit_verify")
    assert "acme: BROKEN at #1" in capsys.readouterr().out
    call_command("audit_verify", org="globex")
    with pytest.raises(CommandError, match="no organization"):
        call_command("audit_verify", org="nope")


def test_key_rotation_keeps_old_events_verifiable(acme, settings):
    make_chain(acme.org, acme.member, 2)
    old_key = dict(settings.AUDIT_HMAC_KEYS)
    settings.AUDIT_HMAC_KEYS = {"k2": "n" * 40, **old_key}
    chat.channel_create(actor=acme.member, org=acme.org, name="after-rotation")
    assert events_of(acme.org)[-1].key_id == "k2"
    assert audit_verify(org=acme.org).ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks between threads need PostgreSQL")
def test_concurrent_writers_make_one_unbroken_chain(allow_audit_flush):
    org = OrganizationFactory()
    users = [UserFactory() for _ in range(4)]
    for user in users:
        org.memberships.create(user=user, role="member")
    errors = []

    def write(user, n):
        try:
            for i in range(n):
                chat.channel_create(actor=user, org=org, name=f"{user.pk}-{i}")
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(user, 15)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequences = list(AuditEvent.objects.filter(chain=org.pk).order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, 61))  # 4 writers x 15 channels, no gap, no duplicate
    assert audit_verify(org=org).ok


@pytest.mark.parametrize("instant", ["2026-03-01T09:00:00+00:00", "2026-03-01T09:00:00.000001+00:00"])
def test_verify_reads_back_exactly_what_was_sealed(acme, bypass_triggers, instant):
    # audit_verify reads occurred_at and the JSON columns in their own form on PostgreSQL (not through the ORM):
    # whole seconds, unicode, nested and numeric JSON must serialize to the sealed bytes, and a JSON edit must not.
    import time_machine

    metadata = {"zeta": [1, 2.5, None, True], "émoji": "✓ ünïcode", "nested": {"b": {"y": 1, "x": 0}, "a": []}}
    with time_machine.travel(instant, tick=False), transaction.atomic():
        audit_record(org=acme.org, event="channel.updated", actor=acme.owner, metadata=metadata,
                     changes={"topic": ["", "Ünïcode"]})  # fmt: skip
        audit_record(org=acme.org, event="channel.updated", actor=acme.owner, metadata={"n": 10**15})
    assert audit_verify(org=acme.org).as_dict()["status"] == "ok"
    AuditEvent.objects.filter(chain=acme.org.pk, sequence=1).update(metadata={**metadata, "zeta": [1, 2.5]})
    assert audit_verify(org=acme.org).first_broken_sequence == 1
