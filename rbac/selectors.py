"""Reads of rbac data: always one organization, free of N+1."""

from django.db.models import Count, QuerySet

from accounts.models import Organization
from rbac.models import Grant, IdentityGroupMapping, Role, Team, TeamMember


def roles_of(*, org: Organization) -> QuerySet[Role]:
    return Role.objects.for_org(org)


def teams_of(*, org: Organization) -> QuerySet[Team]:
    return Team.objects.for_org(org).annotate(member_count=Count("memberships", distinct=True))


def team_members(*, team: Team) -> QuerySet[TeamMember]:
    return TeamMember.objects.for_org(team.organization_id).filter(team=team).select_related("user")


def grants_of(*, org: Organization) -> QuerySet[Grant]:
    return Grant.objects.for_org(org).select_related("role", "user", "team")


def mappings_of(*, org: Organization) -> QuerySet[IdentityGroupMapping]:
    return IdentityGroupMapping.objects.for_org(org).select_related("team", "role")
