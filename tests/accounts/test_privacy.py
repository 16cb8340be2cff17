"""Data-subject rights: export, erasure with a grace period, the register and its overdue alerts."""

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiKey, Invitation, Membership, PrivacyRequest, User, UserSession
from accounts.services import privacy
from audit.models import AuditChain, AuditEvent, AuditRedaction, AuditRedactionPermit
from audit.redaction import RedactionRefused
from audit.selectors import audit_verify
from chatapp.chat import services as chat
from chatapp.chat.models import Message
from tests.factories import MembershipFactory, MessageFactory

EXPORT = "/api/v1/me/data-export"
ERASURE = "/api/v1/me/erasure-request"
NAME = "Zelda Quuxworth"


@pytest.fixture
def person(acme, globex):
    """acme's member, with a name, messages, a session, an API key, a TOTP device, login attempts, an invitation,
    admin history and audit events in several chains; also a member of globex."""
    from axes.models import AccessAttempt, AccessLog
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = acme.member
    user.full_name = NAME
    user.save()
    MembershipFactory(organization=globex.org, user=user)
    MessageFactory(organization=acme.org, channel=acme.public, author=user, body="hello from the member")
    chat.channel_create(actor=user, org=acme.org, name="zelda-corner")
    UserSession.objects.create(session_key="k" * 32, user=user, user_agent="Firefox 130", ip="192.0.2.7")
    account_services.api_key_create(actor=user, org=acme.org, name="laptop script", scopes=["channels.view"])
    TOTPDevice.objects.create(user=user, name=f"phone of {user.email}", confirmed=True)
    AccessAttempt.objects.create(username=user.email, ip_address="192.0.2.7", user_agent="curl", failures_since_start=2,
                                 attempt_time=timezone.now(), get_data="", post_data="")  # fmt: skip
    AccessLog.objects.create(
        username=user.email, ip_address="192.0.2.7", user_agent="curl", attempt_time=timezone.now()
    )
    Invitation.objects.create(organization=globex.org, email=user.email.upper(), token_digest="d" * 64,
                              expires_at=timezone.now() + timedelta(days=3))  # fmt: skip
    membership = Membership.objects.get(organization=acme.org, user=user)
    account_services.member_update(actor=acme.owner, org=acme.org, membership=membership, role="guest")
    LogEntry.objects.create(user=acme.owner, content_type=ContentType.objects.get_for_model(User), object_id=user.pk,
                            object_repr=str(user), action_flag=ADDITION, change_message=f"Added {NAME}")  # fmt: skip
    return user


def _text_columns(cursor):
    """(table, column) of every text-like column of every table: char, text and JSON, on SQLite and PostgreSQL."""
    introspection = connection.introspection
    for table in introspection.table_names(cursor):
        for column in introspection.get_table_description(cursor, table):
            kind = introspection.get_field_type(column.type_code, column)
            if kind in {"CharField", "TextField", "JSONField", "SlugField", "EmailField"} or (
                connection.vendor == "sqlite" and "char" in str(column.type_code).lower()
            ):
                yield table, column.name


