import pytest
from django.db import IntegrityError
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_me_lists_active_memberships(acme, globex, client_for):
    globex.org.memberships.create(user=acme.member, role="guest")
    body = client_for(acme.member).get("/api/v1/me").json()
    assert body["email"] == acme.member.email
    assert [(m["organization"]["slug"], m["role"]) for m in body["memberships"]] == [
        ("acme", "member"),
        ("globex", "guest"),
    ]
    acme.org.memberships.filter(user=acme.member).update(is_active=False)
    body = client_for(acme.member).get("/api/v1/me").json()
    assert [m["organization"]["slug"] for m in body["memberships"]] == ["globex"]


def test_me_requires_authentication_with_401(anon):
    response = anon.get("/api/v1/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Session")
    assert response.json()["title"] == "Unauthorized"


def test_session_login_then_csrf_protected_write(acme):
    client = APIClient(enforce_csrf_checks=True)
    login = client.post("/api/v1/auth/session", {"email": "MEMBER@acme.TEST", "password": PASSWORD}, format="json")
    assert login.status_code == 200, login.json()
    assert login.json()["email"] == acme.member.email
    messages = f"/api/v1/orgs/acme/channels/{acme.public.pk}/messages/"
    assert client.post(messages, {"body": "no token"}, format="json").status_code == 403
    token = client.cookies["csrftoken"].value
    response = client.post(messages, {"body": "with token"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    assert client.delete("/api/v1/auth/session", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_password_is_400_without_saying_which_part(acme, anon):
    response = anon.post("/api/v1/auth/session", {"email": acme.member.email, "password": "nope"}, format="json")
    unknown = anon.post("/api/v1/auth/session", {"email": "nobody@acme.test", "password": "nope"}, format="json")
    assert response.status_code == unknown.status_code == 400
    assert response.json()["errors"] == unknown.json()["errors"]


def test_login_is_rate_limited(acme, anon):
    # A different address each time: the per-account lockout (test_login_security) must not answer first.
    statuses = [
        anon.post("/api/v1/auth/session", {"email": f"guess{i}@acme.test", "password": "x"}, format="json").status_code
        for i in range(11)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    last = anon.post("/api/v1/auth/session", {"email": acme.member.email, "password": PASSWORD}, format="json")
    assert last.status_code == 429
    assert int(last["Retry-After"]) > 0


def test_email_is_unique_whatever_its_case(db):
    UserFactory(email="Ada@Example.com")
    with pytest.raises(IntegrityError):
        User.objects.create_user("ada@example.COM", "x")


def test_members_list_with_filters(acme, client_for):
    url = "/api/v1/orgs/acme/members/"
    client = client_for(acme.member)
    assert {m["role"] for m in client.get(url).json()["results"]} == {
        "owner",
        "admin",
        "member",
        "guest",
        "auditor",
        "billing",
    }
    assert [m["user"]["email"] for m in client.get(url, {"role": "admin"}).json()["results"]] == ["admin@acme.test"]
    assert [m["user"]["email"] for m in client.get(url, {"q": "GUEST@"}).json()["results"]] == ["guest@acme.test"]
    assert client.get(url, {"role": "emperor"}).status_code == 400


def test_members_of_another_org_are_404(acme, globex, client_for):
    assert client_for(acme.owner).get("/api/v1/orgs/globex/members/").status_code == 404
