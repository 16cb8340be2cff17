"""SSO core: provisioning and group mapping at sign-in, deprovisioning, enforcement, routing, API and admin.

The protocols (SAML, OIDC, LDAP) are tested against real peers in their own modules; here a throw-away kind
"test" stands for them and `sso_login` is driven directly with what a protocol would have verified.
"""

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection
from django.test import RequestFactory
from rest_framework.test import APIClient

from accounts.models import ApiKey, IdentityProvider, Membership, User, UserSession
from accounts.services import api_key_create
from accounts.services.mfa import VERIFIED_AT_SESSION_KEY
from accounts.services.sso import (
    SsoIdentity,
    SsoRefused,
    identity_provider_create,
    providers_for_email,
    sso_deprovision,
    sso_login,
)
from accounts.sso import kinds
from audit.models import AuditEvent
from rbac.models import Grant, IdentityGroupMapping, Role, Team, TeamMember
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-value-that-must-never-leak"


def _validate_test_kind(provider):
    errors = {}
    if not str(provider.config.get("issuer", "")).startswith("https://"):
        errors["config"] = ["issuer: give an https:// URL."]
    return errors


@pytest.fixture(autouse=True)
def test_kind():
    kinds.register(
        "test", validate=_validate_test_kind, secret_fields=["client_secret", "sp_private_key"],
        login_url=lambda p: f"/accounts/test-sso/{p.organization.slug}/{p.slug}/login/",
    )  # fmt: skip
    yield
    kinds.unregister("test")


def make_provider(org, *, slug="okta", kind="test", domains=("acme.test",), **fields):
    defaults = {"name": slug.title(), "config": {"issuer": "https://idp.example"}, "secrets": {"client_secret": SECRET}}
    defaults.update(fields)
    return IdentityProvider.objects.create(
        organization=org, kind=kind, slug=slug, email_domains=list(domains), **defaults
    )


def browser_request(path="/accounts/test-sso/acs/"):
    request = RequestFactory().post(path)
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = AnonymousUser()
    return request


def events(name, org=None):
    rows = AuditEvent.objects.filter(event_name=name)
    return list(rows.filter(organization=org) if org is not None else rows)


# --- Provisioning --------------------------------------------------------------------------------------------


def test_jit_creates_the_user_and_membership_and_logs_in(acme):
    provider = make_provider(acme.org, jit_provisioning=True, default_role="guest")
    request = browser_request()
    identity = SsoIdentity(subject="00u1", email="New.Person@ACME.test", full_name="New Person")
    user = sso_login(request, provider=provider, identity=identity)
    assert user.email == "new.person@acme.test" and user.full_name == "New Person"
    assert not user.has_usable_password()
    assert Membership.objects.get(organization=acme.org, user=user).role == "guest"
    assert user.emailaddress_set.get().verified
    assert request.session["_auth_user_id"] == str(user.pk)
    assert request.session[VERIFIED_AT_SESSION_KEY]  # the step-up clock starts at an SSO sign-in
    [login] = events("sso.login", acme.org)
    assert login.actor_id == str(user.pk) and login.metadata["provider"] == "okta"


def test_later_logins_update_the_name(acme):
    provider = make_provider(acme.org)
    sso_login(browser_request(), provider=provider, identity=SsoIdentity("s", acme.member.email, "Renamed Member"))
    acme.member.refresh_from_db()
    assert acme.member.full_name == "Renamed Member"


def test_jit_off_refuses_unknown_people_and_creates_nothing(acme):
    provider = make_provider(acme.org, jit_provisioning=False)
    with pytest.raises(SsoRefused) as refused:
        sso_login(browser_request(), provider=provider, identity=SsoIdentity("s", "stranger@acme.test"))
    assert refused.value.reason == "unknown_user"
    assert not User.objects.filter(email="stranger@acme.test").exists()
    [failure] = events("sso.login_failed", acme.org)
    assert failure.metadata["reason"] == "unknown_user" and failure.actor_label == "stranger@acme.test"


