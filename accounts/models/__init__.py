"""accounts' models, one module per subject; everything is importable from accounts.models."""

from accounts.models.people import Membership, Organization, User, UserManager, slug_validator

__all__ = ["Membership", "Organization", "User", "UserManager", "slug_validator"]
