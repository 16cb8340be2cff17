"""Access reviews: campaigns in which reviewers certify who holds what, and the revocations they decide.

Lifecycle: `review_create` (a draft, its items snapshotted) -> `review_open` -> reviewers decide items
(`item_decide`, `items_decide`) -> `review_close`, or `reviews_close_due` at the due date, which gives every
undecided item the review's default action. A revocation or change is applied at once through the real
services (`grant_revoke`, `grant_create`, `accounts.services.member_update`, `team_member_remove`) acting as
the deciding reviewer, so a reviewer can only take away what they could take away anyway; default actions at
the due date act for the review's creator. Every decision and every application is audited.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Membership, Organization, User
from chatapp.kernel.admin import SERVICE_ERRORS, service_error_text
from chatapp.kernel.errors import Conflict
from rbac.models import AccessReview, AccessReviewItem, Grant, Role, Team, TeamMember
from rbac.permissions import ROLES_MANAGE
from rbac.resources import GRANTABLE_RESOURCES
from rbac.services._common import clean_name, record, same_org
from rbac.services.access import require_perm

Scope = AccessReview.Scope
Reviewers = AccessReview.Reviewers
Status = AccessReview.Status
Decision = AccessReviewItem.Decision
Kind = AccessReviewItem.Kind

_UNSET = object()


def remind_days() -> int:
    return int(getattr(settings, "RBAC_REVIEW_REMIND_DAYS", 3))


def review_snapshot(review: AccessReview, reviewer_ids=None) -> dict:
    values = {
        "name": review.name,
        "scope": review.scope,
        "scope_role_id": review.scope_role_id,
        "scope_team_id": review.scope_team_id,
        "scope_resource_type": review.scope_resource_type,
        "reviewer_kind": review.reviewer_kind,
        "due_at": review.due_at.isoformat() if review.due_at else None,
        "default_action": review.default_action,
        "inactive_days": review.inactive_days,
        "status": review.status,
    }
    if reviewer_ids is not None:
        values["reviewers"] = sorted(reviewer_ids)
    return values


def item_snapshot(item: AccessReviewItem) -> dict:
    return {
        "review_id": item.review_id,
        "kind": item.kind,
        "user_id": item.user_id,
        "team": item.team_name,
        "role": item.role_name,
        "scope": item.scope_label,
        "decision": item.decision,
        "new_role_id": item.new_role_id,
        "comment": item.comment,
        "outcome": item.outcome,
    }


# --- Creating a campaign ---------------------------------------------------------------------------------------


def _clean_due(due_at: datetime, now: datetime) -> datetime:
    if due_at is None or timezone.is_naive(due_at):
        raise ValidationError({"due_at": ["Give a due date with a time zone."]})
    if due_at <= now:
        raise ValidationError({"due_at": ["Must be in the future."]})
    return due_at


def _clean_reviewers(*, org: Organization, kind: str, scope: str, reviewers) -> list[User]:
    if kind not in Reviewers.values:
        raise ValidationError({"reviewer_kind": [f"One of: {', '.join(Reviewers.values)}."]})
    if kind == Reviewers.TEAM_MAINTAINERS and scope != Scope.TEAM:
        raise ValidationError({"reviewer_kind": ["Team maintainers review team-scoped reviews only."]})
    reviewers = list(reviewers or ())
    if kind != Reviewers.USERS:
        if reviewers:
            raise ValidationError({"reviewer_ids": ["Name reviewers only with reviewer_kind 'users'."]})
        return []
    if not reviewers:
        raise ValidationError({"reviewer_ids": ["Name at least one reviewer."]})
    members = set(
        Membership.objects.filter(organization=org, is_active=True, user__in=reviewers).values_list(
            "user_id", flat=True
        )
    )
    if any(user.pk not in members for user in reviewers):
        raise ValidationError({"reviewer_ids": ["Reviewers must be active members of this organization."]})
    return reviewers


def _scope_rows(review: AccessReview) -> tuple[list[Membership], list[Grant], list[TeamMember]]:
    org = review.organization_id
    memberships = Membership.objects.filter(organization_id=org, is_active=True).select_related("user")
    grants = Grant.objects.filter(organization_id=org).select_related("role", "user", "team")
    members = TeamMember.objects.none()
    if review.scope == Scope.ORGANIZATION:
        pass
    elif review.scope == Scope.ROLE:
        role = review.scope_role
        memberships = memberships.filter(role=role.base_role) if role.is_built_in else memberships.none()
        grants = grants.filter(role=role)
    elif review.scope == Scope.TEAM:
        memberships = memberships.none()
        grants = grants.filter(team=review.scope_team)
        members = TeamMember.objects.filter(team=review.scope_team).select_related("user", "team")
    else:
        memberships = memberships.none()
        grants = grants.filter(resource_type=review.scope_resource_type)
    return list(memberships.order_by("user__email")), list(grants.order_by("id")), list(members.order_by("user__email"))


def _snapshot_items(review: AccessReview, now: datetime) -> list[AccessReviewItem]:
    from chatapp.chat.models import Message

    memberships, grants, members = _scope_rows(review)
    users = {m.user_id: m.user for m in memberships} | {g.user_id: g.user for g in grants if g.user_id}
    users |= {m.user_id: m.user for m in members}
    last_activity = dict(
        Message.objects.filter(organization_id=review.organization_id, author_id__in=sorted(users))
        .values("author_id")
        .annotate(last=Max("created"))
        .values_list("author_id", "last")
    )
    cutoff = now - timedelta(days=review.inactive_days)

    def person(user: User) -> dict:
        login, activity = user.last_login, last_activity.get(user.pk)
        inactive = (login is None or login < cutoff) and (activity is None or activity < cutoff)
        return {"user": user, "last_login": login, "last_activity": activity, "inactive": inactive}

    common = {"organization_id": review.organization_id, "review": review}
    items = [
        AccessReviewItem(
            **common,
            kind=Kind.BASE_ROLE,
            membership=m,
            role_name=f"{m.get_role_display()} (base role)",
            **person(m.user),
        )
        for m in memberships
    ]
    for grant in grants:
        subject = person(grant.user) if grant.user_id else {"team": grant.team, "team_name": grant.team.name}
        items.append(
            AccessReviewItem(
                **common,
                **subject,
                kind=Kind.GRANT,
                grant=grant,
                role_name=grant.role.name,
                resource_type=grant.resource_type,
                resource_id=grant.resource_id,
                expires_at=grant.expires_at,
            )
        )
    items += [
        AccessReviewItem(
            **common,
            **person(m.user),
            kind=Kind.TEAM_MEMBER,
            team_member=m,
            team=m.team,
            team_name=m.team.name,
            role_name="Team maintainer" if m.is_maintainer else "Team member",
        )
        for m in members
    ]
    return AccessReviewItem.objects.bulk_create(items)


@transaction.atomic
def review_create(
    *,
    actor: User,
    org: Organization,
    name: str,
    due_at: datetime,
    scope: str = Scope.ORGANIZATION,
    role: Role | None = None,
    team: Team | None = None,
    resource_type: str = "",
    reviewer_kind: str = Reviewers.OWNERS,
    reviewers=(),
    default_action: str = AccessReview.DefaultAction.KEEP,
    inactive_days: int = 90,
    description: str = "",
    now: datetime | None = None,
) -> AccessReview:
    """Create a draft campaign and snapshot one item per base-role membership, grant (and, for a team scope,
    team membership) in scope, with each person's last login and last message. Needs `roles.manage`."""
    same_org(org, role, team)
    require_perm(user=actor, org=org, perm=ROLES_MANAGE)
    now = now or timezone.now()
    if scope not in Scope.values:
        raise ValidationError({"scope": [f"One of: {', '.join(Scope.values)}."]})
    if scope == Scope.ROLE and role is None:
        raise ValidationError({"role_id": ["A role-scoped review needs a role."]})
    if scope == Scope.TEAM and team is None:
        raise ValidationError({"team_id": ["A team-scoped review needs a team."]})
    if scope == Scope.RESOURCE_TYPE and resource_type not in GRANTABLE_RESOURCES:
        raise ValidationError({"resource_type": [f"One of: {', '.join(sorted(GRANTABLE_RESOURCES))}."]})
    if default_action not in AccessReview.DefaultAction.values:
        raise ValidationError({"default_action": ["Either 'keep' or 'revoke'."]})
    if not 1 <= int(inactive_days) <= 3650:
        raise ValidationError({"inactive_days": ["Between 1 and 3650 days."]})
    reviewer_users = _clean_reviewers(org=org, kind=reviewer_kind, scope=scope, reviewers=reviewers)
    review = AccessReview.objects.create(
        organization=org,
        name=clean_name(name, max_length=120),
        description=(description or "").strip()[:500],
        scope=scope,
        scope_role=role if scope == Scope.ROLE else None,
        scope_team=team if scope == Scope.TEAM else None,
        scope_resource_type=resource_type if scope == Scope.RESOURCE_TYPE else "",
        reviewer_kind=reviewer_kind,
        due_at=_clean_due(due_at, now),
        default_action=default_action,
        inactive_days=inactive_days,
        created_by=actor,
        created=now,
    )
    review.reviewer_users.set(reviewer_users)
    items = _snapshot_items(review, now)
    after = review_snapshot(review, [user.pk for user in reviewer_users]) | {"items": len(items)}
    record(org=org, actor=actor, event_name="rbac.review.created", target=review, after=after)
    return review