def database_hits(*needles: str) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a needle appears, case-insensitively, anywhere in the database."""
    quote = connection.ops.quote_name
    hits = []
    with connection.cursor() as cursor:
        columns = list(_text_columns(cursor))
        assert len(columns) > 100  # the scan really walks the whole schema
        for table, column in columns:
            for needle in needles:
                cursor.execute(
                    f"SELECT COUNT(*) FROM {quote(table)} WHERE LOWER(CAST({quote(column)} AS TEXT)) LIKE %s",
                    [f"%{needle.lower()}%"],
                )
                if cursor.fetchone()[0]:
                    hits.append((table, column, needle))
    return hits


def _erase_now(user, actor=None):
    request = privacy.privacy_request_create(subject=user, kind="erasure", actor=user)
    return privacy.privacy_erasure_execute(request=request, actor=actor)


# --- export ----------------------------------------------------------------------------------------------------


def test_json_export_holds_the_persons_data_and_no_secret(person, globex, verified_client_for):
    MessageFactory(organization=globex.org, channel=globex.public, author=globex.member, body="not theirs")
    response = verified_client_for(person).get(EXPORT, {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(b"".join(response.streaming_content))
    assert data["format"] == "chatapp.subject-export/1"
    assert data["profile"][0]["email"] == person.email and data["profile"][0]["full_name"] == NAME
    assert {m["organization"] for m in data["memberships"]} == {"acme", "globex"}
    assert [m["body"] for m in data["messages"]] == ["hello from the member"]  # globex's member's message is not
    assert data["sessions"][0]["user_agent"] == "Firefox 130"
    assert data["api_keys"][0]["name"] == "laptop script"
    assert data["mfa_devices"][0]["kind"] == "totp"
    assert {"channel.created", "member.updated"} <= {e["event_name"] for e in data["audit_events"]}
    text = json.dumps(data)
    assert person.password not in text and ApiKey.objects.get(owner=person).digest not in text
    entry = PrivacyRequest.objects.get(subject=person)
    assert (entry.kind, entry.status) == ("access", "completed")


def test_csv_export_is_a_zip_of_one_csv_per_section(person, verified_client_for):
    response = verified_client_for(person).get(EXPORT, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert {"profile.csv", "memberships.csv", "messages.csv", "sessions.csv", "audit_events.csv"} <= set(
        archive.namelist()
    )
    messages = list(csv.DictReader(io.TextIOWrapper(archive.open("messages.csv"), encoding="utf-8")))
    assert [(m["channel"], m["body"]) for m in messages] == [("general", "hello from the member")]


def test_export_refuses_a_bad_format_and_needs_step_up(person, verified_client_for, client_for, anon):
    response = verified_client_for(person).get(EXPORT, {"format": "xml"})
    assert response.status_code == 400 and "format" in response.json()["errors"]
    assert client_for(person).get(EXPORT).status_code == 403  # no recent verification
    assert anon.get(EXPORT).status_code in (401, 403)
    assert not PrivacyRequest.objects.exists()


# --- erasure requests ----------------------------------------------------------------------------------------


def test_erasure_request_waits_out_its_grace_period_and_can_be_cancelled(person, verified_client_for, settings):
    settings.PRIVACY_ERASURE_GRACE_DAYS = 14
    client = verified_client_for(person)
    response = client.post(ERASURE, {"regulation": "ccpa"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    request = PrivacyRequest.objects.get(pk=body["id"])
    assert request.execute_after - request.received_at == timedelta(days=14)
    assert request.due_at - request.received_at == timedelta(days=45)  # CCPA
    assert client.post(ERASURE, {}, format="json").status_code == 409  # one pending erasure at a time
    assert client.get(ERASURE).json()["id"] == request.pk

    assert privacy.privacy_erasures_run_due(now=timezone.now() + timedelta(days=13)) == 0
    assert client.delete(ERASURE).status_code == 204
    assert client.get(ERASURE).status_code == 404
    assert privacy.privacy_erasures_run_due(now=timezone.now() + timedelta(days=30)) == 0
    person.refresh_from_db()
    assert person.email == "member@acme.test" and person.is_active
    assert PrivacyRequest.objects.get(pk=request.pk).status == "cancelled"


def test_erasure_request_needs_step_up_and_valid_input(person, client_for, verified_client_for):
    assert client_for(person).post(ERASURE, {}, format="json").status_code == 403
    response = verified_client_for(person).post(ERASURE, {"regulation": "lgpd"}, format="json")
    assert response.status_code == 400 and "regulation" in response.json()["errors"]
    response = verified_client_for(person).post(ERASURE, {"regulation": "gdpr", "now": "x"}, format="json")
    assert response.status_code == 400
    assert verified_client_for(person).delete(ERASURE).status_code == 404
    assert not PrivacyRequest.objects.exists()


def test_me_routes_only_ever_touch_the_callers_own_requests(person, globex, verified_client_for):
    """Cross-organization (and cross-person): another person's pending erasure is invisible and untouchable."""
    theirs = privacy.privacy_request_create(subject=globex.member, kind="erasure", actor=globex.member)
    client = verified_client_for(person)
    assert client.get(ERASURE).status_code == 404
    assert client.delete(ERASURE).status_code == 404
    assert PrivacyRequest.objects.get(pk=theirs.pk).status == "received"
    export = json.loads(b"".join(client.get(EXPORT).streaming_content))
    assert "member@globex.test" not in json.dumps(export["profile"])


