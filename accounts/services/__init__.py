"""accounts' writes, one module per subject; everything is importable from accounts.services."""

from accounts.services.people import (
    MEMBERSHIP_AUDITED_FIELDS,
    member_add,
    member_update,
    organization_create,
    user_create,
)

__all__ = ["MEMBERSHIP_AUDITED_FIELDS", "member_add", "member_update", "organization_create", "user_create"]
