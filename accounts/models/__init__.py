"""accounts' models, one module per subject; everything is importable from accounts.models."""

from accounts.models.mfa import RecoveryCode, RecoveryCodeDevice, WebAuthnDevice
from accounts.models.people import Invitation, Membership, Organization, User, UserManager, slug_validator

__all__ = [
    "Invitation",
    "Membership",
    "Organization",
    "RecoveryCode",
    "RecoveryCodeDevice",
    "User",
    "UserManager",
    "WebAuthnDevice",
    "slug_validator",
]