def test_jit_off_admits_pre_provisioned_members_only(acme, globex):
    provider = make_provider(acme.org, jit_provisioning=False)
    assert sso_login(browser_request(), provider=provider, identity=SsoIdentity("s", acme.member.email)) == acme.member
    # An account that exists elsewhere is not a member here: with JIT off it is refused too.
    outsider = UserFactory(email="outsider@acme.test")
    MembershipFactory(organization=globex.org, user=outsider)
    with pytest.raises(SsoRefused) as refused:
        sso_login(browser_request(), provider=provider, identity=SsoIdentity("s2", outsider.email))
    assert refused.value.reason == "jit_disabled"
    assert not Membership.objects.filter(organization=acme.org, user=outsider).exists()


def test_an_address_outside_the_providers_domains_is_refused(acme, globex):
    provider = make_provider(acme.org, jit_provisioning=True)
    # Otherwise acme's IdP could sign in as a globex account.
    with pytest.raises(SsoRefused) as refused:
        sso_login(browser_request(), provider=provider, identity=SsoIdentity("s", globex.owner.email))
    assert refused.value.reason == "domain_not_allowed"
    assert events("sso.login_failed", acme.org)[0].metadata["reason"] == "domain_not_allowed"


def test_a_deactivated_membership_is_refused_even_with_jit(acme):
    provider = make_provider(acme.org, jit_provisioning=True)
    Membership.objects.filter(organization=acme.org, user=acme.member).update(is_active=False)
    request = browser_request()
    with pytest.raises(SsoRefused) as refused:
        sso_login(request, provider=provider, identity=SsoIdentity("s", acme.member.email))
    assert refused.value.reason == "deactivated"
    assert not Membership.objects.get(organization=acme.org, user=acme.member).is_active
    assert "_auth_user_id" not in request.session


def test_a_disabled_provider_signs_nobody_in(acme):
    provider = make_provider(acme.org, enabled=False)
    with pytest.raises(SsoRefused) as refused:
        sso_login(browser_request(), provider=provider, identity=SsoIdentity("s", acme.member.email))
    assert refused.value.reason == "provider_disabled"


def test_group_mappings_add_and_remove_teams_and_roles_across_logins(acme):
    provider = make_provider(acme.org)
    engineering = Team.objects.create(organization=acme.org, name="Engineering")
    unmanaged = Team.objects.create(organization=acme.org, name="Book club")
    TeamMember.objects.create(organization=acme.org, team=unmanaged, user=acme.member)
    auditors = Role.objects.create(organization=acme.org, name="Auditors", permissions=["audit.read"])
    IdentityGroupMapping.objects.create(organization=acme.org, provider="okta", group_name="Eng", team=engineering)
    IdentityGroupMapping.objects.create(organization=acme.org, provider="", group_name="audit", role=auditors)
    # A mapping of another provider does not apply to this one.
    other = Team.objects.create(organization=acme.org, name="Other")
    IdentityGroupMapping.objects.create(organization=acme.org, provider="azure", group_name="eng", team=other)

    def login(*groups):
        sso_login(browser_request(), provider=provider, identity=SsoIdentity("s", acme.member.email, groups=groups))
        teams = set(TeamMember.objects.filter(user=acme.member).values_list("team__name", flat=True))
        roles = set(Grant.objects.filter(user=acme.member).values_list("role__name", flat=True))
        return teams, roles

    assert login("eng", "AUDIT") == ({"Engineering", "Book club"}, {"Auditors"})
    assert login("eng") == ({"Engineering", "Book club"}, set())
    assert login() == ({"Book club"}, set())
    assert login("audit") == ({"Book club"}, {"Auditors"})
    rbac_events = AuditEvent.objects.filter(organization=acme.org, event_name__startswith="rbac.").order_by("id")
    changes = [e.event_name for e in rbac_events]
    assert changes == [
        "rbac.team_member.added", "rbac.grant.created", "rbac.grant.revoked", "rbac.team_member.removed",
        "rbac.grant.created",
    ]  # fmt: skip
    assert {e.actor_label for e in AuditEvent.objects.filter(event_name__startswith="rbac.")} == {"sso:okta"}


