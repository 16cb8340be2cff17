"""accounts' writes, one module per subject; everything is importable from accounts.services."""

from accounts.services.invitations import invitation_accept, invitation_create, invitation_revoke
from accounts.services.people import (
    MEMBERSHIP_AUDITED_FIELDS,
    email_mark_verified,
    email_verified,
    member_add,
    member_update,
    organization_create,
    password_change,
    user_create,
)

__all__ = [
    "MEMBERSHIP_AUDITED_FIELDS",
    "email_mark_verified",
    "email_verified",
    "invitation_accept",
    "invitation_create",
    "invitation_revoke",
    "member_add",
    "member_update",
    "organization_create",
    "password_change",
    "user_create",
]
