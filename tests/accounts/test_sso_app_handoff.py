"""A browser SSO sign-in handed to a mobile app: system browser + PKCE + one-time code (RFC 8252's pattern)."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent

APP = "chatapp://sso-callback"
pytestmark = pytest.mark.django_db


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def start(browser, challenge, **extra):
    params = {"redirect_uri": APP, "code_challenge": challenge, "code_challenge_method": "S256", "state": "xyz"}
    return browser.get("/accounts/sso/app/", {**params, **extra})


def code_for(user, challenge) -> str:
    """The browser part: start, sign in (already signed in here), confirm, land on the app's redirect URI."""
    browser = Client()
    browser.force_login(user, backend="accounts.backends.EmailBackend")
    response = start(browser, challenge)
    assert response.status_code == 302 and response["Location"] == "/accounts/sso/app/finish/"
    page = browser.get("/accounts/sso/app/finish/")
    assert page.status_code == 200 and b"Continue to the app" in page.content and user.email.encode() in page.content
    landing = browser.post("/accounts/sso/app/finish/")
    assert landing.status_code == 302
    location = urlsplit(landing["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == APP
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def exchange(code, verifier):
    return APIClient().post("/api/v1/auth/sso-handoff", {"code": code, "code_verifier": verifier}, format="json")


def test_the_app_gets_its_own_session_once(acme):
    verifier, challenge = pkce()
    code = code_for(acme.member, challenge)
    app = APIClient()
    response = app.post("/api/v1/auth/sso-handoff", {"code": code, "code_verifier": verifier}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["email"] == acme.member.email
    assert app.get("/api/v1/me").json()["email"] == acme.member.email  # the app's session works
    login = AuditEvent.objects.filter(event_name="auth.login").order_by("-id").first()
    assert login is not None and login.metadata["methods"] == ["sso", "app_handoff"]

    again = exchange(code, verifier)
    assert again.status_code == 400 and again.json()["type"].endswith("invalid-handoff")


def test_a_wrong_verifier_burns_the_code(acme):
    verifier, challenge = pkce()
    code = code_for(acme.member, challenge)
    wrong, _ = pkce()
    assert exchange(code, wrong).status_code == 400
    assert exchange(code, verifier).status_code == 400  # an interceptor's guess also spends the code


def test_codes_expire(acme):
    verifier, challenge = pkce()
    with time_machine.travel("2026-11-25 10:00:00+00:00", tick=False):
        code = code_for(acme.member, challenge)
    with time_machine.travel("2026-11-25 10:01:05+00:00", tick=False):
        assert exchange(code, verifier).status_code == 400


def test_a_deactivated_user_gets_no_session(acme):
    verifier, challenge = pkce()
    code = code_for(acme.member, challenge)
    acme.member.is_active = False
    acme.member.save()
    assert exchange(code, verifier).status_code == 400


@pytest.mark.parametrize(
    "bad",
    [
        {"redirect_uri": "https://evil.example/cb"},
        {"redirect_uri": "chatapp://sso-callback/extra"},
        {"code_challenge_method": "plain"},
        {"code_challenge": "short"},
        {"state": "x" * 201},
    ],
)
def test_bad_start_requests_are_refused_with_a_page(acme, bad):
    _, challenge = pkce()
    response = start(Client(), challenge, **bad)
    assert response.status_code == 400 and b"Signing in to the app failed" in response.content


def test_a_signed_out_browser_signs_in_first_and_keeps_the_request(acme):
    _, challenge = pkce()
    browser = Client()
    response = start(browser, challenge)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/sso/?next=")
    # the request survives a new session (as after a SAML ACS, posted cross-site without the session cookie)
    browser.force_login(acme.member, backend="accounts.backends.EmailBackend")
    assert browser.get("/accounts/sso/app/finish/").status_code == 200


def test_finish_without_a_started_request_or_with_a_forged_cookie(acme):
    browser = Client()
    browser.force_login(acme.member, backend="accounts.backends.EmailBackend")
    assert browser.post("/accounts/sso/app/finish/").status_code == 400
    browser.cookies["chatapp_sso_app"] = '{"redirect_uri": "https://evil.example", "code_challenge": "x", "state": ""}'
    response = browser.post("/accounts/sso/app/finish/")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [{}, {"code": "x"}, {"code": "x", "code_verifier": "short"}, {"code": "x" * 101, "code_verifier": "v" * 43}],
)
def test_malformed_exchanges_are_4xx(body, db):
    response = APIClient().post("/api/v1/auth/sso-handoff", body, format="json")
    assert response.status_code == 400
