"""API keys end to end: format, authentication outcomes, scopes capped by the owner, rotation, the routes."""

import io
import logging
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership
from accounts.services import api_key_create, api_keys_warn_expiring, member_update, service_account_create
from accounts.services.api_keys import SCANNER_REGEX, key_generate, key_well_formed
from audit.models import AuditEvent
from chatapp.chat.models import Channel
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def new_key(org, user, scopes=("channels.view",), **kwargs):
    return api_key_create(actor=user, org=org.org, name="script", scopes=list(scopes), **kwargs)


def bearer(secret, **extra):
    client = APIClient(**extra)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


CHANNELS = "/api/v1/orgs/acme/channels/"


def test_format_is_recognisable_and_checksummed():
    for kind, prefix in (("personal", "cak_"), ("service", "cas_")):
        key = key_generate(kind)
        assert key.startswith(prefix) and len(key) == 53
        assert re.fullmatch(SCANNER_REGEX, key) and key_well_formed(key)
        typo = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]
        assert not key_well_formed(typo)
    assert len({key_generate("personal") for _ in range(100)}) == 100


def test_valid_key_reads_and_audit_rows_name_the_key(acme):
    created = new_key(acme, acme.member, scopes=["channels.view", "channels.create"], write=True)
    client = bearer(created.secret)
    assert client.get(CHANNELS).status_code == 200
    response = client.post(CHANNELS, {"name": "from-a-script"})
    assert response.status_code == 201, response.json()
    row = AuditEvent.objects.get(event_name="channel.created")
    assert row.api_key_id == str(created.key.pk) and row.actor_id == str(acme.member.pk)
    first = AuditEvent.objects.filter(event_name="api_key.first_used")
    assert first.count() == 1 and first.get().actor_type == "api_key"
    created.key.refresh_from_db()
    assert created.key.last_used_at is not None and created.key.last_used_ip == "127.0.0.1"


def _refused(acme, client, expected_status, method="post"):
    """A refused request changes nothing: no channel, no audit row but a refusal (or the key's first use, when
    the key itself is valid and only this request is not allowed)."""
    channels, events = Channel.objects.count(), set(AuditEvent.objects.values_list("pk", flat=True))
    response = getattr(client, method)(CHANNELS, {"name": "should-not-exist"} if method == "post" else None)
    assert response.status_code == expected_status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert Channel.objects.count() == channels
    new = AuditEvent.objects.exclude(pk__in=events).values_list("event_name", flat=True)
    assert set(new) <= {"api_key.expired_use_refused", "api_key.ip_refused", "access.denied", "api_key.first_used"}
    return response


def test_expired_key_is_401_and_audited_once(acme):
    created = new_key(acme, acme.member, scopes=["channels.create"], write=True)
    with time_machine.travel(created.key.expires_at + timedelta(seconds=1)):
        response = _refused(acme, bearer(created.secret), 401)
        assert "expired" in response.json()["detail"]
        assert response["WWW-Authenticate"].startswith("Bearer")
        _refused(acme, bearer(created.secret), 401)
    assert AuditEvent.objects.filter(event_name="api_key.expired_use_refused").count() == 1
    created.key.refresh_from_db()
    assert created.key.last_used_at is None


def test_revoked_key_is_401_on_the_next_request(acme, client_for):
    created = new_key(acme, acme.member, scopes=["channels.create"], write=True)
    client = bearer(created.secret)
    assert client.get(CHANNELS).status_code == 200
    response = client_for(acme.member).delete(f"/api/v1/orgs/acme/api-keys/{created.key.pk}/")
    assert response.status_code == 204
    assert "revoked" in _refused(acme, client, 401).json()["detail"]
    assert AuditEvent.objects.filter(event_name="api_key.revoked", target_id=str(created.key.pk)).count() == 1


def test_scope_outside_the_key_is_403(acme):
    created = new_key(acme, acme.member, scopes=["channels.view"], write=True)
    _refused(acme, bearer(created.secret), 403)  # channels.create is not among its scopes
    assert bearer(created.secret).get("/api/v1/orgs/acme/members/").status_code == 403  # members.view neither


def test_read_only_key_cannot_write(acme):
    created = new_key(acme, acme.member, scopes=["channels.view", "channels.create"])
    assert "read-only" in _refused(acme, bearer(created.secret), 403).json()["detail"]


