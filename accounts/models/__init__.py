"""accounts' models, one module per subject; everything is importable from accounts.models."""

from accounts.models.api_keys import ApiKey, ServiceAccount
from accounts.models.people import Membership, Organization, User, UserManager, slug_validator
from accounts.models.sessions import UserSession

__all__ = [
    "ApiKey",
    "Membership",
    "Organization",
    "ServiceAccount",
    "User",
    "UserManager",
    "UserSession",
    "slug_validator",
]