# --- erasure ----------------------------------------------------------------------------------------------------


def test_after_an_erasure_no_text_column_anywhere_holds_the_email_name_or_username(person, acme, globex):
    email, username = person.email, person.get_username()
    assert {h[0] for h in database_hits(email, NAME)} >= {"accounts_user", "audit_auditevent", "axes_accessattempt"}

    request = privacy.privacy_request_create(subject=person, kind="erasure", actor=person)
    assert privacy.privacy_erasures_run_due(now=timezone.now() + timedelta(days=15)) == 1

    assert database_hits(email, NAME, username) == []
    person.refresh_from_db()
    assert person.email == f"erased-user-{person.pk}@erased.invalid" and person.full_name == ""
    assert not person.is_active and not person.has_usable_password()
    assert not UserSession.objects.filter(user=person).exists() and not ApiKey.objects.filter(owner=person).exists()
    assert not Membership.objects.filter(user=person, is_active=True).exists()
    assert Message.objects.get(author=person).body == "hello from the member"  # acme keeps bodies by default
    assert PrivacyRequest.objects.get(pk=request.pk).status == "completed"
    # The audit trail still verifies, every chain of it, and its events refer to the pseudonymous account.
    for chain in AuditChain.objects.values_list("chain", flat=True):
        assert audit_verify(chain_id=chain).ok, chain
    call_command("audit_verify", stdout=io.StringIO())
    mine = AuditEvent.objects.filter(actor_type="user", actor_id=str(person.pk))
    assert set(mine.values_list("actor_label", flat=True)) == {person.email}
    assert set(mine.values_list("ip", flat=True)) == {None}
    assert AuditRedaction.objects.exists() and not AuditRedactionPermit.objects.exists()
    assert AuditEvent.objects.filter(event_name="privacy.user_erased", organization=acme.org).exists()
    assert AuditEvent.objects.filter(event_name="privacy.user_erased", organization=globex.org).exists()


def test_erasure_deletes_message_bodies_where_the_organization_says_so(person, acme, globex):
    acme.org.erasure_deletes_messages = True
    acme.org.save()
    MessageFactory(organization=globex.org, channel=globex.public, author=person, body="kept in globex")
    _erase_now(person)
    acme_message = Message.objects.get(author=person, organization=acme.org)
    assert acme_message.body == "" and acme_message.deleted is not None
    assert Message.objects.get(author=person, organization=globex.org).body == "kept in globex"


def test_erasure_is_idempotent_and_audit_stays_verifiable_after_a_second_person(person, acme):
    _erase_now(person)
    assert privacy.user_erase(user=person) == {}
    # A second erasure re-redacts events the first one already redacted (owner acted on the member): still valid.
    acme.owner.full_name = "Olga Owner"
    acme.owner.save()
    _erase_now(acme.owner)
    assert database_hits("owner@acme.test", "Olga Owner") == []
    assert audit_verify(org=acme.org).ok and audit_verify(chain_id=0).ok


def test_erasure_refuses_to_bless_a_tampered_audit_row_and_changes_nothing(person, acme):
    from tests.audit.conftest import bypass_triggers  # noqa: F401  (documentation: the same trick, inline)

    with connection.cursor() as cursor:  # a superuser edits a row behind the triggers' back
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER audit_event_no_update")
            cursor.execute("DROP TRIGGER audit_event_fixed_columns")
        AuditEvent.objects.filter(actor_id=str(person.pk), event_name="channel.created").update(outcome="failure")
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(RedactionRefused):
        _erase_now(person)
    person.refresh_from_db()
    assert person.email == "member@acme.test"
    assert PrivacyRequest.objects.get(subject=person).status == "received"  # the next daily run retries


def test_redaction_permit_never_allows_touching_the_chain_columns(acme):
    chat.channel_create(actor=acme.member, org=acme.org, name="evidence")
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AuditRedactionPermit.objects.create()
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditevent SET hash = 'x', sequence = sequence + 100")
    with transaction.atomic():  # with the permit, a personal-data column may change (audit_verify then notices)
        AuditRedactionPermit.objects.create()
        AuditEvent.objects.filter(organization=acme.org).update(actor_label="changed")
        AuditRedactionPermit.objects.all().delete()
    assert not audit_verify(org=acme.org).ok


