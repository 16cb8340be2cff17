"""has_perm / require_perm / visible / permissions_of: the evaluation engine."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.permissions import MEMBERS_MANAGE, ORG_MANAGE
from chatapp.chat.models import Channel
from chatapp.chat.permissions import CHANNELS_MANAGE, CHANNELS_VIEW, MESSAGES_DELETE_ANY
from rbac.models import Grant, Team, TeamMember
from rbac.permissions import ROLES_MANAGE
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS
from rbac.services import has_perm, permissions_of, require_perm, visible
from rbac.services.access import MAX_TEAM_DEPTH
from tests.factories import ChannelFactory, MembershipFactory, UserFactory
from tests.rbac.conftest import fresh

pytestmark = pytest.mark.django_db


def test_base_roles_keep_their_current_behaviour(acme):
    assert has_perm(user=acme.owner, org=acme.org, perm=ORG_MANAGE)
    assert not has_perm(user=acme.admin, org=acme.org, perm=ORG_MANAGE)
    assert has_perm(user=acme.admin, org=acme.org, perm=MEMBERS_MANAGE)
    assert not has_perm(user=acme.member, org=acme.org, perm=MEMBERS_MANAGE)
    assert not has_perm(user=acme.guest, org=acme.org, perm=CHANNELS_VIEW)
    with pytest.raises(PermissionDenied, match=r"members\.manage"):
        require_perm(user=acme.member, org=acme.org, perm=MEMBERS_MANAGE)


def test_auditor_and_billing_sets():
    # auditors oversee retention too (policy, holds, runs), read-only
    assert BUILT_IN_ROLE_PERMISSIONS["auditor"] == {
        "org.view",
        "members.view",
        "channels.view",
        "audit.read",
        "retention.view",
    }
    assert BUILT_IN_ROLE_PERMISSIONS["billing"] == {"org.view", "members.view", "billing.manage"}


def test_custom_role_granted_org_wide(acme, role_factory, grant):
    role = role_factory(acme.org, "Moderators", ["messages.delete_any", "channels.manage"])
    assert not has_perm(user=fresh(acme.member), org=acme.org, perm=MESSAGES_DELETE_ANY)
    grant(role, user=acme.member)
    member = fresh(acme.member)
    assert has_perm(user=member, org=acme.org, perm=MESSAGES_DELETE_ANY)
    assert has_perm(user=member, org=acme.org, perm=CHANNELS_MANAGE)
    assert not has_perm(user=member, org=acme.org, perm=ROLES_MANAGE)


def test_custom_role_based_on_a_built_in_role_extends_it(acme, role_factory, grant):
    role = role_factory(acme.org, "Auditor plus", ["roles.manage"], base_role="auditor")
    grant(role, user=acme.guest)
    assert {"audit.read", "channels.view", "roles.manage"} <= permissions_of(user=fresh(acme.guest), org=acme.org)


def test_built_in_role_granted_to_a_user(acme, builtin, grant):
    grant(builtin(acme.org, "auditor"), user=acme.guest)
    assert has_perm(user=fresh(acme.guest), org=acme.org, perm="audit.read")


def test_team_grant_reaches_members_and_nested_teams_inherit(acme, role_factory, grant):
    engineering = Team.objects.create(organization=acme.org, name="Engineering")
    backend = Team.objects.create(organization=acme.org, name="Backend", parent=engineering)
    databases = Team.objects.create(organization=acme.org, name="Databases", parent=backend)
    sales = Team.objects.create(organization=acme.org, name="Sales")
    TeamMember.objects.create(organization=acme.org, team=databases, user=acme.guest)
    TeamMember.objects.create(organization=acme.org, team=sales, user=acme.member)
    grant(role_factory(acme.org, "Channel admins", ["channels.manage"]), team=engineering)

    assert has_perm(user=fresh(acme.guest), org=acme.org, perm=CHANNELS_MANAGE)  # grandchild team inherits
    assert not has_perm(user=fresh(acme.member), org=acme.org, perm=CHANNELS_MANAGE)  # another tree

    grant(role_factory(acme.org, "Deleters", ["messages.delete_any"]), team=databases)
    outsider = MembershipFactory(organization=acme.org).user
    TeamMember.objects.create(organization=acme.org, team=engineering, user=outsider)
    assert not has_perm(user=fresh(outsider), org=acme.org, perm=MESSAGES_DELETE_ANY)  # parents do not inherit


def test_grants_reach_the_deepest_allowed_team(acme, role_factory, grant):
    chain = [Team.objects.create(organization=acme.org, name="level 0")]
    for level in range(1, MAX_TEAM_DEPTH):
        chain.append(Team.objects.create(organization=acme.org, name=f"level {level}", parent=chain[-1]))
    TeamMember.objects.create(organization=acme.org, team=chain[-1], user=acme.guest)
    grant(role_factory(acme.org, "Deleters", ["messages.delete_any"]), team=chain[0])
    grant(role_factory(acme.org, "Mods", ["channels.manage"]), team=chain[0], resource=acme.private)
    guest = fresh(acme.guest)
    assert has_perm(user=guest, org=acme.org, perm=MESSAGES_DELETE_ANY)
    assert list(visible(user=guest, org=acme.org, perm=CHANNELS_MANAGE, queryset=Channel.objects.all())) == [
        acme.private
    ]
    assert has_perm(user=guest, org=acme.org, perm=CHANNELS_MANAGE, obj=acme.private)
    assert not has_perm(user=guest, org=acme.org, perm=CHANNELS_MANAGE, obj=acme.public)


def test_resource_grant_gives_that_channel_only(acme, role_factory, grant):
    other = ChannelFactory(organization=acme.org, name="other")
    role = role_factory(acme.org, "Channel moderator", ["channels.manage", "messages.delete_any", "org.manage"])
    grant(role, user=acme.member, resource=acme.public)
    member = fresh(acme.member)
    assert has_perm(user=member, org=acme.org, perm=CHANNELS_MANAGE, obj=acme.public)
    assert has_perm(user=member, org=acme.org, perm=MESSAGES_DELETE_ANY, obj=acme.public)
    assert not has_perm(user=member, org=acme.org, perm=CHANNELS_MANAGE, obj=other)
    assert not has_perm(user=member, org=acme.org, perm=CHANNELS_MANAGE)  # not org-wide
    # A resource grant gives only codes declared for that kind of resource.
    assert not has_perm(user=member, org=acme.org, perm=ORG_MANAGE, obj=acme.public)
    assert permissions_of(user=member, org=acme.org, obj=acme.public) >= {"channels.manage", "messages.delete_any"}


def test_expired_grants_never_count(acme, role_factory, grant):
    now = timezone.now()
    role = role_factory(acme.org, "Temp", ["members.manage"])
    grant(role, user=acme.member, expires_at=now + timedelta(hours=1))
    member = fresh(acme.member)
    assert has_perm(user=member, org=acme.org, perm=MEMBERS_MANAGE, now=now)
    assert not has_perm(user=member, org=acme.org, perm=MEMBERS_MANAGE, now=now + timedelta(hours=2))
    moderator = role_factory(acme.org, "Moderator", ["channels.manage"])
    grant(moderator, user=acme.member, resource=acme.public, expires_at=now + timedelta(minutes=5))
    member = fresh(acme.member)
    channels = Channel.objects.all()
    assert list(visible(user=member, org=acme.org, perm=CHANNELS_MANAGE, queryset=channels, now=now)) == [acme.public]
    later = now + timedelta(minutes=6)
    assert not has_perm(user=member, org=acme.org, perm=CHANNELS_MANAGE, obj=acme.public, now=later)
    assert not visible(user=member, org=acme.org, perm=CHANNELS_MANAGE, queryset=channels, now=later).exists()


def test_expiry_follows_the_clock(acme, role_factory, grant, monkeypatch):
    now = timezone.now()
    grant(role_factory(acme.org, "Temp", ["members.manage"]), user=acme.member, expires_at=now + timedelta(hours=1))
    assert has_perm(user=fresh(acme.member), org=acme.org, perm=MEMBERS_MANAGE)
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(hours=1, seconds=1))
    assert not has_perm(user=fresh(acme.member), org=acme.org, perm=MEMBERS_MANAGE)


def test_grants_in_one_org_give_nothing_in_another(acme, globex, role_factory, grant):
    person = UserFactory()
    MembershipFactory(organization=acme.org, user=person, role="guest")
    MembershipFactory(organization=globex.org, user=person, role="guest")
    grant(role_factory(acme.org, "Powerful", ["members.manage", "channels.manage"]), user=person)
    grant(role_factory(acme.org, "On channel", ["channels.manage"]), user=person, resource=acme.public)
    person = fresh(person)
    assert has_perm(user=person, org=acme.org, perm=MEMBERS_MANAGE)
    assert not has_perm(user=person, org=globex.org, perm=MEMBERS_MANAGE)
    # another org's channel, even with the same id space, gives nothing
    assert not has_perm(user=person, org=globex.org, perm=CHANNELS_MANAGE, obj=globex.public)
    assert not has_perm(user=person, org=globex.org, perm=CHANNELS_MANAGE, obj=acme.public)
    assert not visible(user=person, org=globex.org, perm=CHANNELS_MANAGE, queryset=Channel.objects.all()).exists()


def test_grants_without_an_active_membership_give_nothing(acme, role_factory, grant):
    grant(role_factory(acme.org, "Powerful", ["members.manage"]), user=acme.member)
    acme.member.memberships.update(is_active=False)
    assert not has_perm(user=fresh(acme.member), org=acme.org, perm=MEMBERS_MANAGE)
    assert permissions_of(user=fresh(acme.member), org=acme.org) == frozenset()


def test_superuser_passes(acme):
    root = UserFactory(is_superuser=True)
    assert has_perm(user=root, org=acme.org, perm=ORG_MANAGE)
    assert visible(user=root, org=acme.org, perm=CHANNELS_MANAGE, queryset=Channel.objects.all()).count() == 2


def test_visible_filters_by_org_wide_or_resource_grants(acme, globex, role_factory, grant):
    channels = [ChannelFactory(organization=acme.org, name=f"c{i}") for i in range(5)]
    team = Team.objects.create(organization=acme.org, name="Ops")
    child = Team.objects.create(organization=acme.org, name="Ops child", parent=team)
    TeamMember.objects.create(organization=acme.org, team=child, user=acme.member)
    role = role_factory(acme.org, "Mod", ["channels.manage"])
    grant(role, user=acme.member, resource=channels[0])
    grant(role, team=team, resource=channels[3])
    grant(role_factory(globex.org, "Mod", ["channels.manage"]), user=globex.member, resource=globex.public)
    everything = Channel.objects.all()
    found = visible(user=fresh(acme.member), org=acme.org, perm=CHANNELS_MANAGE, queryset=everything)
    assert set(found) == {channels[0], channels[3]}
    assert visible(user=fresh(acme.admin), org=acme.org, perm=CHANNELS_MANAGE, queryset=everything).count() == 7
    assert not visible(user=fresh(acme.guest), org=acme.org, perm=CHANNELS_MANAGE, queryset=everything).exists()


def _world(acme, role_factory, grant, *, teams: int, grants: int):
    """The member in `teams` nested teams, with `grants` resource grants spread over them and directly."""
    parent = None
    made = []
    for index in range(teams):
        parent = Team.objects.create(organization=acme.org, name=f"t{teams}-{index}", parent=parent)
        made.append(parent)
        TeamMember.objects.create(organization=acme.org, team=parent, user=acme.member)
    roles = [role_factory(acme.org, f"r{grants}-{i}", ["messages.delete_any"]) for i in range(3)]
    channels = [ChannelFactory(organization=acme.org, name=f"w{grants}-{i}") for i in range(grants)]
    for index, channel in enumerate(channels):
        subject = {"team": made[index % teams]} if index % 2 and made else {"user": acme.member}
        grant(roles[index % 3], resource=channel, **subject)
    grant(role_factory(acme.org, f"org-wide {grants}", ["members.invite"]), user=acme.member)
    return channels


def _queries(acme, channels):
    member = fresh(acme.member)
    with CaptureQueriesContext(connection) as captured:
        for channel in channels:
            has_perm(user=member, org=acme.org, perm=MESSAGES_DELETE_ANY, obj=channel)
            has_perm(user=member, org=acme.org, perm=CHANNELS_VIEW, obj=channel)
        found = list(visible(user=member, org=acme.org, perm=MESSAGES_DELETE_ANY, queryset=Channel.objects.all())[:50])
    assert len(found) >= len(channels)  # (the second world adds to the first)
    return len(captured)


def test_query_count_does_not_grow_with_teams_grants_or_objects(acme, role_factory, grant):
    small = _queries(acme, _world(acme, role_factory, grant, teams=1, grants=2))
    big = _queries(acme, _world(acme, role_factory, grant, teams=8, grants=40))
    assert small == big <= 3  # membership, grants (through every team and ancestor), the list


def test_visible_filters_in_sql_whatever_the_number_of_grants(acme, role_factory, grant):
    role = role_factory(acme.org, "Mod", ["channels.manage"])

    def list_sql(grants: int) -> str:
        for index in range(grants):
            grant(role, user=acme.member, resource=ChannelFactory(organization=acme.org, name=f"v{grants}-{index}"))
        member = fresh(acme.member)
        permissions_of(user=member, org=acme.org)  # loads the memo
        held = Grant.objects.filter(user=acme.member).count()
        with CaptureQueriesContext(connection) as captured:
            found = visible(user=member, org=acme.org, perm=CHANNELS_MANAGE, queryset=Channel.objects.all())
            assert len(found) == held
        assert len(captured) == 1
        return captured[0]["sql"]

    few, many = list_sql(2), list_sql(40)
    # A semi-join on the grant table on integer columns: no id list that grows with the grants, no cast.
    assert "rbac_grant" in many and "CAST" not in many.upper()
    assert len(re.sub(r"'[^']*'", "", few)) == len(re.sub(r"'[^']*'", "", many))


def test_memo_loads_resource_grants_only_for_object_checks(acme, role_factory, grant):
    moderator = role_factory(acme.org, "Mod", ["channels.manage"])
    for index in range(30):
        grant(moderator, user=acme.member, resource=ChannelFactory(organization=acme.org, name=f"m{index}"))
    grant(role_factory(acme.org, "Inviter", ["members.invite"]), user=acme.member)
    member = fresh(acme.member)
    with CaptureQueriesContext(connection) as captured:
        assert has_perm(user=member, org=acme.org, perm="members.invite")
        page = list(visible(user=member, org=acme.org, perm=CHANNELS_MANAGE, queryset=Channel.objects.all())[:50])
        # No role of the organization gives messages.delete_any: answered without loading the grants.
        assert not any(has_perm(user=member, org=acme.org, perm=MESSAGES_DELETE_ANY, obj=c) for c in page)
    assert [query["sql"] for query in captured if "rbac_grant" in query["sql"]] and len(captured) == 3
    with CaptureQueriesContext(connection) as captured:
        assert all(has_perm(user=member, org=acme.org, perm=CHANNELS_MANAGE, obj=channel) for channel in page)
        assert not has_perm(user=member, org=acme.org, perm=CHANNELS_MANAGE, obj=acme.private)
    assert len(page) == 30 and len(captured) == 1  # the resource grants, once for the whole page


def test_checks_for_a_page_take_two_queries(acme, role_factory, grant):
    moderator = role_factory(acme.org, "Mod", ["channels.manage"])
    team = Team.objects.create(organization=acme.org, name="Mods")
    TeamMember.objects.create(organization=acme.org, team=team, user=acme.member)
    page = [ChannelFactory(organization=acme.org, name=f"p{index}") for index in range(50)]
    for channel in page[::2]:
        grant(moderator, team=team, resource=channel)
    member = fresh(acme.member)
    with CaptureQueriesContext(connection) as captured:
        allowed = [has_perm(user=member, org=acme.org, perm=CHANNELS_MANAGE, obj=channel) for channel in page]
    assert allowed == [index % 2 == 0 for index in range(50)]
    assert len(captured) == 2  # the membership, then every grant in one query
