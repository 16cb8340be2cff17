"""LDAP / Active Directory login and directory sync, against a real slapd started here (one per xdist worker).

The directory serves corp.test for the acme organization. Its people log in with their directory password
through the same API and allauth form as everyone else; the SSO core provisions them (JIT, group-mapped
teams); the hourly sync deprovisions people the directory removed or moved out of the required group.
"""

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.sites import site
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory
from rest_framework.test import APIClient

from accounts.models import IdentityProvider, Membership, User
from accounts.services.api_keys import api_key_create
from accounts.sso import ldap as ldap_kind
from accounts.sso.ldap_admin import check_ldap_connection
from accounts.sso.ldap_sync import ldap_sync, ldap_sync_all
from audit.models import AuditEvent
from rbac.models import IdentityGroupMapping, Team, TeamMember
from tests.accounts.ldap_server import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, SUFFIX, TestDirectory, make_ca, pem

ALICE_PASSWORD = "alice-directory-pw-1"
BOB_PASSWORD = "bob-directory-pw-2"


@pytest.fixture(scope="module")
def slapd():
    server = TestDirectory()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def directory(slapd):
    """A fresh tree: alice (engineering) and bob (sales), both in chat-users."""
    slapd.reset()
    slapd.alice = slapd.add_person("alice", password=ALICE_PASSWORD, mail="alice@corp.test", cn="Alice Liddell")
    slapd.bob = slapd.add_person("bob", password=BOB_PASSWORD, mail="bob@corp.test", cn="Bob Builder", uid_number=10001)
    slapd.engineering = slapd.add_group("engineering", [slapd.alice])
    slapd.sales = slapd.add_group("sales", [slapd.bob])
    slapd.chat_users = slapd.add_group("chat-users", [slapd.alice, slapd.bob])
    slapd.banned = slapd.add_group("banned", [])
    return slapd


def _provider(org, server, **config):
    return IdentityProvider.objects.create(
        organization=org, kind="ldap", slug="corp-ldap", name="Corp directory", email_domains=["corp.test"],
        jit_provisioning=True,
        config={
            "server_uris": [server.ldap_uri], "start_tls": True, "ca_cert": server.ca_pem, "bind_dn": SERVICE_DN,
            "user_search_base": PEOPLE, "group_search_base": GROUPS, "group_type": "groupOfNames", **config,
        },
        secrets={"bind_password": SERVICE_PASSWORD},
    )  # fmt: skip


@pytest.fixture
def provider(acme, directory):
    return _provider(acme.org, directory)


@pytest.fixture
def teams(acme, provider):
    engineering = Team.objects.create(organization=acme.org, name="Engineering")
    sales = Team.objects.create(organization=acme.org, name="Sales")
    IdentityGroupMapping.objects.create(organization=acme.org, provider="corp-ldap", group_name="engineering",
                                        team=engineering)  # fmt: skip
    IdentityGroupMapping.objects.create(organization=acme.org, provider="corp-ldap", group_name=f"cn=sales,{GROUPS}",
                                        team=sales)  # fmt: skip
    return engineering, sales


def _login(email, password, client=None):
    client = client or APIClient()
    return client, client.post("/api/v1/auth/session", {"email": email, "password": password}, format="json")


def _team_names(user):
    return sorted(TeamMember.objects.filter(user=user).values_list("team__name", flat=True))


def _failures():
    return list(
        AuditEvent.objects.filter(event_name="sso.login_failed")
        .order_by("pk")
        .values_list("metadata__reason", flat=True)
    )


pytestmark = pytest.mark.django_db


# --- login ---------------------------------------------------------------------------------------------------


def test_directory_password_creates_the_user_with_mapped_teams(acme, provider, teams):
    client, response = _login("Alice@Corp.test", ALICE_PASSWORD)
    assert response.status_code == 200, response.json()
    alice = User.objects.get(email="alice@corp.test")
    assert response.json()["email"] == alice.email
    assert alice.full_name == "Alice Liddell"
    assert not alice.has_usable_password()  # the directory holds the password, never us
    assert Membership.objects.get(organization=acme.org, user=alice).role == "member"
    assert _team_names(alice) == ["Engineering"]
    assert EmailAddress.objects.get(user=alice).verified
    assert client.get("/api/v1/me").status_code == 200
    login = AuditEvent.objects.get(event_name="sso.login")
    assert login.metadata["provider"] == "corp-ldap"
    # A group mapped by its full DN works as well as one mapped by its name.
    _, response = _login("bob@corp.test", BOB_PASSWORD)
    assert response.status_code == 200
    assert _team_names(User.objects.get(email="bob@corp.test")) == ["Sales"]


