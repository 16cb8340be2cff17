"""Brute force and passwords: django-axes lockout with admin unlock, Argon2, password policy, invitations."""

import re

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core import mail
from django.test import override_settings

from accounts.models import Invitation, Membership, User
from audit.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

LOGIN = "/api/v1/auth/session"


def attempt(client, email, password):
    return client.post(LOGIN, {"email": email, "password": password}, format="json")


def test_lockout_after_repeated_failures_then_admin_unlock(acme, anon, client):
    email = acme.member.email
    assert [attempt(anon, email, "wrong").status_code for _ in range(4)] == [400] * 4
    locked = attempt(anon, email, "wrong")
    assert locked.status_code == 429
    assert locked.json()["type"] == "urn:chatapp:problem:login-locked-out"
    assert int(locked["Retry-After"]) == 15 * 60
    # Locked out: even the right password is refused, and nothing was hashed to find out.
    assert attempt(anon, email, PASSWORD).status_code == 429
    assert AuditEvent.objects.filter(event_name="auth.locked_out").exists()
    # Another account from the same address is not affected.
    assert attempt(anon, acme.admin.email, PASSWORD).status_code == 200

    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    response = client.post(
        "/admin/accounts/user/", {"action": "unlock_login", "_selected_action": [acme.member.pk]}, follow=True
    )
    assert "Unlocked the login of 1 user" in response.content.decode()
    assert attempt(anon, email, PASSWORD).status_code == 200
    assert AuditEvent.objects.filter(event_name="auth.lockout_cleared", target_id=str(acme.member.pk)).exists()


def test_failed_login_reasons_are_audited_but_not_told(acme, anon):
    acme.guest.is_active = False
    acme.guest.save()
    responses = [attempt(anon, acme.guest.email, PASSWORD), attempt(anon, "nobody@acme.test", "x")]
    assert {r.status_code for r in responses} == {400}
    assert responses[0].json()["errors"] == responses[1].json()["errors"]
    reasons = set(AuditEvent.objects.filter(event_name="auth.login_failed").values_list("metadata__reason", flat=True))
    assert reasons == {"inactive_user", "unknown_user"}


def test_unverified_email_is_sent_a_link_instead_of_a_session(db, anon):
    user = UserFactory(email_verified=False)
    response = attempt(anon, user.email, PASSWORD)
    assert response.status_code == 403
    assert response.json()["type"] == "urn:chatapp:problem:email-unverified"
    assert anon.get("/api/v1/me").status_code == 401
    assert [m.to for m in mail.outbox] == [[user.email]]


@override_settings(PASSWORD_HASHERS=["accounts.hashers.Argon2idHasher"])
def test_passwords_are_hashed_with_argon2(db):
    from accounts.services import user_create

    user = user_create(email="new@example.com", password="a long enough passphrase 42")
    assert identify_hasher(user.password).algorithm == "argon2"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short9!", "too short"),
        ("password1234", "too common"),
        ("ada.lovelace.example", "too similar"),
        ("738215469021", "entirely numeric"),
    ],
)
def test_password_policy_gives_clear_reasons(db, password, message):
    from django.core.exceptions import ValidationError

    from accounts.services import user_create

    with pytest.raises(ValidationError) as refused:
        user_create(email="ada.lovelace@example.com", password=password)
    assert message in " ".join(refused.value.messages)
    assert not User.objects.filter(email="ada.lovelace@example.com").exists()


def test_invitation_by_email_then_accept_in_the_browser(
    acme, globex, client_for, client, django_capture_on_commit_callbacks
):
    admin = client_for(acme.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/api/v1/orgs/acme/invitations/", {"email": "newcomer@example.com", "role": "member"})
    assert response.status_code == 201
    assert "token" not in response.json()
    link = re.search(r"http://testserver(/accounts/invitations/[^/]+/)", mail.outbox[0].body).group(1)
    assert Invitation.objects.get().token_digest not in link  # only a digest is stored
    # An admin cannot invite an owner (no escalation), and the member list is per organization.
    assert admin.post("/api/v1/orgs/acme/invitations/", {"email": "x@example.com", "role": "owner"}).status_code == 403
    assert client_for(globex.owner).get("/api/v1/orgs/acme/invitations/").status_code == 404
    assert client_for(acme.member).get("/api/v1/orgs/acme/invitations/").status_code == 403

    # The invitee signs up through the link: the address counts as verified, and accepting adds them.
    assert client.get(link).status_code == 302
    signup = client.post(
        "/accounts/signup/",
        {"email": "newcomer@example.com", "password1": "a long enough passphrase 42",
         "password2": "a long enough passphrase 42"},
    )  # fmt: skip
    assert signup.status_code == 302, signup.content.decode()[:2000]
    assert client.post(link).status_code == 302
    membership = Membership.objects.get(user__email="newcomer@example.com", organization=acme.org)
    assert membership.role == "member"
    assert client.get(link).status_code == 404  # used once
    names = set(AuditEvent.objects.values_list("event_name", flat=True))
    assert {"member.invited", "member.invitation_accepted", "user.created"} <= names


def test_invitation_revoke(acme, client_for):
    admin = client_for(acme.admin)
    created = admin.post("/api/v1/orgs/acme/invitations/", {"email": "later@example.com"}).json()
    assert admin.delete(f"/api/v1/orgs/acme/invitations/{created['id']}").status_code == 204
    assert admin.delete(f"/api/v1/orgs/acme/invitations/{created['id']}").status_code == 409
    listed = admin.get("/api/v1/orgs/acme/invitations/").json()["results"]
    assert [i["status"] for i in listed] == ["revoked"]


def test_password_change_in_the_browser_is_checked_and_recorded(acme, client):
    client.force_login(acme.member)
    weak = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "password1234", "password2": "password1234"},
    )
    assert weak.status_code == 200 and "too common" in weak.content.decode()
    new = "a long enough passphrase 42"
    done = client.post("/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new})
    assert done.status_code == 302
    acme.member.refresh_from_db()
    assert acme.member.check_password(new)
    assert AuditEvent.objects.filter(event_name="auth.password_changed", target_id=str(acme.member.pk)).count() == 1


def test_email_verification_link_verifies_and_is_recorded(db, anon, client):
    user = UserFactory(email_verified=False)
    assert attempt(anon, user.email, PASSWORD).status_code == 403
    link = re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", mail.outbox[0].body).group(1)
    assert client.post(link).status_code == 302
    assert attempt(anon, user.email, PASSWORD).status_code == 200
    assert AuditEvent.objects.filter(event_name="auth.email_verified", target_id=str(user.pk)).exists()


def test_password_reset_over_json_mails_a_link_and_tells_nobody_who_exists(acme, anon, client):
    known = anon.post("/api/v1/auth/password-reset", {"email": acme.member.email}, format="json")
    unknown = anon.post("/api/v1/auth/password-reset", {"email": "nobody@acme.test"}, format="json")
    assert known.status_code == unknown.status_code == 202
    assert anon.post("/api/v1/auth/password-reset", {"email": "not-an-address"}, format="json").status_code == 400
    to_member = [m for m in mail.outbox if m.to == [acme.member.email]]
    assert len(to_member) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", to_member[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    new = "a long enough passphrase 42"
    done = client.post(form.redirect_chain[-1][0] if form.redirect_chain else link,
                       {"password1": new, "password2": new})  # fmt: skip
    assert done.status_code == 302
    assert attempt(anon, acme.member.email, new).status_code == 200
    assert AuditEvent.objects.filter(event_name="auth.password_changed", target_id=str(acme.member.pk)).exists()