def _locked(org: Organization, review: AccessReview) -> AccessReview:
    same_org(org, review)
    return AccessReview.objects.select_for_update().get(pk=review.pk, organization=org)


@transaction.atomic
def review_update(
    *,
    actor: User,
    org: Organization,
    review: AccessReview,
    name: str | None = None,
    description: str | None = None,
    due_at: datetime | None = None,
    default_action: str | None = None,
    reviewer_kind: str | None = None,
    reviewers=None,
) -> AccessReview:
    """Rename, move the due date, change the default action or the reviewers of a review not yet closed."""
    require_perm(user=actor, org=org, perm=ROLES_MANAGE)
    review = _locked(org, review)
    if review.status == Status.CLOSED:
        raise Conflict("A closed review cannot be changed.")
    before = review_snapshot(review, review.reviewer_users.values_list("pk", flat=True))
    if name is not None:
        review.name = clean_name(name, max_length=120)
    if description is not None:
        review.description = description.strip()[:500]
    if due_at is not None:
        review.due_at = _clean_due(due_at, timezone.now())
    if default_action is not None:
        if default_action not in AccessReview.DefaultAction.values:
            raise ValidationError({"default_action": ["Either 'keep' or 'revoke'."]})
        review.default_action = default_action
    if reviewer_kind is not None or reviewers is not None:
        review.reviewer_kind = reviewer_kind or review.reviewer_kind
        if reviewers is None:
            reviewers = list(review.reviewer_users.all()) if review.reviewer_kind == Reviewers.USERS else []
        review.reviewer_users.set(
            _clean_reviewers(org=org, kind=review.reviewer_kind, scope=review.scope, reviewers=reviewers)
        )
    review.save()
    after = review_snapshot(review, review.reviewer_users.values_list("pk", flat=True))
    record(org=org, actor=actor, event_name="rbac.review.updated", target=review, before=before, after=after)
    return review


