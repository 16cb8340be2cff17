"""Grants: a role given to a user or a team, org-wide or on one resource, possibly until a time."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from accounts.models import Organization, User
from chatapp.kernel.errors import Conflict
from rbac.models import Grant, IdentityGroupMapping, Role, Team
from rbac.permissions import ROLES_MANAGE, SSO_MANAGE
from rbac.resources import GRANTABLE_RESOURCES, resource_model, resource_type_of
from rbac.services._common import clean_name, record, require_active_member, require_held, same_org
from rbac.services.access import _for_resource, forget_access, require_perm
from rbac.services.teams import _require_holds_team


def grant_snapshot(grant: Grant) -> dict:
    return {
        "role_id": grant.role_id,
        "role": grant.role.name,
        "user_id": grant.user_id,
        "team_id": grant.team_id,
        "resource_type": grant.resource_type,
        "resource_id": grant.resource_id,
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
    }


def grant_codes(grant: Grant) -> frozenset[str]:
    """The codes a grant gives: its role's, limited to its resource type's codes for a resource grant."""
    return _for_resource(grant.role.codes, grant.resource_type) if grant.resource_id is not None else grant.role.codes


def _scope(grant: Grant) -> tuple[str, int] | None:
    return (grant.resource_type, grant.resource_id) if grant.resource_id is not None else None


def grant_resource(*, org: Organization, resource_type: str, resource_id: int) -> Model:
    """A grantable resource of the organization, or a 400 naming what is wrong (another org's is 'no such')."""
    model = resource_model(resource_type)
    if model is None:
        raise ValidationError(
            {"resource_type": [f"Roles can be granted on: {', '.join(sorted(GRANTABLE_RESOURCES))}."]}
        )
    obj = model.objects.filter(organization=org, pk=resource_id).first()
    if obj is None:
        raise ValidationError({"resource_id": ["No such resource in this organization."]})
    return obj


@transaction.atomic
def grant_create(
    *,
    actor: User,
    org: Organization,
    role: Role,
    user: User | None = None,
    team: Team | None = None,
    resource: Model | None = None,
    expires_at: datetime | None = None,
) -> Grant:
    """Give `role` to a user or a team (exactly one), org-wide or on `resource`, until `expires_at` (or for good).

    The actor needs `roles.manage` (org-wide or on the resource) and must hold every code the grant gives.
    """
    same_org(org, role, team, resource)
    if (user is None) == (team is None):
        raise ValidationError({"non_field_errors": ["Grant a role to exactly one user or one team."]})
    scope = None
    if resource is not None:
        scope = (resource_type_of(resource), resource.pk)
        if scope[0] not in GRANTABLE_RESOURCES:
            raise ValidationError({"resource_type": ["Roles cannot be granted on this kind of object."]})
    require_perm(user=actor, org=org, perm=ROLES_MANAGE, obj=resource)
    if user is not None:
        require_active_member(org=org, user=user)
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise ValidationError({"expires_at": ["Give a time zone."]})
        if expires_at <= timezone.now():
            raise ValidationError({"expires_at": ["Must be in the future."]})
    grant = Grant(
        organization=org,
        role=role,
        user=user,
        team=team,
        resource_type=scope[0] if scope else "",
        resource_id=scope[1] if scope else None,
        expires_at=expires_at,
        created_by=actor,
    )
    codes = grant_codes(grant)
    if scope and not codes:
        raise ValidationError({"role_id": ["This role gives no permission on this kind of resource."]})
    require_held(actor=actor, org=org, codes=codes, resource=scope, doing="grant this role")
    try:
        with transaction.atomic():
            grant.save()
    except IntegrityError:
        raise Conflict("This role is already granted to this subject on this scope; revoke it first.") from None
    record(org=org, actor=actor, event_name="rbac.grant.created", target=grant, after=grant_snapshot(grant))
    if user is not None:
        forget_access(user, org)
    forget_access(actor, org)
    return grant


@transaction.atomic
def grant_revoke(*, actor: User, org: Organization, grant: Grant) -> None:
    """Take a grant back. Like granting, it needs `roles.manage` and every code the grant gives: nobody can
    strip access they could not have given."""
    same_org(org, grant)
    grant = Grant.objects.select_for_update().select_related("role").filter(pk=grant.pk, organization=org).first()
    if grant is None:
        return  # revoking twice (or after expiry) is harmless
    resource = None
    if grant.resource_id is not None:
        model = resource_model(grant.resource_type)
        resource = model.objects.filter(organization=org, pk=grant.resource_id).first() if model else None
    require_perm(user=actor, org=org, perm=ROLES_MANAGE, obj=resource)
    require_held(actor=actor, org=org, codes=grant_codes(grant), resource=_scope(grant), doing="revoke this grant")
    record(org=org, actor=actor, event_name="rbac.grant.revoked", target=grant, before=grant_snapshot(grant))
    grant.delete()
    if grant.user is not None:
        forget_access(grant.user, org)
    forget_access(actor, org)


def grants_expire(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete grants whose expiry has passed, each recorded as `rbac.grant.expired` by the system.

    Expired grants already give nothing; this keeps the grant lists truthful. Safe to run twice and
    concurrently (rows are locked and skipped by a concurrent run); returns how many it deleted.
    """
    now = now or timezone.now()
    done = 0
    while True:
        with transaction.atomic():
            expired = list(
                Grant.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(expires_at__lte=now)
                .select_related("role", "organization")
                .order_by("id")[:batch]
            )
            for grant in expired:
                record(
                    org=grant.organization,
                    actor=None,
                    event_name="rbac.grant.expired",
                    target=grant,
                    before=grant_snapshot(grant),
                )
            Grant.objects.filter(pk__in=[grant.pk for grant in expired]).delete()
        done += len(expired)
        if len(expired) < batch:
            return done


def mapping_snapshot(mapping: IdentityGroupMapping) -> dict:
    return {
        "provider": mapping.provider,
        "group_name": mapping.group_name,
        "team_id": mapping.team_id,
        "role_id": mapping.role_id,
    }


@transaction.atomic
def mapping_create(
    *,
    actor: User,
    org: Organization,
    group_name: str,
    provider: str = "",
    team: Team | None = None,
    role: Role | None = None,
) -> IdentityGroupMapping:
    """Map an identity provider's group to a team and/or an org-wide role. The actor must hold what it gives."""
    same_org(org, team, role)
    require_perm(user=actor, org=org, perm=SSO_MANAGE)
    if team is None and role is None:
        raise ValidationError({"non_field_errors": ["Map the group to a team, a role or both."]})
    if role is not None:
        require_held(actor=actor, org=org, codes=role.codes, doing="map a group to this role")
    if team is not None:
        _require_holds_team(actor=actor, org=org, team=team, doing="map a group to this team")
    mapping = IdentityGroupMapping(
        organization=org,
        provider=(provider or "").strip(),
        group_name=clean_name(group_name, field="group_name", max_length=200),
        team=team,
        role=role,
    )
    try:
        with transaction.atomic():
            mapping.save()
    except IntegrityError:
        raise Conflict("This group is already mapped for this provider.") from None
    record(org=org, actor=actor, event_name="rbac.mapping.created", target=mapping, after=mapping_snapshot(mapping))
    return mapping


@transaction.atomic
def mapping_delete(*, actor: User, org: Organization, mapping: IdentityGroupMapping) -> None:
    same_org(org, mapping)
    require_perm(user=actor, org=org, perm=SSO_MANAGE)
    record(org=org, actor=actor, event_name="rbac.mapping.deleted", target=mapping, before=mapping_snapshot(mapping))
    mapping.delete()
