"""Reads of rbac data: always one organization, free of N+1."""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import Membership, Organization, User
from rbac.models import AccessReview, AccessReviewItem, Grant, IdentityGroupMapping, Role, Team, TeamMember
from rbac.registry import permissions
from rbac.resources import GRANTABLE_RESOURCES, resource_kind, resource_model
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS
from rbac.services.access import loaded_access, membership_of, permissions_of, team_tree


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


# --- Explain ---------------------------------------------------------------------------------------------------


def parse_object(*, org: Organization, value: str) -> tuple[str, int]:
    """`chat.channel:12` -> ("chat.channel", 12) for a resource of this organization, or a 400.

    Another organization's object gets the same answer as a missing one.
    """
    resource_type, _, raw_id = (value or "").strip().rpartition(":")
    if not resource_type or not raw_id.isdigit():
        raise ValidationError({"object": ["Use <resource_type>:<id>, e.g. chat.channel:12."]})
    if resource_type not in GRANTABLE_RESOURCES:
        raise ValidationError({"object": [f"Resource types: {', '.join(sorted(GRANTABLE_RESOURCES))}."]})
    if not resource_model(resource_type).objects.filter(organization=org, pk=int(raw_id)).exists():
        raise ValidationError({"object": ["No such object in this organization."]})
    return resource_type, int(raw_id)


@dataclass
class Explanation:
    allowed: bool
    user: User
    permission: str
    resource: tuple[str, int] | None
    summary: str
    sources: list[dict]


def _team_path(held_team_id: int, parent_of: dict, mine: list[int], names: dict) -> list[dict]:
    """The shortest chain from a team the user is in up to the team holding the grant (member team first)."""
    best: list[int] | None = None
    for start in mine:
        chain, current = [], start
        while current is not None and current not in chain:
            chain.append(current)
            if current == held_team_id:
                if best is None or len(chain) < len(best):
                    best = chain
                break
            current = parent_of.get(current)
    return [{"id": team_id, "name": names.get(team_id, "")} for team_id in best or [held_team_id]]


def permission_explain(
    *, org: Organization, user: User, permission: str, resource: tuple[str, int] | None = None, now=None
) -> Explanation:
    """Whether `user` holds `permission` (on `resource`, a (resource_type, id) of this organization) and why.

    The answer comes from the evaluation engine (`permissions_of`); the chain is read from the same grant rows
    the engine loaded (`loaded_access`), so the explanation cannot disagree with a real check. Sources list the
    base role and every grant whose role gives the code (expired or out-of-scope ones too, marked as not
    counting, because "why not?" is half the question). Queries: membership, grants, team tree, role names.
    """
    if permission not in permissions:
        raise ValidationError({"permission": ["Unknown permission code."]})
    now = now or timezone.now()
    loaded_access(user=user, org=org)  # first, so that one query loads the grants, resource grants included
    allowed = permission in permissions_of(user=user, org=org, resource=resource, now=now)
    if user.is_superuser:
        return Explanation(True, user, permission, resource, "Platform superuser: holds every permission.", [])
    membership = membership_of(user=user, org=org)
    if membership is None:
        return Explanation(False, user, permission, resource, "Not an active member of this organization.", [])
    access = loaded_access(user=user, org=org)
    base_gives = permission in BUILT_IN_ROLE_PERMISSIONS.get(membership.role, ())
    sources: list[dict] = [{"kind": "base_role", "role": membership.role, "gives": base_gives, "counts": base_gives}]
    resource_applies = resource is not None and resource_kind(resource[0]) == permissions[permission].resource
    helds = [(held, None) for held in access.org_wide] + [
        (held, key) for key, held_list in sorted(access.on_resource.items()) for held in held_list
    ]
    giving = [(held, key) for held, key in helds if permission in held.codes]
    parent_of, names, mine = team_tree(user=user, org=org) if any(h.team_id for h, _ in giving) else ({}, {}, [])
    role_names = dict(Role.objects.filter(pk__in={held.role_id for held, _ in giving}).values_list("id", "name"))
    for held, key in sorted(giving, key=lambda pair: (pair[1] is not None, pair[1] or ("", 0), pair[0].grant_id)):
        live = held.live(now)
        in_scope = key is None or (resource_applies and key == resource)
        source = {
            "kind": "org_grant" if key is None else "resource_grant",
            "grant_id": held.grant_id,
            "role": {"id": held.role_id, "name": role_names.get(held.role_id, "")},
            "resource_type": key[0] if key else None,
            "resource_id": key[1] if key else None,
            "via": "team" if held.team_id else "direct",
            "teams": _team_path(held.team_id, parent_of, mine, names) if held.team_id else [],
            "expires_at": held.expires_at,
            "live": live,
            "counts": live and in_scope,
        }
        sources.append(source)
    counting = [source for source in sources if source["counts"]]
    if not allowed:
        summary = f"Not allowed: nothing gives '{permission}'" + (" on this object." if resource else " org-wide.")
    elif base_gives:
        summary = f"Allowed by the base role '{membership.role}'."
    else:
        summary = f"Allowed by {len(counting)} grant(s)."
    return Explanation(allowed, user, permission, resource, summary, sources)


