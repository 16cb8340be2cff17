"""Explain (why does someone hold a permission) and what-if (what would a change do), API and admin."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from rbac.models import Grant, Role, Team, TeamMember
from rbac.services import grants as grant_services
from rbac.services import permissions_of, resource_grants_of, roles, teams, whatif
from tests.factories import ChannelFactory, MembershipFactory, UserFactory
from tests.rbac.conftest import fresh

pytestmark = pytest.mark.django_db


def url(org, suffix):
    return f"/api/v1/orgs/{org.org.slug}/{suffix}"


def pick(source, keys=("kind", "role", "gives", "counts")):
    return {key: source[key] for key in keys if key in source}


def explain(client, org, **params):
    return client.get(url(org, "rbac/explain"), params)


# --- Explain ---------------------------------------------------------------------------------------------------


def test_explain_base_role_and_direct_grant_with_expiry(acme, client_for, role_factory, grant):
    admin = client_for(acme.admin)
    body = explain(admin, acme, user=acme.member.pk, permission="channels.view").json()
    assert body["allowed"] is True and "base role 'member'" in body["summary"]
    assert [pick(source) for source in body["sources"]] == [
        {"kind": "base_role", "role": "member", "gives": True, "counts": True}
    ]

    expires = timezone.now() + timedelta(days=3)
    row = grant(role_factory(acme.org, "Deleters", ["messages.delete_any"]), user=acme.member, expires_at=expires)
    body = explain(admin, acme, user=acme.member.pk, permission="messages.delete_any").json()
    assert body["allowed"] is True
    base, direct = body["sources"]
    assert pick(base) == {"kind": "base_role", "role": "member", "gives": False, "counts": False}
    assert direct["kind"] == "org_grant" and direct["via"] == "direct" and direct["grant_id"] == row.pk
    assert direct["role"]["name"] == "Deleters" and direct["counts"] and direct["live"]
    assert direct["expires_at"].startswith(expires.date().isoformat())


def test_explain_expired_grant_is_listed_but_does_not_count(acme, client_for, role_factory, grant):
    row = grant(role_factory(acme.org, "Deleters", ["messages.delete_any"]), user=acme.member)
    Grant.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    body = explain(client_for(acme.admin), acme, user=acme.member.pk, permission="messages.delete_any").json()
    assert body["allowed"] is False
    assert [(s["kind"], s.get("live"), s["counts"]) for s in body["sources"]] == [
        ("base_role", None, False),
        ("org_grant", False, False),
    ]


def test_explain_nested_team_chain(acme, client_for, role_factory, grant):
    engineering = Team.objects.create(organization=acme.org, name="Engineering")
    backend = Team.objects.create(organization=acme.org, name="Backend", parent=engineering)
    databases = Team.objects.create(organization=acme.org, name="Databases", parent=backend)
    TeamMember.objects.create(organization=acme.org, team=databases, user=acme.guest)
    grant(role_factory(acme.org, "Channel admins", ["channels.manage"]), team=engineering)
    body = explain(client_for(acme.auditor), acme, user=acme.guest.pk, permission="channels.manage").json()
    assert body["allowed"] is True
    source = body["sources"][1]
    assert source["via"] == "team" and source["kind"] == "org_grant"
    assert [team["name"] for team in source["teams"]] == ["Databases", "Backend", "Engineering"]


def test_explain_resource_grant_and_object(acme, client_for, role_factory, grant):
    other = ChannelFactory(organization=acme.org, name="other")
    role = role_factory(acme.org, "Channel moderator", ["channels.manage"])
    grant(role, user=acme.guest, resource=acme.public)
    admin = client_for(acme.admin)
    on_it = explain(
        admin, acme, user=acme.guest.pk, permission="channels.manage", object=f"chat.channel:{acme.public.pk}"
    )
    assert on_it.status_code == 200, on_it.json()
    body = on_it.json()
    assert body["allowed"] is True and body["object"] == f"chat.channel:{acme.public.pk}"
    source = body["sources"][1]
    assert source["kind"] == "resource_grant" and source["resource_id"] == acme.public.pk and source["counts"]
    elsewhere = explain(
        admin, acme, user=acme.guest.pk, permission="channels.manage", object=f"chat.channel:{other.pk}"
    )
    assert elsewhere.json()["allowed"] is False
    assert elsewhere.json()["sources"][1]["counts"] is False  # listed (on another channel), does not count here
    org_wide = explain(admin, acme, user=acme.guest.pk, permission="channels.manage").json()
    assert org_wide["allowed"] is False


def test_explain_agrees_with_the_engine(acme, client_for, role_factory, grant):
    team = Team.objects.create(organization=acme.org, name="Ops")
    TeamMember.objects.create(organization=acme.org, team=team, user=acme.member)
    grant(role_factory(acme.org, "Ops", ["members.invite"]), team=team)
    admin = client_for(acme.admin)
    for code in ["members.invite", "org.manage", "channels.view", "roles.manage"]:
        body = explain(admin, acme, user=acme.member.pk, permission=code).json()
        assert body["allowed"] == (code in permissions_of(user=fresh(acme.member), org=acme.org)), code


def test_explain_input_errors_and_other_orgs(acme, globex, client_for):
    admin = client_for(acme.admin)
    foreign_channel = globex.public
    cases = [
        {"user": acme.member.pk, "permission": "nope.nope"},
        {"user": 10**9, "permission": "channels.view"},
        {"user": "abc", "permission": "channels.view"},
        {"user": globex.member.pk, "permission": "channels.view"},  # same answer as a missing user
        {"user": acme.member.pk, "permission": "channels.view", "object": "channel-12"},
        {"user": acme.member.pk, "permission": "channels.view", "object": "accounts.user:1"},
        {"user": acme.member.pk, "permission": "channels.view", "object": f"chat.channel:{foreign_channel.pk}"},
        {"user": acme.member.pk},
        {"user": acme.member.pk, "permission": "channels.view", "colour": "red"},
    ]
    for params in cases:
        response = explain(admin, acme, **params)
        assert response.status_code == 400, (params, response.json())
    foreign = explain(admin, acme, user=globex.member.pk, permission="channels.view").json()
    missing = explain(admin, acme, user=10**9, permission="channels.view").json()
    assert foreign["errors"] == missing["errors"]
    assert explain(client_for(globex.owner), acme, user=acme.member.pk, permission="org.view").status_code == 404


@pytest.mark.parametrize("role,status", [("owner", 200), ("admin", 200), ("auditor", 200), ("member", 403),
                                          ("guest", 403), ("billing", 403)])  # fmt: skip
def test_explain_needs_roles_manage_or_audit_read(acme, client_for, role, status):
    response = explain(client_for(getattr(acme, role)), acme, user=acme.member.pk, permission="channels.view")
    assert response.status_code == status


def test_explain_query_count_does_not_grow_with_grants(acme, client_for, role_factory, grant):
    admin = client_for(acme.admin)

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert explain(admin, acme, user=acme.member.pk, permission="channels.manage").status_code == 200
        return len(captured)

    role = role_factory(acme.org, "Mods", ["channels.manage"])
    team = Team.objects.create(organization=acme.org, name="t0")
    TeamMember.objects.create(organization=acme.org, team=team, user=acme.member)
    grant(role, team=team)
    small = count()
    for index in range(1, 8):
        parent = Team.objects.create(organization=acme.org, name=f"t{index}")
        TeamMember.objects.create(organization=acme.org, team=parent, user=acme.member)
        grant(role, team=parent)
        grant(role, user=acme.member, resource=ChannelFactory(organization=acme.org))
    assert count() == small


# --- What-if ---------------------------------------------------------------------------------------------------


def _state(users, org):
    return {
        user.pk: (permissions_of(user=fresh(user), org=org), resource_grants_of(user=fresh(user), org=org))
        for user in users
    }


def _real_effect(before, after):
    diff = {}
    for pk in before:
        gained, lost = after[pk][0] - before[pk][0], before[pk][0] - after[pk][0]
        if gained or lost or before[pk][1] != after[pk][1]:
            diff[pk] = (sorted(gained), sorted(lost))
    return diff


def _preview_effect(preview):
    return {change.user.pk: (change.gained, change.lost) for change in preview.changes}


def test_what_if_role_update_matches_the_real_effect(acme, role_factory, grant):
    role = role_factory(acme.org, "Mods", ["channels.manage"])
    team = Team.objects.create(organization=acme.org, name="Support")
    child = Team.objects.create(organization=acme.org, name="Tier 2", parent=team)
    TeamMember.objects.create(organization=acme.org, team=child, user=acme.guest)
    grant(role, team=team)
    grant(role, user=acme.member)
    people = [acme.member, acme.guest, acme.auditor]
    before = _state(people, acme.org)
    audit_rows = AuditEvent.objects.count()
    change = {"permissions": ["messages.delete_any"]}
    preview = whatif.preview_role_update(actor=acme.admin, org=acme.org, role=role, **change)
    assert Role.objects.get(pk=role.pk).permissions == ["channels.manage"]  # nothing saved
    assert AuditEvent.objects.count() == audit_rows  # nothing recorded either
    assert _state(people, acme.org) == before
    expected = {
        acme.member.pk: (["messages.delete_any"], ["channels.manage"]),
        acme.guest.pk: (["messages.delete_any"], ["channels.manage"]),
    }
    assert _preview_effect(preview) == expected
    assert preview.users_checked == 2
    roles.role_update(actor=acme.admin, org=acme.org, role=role, **change)
    assert _real_effect(before, _state(people, acme.org)) == _preview_effect(preview)


def test_what_if_grant_create_on_resource_and_revoke_match(acme, role_factory):
    role = role_factory(acme.org, "Moderator", ["channels.manage", "messages.delete_any"])
    before = _state([acme.guest], acme.org)
    preview = whatif.preview_grant_create(
        actor=acme.admin, org=acme.org, role=role, user=acme.guest, resource=acme.public
    )
    assert not Grant.objects.exists()
    [change] = preview.changes
    assert change.gained == [] and change.resources == [
        {"resource_type": "chat.channel", "resource_id": acme.public.pk, "gained": ["channels.manage",
         "messages.delete_any"], "lost": []}
    ]  # fmt: skip
    created = grant_services.grant_create(
        actor=acme.admin, org=acme.org, role=role, user=acme.guest, resource=acme.public
    )
    after = _state([acme.guest], acme.org)
    assert after[acme.guest.pk][1] == {("chat.channel", acme.public.pk): frozenset(change.resources[0]["gained"])}
    assert before[acme.guest.pk][1] == {}

    revoke = whatif.preview_grant_revoke(actor=acme.admin, org=acme.org, grant=created)
    assert Grant.objects.filter(pk=created.pk).exists()
    assert revoke.changes[0].resources[0]["lost"] == ["channels.manage", "messages.delete_any"]
    grant_services.grant_revoke(actor=acme.admin, org=acme.org, grant=created)
    assert _state([acme.guest], acme.org) == before


def test_what_if_team_membership_add_and_remove(acme, role_factory, grant):
    parent = Team.objects.create(organization=acme.org, name="Engineering")
    team = Team.objects.create(organization=acme.org, name="Backend", parent=parent)
    grant(role_factory(acme.org, "Inviters", ["members.invite"]), team=parent)
    before = _state([acme.member], acme.org)
    preview = whatif.preview_team_member_add(actor=acme.admin, org=acme.org, team=team, user=acme.member)
    assert not TeamMember.objects.filter(team=team).exists()
    teams.team_member_add(actor=acme.admin, org=acme.org, team=team, user=acme.member)
    assert (
        _real_effect(before, _state([acme.member], acme.org))
        == _preview_effect(preview)
        == {acme.member.pk: (["members.invite"], [])}
    )
    removal = whatif.preview_team_member_remove(actor=acme.admin, org=acme.org, team=team, user=acme.member)
    assert _preview_effect(removal) == {acme.member.pk: ([], ["members.invite"])}
    assert TeamMember.objects.filter(team=team, user=acme.member).exists()


def test_what_if_api(acme, globex, client_for, role_factory, grant):
    role = role_factory(acme.org, "Mods", ["channels.manage"])
    grant(role, user=acme.member)
    admin = client_for(acme.admin)
    response = admin.post(url(acme, "rbac/what-if"), {"change": "role_update", "role_id": role.pk, "permissions": []},
                          format="json")  # fmt: skip
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["users_checked"] == 1
    assert body["changes"] == [
        {"user": {"id": acme.member.pk, "email": acme.member.email, "full_name": acme.member.full_name},
         "gained": [], "lost": ["channels.manage"], "resources": []}
    ]  # fmt: skip
    assert Role.objects.get(pk=role.pk).permissions == ["channels.manage"]
    team = Team.objects.create(organization=acme.org, name="Ops")
    response = admin.post(url(acme, "rbac/what-if"), {"change": "grant_create", "role_id": role.pk, "team_id": team.pk})
    assert response.status_code == 200 and response.json()["changes"] == []  # an empty team gains nobody anything
    owner = roles.built_in_role(org=acme.org, key="owner")
    escalation = admin.post(url(acme, "rbac/what-if"), {"change": "grant_create", "role_id": owner.pk,
                                                        "user_id": acme.admin.pk})  # fmt: skip
    assert escalation.status_code == 403  # a change the caller may not make cannot be previewed either
    assert admin.post(url(acme, "rbac/what-if"), {"change": "grant_revoke"}).status_code == 400
    assert admin.post(url(acme, "rbac/what-if"), {"change": "rename"}).status_code == 400
    foreign = role_factory(globex.org, "Foreign", ["channels.view"])
    response = admin.post(url(acme, "rbac/what-if"), {"change": "role_update", "role_id": foreign.pk})
    assert response.status_code == 400
    response = client_for(acme.member).post(url(acme, "rbac/what-if"), {"change": "role_update", "role_id": role.pk,
                                                                       "permissions": []}, format="json")  # fmt: skip
    assert response.status_code == 403
    assert (
        client_for(globex.owner).post(url(acme, "rbac/what-if"), {"change": "grant_revoke", "grant_id": 1}).status_code
        == 404
    )


def test_admin_role_editor_preview(acme, client, role_factory, grant):
    root = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(root)
    role = role_factory(acme.org, "Mods", ["channels.manage"])
    grant(role, user=acme.member)
    page = client.get(f"/admin/rbac/role/{role.pk}/change/").content.decode()
    assert 'name="_preview"' in page
    response = client.post(
        f"/admin/rbac/role/{role.pk}/change/",
        {"name": "Mods", "description": "", "base_role": "", "permissions": ["messages.delete_any"], "_preview": "1"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Preview only" in page and acme.member.email in page
    assert "messages.delete_any" in page.split('id="rbac-preview"')[1].split("</fieldset>")[0]
    assert Role.objects.get(pk=role.pk).permissions == ["channels.manage"]
    saved = client.post(
        f"/admin/rbac/role/{role.pk}/change/",
        {"name": "Mods", "description": "", "base_role": "", "permissions": ["messages.delete_any"]},
    )
    assert saved.status_code == 302
    assert Role.objects.get(pk=role.pk).permissions == ["messages.delete_any"]


def test_preview_leaves_no_memo_behind(acme, role_factory, grant):
    role = role_factory(acme.org, "Mods", ["channels.manage"])
    actor = fresh(acme.admin)
    newcomer = MembershipFactory(organization=acme.org).user
    whatif.preview_grant_create(actor=actor, org=acme.org, role=role, user=newcomer)
    assert not Grant.objects.exists()
    assert "channels.manage" not in permissions_of(user=fresh(newcomer), org=acme.org)