def test_address_outside_the_allowed_ranges_is_403(acme):
    created = new_key(acme, acme.member, scopes=["channels.create"], write=True, allowed_ips=["10.0.0.0/8"])
    _refused(acme, bearer(created.secret), 403)
    assert AuditEvent.objects.filter(event_name="api_key.ip_refused").count() == 1
    assert bearer(created.secret, REMOTE_ADDR="10.1.2.3").get(CHANNELS).status_code == 200


def test_deactivated_owner_is_401(acme):
    created = new_key(acme, acme.member, scopes=["channels.create"], write=True)
    acme.member.is_active = False
    acme.member.save()
    _refused(acme, bearer(created.secret), 401)


def test_deactivated_membership_is_401_and_revokes_the_orgs_keys(acme):
    created = new_key(acme, acme.member, scopes=["channels.create"], write=True)
    membership = Membership.objects.get(organization=acme.org, user=acme.member)
    member_update(actor=acme.owner, org=acme.org, membership=membership, is_active=False)
    _refused(acme, bearer(created.secret), 401)
    created.key.refresh_from_db()
    assert created.key.revoked_at is not None and created.key.revoked_reason == "membership deactivated"


def test_membership_or_organization_ended_outside_the_service_still_stops_org_routes(acme):
    # Not the write path (member_update revokes the keys), but org routes re-check the membership anyway.
    created = new_key(acme, acme.member)
    Membership.objects.filter(organization=acme.org, user=acme.member).update(is_active=False)
    assert bearer(created.secret).get(CHANNELS).status_code == 404
    Membership.objects.filter(organization=acme.org, user=acme.member).update(is_active=True)
    acme.org.is_active = False
    acme.org.save()
    assert bearer(created.secret).get(CHANNELS).status_code == 404


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer cak_short", "Bearer " + "cak_" + "A" * 49, "Bearer cak_\u00e9\u00e9"],
    ids=["no-key", "two-words", "short", "bad-checksum", "non-ascii"],
)
def test_malformed_header_is_401(acme, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.encode().decode("latin-1"))
    response = _refused(acme, client, 401)
    assert response.json()["status"] == 401


def test_well_formed_unknown_key_is_401(acme):
    _refused(acme, bearer(key_generate("personal")), 401)


