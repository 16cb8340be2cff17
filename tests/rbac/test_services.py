"""rbac's write services: built-in roles, custom roles, teams, grants, expiry, escalation, audit."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from chatapp.kernel.errors import Conflict
from rbac.models import Grant, Role, Team, TeamMember
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS
from rbac.services import has_perm
from rbac.services.access import MAX_TEAM_DEPTH
from rbac.services.grants import grant_create, grant_revoke, grants_expire, mapping_create
from rbac.services.roles import role_create, role_delete, role_update, roles_ensure_built_in
from rbac.services.teams import team_create, team_delete, team_member_add, team_member_remove, team_update
from rbac.tasks import grants_expire_task
from tests.factories import ChannelFactory, MembershipFactory
from tests.rbac.conftest import fresh

pytestmark = pytest.mark.django_db


def test_built_in_roles_are_created_once(acme, django_assert_num_queries):
    first = roles_ensure_built_in(org=acme.org)
    assert [role.base_role for role in first] == list(BUILT_IN_ROLE_PERMISSIONS)
    with django_assert_num_queries(1):
        again = roles_ensure_built_in(org=acme.org)
    assert [role.pk for role in again] == [role.pk for role in first]
    assert Role.objects.filter(organization=acme.org, is_built_in=True).count() == 6
    owner = next(role for role in first if role.base_role == "owner")
    assert owner.codes == BUILT_IN_ROLE_PERMISSIONS["owner"]


def test_built_in_roles_cannot_be_edited_or_deleted(acme):
    owner_role = roles_ensure_built_in(org=acme.org)[0]
    with pytest.raises(Conflict):
        role_update(actor=acme.owner, org=acme.org, role=owner_role, name="Boss")
    with pytest.raises(Conflict):
        role_delete(actor=acme.owner, org=acme.org, role=owner_role)
    assert Role.objects.get(pk=owner_role.pk).name == "Owner"


def test_role_create_update_delete(acme):
    role = role_create(actor=acme.admin, org=acme.org, name="Moderators", permissions=["messages.delete_any"])
    assert role.codes == {"messages.delete_any"}
    with pytest.raises(Conflict):
        role_create(actor=acme.admin, org=acme.org, name="MODERATORS")
    with pytest.raises(Conflict):
        role_create(actor=acme.admin, org=acme.org, name="owner")  # a built-in's name is taken
    with pytest.raises(ValidationError):
        role_create(actor=acme.admin, org=acme.org, name="Typo", permissions=["channels.mange"])
    role = role_update(
        actor=acme.admin, org=acme.org, role=role, permissions=["messages.delete_any", "channels.manage"]
    )
    assert Role.objects.get(pk=role.pk).permissions == ["channels.manage", "messages.delete_any"]
    role_delete(actor=acme.admin, org=acme.org, role=role)
    assert not Role.objects.filter(pk=role.pk).exists()


def test_members_cannot_manage_roles(acme):
    with pytest.raises(PermissionDenied, match=r"roles\.manage"):
        role_create(actor=acme.member, org=acme.org, name="Mine")


def test_no_one_creates_or_edits_a_role_with_a_permission_they_lack(acme):
    # admins lack org.manage, sso.manage and billing.manage
    with pytest.raises(PermissionDenied, match=r"org\.manage"):
        role_create(actor=acme.admin, org=acme.org, name="Sneaky", permissions=["channels.view", "org.manage"])
    with pytest.raises(PermissionDenied, match=r"sso\.manage"):
        role_create(actor=acme.admin, org=acme.org, name="Sneaky", base_role="owner")
    assert not Role.objects.filter(name="Sneaky").exists()
    role = role_create(actor=acme.admin, org=acme.org, name="Plain", permissions=["channels.view"])
    with pytest.raises(PermissionDenied, match=r"billing\.manage"):
        role_update(actor=acme.admin, org=acme.org, role=role, permissions=["channels.view", "billing.manage"])
    assert Role.objects.get(pk=role.pk).permissions == ["channels.view"]
    # an owner-made role with codes the admin lacks cannot be edited (nor reduced) by the admin
    owners_role = role_create(actor=acme.owner, org=acme.org, name="SSO admins", permissions=["sso.manage"])
    with pytest.raises(PermissionDenied):
        role_update(actor=acme.admin, org=acme.org, role=owners_role, name="Renamed")
    assert Role.objects.get(pk=owners_role.pk).name == "SSO admins"


def test_no_one_grants_a_role_they_do_not_hold(acme):
    owners_role = role_create(actor=acme.owner, org=acme.org, name="Billing admins", permissions=["billing.manage"])
    with pytest.raises(PermissionDenied, match=r"billing\.manage"):
        grant_create(actor=acme.admin, org=acme.org, role=owners_role, user=acme.admin)
    owner_builtin = roles_ensure_built_in(org=acme.org)[0]
    with pytest.raises(PermissionDenied):
        grant_create(actor=acme.admin, org=acme.org, role=owner_builtin, user=acme.member)
    assert not Grant.objects.exists()
    assert not has_perm(user=fresh(acme.admin), org=acme.org, perm="billing.manage")
    # ... and cannot revoke what they could not grant
    given = grant_create(actor=acme.owner, org=acme.org, role=owners_role, user=acme.member)
    with pytest.raises(PermissionDenied):
        grant_revoke(actor=acme.admin, org=acme.org, grant=given)
    assert Grant.objects.filter(pk=given.pk).exists()


def test_grant_and_revoke(acme):
    role = role_create(actor=acme.admin, org=acme.org, name="Deleters", permissions=["messages.delete_any"])
    grant = grant_create(actor=acme.admin, org=acme.org, role=role, user=acme.member)
    assert has_perm(user=fresh(acme.member), org=acme.org, perm="messages.delete_any")
    with pytest.raises(Conflict):
        grant_create(actor=acme.admin, org=acme.org, role=role, user=acme.member)
    grant_revoke(actor=acme.admin, org=acme.org, grant=grant)
    grant_revoke(actor=acme.admin, org=acme.org, grant=grant)  # twice is harmless
    assert not has_perm(user=fresh(acme.member), org=acme.org, perm="messages.delete_any")


def test_grant_validation(acme, globex):
    role = role_create(actor=acme.admin, org=acme.org, name="Viewers", permissions=["org.view"])
    team = team_create(actor=acme.admin, org=acme.org, name="Ops")
    with pytest.raises(ValidationError):
        grant_create(actor=acme.admin, org=acme.org, role=role)  # no subject
    with pytest.raises(ValidationError):
        grant_create(actor=acme.admin, org=acme.org, role=role, user=acme.member, team=team)  # two subjects
    with pytest.raises(ValidationError):
        grant_create(actor=acme.admin, org=acme.org, role=role, user=globex.member)  # not a member of acme
    with pytest.raises(ValidationError):
        grant_create(
            actor=acme.admin, org=acme.org, role=role, user=acme.member, expires_at=timezone.now() - timedelta(1)
        )
    with pytest.raises(ValidationError, match="no permission"):  # org.view means nothing on a channel
        grant_create(actor=acme.admin, org=acme.org, role=role, user=acme.member, resource=acme.public)
    with pytest.raises(PermissionDenied):
        grant_create(actor=acme.admin, org=acme.org, role=role, user=acme.member, resource=globex.public)
    assert not Grant.objects.exists()


def test_resource_grant_by_service(acme):
    role = role_create(actor=acme.admin, org=acme.org, name="Channel mods", permissions=["channels.manage"])
    grant_create(actor=acme.admin, org=acme.org, role=role, user=acme.guest, resource=acme.public)
    guest = fresh(acme.guest)
    assert has_perm(user=guest, org=acme.org, perm="channels.manage", obj=acme.public)
    assert not has_perm(user=guest, org=acme.org, perm="channels.manage", obj=acme.private)


def test_grants_expire_revokes_expired_grants_only(acme, monkeypatch):
    role = role_create(actor=acme.admin, org=acme.org, name="Temp", permissions=["members.manage"])
    now = timezone.now()
    soon = grant_create(
        actor=acme.admin, org=acme.org, role=role, user=acme.member, expires_at=now + timedelta(minutes=10)
    )
    lasting = grant_create(actor=acme.admin, org=acme.org, role=role, user=acme.guest)
    assert grants_expire(now=now) == 0
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(minutes=11))
    assert not has_perm(user=fresh(acme.member), org=acme.org, perm="members.manage")  # before the task runs
    assert grants_expire_task() == 1
    assert grants_expire_task() == 0  # safe to run twice
    assert not Grant.objects.filter(pk=soon.pk).exists()
    assert Grant.objects.filter(pk=lasting.pk).exists()


def test_the_expiry_task_is_scheduled_every_minute():
    task = apps.get_model("django_celery_beat", "PeriodicTask").objects.get(task="rbac.grants_expire")
    assert (task.interval.every, task.interval.period) == (60, "seconds")


def test_teams_nesting_and_cycles(acme):
    parent = team_create(actor=acme.admin, org=acme.org, name="Engineering")
    child = team_create(actor=acme.admin, org=acme.org, name="Backend", parent=parent)
    grandchild = team_create(actor=acme.admin, org=acme.org, name="Databases", parent=child)
    with pytest.raises(ValidationError):
        team_update(actor=acme.admin, org=acme.org, team=parent, parent=grandchild)
    with pytest.raises(ValidationError):
        team_update(actor=acme.admin, org=acme.org, team=parent, parent=parent)
    with pytest.raises(Conflict):
        team_create(actor=acme.admin, org=acme.org, name="backend")
    team_update(actor=acme.admin, org=acme.org, team=child, name="Back end")
    team_delete(actor=acme.admin, org=acme.org, team=parent)
    assert Team.objects.get(pk=child.pk).parent_id is None  # children become top-level
    with pytest.raises(PermissionDenied, match=r"teams\.manage"):
        team_create(actor=acme.member, org=acme.org, name="Mine")


def test_nesting_depth_is_bounded(acme):
    parent = None
    for level in range(MAX_TEAM_DEPTH):
        parent = team_create(actor=acme.admin, org=acme.org, name=f"level {level}", parent=parent)
    with pytest.raises(ValidationError, match="levels deep"):
        team_create(actor=acme.admin, org=acme.org, name="too deep", parent=parent)
    top = Team.objects.get(name="level 0")
    other = team_create(actor=acme.admin, org=acme.org, name="other")
    with pytest.raises(ValidationError, match="levels deep"):  # moving a whole tree under another team
        team_update(actor=acme.admin, org=acme.org, team=top, parent=other)


def test_deepest_nesting_still_inherits(acme, role_factory, grant):
    parent = None
    for level in range(MAX_TEAM_DEPTH):
        parent = team_create(actor=acme.admin, org=acme.org, name=f"level {level}", parent=parent)
        if level == 0:
            grant(role_factory(acme.org, "Top", ["messages.delete_any"]), team=parent)
    team_member_add(actor=acme.owner, org=acme.org, team=parent, user=acme.guest)
    assert has_perm(user=fresh(acme.guest), org=acme.org, perm="messages.delete_any")


def test_maintainers_manage_their_team_members(acme):
    team = team_create(actor=acme.admin, org=acme.org, name="Design")
    other = team_create(actor=acme.admin, org=acme.org, name="Sales")
    team_member_add(actor=acme.admin, org=acme.org, team=team, user=acme.member, is_maintainer=True)
    newcomer = MembershipFactory(organization=acme.org).user
    _, created = team_member_add(actor=acme.member, org=acme.org, team=team, user=newcomer)
    assert created
    with pytest.raises(PermissionDenied):
        team_member_add(actor=acme.member, org=acme.org, team=other, user=newcomer)
    with pytest.raises(PermissionDenied):
        team_member_remove(actor=newcomer, org=acme.org, team=team, user=acme.member)
    team_member_remove(actor=acme.member, org=acme.org, team=team, user=newcomer)
    team_member_remove(actor=acme.member, org=acme.org, team=team, user=acme.member)  # leaving is always fine
    assert not TeamMember.objects.filter(team=team).exists()


def test_adding_someone_to_a_team_cannot_escalate(acme):
    team = team_create(actor=acme.owner, org=acme.org, name="Finance")
    billing_role = roles_ensure_built_in(org=acme.org)[-1]
    assert billing_role.base_role == "billing"
    grant_create(actor=acme.owner, org=acme.org, role=billing_role, team=team)
    with pytest.raises(PermissionDenied, match=r"billing\.manage"):
        team_member_add(actor=acme.admin, org=acme.org, team=team, user=acme.admin)
    assert not TeamMember.objects.filter(team=team).exists()
    sub = team_create(actor=acme.admin, org=acme.org, name="Accounts payable")
    with pytest.raises(PermissionDenied):  # nesting under it would pass its grants on too
        team_update(actor=acme.admin, org=acme.org, team=sub, parent=team)
    assert Team.objects.get(pk=sub.pk).parent_id is None


def test_identity_group_mapping_needs_sso_manage_and_no_escalation(acme):
    role = role_create(actor=acme.owner, org=acme.org, name="Engineers", permissions=["channels.create"])
    with pytest.raises(PermissionDenied, match=r"sso\.manage"):
        mapping_create(actor=acme.admin, org=acme.org, group_name="eng", role=role)
    mapping = mapping_create(actor=acme.owner, org=acme.org, group_name="eng", provider="okta", role=role)
    assert mapping.pk
    with pytest.raises(Conflict):
        mapping_create(actor=acme.owner, org=acme.org, group_name="ENG", provider="okta", role=role)


def test_every_change_is_recorded_in_the_audit_trail(acme):
    if not apps.is_installed("audit"):
        pytest.skip("the audit app is not installed")
    from audit.models import AuditEvent

    role = role_create(actor=acme.admin, org=acme.org, name="Deleters", permissions=["messages.delete_any"])
    role_update(actor=acme.admin, org=acme.org, role=role, description="Clean up")
    grant = grant_create(actor=acme.admin, org=acme.org, role=role, user=acme.member)
    grant_revoke(actor=acme.admin, org=acme.org, grant=grant)
    names = list(AuditEvent.objects.filter(organization=acme.org).order_by("id").values_list("event_name", flat=True))
    assert names[-4:] == ["rbac.role.created", "rbac.role.updated", "rbac.grant.created", "rbac.grant.revoked"]
    updated = AuditEvent.objects.get(organization=acme.org, event_name="rbac.role.updated")
    assert updated.changes == {"description": ["", "Clean up"]}


def test_refused_changes_leave_nothing_behind(acme):
    if not apps.is_installed("audit"):
        pytest.skip("the audit app is not installed")
    from audit.models import AuditEvent

    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        role_create(actor=acme.admin, org=acme.org, name="Sneaky", permissions=["org.manage"])
    assert AuditEvent.objects.count() == before


def test_other_orgs_objects_are_refused(acme, globex):
    foreign_team = team_create(actor=globex.admin, org=globex.org, name="Globex team")
    with pytest.raises(PermissionDenied):
        team_member_add(actor=acme.admin, org=acme.org, team=foreign_team, user=acme.member)
    foreign_role = role_create(actor=globex.admin, org=globex.org, name="G", permissions=["channels.view"])
    with pytest.raises(PermissionDenied):
        grant_create(actor=acme.admin, org=acme.org, role=foreign_role, user=acme.member)
    channel = ChannelFactory(organization=globex.org)
    with pytest.raises(PermissionDenied):
        grant_create(actor=acme.admin, org=acme.org, role=foreign_role, user=acme.member, resource=channel)
