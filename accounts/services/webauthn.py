"""WebAuthn security keys and passkeys as a second factor, verified with py_webauthn.

Each ceremony has two steps: *begin* makes a challenge, keeps it in the session and returns the options for
navigator.credentials.create()/get() (as JSON-ready dicts); *finish* checks the browser's answer against that
challenge, WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS. A challenge is spent by the first finish that reads it, right
or wrong, and is refused after CHALLENGE_SECONDS, so a captured response cannot be played again.

Used by the JSON API (accounts/api) and the browser pages (accounts/auth/views.py) alike.
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json, parse_registration_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts import audit_events as events
from accounts.models import RecoveryCodeDevice, User, WebAuthnDevice
from accounts.services.mfa import _device_target, _issue_recovery_codes
from audit.models import Outcome
from audit.services import audit_record

CHALLENGE_SESSION_KEY = "chatapp_webauthn_challenge"
CHALLENGE_SECONDS = 300
REGISTER, AUTHENTICATE = "register", "authenticate"
DEFAULT_NAME = "Security key"

# What the library raises on a malformed payload besides its own exceptions (a number where bytes belong...):
# all of it is bad input, answered 400, never a 500.
_BAD_INPUT = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError, IndexError)


def _user_handle(user: User) -> bytes:
    # Stored on the authenticator with a passkey: an opaque value, not the e-mail address or the bare pk.
    return hmac.new(settings.SECRET_KEY.encode(), f"webauthn-user:{user.pk}".encode(), hashlib.sha256).digest()


def _transports(names: list[str]) -> list[AuthenticatorTransport] | None:
    # Stored as the browser reported them; one this library version does not know is merely left out.
    known = {t.value: t for t in AuthenticatorTransport}
    return [known[name] for name in names if name in known] or None


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(id=bytes(credential_id), transports=_transports(transports))
        for credential_id, transports in WebAuthnDevice.objects.filter(user=user, confirmed=True).values_list(
            "credential_id", "transports"
        )
    ]


def _store_challenge(session, *, purpose: str, user: User, challenge: bytes) -> None:
    session[CHALLENGE_SESSION_KEY] = {
        "purpose": purpose, "user": user.pk, "challenge": challenge.hex(), "at": timezone.now().timestamp()
    }  # fmt: skip


def _take_challenge(session, *, purpose: str, user: User) -> bytes:
    """The challenge of this ceremony, removed from the session whatever happens next (single use)."""
    stored = session.pop(CHALLENGE_SESSION_KEY, None)
    if (
        not isinstance(stored, dict)
        or stored.get("purpose") != purpose
        or stored.get("user") != user.pk
        or timezone.now().timestamp() - stored.get("at", 0) > CHALLENGE_SECONDS
    ):
        raise ValidationError({"credential": ["No security key challenge is waiting (or it expired). Start again."]})
    return bytes.fromhex(stored["challenge"])


def _options(options) -> dict:
    return json.loads(options_to_json(options))


def _credential_dict(credential) -> dict:
    if isinstance(credential, str):
        try:
            credential = json.loads(credential)
        except ValueError:
            credential = None
    if not isinstance(credential, dict):
        raise ValidationError({"credential": ["Send the credential from the browser as a JSON object."]})
    return credential


# --- Registration --------------------------------------------------------------------------------------------


def webauthn_register_begin(*, session, user: User) -> dict:
    """Options for navigator.credentials.create(): passkey-capable, no attestation, the user's keys excluded."""
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_id=_user_handle(user),
        user_name=user.email,
        user_display_name=user.get_full_name() or user.email,
        timeout=CHALLENGE_SECONDS * 1000,
        # "none": we trust no vendor list, so an attestation would only leak the key's make and model.
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user),
    )
    _store_challenge(session, purpose=REGISTER, user=user, challenge=options.challenge)
    return _options(options)


def webauthn_register_finish(*, session, user: User, credential, name: str = "") -> tuple[WebAuthnDevice, list[str]]:
    """Verify the new credential and keep it as a confirmed device. Returns it with the recovery codes issued
    when it is the user's first factor (shown once; empty otherwise). Bad responses raise ValidationError."""
    challenge = _take_challenge(session, purpose=REGISTER, user=user)
    try:
        parsed = parse_registration_credential_json(_credential_dict(credential))
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
        )
    except _BAD_INPUT as exc:
        raise ValidationError({"credential": [f"The security key's response was refused: {exc}"]}) from None
    transports = [t.value for t in (parsed.response.transports or [])]
    name = " ".join(str(name or "").split())[:64] or DEFAULT_NAME
    try:
        with transaction.atomic():
            device = WebAuthnDevice.objects.create(
                user=user,
                name=name,
                confirmed=True,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=transports,
            )
            audit_record(org=None, event=events.MFA_ENROLLED, actor=user, target=_device_target(device))
            codes = []
            if not RecoveryCodeDevice.objects.filter(user=user, confirmed=True).exists():
                codes = _issue_recovery_codes(user)
    except IntegrityError:
        # credential_id is unique: this key is registered already (to this account or another one).
        raise ValidationError({"credential": ["This security key is already registered."]}) from None
    return device, codes


# --- Authentication ------------------------------------------------------------------------------------------


def webauthn_authenticate_begin(*, session, user: User) -> dict:
    """Options for navigator.credentials.get() limited to the user's own keys."""
    allowed = _descriptors(user)
    if not allowed:
        raise ValidationError({"credential": ["You have no security key registered."]})
    options = generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    _store_challenge(session, purpose=AUTHENTICATE, user=user, challenge=options.challenge)
    return _options(options)


def webauthn_authenticate_finish(*, session, user: User, credential) -> WebAuthnDevice:
    """Verify an assertion by one of the user's keys and return that device; anything else raises
    ValidationError after recording mfa.failed.

    A signature counter that does not grow (when the key keeps one) is refused: it means a second copy of the
    key is in use. The device row is locked while it is checked, so two racing assertions with the same
    counter cannot both pass.
    """
    challenge = _take_challenge(session, purpose=AUTHENTICATE, user=user)
    error = None
    with transaction.atomic():
        try:
            parsed = parse_authentication_credential_json(_credential_dict(credential))
        except _BAD_INPUT as exc:
            parsed, error = None, f"The security key's response was refused: {exc}"
        device = None
        if parsed is not None:
            device = (
                WebAuthnDevice.objects.select_for_update()
                .filter(user=user, confirmed=True, credential_id=parsed.raw_id)
                .first()
            )
            if device is None:
                error = "This security key is not registered to your account."
        if device is not None:
            try:
                verified = verify_authentication_response(
                    credential=parsed,
                    expected_challenge=challenge,
                    expected_rp_id=settings.WEBAUTHN_RP_ID,
                    expected_origin=settings.WEBAUTHN_ORIGINS,
                    credential_public_key=bytes(device.public_key),
                    credential_current_sign_count=device.sign_count,
                )
            except _BAD_INPUT as exc:
                error = f"The security key's response was refused: {exc}"
            else:
                device.sign_count = verified.new_sign_count
                device.set_last_used_timestamp(commit=False)
                device.save(update_fields=["sign_count", "last_used_at"])
                audit_record(org=None, event=events.MFA_VERIFIED, actor=user, target=_device_target(device))
                return device
        audit_record(
            org=None, event=events.MFA_FAILED, actor=user, target=_device_target(device) if device else user,
            outcome=Outcome.FAILURE, metadata={"method": "webauthn"},
        )  # fmt: skip
    # Outside the block: the failure record must not roll back with the exception.
    raise ValidationError({"credential": [error]})
