"""OpenID Connect / OAuth 2.0 logins against real providers on loopback, through the full redirect flow.

The browser is Django's test client; the IdP hop is a real HTTP request to the OP (requests), whose redirect
comes back to our callback, which then talks to the OP's token endpoint over HTTP itself.
"""

import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.cache import cache
from django.test import Client

from accounts.models import IdentityProvider, User
from accounts.sso import kinds, oidc_client
from accounts.sso.oidc import settings_for
from audit.models import AuditEvent
from rbac.models import IdentityGroupMapping, Team, TeamMember
from tests.accounts.oidc_op import TinyOP, mock_op

MOCK_USERS = [
    {"sub": "alice-sub", "claims": {"email": "alice@acme.test", "email_verified": True, "name": "Alice Example",
                                    "groups": ["engineering"]}},
    {"sub": "mallory-sub", "claims": {"email": "mallory@evil.test", "name": "Mallory"}},
]  # fmt: skip


@pytest.fixture(autouse=True)
def _loopback_idps(settings):
    settings.SSO_ALLOW_PRIVATE = True  # the OPs run on 127.0.0.1 over http


@pytest.fixture(scope="module")
def mock_issuer():
    with mock_op(MOCK_USERS) as issuer:
        yield issuer


@pytest.fixture
def tiny():
    with TinyOP() as op:
        yield op


def _provider(org, *, slug="idp", config, secret="s3cret-value", **fields):
    return IdentityProvider.objects.create(
        organization=org, kind="oidc", slug=slug, name="Acme IdP", email_domains=["acme.test"],
        jit_provisioning=True, config={"client_id": "chatapp", **config}, secrets={"client_secret": secret},
        **fields,
    )  # fmt: skip


def _tiny_provider(acme, op, **config):
    return _provider(acme.org, config={"preset": "generic", "discovery_url": op.discovery_url, **config})


def _start(browser, provider, **params):
    response = browser.get(f"/accounts/oidc/{provider.organization.slug}/{provider.slug}/login/", params)
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def _back(browser, location):
    """Follow the OP's redirect to our callback with the same browser."""
    parts = urlsplit(location)
    assert parts.netloc == "testserver", location
    return browser.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})


def _login_tiny(browser, provider):
    authorize = _start(browser, provider)
    idp = requests.get(authorize, allow_redirects=False, timeout=5)
    assert idp.status_code == 302
    return _back(browser, idp.headers["Location"])


def _failures(reason=None):
    rows = AuditEvent.objects.filter(event_name="sso.login_failed")
    return [r for r in rows if reason is None or r.metadata.get("reason") == reason]


def _refused(response, reason, status=400, logged_out=True):
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert not logged_out or "_auth_user_id" not in response.client.session
    assert _failures(reason), [r.metadata for r in _failures()]


# --- the real OP (oidc-provider-mock, its own process) --------------------------------------------------------


def _login_mock(browser, provider, sub, authorize=None):
    authorize = authorize or _start(browser, provider)
    # The mock OP's consent form: the person picks a subject and submits
    idp = requests.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert idp.status_code == 302, idp.text[:300]
    return _back(browser, idp.headers["Location"])


def test_full_login_against_a_real_op_creates_the_user_with_mapped_teams(acme, mock_issuer):
    team = Team.objects.create(organization=acme.org, name="Engineering")
    IdentityGroupMapping.objects.create(organization=acme.org, provider="idp", group_name="engineering", team=team)
    provider = _provider(acme.org, config={"discovery_url": f"{mock_issuer}/.well-known/openid-configuration"})
    browser = Client()

    authorize = _start(browser, provider, next="/accounts/security/?tab=1")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["nonce"][0] and query["state"][0]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}

    response = _login_mock(browser, provider, "alice-sub", authorize)

    assert response.status_code == 302 and response["Location"] == "/accounts/security/?tab=1"
    user = User.objects.get(email="alice@acme.test")
    assert int(browser.session["_auth_user_id"]) == user.pk
    assert user.full_name == "Alice Example"
    assert TeamMember.objects.filter(team=team, user=user).exists()
    login = AuditEvent.objects.get(event_name="sso.login")
    assert login.metadata["subject"] == "alice-sub"


