"""Helpers shared by rbac's write services."""

from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Membership, Organization, User
from audit.services import Actor, audit_record, diff
from rbac.services.access import permissions_of


def same_org(org: Organization, *objects) -> None:
    # Callers resolve objects through org-scoped selectors; this guards against a mix-up reaching the DB.
    for obj in objects:
        if obj is not None and obj.organization_id != org.pk:
            raise PermissionDenied("The object belongs to another organization.")


def clean_name(name: str, *, field: str = "name", max_length: int = 80) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({field: ["A name is required."]})
    if len(name) > max_length:
        raise ValidationError({field: [f"At most {max_length} characters."]})
    return name


def require_held(*, actor: User, org: Organization, codes, resource: tuple[str, int] | None = None, doing: str) -> None:
    """Refuse (403) to give away codes the actor does not hold themselves (on `resource`, if given): no
    privilege escalation."""
    missing = sorted(set(codes) - permissions_of(user=actor, org=org, resource=resource))
    if missing:
        raise PermissionDenied(f"You cannot {doing}: you do not hold {', '.join(missing)} yourself.")


def require_active_member(*, org: Organization, user: User, field: str = "user_id") -> None:
    if not Membership.objects.filter(organization=org, user=user, is_active=True).exists():
        raise ValidationError({field: ["Not an active member of this organization."]})


def record(*, org, actor, event_name, target, before=None, after=None, outcome=None, metadata=None) -> None:
    """Record one rbac change (declared in rbac/audit_events.py); `actor` None means the system (a beat task)."""
    extra = {"outcome": outcome} if outcome else {}
    audit_record(
        org=org,
        event=event_name,
        actor=actor if actor is not None else Actor.system("rbac"),
        target=target,
        changes=diff(before or {}, after or {}),
        metadata=metadata,
        **extra,
    )