def test_wrong_password_is_refused_and_audited_without_the_local_password(acme, provider, directory):
    _, response = _login("alice@corp.test", "not-her-password")
    assert response.status_code == 400
    assert not User.objects.filter(email="alice@corp.test").exists()
    assert _failures() == ["wrong_password_or_unknown_user"]
    # Someone with a local password at a directory domain cannot use it: the directory alone decides.
    local = User.objects.create_user(email="carol@corp.test", password="local-password-1")
    Membership.objects.create(organization=acme.org, user=local)
    EmailAddress.objects.create(user=local, email=local.email, verified=True, primary=True)
    _, response = _login("carol@corp.test", "local-password-1")
    assert response.status_code == 400
    failed = AuditEvent.objects.filter(event_name="auth.login_failed").values_list("actor_label", flat=True)
    assert set(failed) == {"alice@corp.test", "carol@corp.test"}


def test_empty_password_never_reaches_the_directory(provider, rf):
    from django.contrib.auth import authenticate

    # An empty password would be an anonymous ("unauthenticated") bind, which many directories accept.
    assert authenticate(rf.post("/"), email="alice@corp.test", password="") is None
    assert not User.objects.filter(email="alice@corp.test").exists()


def test_required_and_denied_groups(acme, directory):
    _provider(acme.org, directory, required_groups=[directory.engineering], denied_groups=[directory.banned])
    _, response = _login("bob@corp.test", BOB_PASSWORD)
    assert response.status_code == 400
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 200
    directory.set_members(directory.banned, [directory.alice])
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 400
    assert _failures() == ["group_required", "group_denied"]


def test_group_change_applies_at_next_login(acme, provider, teams, directory):
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 200
    alice = User.objects.get(email="alice@corp.test")
    assert _team_names(alice) == ["Engineering"]
    directory.set_members(directory.engineering, [])
    directory.set_members(directory.sales, [directory.alice, directory.bob])
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 200
    assert _team_names(alice) == ["Sales"]


def test_jit_off_refuses_unknown_people(acme, provider):
    IdentityProvider.objects.filter(pk=provider.pk).update(jit_provisioning=False)
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 400
    assert "unknown_user" in _failures()


def test_posix_groups(acme, directory):
    directory.add_posix_group("ops", ["alice"], gid=5000)
    _provider(acme.org, directory, group_type="posixGroup")
    ops = Team.objects.create(organization=acme.org, name="Ops")
    IdentityGroupMapping.objects.create(organization=acme.org, provider="corp-ldap", group_name="ops", team=ops)
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 200
    assert _team_names(User.objects.get(email="alice@corp.test")) == ["Ops"]


def test_directory_down_is_a_clear_refusal_except_for_break_glass_owners(acme, directory):
    provider = _provider(acme.org, directory)
    provider.config["server_uris"] = ["ldap://127.0.0.1:9"]  # nothing listens there
    provider.config["timeout"] = 2
    provider.save()
    _, response = _login("alice@corp.test", ALICE_PASSWORD)
    assert response.status_code == 400
    failure = AuditEvent.objects.get(event_name="sso.login_failed")
    assert failure.metadata["reason"] == "directory_unavailable"
    assert SERVICE_PASSWORD not in str(failure.metadata)
    owner = User.objects.create_user(email="root@corp.test", password="break-glass-pw-1")
    Membership.objects.create(organization=acme.org, user=owner, role="owner", sso_break_glass=True)
    EmailAddress.objects.create(user=owner, email=owner.email, verified=True, primary=True)
    assert _login("root@corp.test", "break-glass-pw-1")[1].status_code == 200


