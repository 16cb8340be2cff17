"""The rbac admin: pages render, saves go through the services (and refusals are shown, not saved)."""

import pytest

from rbac.models import Grant, Role, Team, TeamMember
from rbac.services.roles import roles_ensure_built_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_pages_render(acme, root):
    owner_role = roles_ensure_built_in(org=acme.org)[0]
    for path in [
        "/admin/rbac/role/",
        "/admin/rbac/role/add/",
        f"/admin/rbac/role/{owner_role.pk}/change/",
        "/admin/rbac/team/add/",
        "/admin/rbac/grant/add/",
        "/admin/rbac/identitygroupmapping/add/",
    ]:
        response = root.get(path)
        assert response.status_code == 200, path
    page = root.get("/admin/rbac/role/add/").content.decode()
    assert 'value="channels.manage"' in page and "Channels" in page  # grouped checkboxes


def test_role_editor_saves_through_the_service(acme, root):
    response = root.post(
        "/admin/rbac/role/add/",
        {"organization": acme.org.pk, "name": "Moderators", "description": "", "base_role": "",
         "permissions": ["messages.delete_any", "channels.manage"]},
    )  # fmt: skip
    assert response.status_code == 302
    role = Role.objects.get(name="Moderators")
    assert role.permissions == ["channels.manage", "messages.delete_any"]
    response = root.post(
        "/admin/rbac/role/add/",
        {"organization": acme.org.pk, "name": "moderators", "permissions": ["channels.view"], "base_role": ""},
        follow=True,
    )
    assert "already exists" in response.content.decode()  # the form says why; nothing is saved
    assert Role.objects.filter(name__iexact="moderators").count() == 1


def test_team_with_member_inline_and_grant(acme, root):
    response = root.post(
        "/admin/rbac/team/add/",
        {
            "organization": acme.org.pk, "name": "Ops", "description": "", "parent": "",
            "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-user": acme.member.pk, "memberships-0-is_maintainer": "on",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    team = Team.objects.get(name="Ops")
    assert TeamMember.objects.get(team=team).user == acme.member
    role = roles_ensure_built_in(org=acme.org)[4]
    response = root.post(
        "/admin/rbac/grant/add/",
        {"organization": acme.org.pk, "role": role.pk, "team": team.pk, "user": "", "resource_type": "",
         "resource_id": "", "expires_at_0": "", "expires_at_1": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Grant.objects.get(team=team).role == role
