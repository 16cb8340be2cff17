"""Writes about users, organizations and memberships."""

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction

from accounts import audit_events as events
from accounts.models import Membership, Organization, User
from accounts.permissions import MEMBERS_MANAGE
from audit.services import audit_record, diff, snapshot
from chatapp.kernel.errors import Conflict
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS
from rbac.services import require_held, require_perm

MEMBERSHIP_AUDITED_FIELDS = ("role", "is_active")


@transaction.atomic
def user_create(*, email: str, password: str | None, full_name: str = "", actor=None) -> User:
    """Create a user; the password is checked against the password policy (None: no usable password).

    Recorded on the platform chain: a user belongs to no organization until a membership says so.
    """
    user = User(email=User.objects.normalize_email(email).strip(), full_name=full_name)
    if password is not None:
        validate_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(f"A user with the e-mail address {user.email} already exists.") from None
    audit_record(org=None, event=events.USER_CREATED, actor=actor, target=user)
    return user


@transaction.atomic
def organization_create(*, slug: str, name: str, owner: User, actor=None) -> Organization:
    """Create an organization with its first owner (an organization always has one)."""
    org = Organization(slug=slug, name=name)
    org.full_clean()
    try:
        with transaction.atomic():
            org.save()
    except IntegrityError:
        raise Conflict(f"The organization slug '{slug}' is taken.") from None
    membership = Membership.objects.create(organization=org, user=owner, role=Membership.Role.OWNER)
    audit_record(org=org, event=events.ORG_CREATED, actor=actor, target=org, changes={"slug": [None, slug]})
    audit_record(
        org=org, event=events.MEMBER_ADDED, actor=actor, target=owner,
        changes=diff({}, snapshot(membership, MEMBERSHIP_AUDITED_FIELDS)),
    )  # fmt: skip
    return org


@transaction.atomic
def member_add(*, actor: User, org: Organization, user: User, role: str = Membership.Role.MEMBER) -> Membership:
    """Add a user to an organization, or reactivate them with the given role."""
    require_perm(user=actor, org=org, perm=MEMBERS_MANAGE)
    require_held(actor=actor, org=org, codes=BUILT_IN_ROLE_PERMISSIONS[role], doing=f"make someone {role}")
    existing = Membership.objects.select_for_update().filter(organization=org, user=user).first()
    before = snapshot(existing, MEMBERSHIP_AUDITED_FIELDS) if existing else {}
    membership, _ = Membership.objects.update_or_create(
        organization=org, user=user, defaults={"role": role, "is_active": True}
    )
    after = snapshot(membership, MEMBERSHIP_AUDITED_FIELDS)
    if before != after:
        audit_record(
            org=org, event=events.MEMBER_UPDATED if existing else events.MEMBER_ADDED, actor=actor, target=user,
            changes=diff(before, after),
        )  # fmt: skip
    return membership


@transaction.atomic
def member_update(
    *, actor: User, org: Organization, membership: Membership, role: str | None = None, is_active: bool | None = None
) -> Membership:
    """Change a member's role or deactivate them; the last active owner can be neither demoted nor removed."""
    require_perm(user=actor, org=org, perm=MEMBERS_MANAGE)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk, organization=org)
    before = snapshot(membership, MEMBERSHIP_AUDITED_FIELDS)
    # No escalation: changing someone's membership needs every permission of their current role and of the new
    # one (an admin can neither promote anyone to owner nor demote or deactivate an owner).
    affected = BUILT_IN_ROLE_PERMISSIONS[membership.role] | BUILT_IN_ROLE_PERMISSIONS[role or membership.role]
    require_held(actor=actor, org=org, codes=affected, doing="change this membership")
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
    after = snapshot(membership, MEMBERSHIP_AUDITED_FIELDS)
    if before != after:
        audit_record(
            org=org, event=events.MEMBER_UPDATED, actor=actor, target=membership.user, changes=diff(before, after)
        )
    if before["is_active"] and not membership.is_active:
        # Their keys for this organization stop with the membership (they would be refused anyway; revoking
        # makes it visible and permanent should the membership come back).
        from accounts.services.api_keys import api_keys_revoke_for_member

        api_keys_revoke_for_member(actor=actor, org=org, user=membership.user, reason="membership deactivated")
    return membership


def email_mark_verified(*, user: User) -> None:
    """Record the user's address as verified (an invitation link, an identity provider or an operator vouched
    for it), so that allauth's mandatory verification does not ask again."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(
        user=user, email=user.email.lower(), defaults={"verified": True, "primary": True}
    )


@transaction.atomic
def password_change(*, user: User, password: str) -> None:
    """Set a new password (changed while logged in, or reset by e-mail): checked against the policy, recorded.

    The user's other sessions and API keys are revoked with it (accounts.services.sessions)."""
    from accounts.services.sessions import credentials_revoke_all

    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(org=None, event=events.PASSWORD_CHANGED, actor=user, target=user)
    credentials_revoke_all(user=user, reason="password changed", actor=user)


@transaction.atomic
def email_verified(*, user: User, email: str) -> None:
    audit_record(org=None, event=events.EMAIL_VERIFIED, actor=user, target=user)
