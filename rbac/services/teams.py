"""Teams: nested groups of members that roles are granted to."""

from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Organization, User
from chatapp.kernel.errors import Conflict
from rbac.models import Grant, Team, TeamMember
from rbac.permissions import TEAMS_MANAGE
from rbac.services._common import clean_name, record, require_active_member, require_held, same_org
from rbac.services.access import MAX_TEAM_DEPTH, _for_resource, forget_access, has_perm, require_perm

_UNSET = object()


def team_snapshot(team: Team) -> dict:
    return {"name": team.name, "description": team.description, "parent_id": team.parent_id}


def member_snapshot(member: TeamMember) -> dict:
    return {"team_id": member.team_id, "user_id": member.user_id, "is_maintainer": member.is_maintainer}


def team_ancestor_ids(*, team: Team) -> list[int]:
    """The team and its ancestors, nearest first (one query over the organization's team tree)."""
    parent_of = dict(Team.objects.filter(organization_id=team.organization_id).values_list("id", "parent_id"))
    chain, current = [], team.pk
    while current is not None and current not in chain:
        chain.append(current)
        current = parent_of.get(current)
    return chain


def team_gives(*, team: Team) -> tuple[set[str], dict[tuple[str, int], set[str]]]:
    """What a member of the team holds through it: org-wide codes, and codes per resource (live grants only)."""
    from django.db.models import Q
    from django.utils import timezone

    org_codes: set[str] = set()
    on_resource: dict[tuple[str, int], set[str]] = defaultdict(set)
    grants = (
        Grant.objects.filter(team_id__in=team_ancestor_ids(team=team))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .select_related("role")
    )
    for grant in grants:
        if grant.resource_id is None:
            org_codes |= grant.role.codes
        else:
            on_resource[(grant.resource_type, grant.resource_id)] |= _for_resource(
                grant.role.codes, grant.resource_type
            )
    return org_codes, dict(on_resource)


def _require_holds_team(*, actor: User, org: Organization, team: Team, doing: str) -> None:
    """Putting someone in a team gives them its grants and its ancestors': the actor must hold them all."""
    org_codes, on_resource = team_gives(team=team)
    require_held(actor=actor, org=org, codes=org_codes, doing=doing)
    for resource, codes in on_resource.items():
        require_held(actor=actor, org=org, codes=codes, resource=resource, doing=doing)


def _is_maintainer(*, user: User, team: Team) -> bool:
    return TeamMember.objects.filter(team=team, user=user, is_maintainer=True).exists()


def _require_team_manager(*, actor: User, org: Organization, team: Team) -> None:
    if has_perm(user=actor, org=org, perm=TEAMS_MANAGE) or _is_maintainer(user=actor, team=team):
        return
    raise PermissionDenied(f"You need the '{TEAMS_MANAGE.key}' permission or to maintain this team.")


def _save(team: Team) -> None:
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError:
        raise Conflict(f"A team named '{team.name}' already exists in this organization.") from None


def _subtree_height(*, team: Team) -> int:
    """1 for a team without sub-teams, 2 with children only, and so on."""
    children: dict[int, list[int]] = defaultdict(list)
    for team_id, parent_id in Team.objects.filter(organization_id=team.organization_id).values_list("id", "parent_id"):
        children[parent_id].append(team_id)

    def height(team_id: int, seen: frozenset) -> int:
        below = [height(child, seen | {team_id}) for child in children[team_id] if child not in seen]
        return 1 + max(below, default=0)

    return height(team.pk, frozenset())


def _check_parent(*, org: Organization, team: Team | None, parent: Team | None) -> None:
    if parent is None:
        return
    same_org(org, parent)
    chain = team_ancestor_ids(team=parent)
    if team is not None and team.pk is not None and team.pk in chain:
        raise ValidationError({"parent_id": ["A team cannot be nested inside itself or one of its sub-teams."]})
    height = _subtree_height(team=team) if team is not None and team.pk is not None else 1
    if len(chain) + height > MAX_TEAM_DEPTH:
        raise ValidationError({"parent_id": [f"Teams can be nested at most {MAX_TEAM_DEPTH} levels deep."]})


@transaction.atomic
def team_create(
    *, actor: User, org: Organization, name: str, description: str = "", parent: Team | None = None
) -> Team:
    """Create a team, top-level or inside `parent` (whose grants it then inherits)."""
    require_perm(user=actor, org=org, perm=TEAMS_MANAGE)
    _check_parent(org=org, team=None, parent=parent)
    team = Team(organization=org, name=clean_name(name), description=(description or "").strip(), parent=parent)
    _save(team)
    record(org=org, actor=actor, event_name="rbac.team.created", target=team, after=team_snapshot(team))
    return team


