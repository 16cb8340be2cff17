"""Second factors: the organization's MFA policy, TOTP enrolment, recovery codes, verification, step-up, reset.

Used by every login path (allauth's browser pages through a login stage, the JSON API through its pending
login) so the rules are the same everywhere.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.exceptions import NotFound, ValidationError

from accounts import audit_events as events
from accounts.models import Membership, Organization, RecoveryCodeDevice, User, WebAuthnDevice
from accounts.permissions import MEMBERS_MANAGE, ORG_MANAGE
from accounts.services.sessions import credentials_revoke_all
from audit.models import Outcome
from audit.services import Target, audit_record, diff, snapshot
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS
from rbac.services import require_held, require_perm

# Session key: when this session last passed the strongest check its user has (password alone, or a second factor).
VERIFIED_AT_SESSION_KEY = "chatapp_verified_at"
ADMIN_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)
POLICY_FIELDS = ("mfa_policy", "mfa_grace_days", "step_up_minutes")


class MfaThrottled(Exception):
    """Too many wrong codes: the next attempt is allowed after `wait` seconds (django-otp's growing delay)."""

    def __init__(self, wait: int):
        super().__init__(f"Too many wrong codes. Try again in {wait} seconds.")
        self.wait = wait


@dataclass(frozen=True)
class MfaRequirement:
    """What a password login of this user still needs: "verify" a factor, "enrol" one first, or "none"."""

    action: str
    enrol_by: datetime | None = None  # within a grace period: the day enrolment becomes compulsory
    required_by: Organization | None = None


def second_factors(user: User) -> list:
    """The user's confirmed authenticator devices (TOTP apps, security keys); recovery codes are not counted."""
    return [
        *TOTPDevice.objects.filter(user=user, confirmed=True),
        *WebAuthnDevice.objects.filter(user=user, confirmed=True),
    ]


def mfa_methods(user: User) -> list[str]:
    methods = []
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        methods.append("totp")
    if WebAuthnDevice.objects.filter(user=user, confirmed=True).exists():
        methods.append("webauthn")
    if RecoveryCodeDevice.objects.filter(user=user, confirmed=True, codes__used_at__isnull=True).exists():
        methods.append("recovery_code")
    return methods


def mfa_requirement(user: User, *, now: datetime | None = None) -> MfaRequirement:
    """The strictest demand of the user's organizations: enrolled users verify; others enrol once a grace ends."""
    if second_factors(user):
        return MfaRequirement("verify")
    now = now or timezone.now()
    deadline, by = None, None
    memberships = Membership.objects.filter(user=user, is_active=True, organization__is_active=True).select_related(
        "organization"
    )
    for membership in memberships:
        org = membership.organization
        applies = org.mfa_policy == Organization.MfaPolicy.EVERYONE or (
            org.mfa_policy == Organization.MfaPolicy.ADMINS and membership.role in ADMIN_ROLES
        )
        if applies:
            due = max(org.mfa_policy_since, membership.joined) + timedelta(days=org.mfa_grace_days)
            if deadline is None or due < deadline:
                deadline, by = due, org
    if deadline is None:
        return MfaRequirement("none")
    if deadline <= now:
        return MfaRequirement("enrol", enrol_by=deadline, required_by=by)
    return MfaRequirement("none", enrol_by=deadline, required_by=by)


# --- TOTP enrolment -----------------------------------------------------------------------------------------


def totp_enrol_start(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator-app device; a previous unconfirmed one is discarded."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def totp_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URI as an SVG QR code, rendered here: no third-party service ever sees the secret."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def totp_enrol_confirm(*, user: User, device_id: int, code: str) -> list[str] | None:
    """Confirm a pending device with a code from the app; the first factor also brings recovery codes (returned
    once). A wrong code raises ValidationError (and counts towards the device's throttle)."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, pk=device_id, confirmed=False).first()
        if device is None:
            raise NotFound("No authenticator enrolment is waiting for confirmation. Start again.")
        _raise_if_throttled(device)
        ok = device.verify_token(_digits(code))
        if ok:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            audit_record(org=None, event=events.MFA_ENROLLED, actor=user, target=_device_target(device))
            codes = None
            if not RecoveryCodeDevice.objects.filter(user=user, confirmed=True).exists():
                codes = _issue_recovery_codes(user)
            return codes
    # Outside the block: the failure count verify_token saved must not roll back with an exception.
    raise ValidationError({"code": ["That code does not match. Check the time on your phone and try again."]})


def recovery_codes_regenerate(*, user: User) -> list[str]:
    """A fresh set of 10 codes; the previous set stops working."""
    with transaction.atomic():
        codes = _issue_recovery_codes(user)
        audit_record(org=None, event=events.MFA_RECOVERY_REGENERATED, actor=user, target=user)
    return codes


def _issue_recovery_codes(user: User) -> list[str]:
    device, _ = RecoveryCodeDevice.objects.get_or_create(
        user=user, defaults={"name": "Recovery codes", "confirmed": True}
    )
    return device.issue_codes()


# --- Verification -------------------------------------------------------------------------------------------


def _digits(code) -> str:
    return "".join(str(code or "").split())


def _device_target(device) -> Target:
    kind = {"totpdevice": "totp", "webauthndevice": "webauthn", "recoverycodedevice": "recovery_codes"}
    return Target(f"mfa.{kind.get(device._meta.model_name, device._meta.model_name)}", str(device.pk), device.name)


def _raise_if_throttled(device) -> None:
    allowed, info = device.verify_is_allowed()
    if not allowed and info and info.get("locked_until"):
        wait = max(1, int((info["locked_until"] - timezone.now()).total_seconds()) + 1)
        raise MfaThrottled(wait)


def mfa_verify(*, user: User, code: str):
    """Check a TOTP code or a recovery code; return the device that accepted it, or None (recorded).

    Six digits are tried against the user's authenticator apps, anything else against their recovery codes.
    Each device is locked while it checks, so one code can never be accepted twice (django-otp refuses the
    time step it last accepted; a recovery code is spent by the same UPDATE that checks it).
    Raises MfaThrottled while failures are being throttled.
    """
    code = _digits(code)
    model = TOTPDevice if code.isdigit() and len(code) == 6 else RecoveryCodeDevice
    throttled = None
    for device_id in model.objects.filter(user=user, confirmed=True).values_list("pk", flat=True):
        with transaction.atomic():
            device = model.objects.select_for_update().get(pk=device_id)
            try:
                _raise_if_throttled(device)
            except MfaThrottled as exc:
                throttled = exc
                continue
            if device.verify_token(code):
                event = events.MFA_RECOVERY_USED if model is RecoveryCodeDevice else events.MFA_VERIFIED
                audit_record(org=None, event=event, actor=user, target=_device_target(device))
                return device
    with transaction.atomic():
        audit_record(org=None, event=events.MFA_FAILED, actor=user, target=user, outcome=Outcome.FAILURE)
    if throttled:
        raise throttled
    return None


def mark_verified(request, *, device=None) -> None:
    """Remember in the session that its user just passed their strongest check (for step-up)."""
    if device is not None:
        otp_login(request, device)
    request.session[VERIFIED_AT_SESSION_KEY] = timezone.now().timestamp()


def step_up_window(user: User) -> timedelta:
    """The shortest step-up window among the user's organizations (the setting when they set none lower)."""
    minutes = [settings.MFA_STEP_UP_MINUTES]
    minutes += Membership.objects.filter(user=user, is_active=True).values_list(
        "organization__step_up_minutes", flat=True
    )
    return timedelta(minutes=min(minutes))


def recently_verified(request) -> bool:
    """Whether the session passed its user's strongest check within the step-up window."""
    at = request.session.get(VERIFIED_AT_SESSION_KEY)
    if not at:
        return False
    return timezone.now().timestamp() - at <= step_up_window(request.user).total_seconds()


# --- Removal, reset and policy ------------------------------------------------------------------------------


@transaction.atomic
def mfa_device_remove(*, user: User, device) -> None:
    """The user removes one of their own factors."""
    if device.user_id != user.pk:
        raise NotFound()
    target = _device_target(device)
    device.delete()
    audit_record(org=None, event=events.MFA_REMOVED, actor=user, target=target)


@transaction.atomic
def mfa_reset(*, actor: User, org: Organization, user: User) -> int:
    """An admin removes every second factor of a member (lost phone): they enrol again at their next login.

    Needs members.manage and every permission of the member's role (an admin cannot reset an owner).
    Returns the number of devices removed; the member's sessions and keys are revoked with it.
    """
    require_perm(user=actor, org=org, perm=MEMBERS_MANAGE)
    membership = Membership.objects.filter(organization=org, user=user).first()
    if membership is None:
        raise NotFound("No such member.")
    require_held(
        actor=actor, org=org, codes=BUILT_IN_ROLE_PERMISSIONS[membership.role], doing="reset this member's MFA"
    )
    removed = 0
    for model in (TOTPDevice, WebAuthnDevice, RecoveryCodeDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    audit_record(org=org, event=events.MFA_RESET, actor=actor, target=user, metadata={"devices_removed": removed})
    # Whoever held the lost phone may hold a session or a key too: they end with the reset.
    credentials_revoke_all(user=user, reason="MFA reset", actor=actor)
    return removed


@transaction.atomic
def security_policy_update(*, actor: User, org: Organization, **fields) -> Organization:
    """Change the organization's MFA policy, grace period or step-up window (needs org.manage).

    A new MFA policy restarts the grace period, so nobody is locked out the moment it is switched on.
    """
    require_perm(user=actor, org=org, perm=ORG_MANAGE)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    before = snapshot(org, POLICY_FIELDS)
    for name, value in fields.items():
        if name not in POLICY_FIELDS:
            raise ValidationError({name: ["This is not a security policy setting."]})
        setattr(org, name, value)
    if org.mfa_policy != before["mfa_policy"]:
        org.mfa_policy_since = timezone.now()
    org.full_clean()
    org.save()
    after = snapshot(org, POLICY_FIELDS)
    if before != after:
        audit_record(
            org=org, event=events.SECURITY_POLICY_UPDATED, actor=actor, target=org, changes=diff(before, after)
        )
    return org
