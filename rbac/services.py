"""Permission checks: the one place that decides whether a user may do something in an organization."""

from django.core.exceptions import PermissionDenied

from accounts.models import Membership, Organization, User
from rbac.registry import Permission
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS


def membership_of(*, user: User, org: Organization) -> Membership | None:
    """The user's active membership, memoised on the user object for the request (one query at most)."""
    cache = user.__dict__.setdefault("_membership_cache", {})
    if org.pk not in cache:
        cache[org.pk] = Membership.objects.filter(user=user, organization=org, is_active=True).first()
    return cache[org.pk]


def remember_membership(membership: Membership) -> None:
    """Seed the memo with a membership the caller already loaded (the API base view does)."""
    membership.user.__dict__.setdefault("_membership_cache", {})[membership.organization_id] = membership


def has_perm(*, user: User, org: Organization, perm: Permission) -> bool:
    # Platform superusers operate the instance from the Django admin and pass every check there; the API
    # still requires a membership to reach an organization at all.
    if user.is_superuser:
        return True
    membership = membership_of(user=user, org=org)
    if membership is None:
        return False
    return perm.key in BUILT_IN_ROLE_PERMISSIONS.get(membership.role, frozenset())


def require_perm(*, user: User, org: Organization, perm: Permission) -> None:
    """Raise PermissionDenied (403 in the API) naming the missing permission."""
    if not has_perm(user=user, org=org, perm=perm):
        raise PermissionDenied(f"You need the '{perm.key}' permission to do this.")