def test_secret_is_never_stored_logged_or_audited(acme, client_for, caplog, capsys, verified_client_for):
    caplog.set_level(logging.DEBUG)
    response = verified_client_for(acme.admin).post(
        "/api/v1/orgs/acme/api-keys/", {"name": "ci", "scopes": ["channels.view"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    secret = response.json()["secret"]
    assert bearer(secret).get(CHANNELS).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        stored = repr(cursor.fetchall())
        cursor.execute("SELECT * FROM audit_auditevent")
        audited = repr(cursor.fetchall())
    body = secret[4:]  # the random part: the prefix alone (cak_ + 6 characters) is meant to be visible
    assert body not in stored and body not in audited
    assert body not in caplog.text and body not in "".join(capsys.readouterr())
    # The secret is shown once: no later read returns it.
    detail = client_for(acme.admin).get(f"/api/v1/orgs/acme/api-keys/{response.json()['id']}/")
    assert "secret" not in detail.json() and body not in detail.content.decode()


def test_key_never_exceeds_its_owners_permissions(acme, client_for, verified_client_for):
    # At creation: a member cannot give a key a code they do not hold.
    response = verified_client_for(acme.member).post(
        "/api/v1/orgs/acme/api-keys/", {"name": "x", "scopes": ["members.manage"]}, format="json"
    )
    assert response.status_code == 403
    # Later: the owner loses the code, and the key loses it with them, at once.
    # (ending a guest's sessions needs members.manage and every code of the guest role: no escalation)
    scopes = ["members.manage", "org.view", "members.view", "messages.post"]
    created = new_key(acme, acme.admin, scopes=scopes, write=True)
    url = f"/api/v1/orgs/acme/members/{acme.guest.pk}/sessions"
    assert bearer(created.secret).delete(url).status_code == 200
    membership = Membership.objects.get(organization=acme.org, user=acme.admin)
    member_update(actor=acme.owner, org=acme.org, membership=membership, role=Membership.Role.MEMBER)
    assert bearer(created.secret).delete(url).status_code == 403


def test_superuser_key_is_still_limited_to_its_scopes(acme):
    acme.owner.is_superuser = True
    acme.owner.save()
    created = new_key(acme, acme.owner, scopes=["channels.view"], write=True)
    _refused(acme, bearer(created.secret), 403)


def test_key_works_in_its_own_organization_only(acme, globex):
    MembershipFactory(organization=globex.org, user=acme.member, role=Membership.Role.MEMBER)
    created = new_key(acme, acme.member)
    client = bearer(created.secret)
    assert client.get(CHANNELS).status_code == 200
    assert client.get("/api/v1/orgs/globex/channels/").status_code == 404


def test_org_routes_are_404_across_organizations(acme, globex, client_for):
    foreign = new_key(globex, globex.owner)
    intruder = client_for(acme.owner)
    for path in (f"/api/v1/orgs/acme/api-keys/{foreign.key.pk}/", f"/api/v1/orgs/globex/api-keys/{foreign.key.pk}/"):
        assert intruder.get(path).status_code == 404
        assert intruder.delete(path).status_code == 404
        assert intruder.post(path + "rotate", {}, format="json").status_code == 404
    assert intruder.get("/api/v1/orgs/acme/api-keys/").json()["results"] == []
    foreign.key.refresh_from_db()
    assert foreign.key.revoked_at is None


def test_members_list_their_own_keys_and_managers_all(acme, client_for):
    mine, theirs = new_key(acme, acme.member), new_key(acme, acme.guest, scopes=["org.view"])
    listed = client_for(acme.member).get("/api/v1/orgs/acme/api-keys/").json()["results"]
    assert [row["id"] for row in listed] == [mine.key.pk]
    listed = client_for(acme.admin).get("/api/v1/orgs/acme/api-keys/").json()["results"]
    assert {row["id"] for row in listed} == {mine.key.pk, theirs.key.pk}
    assert client_for(acme.member).delete(f"/api/v1/orgs/acme/api-keys/{theirs.key.pk}/").status_code == 404
    assert client_for(acme.admin).delete(f"/api/v1/orgs/acme/api-keys/{theirs.key.pk}/").status_code == 204


def test_list_query_count_does_not_grow(acme, client_for):
    new_key(acme, acme.admin)
    client = client_for(acme.admin)
    counts = []
    for total in (1, 30):
        while ApiKey.objects.count() < total:
            new_key(acme, acme.member)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/orgs/acme/api-keys/", {"page_size": 50})
        assert len(response.json()["results"]) == total
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_create_validation_is_400_and_writes_nothing(acme, verified_client_for):
    client = verified_client_for(acme.member)
    far = (timezone.now() + timedelta(days=400)).isoformat()
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["no.such.code"]},
        {"name": "x", "scopes": ["channels.view"], "expires_at": far},
        {"name": "x", "scopes": ["channels.view"], "allowed_ips": ["not-an-ip"]},
        {"name": "x", "scopes": ["channels.view"], "colour": "red"},
        {"name": "x", "scopes": "channels.view"},
    ):
        response = client.post("/api/v1/orgs/acme/api-keys/", body, format="json")
        assert response.status_code == 400, (body, response.json())
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.filter(event_name="api_key.created").exists()


def test_keys_cannot_mint_keys(acme):
    created = new_key(acme, acme.admin, scopes=["api_keys.manage", "channels.view"], write=True)
    response = bearer(created.secret).post(
        "/api/v1/orgs/acme/api-keys/", {"name": "child", "scopes": ["channels.view"]}, format="json"
    )
    assert response.status_code == 403 and ApiKey.objects.count() == 1


def test_rotation_keeps_the_old_key_working_for_the_overlap(acme, client_for, verified_client_for):
    old = new_key(acme, acme.member)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        response = verified_client_for(acme.member).post(
            f"/api/v1/orgs/acme/api-keys/{old.key.pk}/rotate", {"overlap_hours": 2}, format="json"
        )
        assert response.status_code == 201, response.json()
        new_secret = response.json()["secret"]
        assert response.json()["rotated_from"] == old.key.pk
        clock.shift(timedelta(hours=1))
        assert bearer(old.secret).get(CHANNELS).status_code == 200
        assert bearer(new_secret).get(CHANNELS).status_code == 200
        clock.shift(timedelta(hours=1, seconds=1))
        assert bearer(old.secret).get(CHANNELS).status_code == 401
        assert bearer(new_secret).get(CHANNELS).status_code == 200
    assert AuditEvent.objects.filter(event_name="api_key.rotated").count() == 1
    again = verified_client_for(acme.member).post(f"/api/v1/orgs/acme/api-keys/{old.key.pk}/rotate", {}, format="json")
    assert again.status_code == 409


def test_last_use_is_written_at_most_once_a_minute(acme):
    created = new_key(acme, acme.member)
    client = bearer(created.secret)

    def writes():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(CHANNELS).status_code == 200
        return sum('UPDATE "accounts_apikey"' in query["sql"] for query in queries)

    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert writes() == 1
        assert writes() == 0
        clock.shift(timedelta(seconds=61))
        assert writes() == 1


def test_service_account_keys(acme, client_for, verified_client_for):
    response = verified_client_for(acme.admin).post(
        "/api/v1/orgs/acme/service-accounts/", {"name": "ci-bot", "role": "member"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert client_for(acme.member).get("/api/v1/orgs/acme/service-accounts/").status_code == 403
    response = verified_client_for(acme.admin).post(
        "/api/v1/orgs/acme/api-keys/",
        {"name": "deploy", "scopes": ["channels.view"], "service_account_id": response.json()["id"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["secret"].startswith("cas_") and response.json()["kind"] == "service"
    assert bearer(response.json()["secret"]).get(CHANNELS).status_code == 200
    # Members may not create service keys.
    account = service_account_create(actor=acme.owner, org=acme.org, name="other")
    response = verified_client_for(acme.member).post(
        "/api/v1/orgs/acme/api-keys/",
        {"name": "x", "scopes": ["channels.view"], "service_account_id": account.pk},
        format="json",
    )
    assert response.status_code == 403


def test_expiry_warning_is_sent_once(acme):
    created = new_key(acme, acme.member, expires_at=timezone.now() + timedelta(days=3))
    new_key(acme, acme.member)  # a year away: no warning
    assert api_keys_warn_expiring() == 1
    assert api_keys_warn_expiring() == 0
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [acme.member.email]
    assert created.key.prefix in mail.outbox[0].body and created.secret[4:] not in mail.outbox[0].body


def test_create_api_key_command(acme):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_key", "--org", "acme", "--user", acme.member.email, "--scopes", "channels.view,org.view",
        "--expires", "30d", stdout=out, stderr=err,
    )  # fmt: skip
    secret = out.getvalue().strip()
    assert key_well_formed(secret) and secret[4:] not in err.getvalue()
    key = ApiKey.objects.get()
    assert key.scopes == ["channels.view", "org.view"] and not key.write
    assert timedelta(days=29) < key.expires_at - timezone.now() <= timedelta(days=30)
    assert bearer(secret).get(CHANNELS).status_code == 200
    for args, message in (
        (["--org", "nope", "--user", acme.member.email, "--scopes", "org.view"], "No organization"),
        (["--org", "acme", "--user", "x@y.test", "--scopes", "org.view"], "No user"),
        (["--org", "acme", "--user", acme.member.email, "--scopes", "members.manage"], "does not hold"),
        (["--org", "acme", "--user", acme.member.email, "--scopes", "org.view", "--expires", "soon"], "30d"),
        (["--org", "acme", "--user", acme.member.email, "--scopes", "org.view", "--expires", "9999d"], "at most"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command("create_api_key", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert ApiKey.objects.count() == 1


def test_admin_lists_keys_and_revokes_through_the_service(acme, client):
    from tests.factories import UserFactory

    created = new_key(acme, acme.member)
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    page = client.get("/admin/accounts/apikey/")
    assert page.status_code == 200 and created.key.prefix in page.content.decode()
    response = client.post(
        "/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [created.key.pk]}, follow=True
    )
    assert response.status_code == 200
    created.key.refresh_from_db()
    assert created.key.revoked_at is not None
    assert client.get(f"/admin/accounts/apikey/{created.key.pk}/change/").status_code == 200
