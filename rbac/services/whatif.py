"""What-if: the effect of a proposed rbac change on people's permissions, computed without saving it.

The real service runs inside a savepoint that is always rolled back, so a preview applies exactly the rules
(validation, no escalation, nesting) and the effect the change would have; audit rows written inside the
savepoint roll back with it. Each affected user's permissions are computed before and after from fresh user
objects, so nothing memoised by the engine leaks between the two sides or out of the preview.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import Membership, Organization, User
from rbac.models import Grant, Role, Team, TeamMember
from rbac.services.access import forget_access, permissions_of, resource_grants_of


@dataclass(frozen=True)
class _Snapshot:
    org: frozenset[str]
    on_resource: dict[tuple[str, int], frozenset[str]]


@dataclass
class UserDiff:
    user: User
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    resources: list[dict] = field(default_factory=list)  # {resource_type, resource_id, gained, lost}


@dataclass
class Preview:
    users_checked: int
    changes: list[UserDiff]


class _RollBack(Exception):
    pass


def _snapshot(user_ids: Iterable[int], org: Organization) -> dict[int, _Snapshot]:
    # Fresh objects: nothing memoised from an earlier evaluation (or from the other side of the change).
    users = User.objects.filter(pk__in=sorted(set(user_ids)))
    return {
        user.pk: _Snapshot(org=permissions_of(user=user, org=org), on_resource=resource_grants_of(user=user, org=org))
        for user in users
    }


def _diff(before: _Snapshot, after: _Snapshot) -> tuple[list[str], list[str], list[dict]]:
    gained, lost = after.org - before.org, before.org - after.org
    resources = []
    for key in sorted(set(before.on_resource) | set(after.on_resource)):
        then = before.org | before.on_resource.get(key, frozenset())
        now = after.org | after.on_resource.get(key, frozenset())
        # A change already reported org-wide is not repeated per resource.
        plus, minus = (now - then) - gained, (then - now) - lost
        if plus or minus:
            resources.append(
                {"resource_type": key[0], "resource_id": key[1], "gained": sorted(plus), "lost": sorted(minus)}
            )
    return sorted(gained), sorted(lost), resources


def team_subtree_member_ids(*, team: Team) -> set[int]:
    """Members of the team and of every team nested under it (they all inherit its grants)."""
    children: dict[int | None, list[int]] = {}
    for team_id, parent_id in Team.objects.filter(organization_id=team.organization_id).values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(team_id)
    found, todo = set(), [team.pk]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, ()))
    return set(TeamMember.objects.filter(team_id__in=found).values_list("user_id", flat=True))


def role_holder_ids(*, role: Role) -> set[int]:
    """Everyone a role reaches: direct grantees and members of granted teams (and their sub-teams)."""
    ids = set(Grant.objects.filter(role=role, user__isnull=False).values_list("user_id", flat=True))
    for team in Team.objects.filter(pk__in=Grant.objects.filter(role=role, team__isnull=False).values("team_id")):
        ids |= team_subtree_member_ids(team=team)
    if role.is_built_in:
        ids |= set(
            Membership.objects.filter(organization_id=role.organization_id, role=role.base_role).values_list(
                "user_id", flat=True
            )
        )
    return ids


def grant_subject_ids(*, user: User | None = None, team: Team | None = None) -> set[int]:
    return {user.pk} if user is not None else team_subtree_member_ids(team=team)


def change_preview(*, actor: User, org: Organization, apply: Callable[[], object], affected: Iterable[int]) -> Preview:
    """Run `apply` (a call of a real service, as `actor`) in a savepoint that is rolled back, and return who
    gains or loses which permissions among `affected` (user ids; only active members can hold anything).

    Service errors (403 for a change the actor may not make, 400, 409) propagate: the preview of a change that
    would be refused is that refusal.
    """
    active = set(
        Membership.objects.filter(organization=org, is_active=True, user_id__in=set(affected)).values_list(
            "user_id", flat=True
        )
    )
    before = _snapshot(active, org)
    after: dict[int, _Snapshot] = {}
    try:
        with transaction.atomic():
            apply()
            after = _snapshot(active, org)
            raise _RollBack
    except _RollBack:
        pass
    finally:
        forget_access(actor, org)  # the actor's memo may hold grants of the rolled-back state
    users = {user.pk: user for user in User.objects.filter(pk__in=sorted(active))}
    changes = []
    for user_id in sorted(active, key=lambda pk: users[pk].email):
        gained, lost, resources = _diff(before[user_id], after[user_id])
        if gained or lost or resources:
            changes.append(UserDiff(user=users[user_id], gained=gained, lost=lost, resources=resources))
    return Preview(users_checked=len(active), changes=changes)


# The previews the API and the admin offer, each a thin wrapper naming the real service and who it can affect.


def preview_role_update(*, actor: User, org: Organization, role: Role, **changes) -> Preview:
    from rbac.services.roles import role_update

    return change_preview(
        actor=actor,
        org=org,
        apply=lambda: role_update(actor=actor, org=org, role=role, **changes),
        affected=role_holder_ids(role=role),
    )


def preview_grant_create(
    *, actor: User, org: Organization, role: Role, user=None, team=None, resource=None, expires_at=None
) -> Preview:
    from rbac.services.grants import grant_create

    return change_preview(
        actor=actor,
        org=org,
        apply=lambda: grant_create(
            actor=actor, org=org, role=role, user=user, team=team, resource=resource, expires_at=expires_at
        ),
        affected=grant_subject_ids(user=user, team=team) if (user is None) != (team is None) else (),
    )


def preview_grant_revoke(*, actor: User, org: Organization, grant: Grant) -> Preview:
    from rbac.services.grants import grant_revoke

    return change_preview(
        actor=actor,
        org=org,
        apply=lambda: grant_revoke(actor=actor, org=org, grant=grant),
        affected=grant_subject_ids(user=grant.user, team=grant.team),
    )


def preview_team_member_add(*, actor: User, org: Organization, team: Team, user: User) -> Preview:
    from rbac.services.teams import team_member_add

    return change_preview(
        actor=actor,
        org=org,
        apply=lambda: team_member_add(actor=actor, org=org, team=team, user=user),
        affected={user.pk},
    )


def preview_team_member_remove(*, actor: User, org: Organization, team: Team, user: User) -> Preview:
    from rbac.services.teams import team_member_remove

    return change_preview(
        actor=actor,
        org=org,
        apply=lambda: team_member_remove(actor=actor, org=org, team=team, user=user),
        affected={user.pk},
    )


__all__ = [
    "Preview",
    "UserDiff",
    "change_preview",
    "preview_grant_create",
    "preview_grant_revoke",
    "preview_role_update",
    "preview_team_member_add",
    "preview_team_member_remove",
]
