"""accounts' models, one module per subject; everything is importable from accounts.models."""

from accounts.models.api_keys import ApiKey, ServiceAccount
from accounts.models.mfa import RecoveryCode, RecoveryCodeDevice, WebAuthnDevice
from accounts.models.people import Invitation, Membership, Organization, User, UserManager, slug_validator
from accounts.models.portability import AnonymizationSalt, ImportedAuditEvent, OrgExport, OrgImport
from accounts.models.privacy import PrivacyRequest
from accounts.models.sessions import UserSession
from accounts.models.sso import DomainClaim, IdentityProvider

__all__ = [
    "AnonymizationSalt",
    "ApiKey",
    "DomainClaim",
    "IdentityProvider",
    "ImportedAuditEvent",
    "Invitation",
    "Membership",
    "OrgExport",
    "OrgImport",
    "Organization",
    "PrivacyRequest",
    "RecoveryCode",
    "RecoveryCodeDevice",
    "ServiceAccount",
    "User",
    "UserManager",
    "UserSession",
    "WebAuthnDevice",
    "slug_validator",
]