def test_deprovisioning_ends_the_membership_sessions_and_keys(acme, client):
    provider = make_provider(acme.org)
    client.post("/accounts/login/", {"login": acme.member.email, "password": PASSWORD})
    assert UserSession.objects.filter(user=acme.member).exists()
    key = api_key_create(actor=acme.member, org=acme.org, name="laptop", scopes=["channels.view"]).key
    sso_deprovision(provider=provider, user=acme.member, reason="disabled in the directory")
    assert not Membership.objects.get(organization=acme.org, user=acme.member).is_active
    assert not UserSession.objects.filter(user=acme.member).exists()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert client.get("/api/v1/me").status_code in (401, 403)
    [event] = events("sso.deprovisioned", acme.org)
    assert event.metadata["api_keys"] == 1 and event.actor_label == "sso:okta"
    sso_deprovision(provider=provider, user=acme.member, reason="again")  # safe to run twice


# --- Enforcement ---------------------------------------------------------------------------------------------


@pytest.fixture
def enforced(acme):
    acme.org.sso_enforced = True
    acme.org.save()
    return make_provider(acme.org)


def api_login(email):
    return APIClient().post("/api/v1/auth/session", {"email": email, "password": PASSWORD}, format="json")


def test_enforced_sso_refuses_password_login_on_the_api(acme, enforced):
    response = api_login(acme.member.email)
    assert response.status_code == 403
    body = response.json()
    assert body["type"].endswith("sso-required") and body["login_url"] == "/accounts/test-sso/acme/okta/login/"
    assert "single sign-on" in body["detail"]
    failure = AuditEvent.objects.filter(event_name="auth.login_failed").latest("id")
    assert failure.metadata["reason"] == "sso_enforced"
    # Unknown addresses of the domain get the same answer: it says nothing about who has an account.
    assert api_login("nobody@acme.test").status_code == 403


