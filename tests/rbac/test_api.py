"""The RBAC API under /api/v1/orgs/{org}/rbac/ and /me/permissions."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rbac.models import Grant, Role, Team, TeamMember
from rbac.services.roles import roles_ensure_built_in
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def url(org, suffix):
    return f"/api/v1/orgs/{org.org.slug}/{suffix}"


def test_list_roles_includes_the_built_ins(acme, client_for):
    response = client_for(acme.member).get(url(acme, "rbac/roles/"))
    assert response.status_code == 200, response.json()
    by_key = {role["base_role"]: role for role in response.json()["results"] if role["is_built_in"]}
    assert set(by_key) == {"owner", "admin", "member", "guest", "auditor", "billing"}
    assert "audit.read" in by_key["auditor"]["permissions"]


def test_role_crud(acme, client_for):
    admin = client_for(acme.admin)
    response = admin.post(
        url(acme, "rbac/roles/"), {"name": "Moderators", "permissions": ["messages.delete_any"], "base_role": "member"}
    )
    assert response.status_code == 201, response.json()
    role = response.json()
    assert role["own_permissions"] == ["messages.delete_any"]
    assert "channels.create" in role["permissions"]  # from the member base role
    detail = url(acme, f"rbac/roles/{role['id']}/")
    response = admin.patch(detail, {"description": "Keep it clean"})
    assert response.status_code == 200 and response.json()["description"] == "Keep it clean"
    assert admin.patch(detail, {"colour": "red"}).status_code == 400  # strict input
    assert admin.delete(detail).status_code == 204
    assert not Role.objects.filter(pk=role["id"]).exists()


def test_role_errors_are_problem_details(acme, client_for):
    admin = client_for(acme.admin)
    response = admin.post(url(acme, "rbac/roles/"), {"name": "X", "permissions": ["nope.nope"]})
    assert response.status_code == 400
    assert response.json()["errors"]["permissions"]
    response = admin.post(url(acme, "rbac/roles/"), {"name": "X", "permissions": ["org.manage"]})
    assert response.status_code == 403
    assert "org.manage" in response.json()["detail"]
    assert not Role.objects.filter(name="X").exists()
    owner_role = roles_ensure_built_in(org=acme.org)[0]
    response = client_for(acme.owner).delete(url(acme, f"rbac/roles/{owner_role.pk}/"))
    assert response.status_code == 409
    response = client_for(acme.member).post(url(acme, "rbac/roles/"), {"name": "Mine"})
    assert response.status_code == 403


def test_teams_and_members(acme, client_for):
    admin = client_for(acme.admin)
    parent = admin.post(url(acme, "rbac/teams/"), {"name": "Engineering"}).json()
    response = admin.post(url(acme, "rbac/teams/"), {"name": "Backend", "parent_id": parent["id"]})
    assert response.status_code == 201, response.json()
    child = response.json()
    assert child["parent_id"] == parent["id"]
    members = url(acme, f"rbac/teams/{child['id']}/members/")
    response = admin.post(members, {"user_id": acme.member.pk, "is_maintainer": True})
    assert response.status_code == 201, response.json()
    assert admin.post(members, {"user_id": acme.member.pk}).status_code == 200  # already there
    newcomer = MembershipFactory(organization=acme.org).user
    maintainer = client_for(acme.member)
    response = maintainer.post(members, {"user_id": newcomer.pk})
    assert response.status_code == 201, response.json()
    listed = admin.get(members).json()["results"]
    assert sorted(item["user"]["id"] for item in listed) == sorted([acme.member.pk, newcomer.pk])
    assert maintainer.patch(f"{members}{newcomer.pk}/", {"is_maintainer": True}).status_code == 200
    assert TeamMember.objects.get(team_id=child["id"], user=newcomer).is_maintainer
    assert maintainer.delete(f"{members}{newcomer.pk}/").status_code == 204
    response = admin.patch(url(acme, f"rbac/teams/{parent['id']}/"), {"parent_id": child["id"]})
    assert response.status_code == 400  # a cycle
    assert admin.patch(url(acme, f"rbac/teams/{child['id']}/"), {"name": "Back end"}).json()["name"] == "Back end"
    assert admin.delete(url(acme, f"rbac/teams/{parent['id']}/")).status_code == 204
    assert client_for(acme.guest).post(url(acme, "rbac/teams/"), {"name": "G"}).status_code == 403


def test_grants_api_and_me_permissions(acme, client_for):
    admin = client_for(acme.admin)
    role = admin.post(url(acme, "rbac/roles/"), {"name": "Channel mods", "permissions": ["channels.manage"]}).json()
    response = admin.post(
        url(acme, "rbac/grants/"),
        {
            "role_id": role["id"],
            "user_id": acme.guest.pk,
            "resource_type": "chat.channel",
            "resource_id": acme.public.pk,
        },
    )
    assert response.status_code == 201, response.json()
    grant = response.json()
    assert grant["resource_type"] == "chat.channel" and grant["user"]["id"] == acme.guest.pk
    me = client_for(acme.guest).get(url(acme, "me/permissions"))
    assert me.status_code == 200
    body = me.json()
    assert body["role"] == "guest"
    assert "channels.manage" not in body["permissions"]
    assert body["resources"] == [
        {"resource_type": "chat.channel", "resource_id": acme.public.pk, "permissions": ["channels.manage"]}
    ]
    listed = admin.get(url(acme, f"rbac/grants/?user={acme.guest.pk}")).json()["results"]
    assert [item["id"] for item in listed] == [grant["id"]]
    assert admin.delete(url(acme, f"rbac/grants/{grant['id']}/")).status_code == 204
    assert client_for(acme.guest).get(url(acme, "me/permissions")).json()["resources"] == []


def test_grant_input_errors(acme, globex, client_for):
    admin = client_for(acme.admin)
    role = roles_ensure_built_in(org=acme.org)[2]
    foreign_role = roles_ensure_built_in(org=globex.org)[2]
    cases = [
        {"role_id": role.pk},  # no subject
        {"role_id": role.pk, "user_id": acme.member.pk, "resource_type": "chat.channel"},  # half a resource
        {"role_id": foreign_role.pk, "user_id": acme.member.pk},  # another org's role
        {"role_id": role.pk, "user_id": globex.member.pk},  # another org's user
        {"role_id": role.pk, "user_id": acme.member.pk, "resource_type": "chat.channel", "resource_id": 10**9},
        {"role_id": role.pk, "user_id": acme.member.pk, "resource_type": "accounts.user", "resource_id": 1},
        {"role_id": role.pk, "user_id": acme.member.pk, "expires_at": "2001-01-01T00:00:00Z"},
    ]
    for body in cases:
        response = admin.post(url(acme, "rbac/grants/"), body)
        assert response.status_code == 400, (body, response.json())
    assert not Grant.objects.exists()


def test_escalation_through_the_api_is_403_and_changes_nothing(acme, client_for):
    owner_role = roles_ensure_built_in(org=acme.org)[0]
    response = client_for(acme.admin).post(
        url(acme, "rbac/grants/"), {"role_id": owner_role.pk, "user_id": acme.admin.pk}
    )
    assert response.status_code == 403
    assert not Grant.objects.exists()
    assert "org.manage" not in client_for(acme.admin).get(url(acme, "me/permissions")).json()["permissions"]


@pytest.mark.parametrize(
    "path",
    ["rbac/roles/", "rbac/teams/", "rbac/grants/", "rbac/permissions/", "me/permissions"],
)
def test_other_org_is_404(acme, globex, client_for, path):
    response = client_for(globex.owner).get(url(acme, path))
    assert response.status_code == 404
    assert client_for(acme.owner).get("/api/v1/orgs/nope/" + path).status_code == 404


def test_other_orgs_objects_are_404(acme, globex, client_for):
    admin = client_for(acme.admin)
    team = Team.objects.create(organization=globex.org, name="Globex team")
    role = roles_ensure_built_in(org=globex.org)[2]
    assert admin.get(url(acme, f"rbac/teams/{team.pk}/")).status_code == 404
    assert admin.delete(url(acme, f"rbac/teams/{team.pk}/")).status_code == 404
    assert admin.get(url(acme, f"rbac/teams/{team.pk}/members/")).status_code == 404
    assert admin.post(url(acme, f"rbac/teams/{team.pk}/members/"), {"user_id": acme.member.pk}).status_code == 404
    assert admin.get(url(acme, f"rbac/roles/{role.pk}/")).status_code == 404
    assert admin.patch(url(acme, f"rbac/roles/{role.pk}/"), {"name": "x"}).status_code == 404
    grant = Grant.objects.create(organization=globex.org, role=role, user=globex.member)
    assert admin.delete(url(acme, f"rbac/grants/{grant.pk}/")).status_code == 404
    assert Grant.objects.filter(pk=grant.pk).exists()


def test_anonymous_is_refused(acme, anon):
    assert anon.get(url(acme, "rbac/roles/")).status_code in (401, 403)


def test_list_query_counts_do_not_grow(acme, client_for):
    admin = client_for(acme.admin)

    def count(path):
        with CaptureQueriesContext(connection) as captured:
            assert admin.get(url(acme, path)).status_code == 200
        return len(captured)

    roles_ensure_built_in(org=acme.org)
    small = {path: count(path) for path in ("rbac/roles/", "rbac/teams/", "rbac/grants/")}
    for index in range(10):
        team = Team.objects.create(organization=acme.org, name=f"t{index}")
        TeamMember.objects.create(organization=acme.org, team=team, user=acme.admin)
        role = Role.objects.create(organization=acme.org, name=f"r{index}", permissions=["channels.view"])
        Grant.objects.create(organization=acme.org, role=role, team=team)
    assert {path: count(path) for path in small} == small