@transaction.atomic
def review_delete(*, actor: User, org: Organization, review: AccessReview) -> None:
    """Delete a draft (an opened review is evidence: close it instead)."""
    require_perm(user=actor, org=org, perm=ROLES_MANAGE)
    review = _locked(org, review)
    if review.status != Status.DRAFT:
        raise Conflict("Only a draft review can be deleted; close an open review instead.")
    record(org=org, actor=actor, event_name="rbac.review.deleted", target=review, before=review_snapshot(review))
    review.delete()


@transaction.atomic
def review_open(*, actor: User, org: Organization, review: AccessReview, now: datetime | None = None) -> AccessReview:
    """Open a draft for decisions."""
    require_perm(user=actor, org=org, perm=ROLES_MANAGE)
    review = _locked(org, review)
    if review.status != Status.DRAFT:
        raise Conflict(f"The review is {review.status}, not a draft.")
    before = review_snapshot(review)
    review.status, review.opened_at = Status.OPEN, now or timezone.now()
    review.save(update_fields=["status", "opened_at"])
    record(
        org=org,
        actor=actor,
        event_name="rbac.review.opened",
        target=review,
        before=before,
        after=review_snapshot(review),
    )
    return review


# --- Decisions -------------------------------------------------------------------------------------------------


def _apply(item: AccessReviewItem, *, actor: User, org: Organization) -> str:
    """Carry out a revoke or change decision through the real services, as `actor`; returns what was done."""
    from accounts.services import member_update
    from rbac.services.grants import grant_create, grant_revoke
    from rbac.services.teams import team_member_remove

    decision = item.decision
    if decision == Decision.KEEP:
        return "kept"
    if item.kind == Kind.GRANT:
        grant = Grant.objects.filter(pk=item.grant_id, organization=org).select_related("user", "team").first()
        if grant is None:
            return "the grant no longer exists"
        grant_revoke(actor=actor, org=org, grant=grant)
        if decision == Decision.REVOKE:
            return "grant revoked"
        resource = None
        if grant.resource_id is not None:
            from rbac.services.grants import grant_resource

            resource = grant_resource(org=org, resource_type=grant.resource_type, resource_id=grant.resource_id)
        expires_at = grant.expires_at if grant.expires_at and grant.expires_at > timezone.now() else None
        created = grant_create(
            actor=actor, org=org, role=item.new_role, user=grant.user, team=grant.team, resource=resource,
            expires_at=expires_at,
        )  # fmt: skip
        return f"grant replaced by grant {created.pk} of role {item.new_role.name}"
    if item.kind == Kind.BASE_ROLE:
        membership = Membership.objects.filter(pk=item.membership_id, organization=org).first()
        if membership is None or not membership.is_active:
            return "the membership is no longer active"
        if decision == Decision.REVOKE:
            member_update(actor=actor, org=org, membership=membership, is_active=False)
            return "membership deactivated"
        member_update(actor=actor, org=org, membership=membership, role=item.new_role.base_role)
        return f"base role changed to {item.new_role.base_role}"
    member = TeamMember.objects.filter(pk=item.team_member_id, organization=org).select_related("team", "user").first()
    if member is None:
        return "no longer in the team"
    team_member_remove(actor=actor, org=org, team=member.team, user=member.user)
    return "removed from the team"