def test_starttls_verifies_the_certificate(acme, directory):
    provider = _provider(acme.org, directory)
    _, other_ca = make_ca("Some other CA")
    provider.config["ca_cert"] = pem(other_ca)
    provider.save()
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 400
    assert _failures() == ["directory_unavailable"]
    options = ldap_kind.connection_options(ldap_kind.config_of(provider))
    import ldap

    assert options[ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_DEMAND


@pytest.mark.parametrize("trusted", [True, False])
def test_ldaps_verifies_the_certificate(acme, directory, trusted):
    provider = _provider(acme.org, directory, server_uris=[directory.ldaps_uri])
    del provider.config["start_tls"]
    if not trusted:
        provider.config["ca_cert"] = pem(make_ca("Some other CA")[1])
    provider.save()
    assert ldap_kind.config_of(provider)["start_tls"] is False  # ldaps:// is TLS from the first byte
    status = _login("alice@corp.test", ALICE_PASSWORD)[1].status_code
    if trusted:
        assert status == 200
    else:
        assert status == 400 and _failures() == ["directory_unavailable"]


def test_browser_login_form_uses_the_directory(client, provider):
    response = client.post("/accounts/login/", {"login": "alice@corp.test", "password": ALICE_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    assert client.get("/api/v1/me").json()["email"] == "alice@corp.test"


# --- configuration -------------------------------------------------------------------------------------------


def test_validation_refuses_clear_text_and_bad_settings(acme, directory):
    provider = _provider(acme.org, directory)
    assert ldap_kind.validate(provider) == {}
    del provider.config["start_tls"]
    provider.config["server_uris"] = ["ldaps://dc1.corp.test", "ldaps://dc2.corp.test"]
    assert ldap_kind.validate(provider) == {}  # LDAPS alone: no StartTLS by default
    provider.config["server_uris"] = ["ldap://dc1.corp.test"]
    assert ldap_kind.config_of(provider)["start_tls"] is True
    provider.config.update(
        start_tls=False, user_filter="mail=%(user)s", bind_dn="not a dn", group_type="nis", ca_cert="nope"
    )
    errors = ldap_kind.validate(provider)["config"]
    assert any("clear" in e for e in errors)
    assert any(e.startswith("user_filter") for e in errors)
    assert any(e.startswith("bind_dn") for e in errors)
    assert any(e.startswith("group_type") for e in errors)
    assert any(e.startswith("ca_cert") for e in errors)


# --- sync ----------------------------------------------------------------------------------------------------


def test_sync_updates_teams_and_names_and_deprovisions_removed_people(acme, provider, teams, directory):
    alice_client, _ = _login("alice@corp.test", ALICE_PASSWORD)
    assert _login("bob@corp.test", BOB_PASSWORD)[1].status_code == 200
    alice, bob = User.objects.get(email="alice@corp.test"), User.objects.get(email="bob@corp.test")
    bob_client = APIClient()
    bob_client.force_login(bob, backend="accounts.backends.EmailBackend")
    key = api_key_create(actor=None, org=acme.org, name="ci", scopes=["channels.view"], owner=alice)
    directory.delete(directory.alice)
    directory.set_members(directory.engineering, [directory.bob])
    directory.modify(directory.bob, "cn", "Robert Builder")

    counts = ldap_sync(provider)

    assert counts == {"checked": 2, "updated": 1, "deprovisioned": 1}
    assert not Membership.objects.get(organization=acme.org, user=alice).is_active
    assert alice_client.get("/api/v1/me").status_code == 401  # her session ended
    key.key.refresh_from_db()
    assert key.key.revoked_at is not None
    bob.refresh_from_db()
    assert bob.full_name == "Robert Builder"
    assert _team_names(bob) == ["Engineering", "Sales"]
    assert AuditEvent.objects.get(event_name="sso.deprovisioned").metadata["reason"] == "absent_from_directory"
    assert AuditEvent.objects.get(event_name="ldap.sync_completed").metadata["deprovisioned"] == 1
    # Deprovisioned people stay out: JIT never brings back someone the directory removed... until re-added.
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 400


def test_sync_deprovisions_people_outside_the_required_group_and_spares_break_glass(acme, directory):
    _provider(acme.org, directory, required_groups=[directory.chat_users])
    assert _login("bob@corp.test", BOB_PASSWORD)[1].status_code == 200
    owner = User.objects.create_user(email="root@corp.test", password="break-glass-pw-1")
    Membership.objects.create(organization=acme.org, user=owner, role="owner", sso_break_glass=True)
    directory.set_members(directory.chat_users, [directory.alice])
    assert ldap_sync_all() == {"acme/corp-ldap": {"checked": 1, "updated": 0, "deprovisioned": 1}}
    assert not Membership.objects.get(organization=acme.org, user__email="bob@corp.test").is_active
    assert Membership.objects.get(organization=acme.org, user=owner).is_active


def test_sync_changes_nothing_when_the_directory_fails_or_finds_nobody(acme, provider, directory):
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 200
    provider.config["user_search_base"] = f"ou=nowhere,{SUFFIX}"
    provider.save()
    assert "error" in ldap_sync(provider)
    provider.config["user_search_base"] = PEOPLE
    provider.secrets = {"bind_password": "wrong"}
    provider.save()
    assert "Invalid credentials" in ldap_sync(provider)["error"]
    assert Membership.objects.get(organization=acme.org, user__email="alice@corp.test").is_active
    failed = AuditEvent.objects.filter(event_name="ldap.sync_failed")
    assert failed.count() == 2
    assert all("wrong" not in str(row.metadata) for row in failed)


# --- admin ---------------------------------------------------------------------------------------------------


def _run_admin_action(user, queryset):
    request = RequestFactory().post("/admin/accounts/identityprovider/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = user
    request._messages = FallbackStorage(request)
    check_ldap_connection(site.get_model_admin(IdentityProvider), request, queryset)
    return [str(m) for m in request._messages]


def test_admin_test_connection_action_reports_clearly(acme, provider, directory):
    staff = User.objects.create_user(email="ops@chatapp.test", password="x", is_staff=True, is_superuser=True)
    [works] = _run_admin_action(staff, IdentityProvider.objects.filter(pk=provider.pk))
    assert "Bound as the service account; no entry matches nobody@corp.test (the search works)" in works
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 200  # a member to look up
    [found] = _run_admin_action(staff, IdentityProvider.objects.filter(pk=provider.pk))
    assert f"Bound and found {directory.alice} for alice@corp.test; groups: chat-users, engineering." in found
    provider.secrets = {"bind_password": "wrong"}
    provider.save()
    [failed] = _run_admin_action(staff, IdentityProvider.objects.filter(pk=provider.pk))
    assert "Could not bind or search" in failed and "Invalid credentials" in failed
    assert "wrong" not in failed
    outcomes = AuditEvent.objects.filter(event_name="ldap.connection_tested").values_list("outcome", flat=True)
    assert sorted(outcomes) == ["failure", "success", "success"]


# --- Active Directory mode (slapd with AD's user and group classes) --------------------------------------------


def test_active_directory_nested_groups_and_disabled_accounts(acme, directory):
    dana = directory.add_ad_user("Dana Scully", password="dana-pw-1", mail="dana@corp.test")
    fox = directory.add_ad_user("Fox Mulder", password="fox-pw-1", mail="fox@corp.test")
    devs = directory.add_ad_group("devs", [dana, fox])
    directory.add_ad_group("all-staff", [devs])  # dana and fox are in it through devs
    provider = _provider(
        acme.org, directory, group_type="activeDirectory",
        user_filter="(&(objectClass=user)(|(mail=%(user)s)(userPrincipalName=%(user)s)))",
    )  # fmt: skip
    staff = Team.objects.create(organization=acme.org, name="Staff")
    IdentityGroupMapping.objects.create(organization=acme.org, provider="corp-ldap", group_name="all-staff", team=staff)
    assert _login("dana@corp.test", "dana-pw-1")[1].status_code == 200
    assert _login("fox@corp.test", "fox-pw-1")[1].status_code == 200
    dana_user = User.objects.get(email="dana@corp.test")
    assert _team_names(dana_user) == ["Staff"]
    assert dana_user.full_name == "Dana Scully"

    directory.modify(dana, "userAccountControl", "514")  # ACCOUNTDISABLE
    assert _login("dana@corp.test", "dana-pw-1")[1].status_code == 400
    assert _failures() == ["directory_disabled"]
    assert ldap_sync(provider) == {"checked": 2, "updated": 0, "deprovisioned": 1}
    assert AuditEvent.objects.get(event_name="sso.deprovisioned").metadata["reason"] == "directory_disabled"
    assert not Membership.objects.get(organization=acme.org, user=dana_user).is_active
    assert Membership.objects.get(organization=acme.org, user__email="fox@corp.test").is_active


def test_api_creates_an_ldap_provider_with_a_write_only_bind_password(acme, directory, verified_client_for):
    client = verified_client_for(acme.owner)
    body = {
        "kind": "ldap", "slug": "corp-ldap", "name": "Corp directory", "email_domains": ["corp.test"],
        "config": {"server_uris": [directory.ldap_uri], "ca_cert": directory.ca_pem, "bind_dn": SERVICE_DN,
                   "user_search_base": PEOPLE, "group_search_base": GROUPS},
        "secrets": {"bind_password": SERVICE_PASSWORD},
    }  # fmt: skip
    clear_text = {**body, "config": {**body["config"], "start_tls": False}}
    refused = client.post("/api/v1/orgs/acme/identity-providers/", clear_text, format="json")
    assert refused.status_code == 400
    assert "clear" in str(refused.json())
    created = client.post("/api/v1/orgs/acme/identity-providers/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["secrets_set"] == ["bind_password"]
    assert SERVICE_PASSWORD not in created.content.decode()
    assert SERVICE_PASSWORD not in str(list(AuditEvent.objects.values()))
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 400  # JIT off by default: not a member


def test_passwords_never_reach_the_logs(acme, provider, caplog):
    caplog.set_level("DEBUG")
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 200
    assert _login("alice@corp.test", "wrong-" + ALICE_PASSWORD)[1].status_code == 400
    provider.secrets = {"bind_password": "wrong-" + SERVICE_PASSWORD}
    provider.save()
    assert _login("alice@corp.test", ALICE_PASSWORD)[1].status_code == 400
    assert "Binding as" in caplog.text  # django-auth-ldap did log at debug level
    assert ALICE_PASSWORD not in caplog.text
    assert SERVICE_PASSWORD not in caplog.text