def test_email_first_page_routes_to_the_op_and_back(acme, mock_issuer):
    provider = _provider(acme.org, config={"discovery_url": f"{mock_issuer}/.well-known/openid-configuration"})
    discovery = Client().get("/api/v1/auth/sso-discovery", {"email": "alice@acme.test"}).json()
    assert discovery["providers"][0]["login_url"] == f"http://testserver/accounts/oidc/acme/{provider.slug}/login/"

    browser = Client()
    page = browser.post("/accounts/sso/?next=/accounts/security/", {"email": "alice@acme.test"})
    assert page.status_code == 302 and page["Location"].startswith(f"/accounts/oidc/acme/{provider.slug}/login/")
    authorize = browser.get(page["Location"])["Location"]
    response = _login_mock(browser, provider, "alice-sub", authorize)
    assert response["Location"] == "/accounts/security/"
    assert browser.get("/accounts/security/").status_code == 200


def test_deploy_check_warns_when_private_addresses_are_allowed(settings):
    from accounts.sso.oidc import sso_fetches_stay_public

    assert [w.id for w in sso_fetches_stay_public(None)] == ["accounts.W101"]
    settings.SSO_ALLOW_PRIVATE = False
    assert sso_fetches_stay_public(None) == []


def test_real_op_user_outside_the_providers_domains_is_refused(acme, mock_issuer):
    provider = _provider(acme.org, config={"discovery_url": f"{mock_issuer}/.well-known/openid-configuration"})
    response = _login_mock(Client(), provider, "mallory-sub")
    _refused(response, "domain_not_allowed", status=403)
    assert not User.objects.filter(email="mallory@evil.test").exists()


def test_wrong_issuer_configured_for_the_real_op_is_refused_before_redirecting(acme, mock_issuer):
    discovery = f"{mock_issuer}/.well-known/openid-configuration"
    provider = _provider(acme.org, config={"discovery_url": discovery, "issuer": "http://127.0.0.1:1/other"})
    response = Client().get(f"/accounts/oidc/acme/{provider.slug}/login/")
    _refused(response, "wrong_issuer")
    assert b"another issuer" in response.content


def test_callback_replayed_in_the_same_browser_is_refused(acme, mock_issuer):
    provider = _provider(acme.org, config={"discovery_url": f"{mock_issuer}/.well-known/openid-configuration"})
    browser = Client()
    authorize = _start(browser, provider)
    location = requests.post(authorize, data={"sub": "alice-sub"}, allow_redirects=False, timeout=5).headers["Location"]
    assert _back(browser, location).status_code == 302
    _refused(_back(browser, location), "bad_state", logged_out=False)  # still the first login's session


# --- our tiny OP: what a good OP never sends ------------------------------------------------------------------


def test_tiny_op_login_checks_pkce_and_uses_basic_client_auth(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.claims = {"email": "bob@acme.test", "name": "Bob"}
    response = _login_tiny(Client(), provider)
    assert response.status_code == 302
    assert User.objects.filter(email="bob@acme.test").exists()
    assert "client_secret" not in tiny.last_token_request  # it went in the Authorization header
    assert all("s3cret-value" not in f"{row.metadata}{row.changes}" for row in AuditEvent.objects.all())


def test_es256_tokens_are_accepted(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.alg, tiny.kid, tiny.claims = "ES256", "ec-1", {"email": "eve@acme.test"}
    assert _login_tiny(Client(), provider).status_code == 302


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "http://127.0.0.1:9/not-the-op"}, "wrong_issuer"),
        ({"nonce": "somebody-elses-nonce"}, "wrong_nonce"),
        ({"nonce": None}, "wrong_nonce"),
        ({"aud": "another-client"}, "wrong_audience"),
        ({"aud": ["chatapp", "other"], "azp": "other"}, "wrong_audience"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"iat": int(time.time()) + 3600}, "not_yet_valid"),
        ({"email_verified": False}, "email_unverified"),
        ({"email": None}, "missing_email"),
    ],
)
def test_tokens_with_bad_claims_are_refused_and_audited(acme, tiny, claims, reason):
    provider = _tiny_provider(acme, tiny)
    tiny.claims = {"email": "bob@acme.test", **claims}
    if reason == "missing_email":
        tiny.userinfo = {"sub": "user-1"}  # the userinfo fallback has no address either
    _refused(_login_tiny(Client(), provider), reason)
    assert not User.objects.filter(email="bob@acme.test").exists()