def test_a_service_account_is_not_erased(acme):
    created = account_services.service_account_create(actor=acme.owner, org=acme.org, name="bot")
    with pytest.raises(Exception, match="service account"):
        privacy.user_erase(user=created.user)


# --- the register ---------------------------------------------------------------------------------------------


def test_only_the_privacy_team_handles_someone_elses_request(person, acme):
    request = privacy.privacy_request_create(subject=person, kind="access", actor=person)
    with pytest.raises(PermissionDenied):
        privacy.privacy_request_complete(actor=acme.owner, request=request)
    with pytest.raises(PermissionDenied):
        privacy.privacy_request_create(subject=person, kind="erasure", actor=acme.owner)
    staff = User.objects.create_user("privacy@chatapp.test", is_staff=True)
    done = privacy.privacy_request_complete(actor=staff, request=request, notes="sent by post")
    assert (done.status, done.handler, done.completed_at is not None) == ("completed", staff, True)
    with pytest.raises(Exception, match="already completed"):
        privacy.privacy_request_reject(actor=staff, request=request, reason="late")


def test_overdue_requests_are_mailed_to_the_privacy_team_without_personal_data(person, settings):
    settings.PRIVACY_TEAM_EMAILS = ["privacy@chatapp.test"]
    late = privacy.privacy_request_create(subject=person, kind="access", actor=person,
                                          now=timezone.now() - timedelta(days=31))  # fmt: skip
    privacy.privacy_request_create(
        subject=person, kind="portability", regulation="ccpa", actor=person, now=timezone.now() - timedelta(days=31)
    )  # fmt: skip  (45 days: not yet late)
    assert privacy.privacy_requests_alert_overdue() == 1
    (message,) = mail.outbox
    assert message.to == ["privacy@chatapp.test"] and "1 data-subject request(s) overdue" in message.subject
    assert f"#{late.pk} access (GDPR), subject user #{person.pk}" in message.body
    assert person.email not in message.body and NAME not in message.body
    mail.outbox.clear()
    settings.PRIVACY_TEAM_EMAILS = []
    assert privacy.privacy_requests_alert_overdue() == 1 and not mail.outbox


def test_admin_register_filters_overdue_and_executes_an_erasure_now(person, client):
    staff = User.objects.create_superuser("dpo@chatapp.test", password="x-very-long-password-1")
    client.force_login(staff)
    late = privacy.privacy_request_create(subject=person, kind="erasure", actor=person,
                                          now=timezone.now() - timedelta(days=40))  # fmt: skip
    page = client.get("/admin/accounts/privacyrequest/", {"overdue": "yes"})
    assert page.status_code == 200 and f"{late.pk}" in page.content.decode()
    response = client.post(
        "/admin/accounts/privacyrequest/",
        {"action": "execute_erasure_now", "_selected_action": [late.pk]},
    )
    assert response.status_code == 302
    late.refresh_from_db()
    person.refresh_from_db()
    assert late.status == "completed" and late.handler == staff and privacy.is_erased(person)


def test_redaction_replaces_whole_addresses_and_names_only():
    from audit.redaction import replacer

    replace = replacer({"al@acme.test": "erased-user-7@erased.invalid", "Al": "[erased]"})
    assert replace("AL@acme.test invited al.bob@acme.test and bob.al@acme.test.") == (
        "erased-user-7@erased.invalid invited al.bob@acme.test and bob.al@acme.test."
    )
    assert replace("Al wrote to al@acme.test. In #general, al spoke.") == (
        "[erased] wrote to erased-user-7@erased.invalid. In #general, [erased] spoke."
    )


def test_a_jsonl_export_made_after_an_erasure_still_verifies_offline(person, acme, tmp_path):
    email = person.email
    _erase_now(person)
    for args in (["--org", "acme"], ["--platform"]):
        output = tmp_path / f"{args[0]}.jsonl"
        call_command("audit_export", *args, "--type", "jsonl", "--output", str(output), stdout=io.StringIO())
        assert "redaction_seal" in output.read_text() and email not in output.read_text()
        out = io.StringIO()
        call_command("audit_verify_export", str(output), stdout=out)
        assert out.getvalue().startswith("ok:")
