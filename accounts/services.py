"""Writes about users, organizations and memberships."""

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction

from accounts.models import Membership, Organization, User
from accounts.permissions import MEMBERS_MANAGE
from chatapp.kernel.errors import Conflict
from rbac.services import require_perm


@transaction.atomic
def user_create(*, email: str, password: str | None, full_name: str = "") -> User:
    """Create a user; the password is checked against the password policy (None: no usable password)."""
    user = User(email=User.objects.normalize_email(email).strip(), full_name=full_name)
    if password is not None:
        validate_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(f"A user with the e-mail address {user.email} already exists.") from None
    return user


@transaction.atomic
def organization_create(*, slug: str, name: str, owner: User) -> Organization:
    """Create an organization with its first owner (an organization always has one)."""
    org = Organization(slug=slug, name=name)
    org.full_clean()
    try:
        with transaction.atomic():
            org.save()
    except IntegrityError:
        raise Conflict(f"The organization slug '{slug}' is taken.") from None
    Membership.objects.create(organization=org, user=owner, role=Membership.Role.OWNER)
    return org


@transaction.atomic
def member_add(*, actor: User, org: Organization, user: User, role: str = Membership.Role.MEMBER) -> Membership:
    """Add a user to an organization, or reactivate them with the given role."""
    require_perm(user=actor, org=org, perm=MEMBERS_MANAGE)
    membership, _ = Membership.objects.update_or_create(
        organization=org, user=user, defaults={"role": role, "is_active": True}
    )
    return membership


@transaction.atomic
def member_update(
    *, actor: User, org: Organization, membership: Membership, role: str | None = None, is_active: bool | None = None
) -> Membership:
    """Change a member's role or deactivate them; the last active owner can be neither demoted nor removed."""
    require_perm(user=actor, org=org, perm=MEMBERS_MANAGE)
    membership = Membership.objects.select_for_update().get(pk=membership.pk, organization=org)
    if role is not None:
        membership.role = role
    if is_active is not None:
        membership.is_active = is_active
    stays_owner = membership.role == Membership.Role.OWNER and membership.is_active
    if not stays_owner:
        other_owners = (
            Membership.objects.select_for_update()
            .filter(organization=org, role=Membership.Role.OWNER, is_active=True)
            .exclude(pk=membership.pk)
        )
        if not other_owners.exists():
            raise Conflict("An organization needs at least one active owner.")
    membership.full_clean()
    membership.save()
    return membership