def test_token_signed_by_another_key_is_refused(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.claims = {"email": "bob@acme.test"}
    from joserfc.jwk import RSAKey

    tiny.sign_with = RSAKey.generate_key(2048)  # same kid, foreign key
    _refused(_login_tiny(Client(), provider), "bad_signature")


def test_token_altered_after_signing_is_refused(acme, tiny):
    provider = _tiny_provider(acme, tiny)

    def altered(claims):
        header, _, signature = tiny.sign({**claims, "email": "bob@acme.test"}).split(".")
        forged = tiny.unsigned({**claims, "email": "boss@acme.test"}).split(".")[1]
        return f"{header}.{forged}.{signature}"

    tiny.token_override = altered
    _refused(_login_tiny(Client(), provider), "bad_signature")


def test_hs256_signed_with_the_public_key_is_refused(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.token_override = lambda claims: tiny.unsigned(
        {**claims, "email": "bob@acme.test"}, alg="HS256", secret=tiny.public_pem()
    )
    _refused(_login_tiny(Client(), provider), "alg_refused")


def test_alg_none_is_refused(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.token_override = lambda claims: tiny.unsigned({**claims, "email": "bob@acme.test"})
    _refused(_login_tiny(Client(), provider), "alg_refused")


@pytest.mark.parametrize(
    "claims",
    [{"exp": float("inf")}, {"nonce": "nonce-ü"}, {"iat": "yesterday"}, {"aud": {"x": 1}}, {"email": ["a@acme.test"]}],
)
def test_odd_claims_in_a_signed_token_are_clean_400s(acme, tiny, claims):
    provider = _tiny_provider(acme, tiny)
    tiny.claims = {"email": "bob@acme.test", **claims}
    response = _login_tiny(Client(), provider)
    assert response.status_code == 400 and _failures()


def test_odd_header_is_a_clean_400(acme, tiny):
    provider = _tiny_provider(acme, tiny)

    def odd(claims):
        _, payload, signature = tiny.sign(claims).split(".")
        return f"eyJhbGciOlsiUlMyNTYiXX0.{payload}.{signature}"  # {"alg":["RS256"]}

    tiny.token_override = odd
    _refused(_login_tiny(Client(), provider), "alg_refused")


def test_garbage_id_token_is_a_clean_400(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.token_override = lambda claims: "not.a-token.at-all!"
    _refused(_login_tiny(Client(), provider), "invalid_token")


def test_unknown_kid_refetches_the_jwks_once_then_accepts_the_rotated_key(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.claims = {"email": "bob@acme.test"}
    assert _login_tiny(Client(), provider).status_code == 302
    assert tiny.jwks_hits == 1

    from joserfc.jwk import RSAKey

    rotated = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})
    tiny.published = [rotated.as_dict(private=False)]
    tiny.kid, tiny.sign_with = "rsa-2", rotated
    assert _login_tiny(Client(), provider).status_code == 302
    assert tiny.jwks_hits == 2
    assert AuditEvent.objects.filter(event_name="sso.oidc_keys_refetched").count() == 1


def test_unknown_kid_after_a_refetch_is_refused_without_refetching_again(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.claims, tiny.kid = {"email": "bob@acme.test"}, "nobody-knows-me"
    _refused(_login_tiny(Client(), provider), "unknown_key")
    _refused(_login_tiny(Client(), provider), "unknown_key")
    assert tiny.jwks_hits == 2  # the first fetch, and one refetch per interval


def test_an_id_token_is_used_once_across_sessions(acme, tiny):
    """The nonce is remembered in the shared cache: the same ID token is refused a second time."""
    provider = _tiny_provider(acme, tiny)
    tiny.claims = {"email": "bob@acme.test"}
    settings = settings_for(provider)
    token = tiny.id_token("the-nonce")
    jwks_uri = f"{tiny.issuer}/jwks"
    assert oidc_client.verify_id_token(settings, jwks_uri, token, nonce="the-nonce")["sub"] == "user-1"
    with pytest.raises(oidc_client.OidcError) as refused:
        oidc_client.verify_id_token(settings, jwks_uri, token, nonce="the-nonce")
    assert refused.value.reason == "replay"


def test_token_replayed_into_another_browser_is_refused(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.claims = {"email": "bob@acme.test"}
    first = Client()
    authorize = _start(first, provider)
    nonce = parse_qs(urlsplit(authorize).query)["nonce"][0]
    stolen = tiny.id_token(nonce)
    location = requests.get(authorize, allow_redirects=False, timeout=5).headers["Location"]
    assert _back(first, location).status_code == 302

    # The attacker's browser somehow holds a pending login with the same nonce; the OP hands out the same token
    second = Client()
    authorize = _start(second, provider)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    session = second.session
    session["chatapp_oidc_pending"][state]["nonce"] = nonce
    session.save()
    tiny.token_override = lambda claims: stolen
    location = requests.get(authorize, allow_redirects=False, timeout=5).headers["Location"]
    _refused(_back(second, location), "replay")


def test_callback_without_a_pending_login_is_refused(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    response = Client().get(f"/accounts/oidc/acme/{provider.slug}/callback/", {"code": "x", "state": "forged"})
    _refused(response, "bad_state")


def test_forged_callbacks_are_throttled_per_address(acme, tiny, settings):
    settings.SSO_FAILURE_LIMIT = 2
    provider = _tiny_provider(acme, tiny)
    url = f"/accounts/oidc/acme/{provider.slug}/callback/"
    for _ in range(2):
        _refused(Client().get(url, {"code": "x", "state": "forged"}), "bad_state")
    response = Client().get(url, {"code": "x", "state": "forged"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert len(_failures("bad_state")) == 2
    assert AuditEvent.objects.filter(event_name="sso.login_throttled").count() == 1
    # another address is not affected
    _refused(Client(REMOTE_ADDR="198.51.100.7").get(url, {"code": "x", "state": "forged"}), "bad_state")


def test_callback_from_another_browser_is_refused(acme, tiny):
    """Login CSRF: the victim's browser gets the attacker's callback URL; its session has no such state."""
    provider = _tiny_provider(acme, tiny)
    tiny.claims = {"email": "bob@acme.test"}
    location = requests.get(_start(Client(), provider), allow_redirects=False, timeout=5).headers["Location"]
    _refused(_back(Client(), location), "bad_state")


def test_pending_login_expires(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    browser = Client()
    location = requests.get(_start(browser, provider), allow_redirects=False, timeout=5).headers["Location"]
    session = browser.session
    for entry in session["chatapp_oidc_pending"].values():
        entry["at"] -= 700  # the person spent more than ten minutes at the IdP
    session.save()
    _refused(_back(browser, location), "expired")


def test_idp_error_is_a_clear_page(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    browser = Client()
    state = parse_qs(urlsplit(_start(browser, provider)).query)["state"][0]
    response = browser.get(f"/accounts/oidc/acme/{provider.slug}/callback/", {"error": "access_denied", "state": state})
    _refused(response, "idp_error")
    assert b"access_denied" in response.content


def test_wrong_client_secret_is_a_token_error(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    provider.secrets = {"client_secret": "wrong"}
    provider.save()
    response = _login_tiny(Client(), provider)
    _refused(response, "token_error")
    assert b"wrong" not in response.content
    assert all("wrong" not in str(row.metadata) for row in AuditEvent.objects.all())


def test_unreachable_op_is_a_502_page(acme):
    provider = _provider(acme.org, config={"discovery_url": "http://127.0.0.1:9/.well-known/openid-configuration"})
    _refused(Client().get(f"/accounts/oidc/acme/{provider.slug}/login/"), "idp_unreachable", status=502)


def test_private_addresses_are_refused_in_production(acme, tiny, settings):
    provider = _tiny_provider(acme, tiny)
    settings.SSO_ALLOW_PRIVATE = False
    _refused(Client().get(f"/accounts/oidc/acme/{provider.slug}/login/"), "address_refused")
    assert tiny.jwks_hits == 0


def test_userinfo_fills_missing_claims_only_for_the_same_subject(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    provider.attribute_map = {"groups": "groups"}
    provider.save()
    tiny.userinfo = {"sub": "user-1", "email": "carol@acme.test", "groups": ["ops"]}
    assert _login_tiny(Client(), provider).status_code == 302
    assert User.objects.filter(email="carol@acme.test").exists()

    cache.clear()
    tiny.userinfo = {"sub": "someone-else", "email": "dave@acme.test"}
    _refused(_login_tiny(Client(), provider), "wrong_subject")


def test_google_hosted_domain_is_enforced(acme, tiny):
    google = replace(settings_for(_tiny_provider(acme, tiny)), hosted_domain="acme.test")
    with pytest.raises(oidc_client.OidcError) as refused:
        oidc_client._identity_from_claims(google, {"sub": "1", "email": "x@gmail.com"}, {})
    assert refused.value.reason == "wrong_hosted_domain"
    assert oidc_client._identity_from_claims(google, {"sub": "1", "email": "x@acme.test", "hd": "acme.test"}, {})


def test_unknown_or_disabled_provider(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    assert Client().get("/accounts/oidc/acme/nope/login/").status_code == 404
    browser = Client()
    state = parse_qs(urlsplit(_start(browser, provider)).query)["state"][0]
    provider.enabled = False
    provider.save()
    assert Client().get(f"/accounts/oidc/acme/{provider.slug}/login/").status_code == 404
    response = browser.get(f"/accounts/oidc/acme/{provider.slug}/callback/", {"code": "x", "state": state})
    _refused(response, "provider_disabled", status=403)


def test_next_url_to_another_site_is_ignored(acme, tiny):
    provider = _tiny_provider(acme, tiny)
    tiny.claims = {"email": "bob@acme.test"}
    browser = Client()
    authorize = _start(browser, provider, next="https://evil.example/")
    location = requests.get(authorize, allow_redirects=False, timeout=5).headers["Location"]
    assert _back(browser, location)["Location"] == "/accounts/security/"


# --- GitHub (OAuth 2.0) ---------------------------------------------------------------------------------------


def _github(acme, tiny, **config):
    tiny.github = {
        "/user": {"id": 4242, "login": "octo", "name": "Octo Cat"},
        "/user/emails": [
            {"email": "octo@personal.test", "verified": True, "primary": True},
            {"email": "octo@acme.test", "verified": True, "primary": False},
            {"email": "boss@acme.test", "verified": False, "primary": False},
        ],
        "/user/orgs": [{"login": "Acme-Corp"}],
        "/user/teams": [{"slug": "backend", "organization": {"login": "Acme-Corp"}}],
    }
    return _provider(acme.org, config={"preset": "github", "base_url": tiny.issuer, **config})


def test_github_login_uses_the_verified_work_address_and_maps_teams(acme, tiny):
    team = Team.objects.create(organization=acme.org, name="Backend")
    IdentityGroupMapping.objects.create(organization=acme.org, group_name="acme-corp/backend", team=team)
    provider = _github(acme, tiny, groups=True, allowed_organizations=["acme-corp"])
    browser = Client()
    authorize = _start(browser, provider)
    assert "read:org" in parse_qs(urlsplit(authorize).query)["scope"][0]
    response = _back(browser, requests.get(authorize, allow_redirects=False, timeout=5).headers["Location"])
    assert response.status_code == 302, response.content[:300]
    user = User.objects.get(email="octo@acme.test")
    assert TeamMember.objects.filter(team=team, user=user).exists()
    assert AuditEvent.objects.get(event_name="sso.login").metadata["subject"] == "4242"


def test_github_teams_are_read_across_pages(acme, tiny):
    team = Team.objects.create(organization=acme.org, name="Platform")
    IdentityGroupMapping.objects.create(organization=acme.org, group_name="acme-corp/platform", team=team)
    provider = _github(acme, tiny, groups=True)
    filler = [{"slug": f"team-{i}", "organization": {"login": "Acme-Corp"}} for i in range(140)]
    tiny.github["/user/teams"] = [*filler, {"slug": "platform", "organization": {"login": "Acme-Corp"}}]
    assert _login_tiny(Client(), provider).status_code == 302
    assert TeamMember.objects.filter(team=team, user__email="octo@acme.test").exists()  # found on page 2


def test_github_user_outside_the_allowed_organizations_is_refused(acme, tiny):
    provider = _github(acme, tiny, allowed_organizations=["other-org"])
    _refused(_login_tiny(Client(), provider), "org_not_allowed")


# --- configuration ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"preset": "generic", "discovery_url": "http://idp.example/.well-known/openid-configuration"}, "https"),
        ({"preset": "generic", "discovery_url": "https://idp.example/authorize"}, "must end with"),
        ({"preset": "generic", "discovery_url": "https://10.0.0.1/.well-known/openid-configuration"}, "non-public"),
        ({"preset": "entra", "tenant": "common"}, "GUID"),
        ({"preset": "okta", "domain": "https://acme.okta.com"}, "host name"),
        ({"preset": "saml-ish"}, "Unknown preset"),
        ({"preset": "google", "client_id": ""}, "client_id"),
    ],
)
def test_config_validation(acme, settings, config, error):
    settings.SSO_ALLOW_PRIVATE = False
    provider = IdentityProvider(organization=acme.org, kind="oidc", config={"client_id": "x", **config},
                                secrets={"client_secret": "y"})  # fmt: skip
    errors = kinds.validate(provider)
    assert any(error in message for message in errors["config"]), errors


def test_presets_resolve_issuers_and_need_a_secret(acme):
    def resolved(**config):
        provider = IdentityProvider(organization=acme.org, kind="oidc", config={"client_id": "x", **config},
                                    secrets={"client_secret": "y"})  # fmt: skip
        assert kinds.validate(provider) == {}
        return settings_for(provider)

    tenant = "0b5f7a4e-3c1d-4a8b-9e2f-1234567890ab"
    assert resolved(preset="entra", tenant=tenant).issuer == f"https://login.microsoftonline.com/{tenant}/v2.0"
    assert resolved(preset="okta", domain="acme.okta.com", authorization_server="default").discovery_url == (
        "https://acme.okta.com/oauth2/default/.well-known/openid-configuration"
    )
    assert resolved(preset="google", hosted_domain="acme.com").issuer == "https://accounts.google.com"
    assert resolved(preset="gitlab").issuer == "https://gitlab.com"
    assert resolved(preset="github").github_api == "https://api.github.com"
    assert kinds.validate(
        IdentityProvider(organization=acme.org, kind="oidc", config={"preset": "gitlab", "client_id": "x"})
    )["secrets"]
    assert kinds.login_url(IdentityProvider(organization=acme.org, kind="oidc", slug="okta")) == (
        "/accounts/oidc/acme/okta/login/"
    )