def test_enforced_sso_refuses_password_login_in_the_browser(acme, enforced, client):
    response = client.post("/accounts/login/", {"login": acme.member.email, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert "requires single sign-on" in response.content.decode()
    assert AuditEvent.objects.filter(event_name="auth.login_failed").latest("id").metadata["reason"] == "sso_enforced"


def test_break_glass_owners_still_use_their_password(acme, enforced, client):
    Membership.objects.filter(organization=acme.org, user=acme.owner).update(sso_break_glass=True)
    assert api_login(acme.owner.email).status_code == 200
    response = client.post("/accounts/login/", {"login": acme.owner.email, "password": PASSWORD})
    assert response.status_code == 302
    # Break-glass is for owners: the flag on anyone else's membership does not count.
    Membership.objects.filter(organization=acme.org, user=acme.admin).update(sso_break_glass=True)
    assert api_login(acme.admin.email).status_code == 403


def test_enforcement_applies_only_to_the_providers_domains_and_not_to_ldap(acme, globex, enforced):
    assert api_login(globex.member.email).status_code == 200
    IdentityProvider.objects.filter(pk=enforced.pk).update(kind="ldap")
    # LDAP passwords go to the directory (the LDAP backend): no refusal for an LDAP-only domain.
    assert api_login(acme.member.email).status_code == 200
    acme.org.sso_enforced = False
    acme.org.save()
    IdentityProvider.objects.filter(pk=enforced.pk).update(kind="test")
    assert api_login(acme.member.email).status_code == 200


# --- Routing -------------------------------------------------------------------------------------------------


def test_discovery_answers_from_the_domain_only(acme, anon):
    make_provider(acme.org)
    make_provider(acme.org, slug="off", enabled=False)
    known = anon.get("/api/v1/auth/sso-discovery", {"email": acme.member.email}).json()
    unknown = anon.get("/api/v1/auth/sso-discovery", {"email": "nobody@acme.test"}).json()
    assert known == unknown == {
        "method": "sso",
        "providers": [{"name": "Okta", "kind": "test", "login_url": "http://testserver/accounts/test-sso/acme/okta/login/"}],
    }  # fmt: skip
    assert anon.get("/api/v1/auth/sso-discovery", {"email": "x@globex.test"}).json() == {
        "method": "password", "providers": []
    }  # fmt: skip
    bad = anon.get("/api/v1/auth/sso-discovery", {"email": "not-an-address"})
    assert bad.status_code == 400 and "email" in bad.json()["errors"]
    assert anon.get("/api/v1/auth/sso-discovery").status_code == 400


def test_discovery_is_rate_limited(anon):
    with time_machine.travel("2026-01-01 12:00:05Z", tick=False):  # one fixed rate-limit window
        statuses = [anon.get("/api/v1/auth/sso-discovery", {"email": f"a{i}@x.test"}).status_code for i in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429


def test_ldap_domains_discover_as_password(acme, anon):
    make_provider(acme.org, kind="ldap")
    body = anon.get("/api/v1/auth/sso-discovery", {"email": acme.member.email}).json()
    assert body == {"method": "password", "providers": [{"name": "Okta", "kind": "ldap", "login_url": None}]}


def test_email_first_page_routes_by_domain(acme, client):
    make_provider(acme.org)
    page = client.get("/accounts/sso/")
    assert page.status_code == 200 and b'name="email"' in page.content
    to_idp = client.post("/accounts/sso/", {"email": acme.member.email, "next": "/channels/"})
    assert to_idp.status_code == 302 and to_idp.url == "/accounts/test-sso/acme/okta/login/?next=%2Fchannels%2F"
    to_password = client.post("/accounts/sso/", {"email": "someone@elsewhere.test", "next": "https://evil.test/"})
    assert to_password.status_code == 302 and to_password.url == "/accounts/login/"
    assert client.post("/accounts/sso/", {"email": "nope"}).status_code == 400
    make_provider(acme.org, slug="entra")
    choice = client.post("/accounts/sso/", {"email": acme.member.email})
    assert choice.status_code == 200 and b"/accounts/test-sso/acme/entra/login/" in choice.content
    assert b'href="/accounts/sso/' in client.get("/accounts/login/").content


def test_providers_for_email_skips_disabled_and_suspended(acme):
    provider = make_provider(acme.org)
    assert providers_for_email("a@ACME.test") == [provider]
    acme.org.is_active = False
    acme.org.save()
    assert providers_for_email("a@acme.test") == []
    assert providers_for_email("no-at-sign") == []


# --- API -----------------------------------------------------------------------------------------------------

URL = "/api/v1/orgs/acme/identity-providers/"
NEW = {
    "kind": "test", "slug": "okta", "name": "Okta", "email_domains": ["Acme.test"], "jit_provisioning": True,
    "attribute_map": {"email": "mail", "groups": "memberOf"}, "config": {"issuer": "https://acme.okta.example"},
    "secrets": {"client_secret": SECRET},
}  # fmt: skip


def raw_rows(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return repr(cursor.fetchall())


def test_crud_with_write_only_secrets(acme, verified_client_for):
    client = verified_client_for(acme.owner)
    created = client.post(URL, NEW, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["email_domains"] == ["acme.test"] and body["secrets_set"] == ["client_secret"]
    assert body["secret_fields"] == ["client_secret", "sp_private_key"] and SECRET not in created.content.decode()
    detail = f"{URL}{body['id']}/"
    assert SECRET not in client.get(URL).content.decode() and SECRET not in client.get(detail).content.decode()

    changed = client.patch(detail, {"name": "Okta SSO", "secrets": {"sp_private_key": "PEM"}}, format="json")
    assert changed.status_code == 200 and changed.json()["secrets_set"] == ["client_secret", "sp_private_key"]
    provider = IdentityProvider.objects.get(pk=body["id"])
    assert provider.secrets == {"client_secret": SECRET, "sp_private_key": "PEM"}
    cleared = client.patch(detail, {"secrets": {"sp_private_key": None}}, format="json")
    assert cleared.json()["secrets_set"] == ["client_secret"]
    replaced = client.put(detail, {**{k: v for k, v in NEW.items() if k not in ("kind", "secrets")}, "name": "Okta 2"},
                          format="json")  # fmt: skip
    assert replaced.status_code == 200 and replaced.json()["name"] == "Okta 2"
    assert client.put(detail, {"name": "only a name"}, format="json").status_code == 400  # PUT wants every field

    # Encrypted at rest, and never in the audit trail.
    assert SECRET not in raw_rows("SELECT secrets FROM accounts_identityprovider")
    assert "PEM" not in raw_rows("SELECT secrets FROM accounts_identityprovider")
    audit = raw_rows("SELECT changes, metadata FROM audit_auditevent")
    assert SECRET not in audit and "'PEM'" not in audit and '"PEM"' not in audit
    names = [e.event_name for e in AuditEvent.objects.filter(event_name__startswith="sso.provider").order_by("id")]
    assert names == ["sso.provider_created", "sso.provider_updated", "sso.provider_updated", "sso.provider_updated"]

    assert client.delete(detail).status_code == 204
    assert not IdentityProvider.objects.exists() and events("sso.provider_deleted", acme.org)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"email_domains": ["not a domain"]}, "email_domains"),
        ({"email_domains": "acme.test"}, "email_domains"),
        ({"config": {"issuer": "http://plain.example"}}, "config"),  # the kind's validator
        ({"default_role": "owner"}, "default_role"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"kind": "nonesuch"}, "kind"),
        ({"secrets": {"unknown_secret": "x"}}, "secrets"),
        ({"surprise": 1}, "surprise"),
        ({"email_domains": ["globex.test"]}, "email_domains"),  # served by another organization
    ],
)
def test_bad_input_gets_field_errors_and_writes_nothing(acme, globex, verified_client_for, change, field):
    make_provider(globex.org, slug="globex-idp", domains=("globex.test",))
    response = verified_client_for(acme.owner).post(URL, {**NEW, **change}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not IdentityProvider.objects.filter(organization=acme.org).exists()
    assert not events("sso.provider_created", acme.org)


def test_renaming_a_provider_keeps_its_group_mappings(acme, verified_client_for):
    provider = make_provider(acme.org)
    team = Team.objects.create(organization=acme.org, name="Engineering")
    mapping = IdentityGroupMapping.objects.create(organization=acme.org, provider="okta", group_name="eng", team=team)
    response = verified_client_for(acme.owner).patch(f"{URL}{provider.pk}/", {"slug": "okta-eu"}, format="json")
    assert response.status_code == 200
    mapping.refresh_from_db()
    assert mapping.provider == "okta-eu"


def test_duplicate_slug_is_a_conflict(acme, verified_client_for):
    client = verified_client_for(acme.owner)
    assert client.post(URL, NEW, format="json").status_code == 201
    assert client.post(URL, {**NEW, "email_domains": ["other.test"]}, format="json").status_code == 409


def test_permissions_and_step_up(acme, client_for, verified_client_for):
    provider = make_provider(acme.org)
    for user in (acme.admin, acme.member, acme.auditor):
        client = verified_client_for(user)
        assert client.get(URL).status_code == 403
        assert client.post(URL, NEW, format="json").status_code == 403
        assert client.delete(f"{URL}{provider.pk}/").status_code == 403
    # sso.manage, but no recent verification: reads work, writes ask for step-up
    stale = client_for(acme.owner)
    assert stale.get(URL).status_code == 200
    refused = stale.patch(f"{URL}{provider.pk}/", {"name": "x"}, format="json")
    assert refused.status_code == 403 and refused.json()["type"].endswith("step-up-required")
    assert APIClient().get(URL).status_code in (401, 403)


def test_another_organizations_provider_is_404(acme, globex, verified_client_for):
    foreign = make_provider(globex.org, slug="globex-idp", domains=("globex.test",))
    client = verified_client_for(acme.owner)
    for method in ("get", "patch", "put", "delete"):
        assert getattr(client, method)(f"{URL}{foreign.pk}/", {}, format="json").status_code == 404
        assert getattr(client, method)(f"/api/v1/orgs/globex/identity-providers/{foreign.pk}/", {},
                                       format="json").status_code == 404  # fmt: skip
    assert "globex" not in client.get(URL).content.decode()
    assert IdentityProvider.objects.filter(pk=foreign.pk).exists()


def test_enforcement_api(acme, verified_client_for):
    client = verified_client_for(acme.owner)
    url = "/api/v1/orgs/acme/sso-enforcement"
    assert client.get(url).json() == {"sso_enforced": False, "break_glass": []}
    on = client.patch(url, {"sso_enforced": True, "break_glass": [acme.owner.pk]}, format="json")
    assert on.status_code == 200 and on.json() == {"sso_enforced": True, "break_glass": [acme.owner.pk]}
    refused = client.patch(url, {"break_glass": [acme.member.pk]}, format="json")
    assert refused.status_code == 400 and "break_glass" in refused.json()["errors"]
    assert client.patch(url, {"break_glass": []}, format="json").json()["break_glass"] == []
    assert len(events("sso.enforcement_updated", acme.org)) == 3
    assert verified_client_for(acme.admin).patch(url, {"sso_enforced": False}, format="json").status_code == 403


def test_services_check_the_permission(acme):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        identity_provider_create(actor=acme.member, org=acme.org, kind="test", slug="x", name="X",
                                 email_domains=["acme.test"], config={"issuer": "https://i"})  # fmt: skip


# --- Admin ---------------------------------------------------------------------------------------------------


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


ADMIN_FORM = {
    "kind": "test", "slug": "okta", "name": "Okta", "enabled": "on", "email_domains": "acme.test\nAcme.example",
    "default_role": "member", "attribute_map": '{"email": "mail"}', "config": '{"issuer": "https://idp.example"}',
    "secret__client_secret": SECRET,
}  # fmt: skip


def test_admin_add_and_change_through_the_services(acme, operator):
    page = operator.get("/admin/accounts/identityprovider/add/")
    assert page.status_code == 200 and b'type="password" name="secret__client_secret"' in page.content
    response = operator.post("/admin/accounts/identityprovider/add/", {**ADMIN_FORM, "organization": acme.org.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    provider = IdentityProvider.objects.get(organization=acme.org)
    assert provider.email_domains == ["acme.test", "acme.example"] and provider.secrets == {"client_secret": SECRET}
    assert events("sso.provider_created", acme.org)

    change = f"/admin/accounts/identityprovider/{provider.pk}/change/"
    page = operator.get(change)
    assert page.status_code == 200 and SECRET not in page.content.decode()
    form = {k: v for k, v in ADMIN_FORM.items() if k not in ("kind", "secret__client_secret")}
    assert operator.post(change, {**form, "name": "Okta 2"}).status_code == 302
    provider.refresh_from_db()
    assert provider.name == "Okta 2" and provider.secrets == {"client_secret": SECRET}  # empty input keeps it
    assert operator.post(change, {**form, "clear_secrets": ["client_secret"]}).status_code == 302
    provider.refresh_from_db()
    assert provider.secrets == {}


def test_admin_shows_the_kinds_field_errors(acme, operator):
    bad = {**ADMIN_FORM, "organization": acme.org.pk, "config": '{"issuer": "http://x"}', "default_role": "owner"}
    response = operator.post("/admin/accounts/identityprovider/add/", bad)
    assert response.status_code == 200
    content = response.content.decode()
    assert "issuer: give an https:// URL." in content and "cannot be owners" in content
    assert SECRET not in content  # a re-displayed form does not echo the secret
    assert not IdentityProvider.objects.exists()


def test_admin_enforcement_and_break_glass_are_audited(acme, operator):
    data = {
        "name": acme.org.name, "slug": acme.org.slug, "is_active": "on", "api_key_max_lifetime_days": 365,
        "mfa_policy": "optional", "mfa_grace_days": 7, "step_up_minutes": 15, "sso_enforced": "on",
    }  # fmt: skip
    assert operator.post(f"/admin/accounts/organization/{acme.org.pk}/change/", data).status_code == 302
    acme.org.refresh_from_db()
    assert acme.org.sso_enforced and events("sso.enforcement_updated", acme.org)
    owner = Membership.objects.get(organization=acme.org, user=acme.owner)
    response = operator.post(
        f"/admin/accounts/membership/{owner.pk}/change/", {"role": "owner", "is_active": "on", "sso_break_glass": "on"}
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.sso_break_glass