def _clean_decision(item: AccessReviewItem, decision: str, new_role: Role | None) -> None:
    if decision not in Decision.values:
        raise ValidationError({"decision": [f"One of: {', '.join(Decision.values)}."]})
    if decision == Decision.CHANGE:
        if new_role is None:
            raise ValidationError({"new_role_id": ["A change needs the new role."]})
        if item.kind == Kind.TEAM_MEMBER:
            raise ValidationError({"decision": ["A team membership can be kept or revoked, not changed."]})
        if item.kind == Kind.BASE_ROLE and not new_role.is_built_in:
            raise ValidationError({"new_role_id": ["A base role can only be changed to a built-in role."]})
    elif new_role is not None:
        raise ValidationError({"new_role_id": ["Only a 'change' decision takes a new role."]})


_DECISION_FIELDS = ["decision", "new_role", "comment", "decided_by", "decided_at", "outcome", "outcome_detail"]


def _record_decision(item: AccessReviewItem, *, org, actor, before: dict, applied: str, failed: bool = False):
    record(
        org=org, actor=actor, event_name="rbac.review.item_decided", target=item, before=before,
        after=item_snapshot(item), metadata={"review_id": item.review_id},
    )  # fmt: skip
    if item.decision != Decision.KEEP:
        record(
            org=org, actor=actor, event_name="rbac.review.item_applied", target=item,
            outcome="failure" if failed else "success",
            metadata={"review_id": item.review_id, "decision": item.decision, "result": applied[:500]},
        )  # fmt: skip