@transaction.atomic
def team_update(
    *,
    actor: User,
    org: Organization,
    team: Team,
    name: str | None = None,
    description: str | None = None,
    parent=_UNSET,
) -> Team:
    """Rename a team, change its description, or move it under another parent (None: top level).

    Moving a team under a parent gives its members the parent's grants: the actor must hold them.
    """
    same_org(org, team)
    require_perm(user=actor, org=org, perm=TEAMS_MANAGE)
    team = Team.objects.select_for_update().get(pk=team.pk, organization=org)
    before = team_snapshot(team)
    if name is not None:
        team.name = clean_name(name)
    if description is not None:
        team.description = description.strip()
    if parent is not _UNSET and (parent.pk if parent else None) != team.parent_id:
        _check_parent(org=org, team=team, parent=parent)
        if parent is not None:
            _require_holds_team(actor=actor, org=org, team=parent, doing="nest a team under this parent")
        team.parent = parent
    _save(team)
    record(org=org, actor=actor, event_name="rbac.team.updated", target=team, before=before, after=team_snapshot(team))
    return team


def team_rename(*, actor: User, org: Organization, team: Team, name: str) -> Team:
    return team_update(actor=actor, org=org, team=team, name=name)


@transaction.atomic
def team_delete(*, actor: User, org: Organization, team: Team) -> None:
    """Delete a team with its memberships and grants; its sub-teams become top-level teams."""
    same_org(org, team)
    require_perm(user=actor, org=org, perm=TEAMS_MANAGE)
    team = Team.objects.select_for_update().get(pk=team.pk, organization=org)
    grants = list(Grant.objects.filter(team=team).select_related("role"))
    for grant in grants:
        require_held(
            actor=actor,
            org=org,
            codes=grant.role.codes
            if grant.resource_id is None
            else _for_resource(grant.role.codes, grant.resource_type),
            resource=(grant.resource_type, grant.resource_id) if grant.resource_id is not None else None,
            doing="delete a team holding these permissions",
        )
    before = team_snapshot(team) | {
        "members": sorted(team.memberships.values_list("user_id", flat=True)),
        "grants": [
            {"role_id": grant.role_id, "resource_type": grant.resource_type, "resource_id": grant.resource_id}
            for grant in grants
        ],
    }
    record(org=org, actor=actor, event_name="rbac.team.deleted", target=team, before=before)
    team.delete()
    forget_access(actor, org)


@transaction.atomic
def team_member_add(
    *, actor: User, org: Organization, team: Team, user: User, is_maintainer: bool | None = None
) -> tuple[TeamMember, bool]:
    """Add an organization member to a team, or change whether they maintain it. Returns (member, created).

    Allowed to whoever may manage teams and to the team's maintainers; either must hold everything the team
    gives (its grants and its ancestors'), because membership passes those grants on.
    """
    same_org(org, team)
    _require_team_manager(actor=actor, org=org, team=team)
    require_active_member(org=org, user=user)
    member = TeamMember.objects.select_for_update().filter(team=team, user=user).first()
    if member is None:
        _require_holds_team(actor=actor, org=org, team=team, doing="add people to this team")
        try:
            with transaction.atomic():
                member = TeamMember.objects.create(
                    organization=org, team=team, user=user, is_maintainer=bool(is_maintainer)
                )
        except IntegrityError:
            raise Conflict("That person was just added to the team.") from None
        record(org=org, actor=actor, event_name="rbac.team_member.added", target=member, after=member_snapshot(member))
        forget_access(user, org)
        return member, True
    if is_maintainer is not None and member.is_maintainer != is_maintainer:
        before = member_snapshot(member)
        member.is_maintainer = is_maintainer
        member.save(update_fields=["is_maintainer"])
        record(
            org=org,
            actor=actor,
            event_name="rbac.team_member.updated",
            target=member,
            before=before,
            after=member_snapshot(member),
        )
    return member, False


@transaction.atomic
def team_member_remove(*, actor: User, org: Organization, team: Team, user: User) -> None:
    """Remove someone from a team: oneself always; others if one may manage teams or maintains this one."""
    same_org(org, team)
    if user.pk != actor.pk:
        _require_team_manager(actor=actor, org=org, team=team)
    member = TeamMember.objects.select_for_update().filter(team=team, user=user).first()
    if member is None:
        return  # removing twice is harmless
    before = member_snapshot(member)
    member.delete()
    record(org=org, actor=actor, event_name="rbac.team_member.removed", target=team, before=before)
    forget_access(user, org)
