"""Login sessions: listed with the current one marked, revoked (next request 401), expired by org policy."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership, UserSession
from accounts.services import api_key_create, credentials_revoke_all
from audit.models import AuditEvent
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def login(user, agent="pytest-browser"):
    """A client logged in through the real login route (so the middleware sees the session being born)."""
    client = APIClient(enforce_csrf_checks=False, HTTP_USER_AGENT=agent)
    response = client.post("/api/v1/auth/session", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return client


def test_sessions_are_listed_with_the_current_one_marked(acme):
    laptop, phone = login(acme.member, "laptop"), login(acme.member, "phone")
    login(acme.admin)  # someone else's session is not listed
    rows = laptop.get("/api/v1/me/sessions").json()
    assert sorted(row["user_agent"] for row in rows) == ["laptop", "phone"]
    assert [row["user_agent"] for row in rows if row["current"]] == ["laptop"]
    assert all("session_key" not in row for row in rows)
    assert phone.get(ME).status_code == 200


def test_revoking_a_session_makes_its_next_request_401(acme):
    laptop, phone = login(acme.member, "laptop"), login(acme.member, "phone")
    phone_id = next(row["id"] for row in laptop.get("/api/v1/me/sessions").json() if row["user_agent"] == "phone")
    assert laptop.delete(f"/api/v1/me/sessions/{phone_id}").status_code == 204
    assert phone.get(ME).status_code == 401
    assert laptop.get(ME).status_code == 200
    assert AuditEvent.objects.filter(event_name="session.revoked", target_id=str(acme.member.pk)).count() == 1


def test_someone_elses_session_is_404(acme):
    mine, theirs = login(acme.member), login(acme.admin)
    their_id = UserSession.objects.get(user=acme.admin).pk
    assert mine.delete(f"/api/v1/me/sessions/{their_id}").status_code == 404
    assert theirs.get(ME).status_code == 200


def test_revoke_others_keeps_the_current_one(acme):
    current, *others = [login(acme.member, f"device {n}") for n in range(3)]
    assert current.post("/api/v1/me/sessions/revoke-others").json() == {"revoked": 2}
    assert [client.get(ME).status_code for client in others] == [401, 401]
    assert current.get(ME).status_code == 200


def test_logout_forgets_the_session(acme):
    client = login(acme.member)
    assert UserSession.objects.filter(user=acme.member).count() == 1
    assert client.delete("/api/v1/auth/session").status_code == 204
    assert not UserSession.objects.filter(user=acme.member).exists()


def test_sessions_cannot_be_managed_with_an_api_key(acme):
    secret = api_key_create(actor=acme.member, org=acme.org, name="k", scopes=["org.view"], write=True).secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/me/sessions").status_code == 403
    assert client.post("/api/v1/me/sessions/revoke-others").status_code == 403


def test_idle_timeout_logs_out(acme):
    acme.org.session_idle_timeout_minutes = 10
    acme.org.save()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = login(acme.member)
        clock.shift(timedelta(minutes=9))
        assert client.get(ME).status_code == 200  # activity recorded: the idle clock restarts
        clock.shift(timedelta(minutes=9))
        assert client.get(ME).status_code == 200
        clock.shift(timedelta(minutes=10, seconds=1))
        assert client.get(ME).status_code == 401
        assert client.get(ME).status_code == 401
    assert not UserSession.objects.filter(user=acme.member).exists()
    assert AuditEvent.objects.filter(event_name="session.expired").get().metadata == {"reason": "idle"}


def test_absolute_lifetime_logs_out_an_active_session(acme):
    acme.org.session_max_lifetime_hours = 1
    acme.org.save()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = login(acme.member)
        for _ in range(11):
            clock.shift(timedelta(minutes=5))
            assert client.get(ME).status_code == 200
        clock.shift(timedelta(minutes=5, seconds=1))
        assert client.get(ME).status_code == 401


def test_the_strictest_organization_policy_applies(acme, globex):
    acme.org.session_idle_timeout_minutes = 60
    acme.org.save()
    globex.org.session_idle_timeout_minutes = 15
    globex.org.save()
    user = MembershipFactory(organization=acme.org).user
    MembershipFactory(organization=globex.org, user=user)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = login(user)
        clock.shift(timedelta(minutes=16))
        assert client.get(ME).status_code == 401


def test_activity_is_written_at_most_once_a_minute(acme):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = login(acme.member)

        def writes():
            with CaptureQueriesContext(connection) as queries:
                assert client.get(ME).status_code == 200
            return sum(q["sql"].startswith(("UPDATE", "INSERT")) for q in queries)

        assert writes() == 0
        clock.shift(timedelta(seconds=30))
        assert writes() == 0
        clock.shift(timedelta(seconds=31))
        assert writes() == 2  # the activity row and the session's own record of it
        assert writes() == 0
    row = UserSession.objects.get(user=acme.member)
    assert row.ip == "127.0.0.1" and row.user_agent == "pytest-browser"


def test_admin_ends_a_members_sessions(acme, globex, client_for):
    member = login(acme.member)
    url = f"/api/v1/orgs/acme/members/{acme.member.pk}/sessions"
    assert client_for(acme.guest).delete(url).status_code == 403
    assert client_for(globex.owner).delete(url).status_code == 404
    assert client_for(acme.owner).delete(f"/api/v1/orgs/acme/members/{globex.member.pk}/sessions").status_code == 404
    assert member.get(ME).status_code == 200
    response = client_for(acme.admin).delete(url)
    assert response.status_code == 200 and response.json() == {"revoked": 1}
    assert member.get(ME).status_code == 401
    row = AuditEvent.objects.get(event_name="session.revoked")
    assert row.organization_id == acme.org.pk and row.actor_id == str(acme.admin.pk)


def test_an_admin_cannot_end_an_owners_sessions(acme, client_for):
    owner = login(acme.owner)
    assert client_for(acme.admin).delete(f"/api/v1/orgs/acme/members/{acme.owner.pk}/sessions").status_code == 403
    assert owner.get(ME).status_code == 200


def test_credentials_revoke_all_ends_sessions_and_keys(acme, globex):
    MembershipFactory(organization=globex.org, user=acme.member, role=Membership.Role.MEMBER)
    keys = [
        api_key_create(actor=acme.member, org=org.org, name="k", scopes=["org.view"]).secret for org in (acme, globex)
    ]
    browser = login(acme.member)
    from django.db import transaction

    with transaction.atomic():
        result = credentials_revoke_all(user=acme.member, reason="mfa reset")
    assert result == {"sessions": 1, "api_keys": 2}
    assert browser.get(ME).status_code == 401
    for secret in keys:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert client.get(ME).status_code == 401
    assert not ApiKey.objects.filter(revoked_at__isnull=True).exists()
    assert AuditEvent.objects.filter(event_name="credentials.revoked_all").count() == 1


def test_deactivating_a_user_in_the_admin_revokes_everything(acme, client):
    browser = login(acme.member)
    secret = api_key_create(actor=acme.member, org=acme.org, name="k", scopes=["org.view"]).secret
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    page = client.get(f"/admin/accounts/user/{acme.member.pk}/change/")
    assert page.status_code == 200
    response = client.post(
        f"/admin/accounts/user/{acme.member.pk}/change/",
        {"email": acme.member.email, "full_name": acme.member.full_name, "is_active": "",
         "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
         "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert browser.get(ME).status_code == 401
    assert ApiKey.objects.get().revoked_reason == "user deactivated"
    assert secret  # never used after deactivation


def test_password_change_in_the_admin_revokes_everything(acme, client):
    browser = login(acme.member)
    api_key_create(actor=acme.member, org=acme.org, name="k", scopes=["org.view"])
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    response = client.post(
        f"/admin/accounts/user/{acme.member.pk}/password/",
        {"password1": "a-new-long-passphrase-77", "password2": "a-new-long-passphrase-77", "usable_password": "true"},
    )
    assert response.status_code == 302
    assert browser.get(ME).status_code == 401
    assert ApiKey.objects.get().revoked_reason == "password changed"
    assert client.get("/admin/").status_code == 200  # the operator's own session is untouched