def member_user(*, org: Organization, user_id) -> User:
    """A user with a membership (active or not) in the organization, or a 400 that says nothing about others."""
    membership = None
    if str(user_id).isdigit():
        membership = Membership.objects.filter(organization=org, user_id=int(user_id)).select_related("user").first()
    if membership is None:
        raise ValidationError({"user": ["No such member in this organization."]})
    return membership.user


# --- Access reviews --------------------------------------------------------------------------------------------


def review_reviewer_ids(*, review: AccessReview) -> set[int]:
    """The users who may decide the review's items (one query)."""
    kind = AccessReview.Reviewers
    if review.reviewer_kind == kind.OWNERS:
        rows = Membership.objects.filter(organization_id=review.organization_id, role="owner", is_active=True)
        return set(rows.values_list("user_id", flat=True))
    if review.reviewer_kind == kind.TEAM_MAINTAINERS:
        if review.scope_team_id is None:
            return set()
        rows = TeamMember.objects.filter(team_id=review.scope_team_id, is_maintainer=True)
        return set(rows.values_list("user_id", flat=True))
    return set(review.reviewer_users.values_list("pk", flat=True))


def reviews_reviewed_by(*, user: User, org: Organization) -> Q:
    """A filter on AccessReview: the reviews `user` is a reviewer of."""
    kind = AccessReview.Reviewers
    condition = Q(reviewer_kind=kind.USERS, reviewer_users=user)
    if Membership.objects.filter(organization=org, user=user, role="owner", is_active=True).exists():
        condition |= Q(reviewer_kind=kind.OWNERS)
    maintained = TeamMember.objects.filter(organization=org, user=user, is_maintainer=True).values("team_id")
    return condition | Q(reviewer_kind=kind.TEAM_MAINTAINERS, scope_team_id__in=maintained)


def reviews_of(*, org: Organization, user: User, see_all: bool) -> QuerySet[AccessReview]:
    """The organization's reviews: all of them for review managers and auditors, else those `user` reviews."""
    reviews = AccessReview.objects.for_org(org).select_related("scope_role", "scope_team", "created_by")
    reviews = reviews.prefetch_related("reviewer_users").annotate(
        item_count=Count("items", distinct=True),
        undecided_count=Count("items", filter=Q(items__decision=""), distinct=True),
    )
    if not see_all:
        reviews = reviews.filter(reviews_reviewed_by(user=user, org=org)).distinct()
    return reviews


def review_items(*, review: AccessReview) -> QuerySet[AccessReviewItem]:
    return (
        AccessReviewItem.objects.for_org(review.organization_id)
        .filter(review=review)
        .select_related("user", "decided_by", "new_role")
    )


def review_summary(*, review: AccessReview) -> dict:
    """Counts, decisions, and who decided what and when (two queries)."""
    items = list(review_items(review=review))
    decisions = dict.fromkeys(AccessReviewItem.Decision.values, 0)
    by_reviewer: dict[int, dict] = {}
    outcomes = {"applied": 0, "failed": 0}
    for item in items:
        if item.decision:
            decisions[item.decision] += 1
        if item.outcome:
            outcomes[item.outcome] += 1
        if item.decided_by_id is not None:
            entry = by_reviewer.setdefault(
                item.decided_by_id,
                {"user_id": item.decided_by_id, "email": item.decided_by.email, "decided": 0}
                | dict.fromkeys(decisions, 0),
            )
            entry["decided"] += 1
            entry[item.decision] += 1
    decided = sum(decisions.values())
    return {
        "review": {
            "id": review.pk,
            "name": review.name,
            "status": review.status,
            "scope": review.scope,
            "due_at": review.due_at,
            "default_action": review.default_action,
        },
        "counts": {
            "items": len(items),
            "decided": decided,
            "undecided": len(items) - decided,
            "inactive": sum(1 for item in items if item.inactive),
            "by_decision": decisions,
            "by_outcome": outcomes,
        },
        "reviewers": sorted(by_reviewer.values(), key=lambda entry: entry["email"]),
        "items": [review_item_row(item) for item in items],
    }


def review_item_row(item: AccessReviewItem) -> dict:
    return {
        "id": item.pk,
        "kind": item.kind,
        "user_id": item.user_id,
        "user_email": item.user.email if item.user_id else "",
        "team": item.team_name,
        "role": item.role_name,
        "scope": item.scope_label,
        "expires_at": item.expires_at,
        "last_login": item.last_login,
        "last_activity": item.last_activity,
        "inactive": item.inactive,
        "decision": item.decision,
        "new_role": item.new_role.name if item.new_role_id else "",
        "comment": item.comment,
        "decided_by": item.decided_by.email if item.decided_by_id else ("system" if item.decided_at else ""),
        "decided_at": item.decided_at,
        "outcome": item.outcome,
        "outcome_detail": item.outcome_detail,
    }


def reviews_due_for_reminder(*, now: datetime, within_days: int) -> QuerySet[AccessReview]:
    from datetime import timedelta

    return AccessReview.objects.filter(
        status=AccessReview.Status.OPEN, due_at__gt=now, due_at__lte=now + timedelta(days=within_days)
    ).select_related("organization")
