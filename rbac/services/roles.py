"""Roles: the built-in ones every organization has, and custom ones."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Organization, User
from chatapp.kernel.errors import Conflict
from rbac.models import Role
from rbac.permissions import ROLES_MANAGE
from rbac.registry import permissions as registry
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS, BUILT_IN_ROLES
from rbac.services._common import clean_name, record, require_held, same_org
from rbac.services.access import forget_access, require_perm


def role_snapshot(role: Role) -> dict:
    return {
        "name": role.name,
        "description": role.description,
        "base_role": role.base_role,
        "permissions": sorted(role.codes),
    }


def roles_ensure_built_in(*, org: Organization) -> list[Role]:
    """Create the organization's missing built-in role rows; safe to call any number of times, concurrently too.

    The rows hold no codes: evaluation reads rbac/roles.py. One query when they all exist.
    """
    existing = {role.base_role: role for role in Role.objects.filter(organization=org, is_built_in=True)}
    missing = [key for key in BUILT_IN_ROLE_PERMISSIONS if key not in existing]
    if missing:
        Role.objects.bulk_create(
            [
                Role(
                    organization=org,
                    name=BUILT_IN_ROLES[key][0],
                    description=BUILT_IN_ROLES[key][1],
                    is_built_in=True,
                    base_role=key,
                    permissions=[],
                )
                for key in missing
            ],
            ignore_conflicts=True,  # another request created them first
        )
        existing = {role.base_role: role for role in Role.objects.filter(organization=org, is_built_in=True)}
    return [existing[key] for key in BUILT_IN_ROLE_PERMISSIONS if key in existing]


def _clean_codes(codes) -> list[str]:
    codes = sorted(set(codes or ()))
    unknown = [code for code in codes if code not in registry]
    if unknown:
        raise ValidationError({"permissions": [f"Unknown permission code: {code}." for code in unknown]})
    return codes


def _clean_base(base_role: str) -> str:
    base_role = base_role or ""
    if base_role and base_role not in BUILT_IN_ROLE_PERMISSIONS:
        raise ValidationError({"base_role": [f"Not a built-in role: {base_role}."]})
    return base_role


def _save(role: Role) -> None:
    try:
        with transaction.atomic():
            role.save()
    except IntegrityError:
        raise Conflict(f"A role named '{role.name}' already exists in this organization.") from None


@transaction.atomic
def role_create(
    *,
    actor: User,
    org: Organization,
    name: str,
    description: str = "",
    permissions: list[str] | tuple[str, ...] = (),
    base_role: str = "",
) -> Role:
    """Create a custom role. Its codes (with its base role's) must all be held by the actor."""
    require_perm(user=actor, org=org, perm=ROLES_MANAGE)
    roles_ensure_built_in(org=org)  # built-in names are taken before anyone can use them
    role = Role(
        organization=org,
        name=clean_name(name),
        description=(description or "").strip(),
        base_role=_clean_base(base_role),
        permissions=_clean_codes(permissions),
    )
    require_held(actor=actor, org=org, codes=role.codes, doing="create a role with these permissions")
    _save(role)
    record(org=org, actor=actor, event_name="rbac.role.created", target=role, after=role_snapshot(role))
    return role


_UNSET = object()


@transaction.atomic
def role_update(
    *,
    actor: User,
    org: Organization,
    role: Role,
    name: str | None = None,
    description: str | None = None,
    permissions: list[str] | None = None,
    base_role=_UNSET,
) -> Role:
    """Change a custom role. The actor must hold every code the role has before and after the change."""
    same_org(org, role)
    require_perm(user=actor, org=org, perm=ROLES_MANAGE)
    role = Role.objects.select_for_update().get(pk=role.pk, organization=org)
    if role.is_built_in:
        raise Conflict("Built-in roles cannot be changed; create a custom role based on it instead.")
    before = role_snapshot(role)
    if name is not None:
        role.name = clean_name(name)
    if description is not None:
        role.description = description.strip()
    if permissions is not None:
        role.permissions = _clean_codes(permissions)
    if base_role is not _UNSET:
        role.base_role = _clean_base(base_role)
    require_held(
        actor=actor, org=org, codes=set(before["permissions"]) | role.codes, doing="edit a role with these permissions"
    )
    _save(role)
    forget_access(actor, org)
    record(org=org, actor=actor, event_name="rbac.role.updated", target=role, before=before, after=role_snapshot(role))
    return role


@transaction.atomic
def role_delete(*, actor: User, org: Organization, role: Role) -> None:
    """Delete a custom role that nobody holds any more (revoke its grants first)."""
    same_org(org, role)
    require_perm(user=actor, org=org, perm=ROLES_MANAGE)
    role = Role.objects.select_for_update().get(pk=role.pk, organization=org)
    if role.is_built_in:
        raise Conflict("Built-in roles cannot be deleted.")
    require_held(actor=actor, org=org, codes=role.codes, doing="delete a role with these permissions")
    in_use = role.grants.count()
    if in_use:
        raise Conflict(f"The role is granted {in_use} time(s); revoke those grants first.")
    before = role_snapshot(role)
    record(org=org, actor=actor, event_name="rbac.role.deleted", target=role, before=before)
    role.delete()


def built_in_role(*, org: Organization, key: str) -> Role:
    """The organization's row for a built-in role key (created if missing)."""
    if key not in BUILT_IN_ROLE_PERMISSIONS:
        raise ValueError(f"Not a built-in role: {key}")
    return next(role for role in roles_ensure_built_in(org=org) if role.base_role == key)