@transaction.atomic
def item_decide(
    *,
    actor: User,
    org: Organization,
    item: AccessReviewItem,
    decision: str,
    comment: str = "",
    new_role: Role | None = None,
    reviewer_ids: set[int] | None = None,
    now: datetime | None = None,
) -> AccessReviewItem:
    """Record a reviewer's decision on one item of an open review and carry it out at once.

    Only the review's reviewers decide (never on their own access); a decision is final. A revoke or change
    runs the real service as the reviewer: if they may not make that change, the decision is refused (403)
    and nothing is written.
    """
    same_org(org, item, new_role)
    item = AccessReviewItem.objects.select_for_update().select_related("review").get(pk=item.pk, organization=org)
    review = item.review
    if review.status != Status.OPEN:
        raise Conflict(f"The review is {review.status}: decisions are taken while it is open.")
    if reviewer_ids is None:
        from rbac.selectors import review_reviewer_ids

        reviewer_ids = review_reviewer_ids(review=review)
    if not actor.is_superuser and actor.pk not in reviewer_ids:
        raise PermissionDenied("You are not a reviewer of this access review.")
    if item.user_id == actor.pk:
        raise PermissionDenied("Nobody reviews their own access; another reviewer decides this item.")
    if item.decision:
        raise Conflict("This item has already been decided.")
    _clean_decision(item, decision, new_role)
    before = item_snapshot(item)
    item.decision, item.new_role, item.comment = decision, new_role, (comment or "").strip()[:1000]
    item.decided_by, item.decided_at = actor, now or timezone.now()
    applied = _apply(item, actor=actor, org=org)
    item.outcome, item.outcome_detail = AccessReviewItem.Outcome.APPLIED, applied
    item.save(update_fields=_DECISION_FIELDS)  # not the FKs: NULLed in the DB if the revoked row is gone
    _record_decision(item, org=org, actor=actor, before=before, applied=applied)
    return item


@transaction.atomic
def items_decide(
    *,
    actor: User,
    org: Organization,
    review: AccessReview,
    item_ids,
    decision: str,
    comment: str = "",
    new_role: Role | None = None,
) -> list[AccessReviewItem]:
    """Decide several items of one review alike, all or nothing (one refusal leaves every item undecided)."""
    same_org(org, review)
    from rbac.selectors import review_reviewer_ids

    items = list(AccessReviewItem.objects.filter(review=review, organization=org, pk__in=set(item_ids)))
    if len(items) != len(set(item_ids)):
        raise ValidationError({"item_ids": ["Some items are not in this review."]})
    reviewer_ids = review_reviewer_ids(review=review)
    return [
        item_decide(
            actor=actor,
            org=org,
            item=item,
            decision=decision,
            comment=comment,
            new_role=new_role,
            reviewer_ids=reviewer_ids,
        )
        for item in sorted(items, key=lambda item: item.pk)
    ]


# --- Closing and reminding -------------------------------------------------------------------------------------


def _close(review: AccessReview, *, actor: User | None, now: datetime) -> AccessReview:
    """Give undecided items the default action (applied as `actor`, or as the review's creator for the system),
    then close. A default revocation that fails (the creator lost the right, the last owner) is recorded as
    failed on the item instead of blocking the close."""
    org = review.organization
    acting = actor if actor is not None else review.created_by
    undecided = AccessReviewItem.objects.select_for_update().filter(review=review, decision="").order_by("id")
    for item in undecided:
        item.review = review
        before = item_snapshot(item)
        item.decision, item.decided_at = review.default_action, now
        item.comment = f"Default action at the due date ({review.default_action})."
        item.decided_by = actor
        failed = False
        if item.decision == Decision.KEEP:
            applied = "kept"
        elif acting is None:
            applied, failed = "nobody to act for the review (its creator is gone)", True
        else:
            try:
                with transaction.atomic():
                    applied = _apply(item, actor=acting, org=org)
            except SERVICE_ERRORS as exc:
                applied, failed = f"refused: {service_error_text(exc)}", True
        item.outcome = AccessReviewItem.Outcome.FAILED if failed else AccessReviewItem.Outcome.APPLIED
        item.outcome_detail = applied[:500]
        item.save(update_fields=_DECISION_FIELDS)  # not the FKs: NULLed in the DB if the revoked row is gone
        _record_decision(item, org=org, actor=actor, before=before, applied=applied, failed=failed)
    before = review_snapshot(review)
    review.status, review.closed_at = Status.CLOSED, now
    review.save(update_fields=["status", "closed_at"])
    record(
        org=org, actor=actor, event_name="rbac.review.closed", target=review, before=before,
        after=review_snapshot(review),
    )  # fmt: skip
    return review


