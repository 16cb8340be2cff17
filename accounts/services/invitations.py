"""Invitations into an organization: sent by e-mail, accepted once by the person with that address."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework.exceptions import NotFound, PermissionDenied

from accounts import audit_events as events
from accounts.models import Invitation, Membership, Organization, User
from audit.services import Target, audit_record
from chatapp.kernel.errors import Conflict
from rbac.permissions import MEMBERS_INVITE
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS
from rbac.services import require_held, require_perm

INVITATION_SESSION_KEY = "chatapp_invitation"
INVITATION_DAYS = 7


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _target(invitation: Invitation) -> Target:
    return Target("accounts.invitation", str(invitation.pk), invitation.email)


def invitation_create(*, actor: User, org: Organization, email: str, role: str, base_url: str) -> Invitation:
    """Invite an address with a role the inviter holds every permission of; the link goes out by e-mail."""
    require_perm(user=actor, org=org, perm=MEMBERS_INVITE)
    require_held(actor=actor, org=org, codes=BUILT_IN_ROLE_PERMISSIONS[role], doing=f"invite someone as {role}")
    email = User.objects.normalize_email(email).strip()
    if Membership.objects.filter(organization=org, user__email__iexact=email, is_active=True).exists():
        raise Conflict(f"{email} is already a member of {org.name}.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        Invitation.objects.filter(organization=org, email__iexact=email, accepted_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        invitation = Invitation.objects.create(
            organization=org, email=email, role=role, token_digest=_digest(token), invited_by=actor,
            expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
        )  # fmt: skip
        audit_record(org=org, event=events.INVITATION_SENT, actor=actor, target=_target(invitation),
                     changes={"role": [None, role]})  # fmt: skip
        link = f"{base_url.rstrip('/')}/accounts/invitations/{token}/"
        context = {"org": org, "inviter": actor, "link": link, "days": INVITATION_DAYS, "role": role}
        transaction.on_commit(
            lambda: send_mail(
                f"{actor.get_full_name()} invited you to {org.name} on chatapp",
                render_to_string("accounts/email/invitation.txt", context),
                settings.DEFAULT_FROM_EMAIL,
                [email],
            )
        )
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: User, org: Organization, invitation: Invitation) -> Invitation:
    require_perm(user=actor, org=org, perm=MEMBERS_INVITE)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk, organization=org)
    if not invitation.is_open:
        raise Conflict("This invitation was already accepted, revoked or has expired.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(org=org, event=events.INVITATION_REVOKED, actor=actor, target=_target(invitation))
    return invitation


def invitation_by_token(token: str) -> Invitation:
    """The open invitation this link token belongs to (404 for an unknown, used, revoked or expired one)."""
    invitation = Invitation.objects.select_related("organization").filter(token_digest=_digest(token)).first()
    if invitation is None or not invitation.is_open or not invitation.organization.is_active:
        raise NotFound("This invitation link is not valid any more. Ask for a new one.")
    return invitation


@transaction.atomic
def invitation_accept(*, user: User, token: str) -> Membership:
    """The invited person joins with the invited role (the invitation is the authorization)."""
    invitation = invitation_by_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise NotFound("This invitation link is not valid any more. Ask for a new one.")
    if invitation.email.lower() != user.email.lower():
        raise PermissionDenied(f"This invitation is for {invitation.email}; you are logged in as {user.email}.")
    membership, _ = Membership.objects.update_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role, "is_active": True}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        org=invitation.organization, event=events.INVITATION_ACCEPTED, actor=user, target=_target(invitation),
        changes={"role": [None, invitation.role]},
    )  # fmt: skip
    from analytics import events as analytics_events
    from analytics.tracking import track

    track(analytics_events.MEMBER_JOINED, org=invitation.organization, user=user)
    return membership