@transaction.atomic
def review_close(*, actor: User, org: Organization, review: AccessReview, now: datetime | None = None) -> AccessReview:
    """Close an open review now, giving its undecided items the default action (as the actor)."""
    require_perm(user=actor, org=org, perm=ROLES_MANAGE)
    review = _locked(org, review)
    if review.status != Status.OPEN:
        raise Conflict(f"The review is {review.status}, not open.")
    return _close(review, actor=actor, now=now or timezone.now())


def reviews_close_due(*, now: datetime | None = None) -> int:
    """Close every open review whose due date has passed (beat, every 15 minutes). Each review in its own
    transaction; rows locked and skipped by a concurrent run, so running twice is harmless. Returns how many."""
    now = now or timezone.now()
    done = 0
    due = (
        AccessReview.objects.filter(status=Status.OPEN, due_at__lte=now).order_by("due_at").values_list("pk", flat=True)
    )
    for pk in list(due):
        with transaction.atomic():
            review = (
                AccessReview.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("organization", "created_by")
                .filter(pk=pk, status=Status.OPEN)
                .first()
            )
            if review is None:
                continue
            _close(review, actor=None, now=now)
            done += 1
    return done


def reviews_remind(*, now: datetime | None = None, within_days: int | None = None) -> int:
    """E-mail each reviewer of every open review due within `within_days` (RBAC_REVIEW_REMIND_DAYS, default 3)
    that still has undecided items. A review is reminded at most once per 20 hours, so the daily beat task can
    run twice. Returns the number of e-mails sent."""
    from rbac.selectors import review_reviewer_ids, reviews_due_for_reminder

    now = now or timezone.now()
    within_days = remind_days() if within_days is None else within_days
    sent = 0
    for review in reviews_due_for_reminder(now=now, within_days=within_days):
        with transaction.atomic():
            locked = AccessReview.objects.select_for_update(skip_locked=True).filter(pk=review.pk).first()
            if locked is None or (locked.last_reminded_at and locked.last_reminded_at > now - timedelta(hours=20)):
                continue
            undecided = AccessReviewItem.objects.filter(review=review, decision="").count()
            if not undecided:
                continue
            emails = sorted(
                User.objects.filter(pk__in=review_reviewer_ids(review=review), is_active=True).values_list(
                    "email", flat=True
                )
            )
            locked.last_reminded_at = now
            locked.save(update_fields=["last_reminded_at"])
            record(
                org=review.organization, actor=None, event_name="rbac.review.reminded", target=review,
                metadata={"reviewers": len(emails), "undecided": undecided},
            )  # fmt: skip
        # Sent after the commit: a crash in between loses one day's reminder rather than sending it twice.
        subject = f"Access review due {review.due_at:%Y-%m-%d}: {review.name}"
        body = (
            f"The access review '{review.name}' of {review.organization.name} is due on "
            f"{review.due_at:%Y-%m-%d %H:%M} UTC and {undecided} item(s) still need a decision.\n\n"
            f"Undecided items will be {'revoked' if review.default_action == 'revoke' else 'kept'} "
            "automatically at the due date.\n\n"
            f"Decide them in the admin (Access review items, filtered by this review) or through the API:\n"
            f"GET /api/v1/orgs/{review.organization.slug}/rbac/reviews/{review.pk}/items/?decision=undecided\n"
        )
        for email in emails:
            sent += send_mail(subject, body, None, [email])
    return sent
