"""accounts' writes, one module per subject; everything is importable from accounts.services."""

from accounts.services.api_keys import (
    ApiKeyCreated,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    api_keys_revoke_for_member,
    api_keys_warn_expiring,
    service_account_create,
)
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
from accounts.services.sessions import (
    credentials_revoke_all,
    member_sessions_revoke,
    session_revoke,
    sessions_clean,
    sessions_revoke_others,
)

__all__ = [
    "MEMBERSHIP_AUDITED_FIELDS",
    "ApiKeyCreated",
    "api_key_authenticate",
    "api_key_create",
    "api_key_revoke",
    "api_key_rotate",
    "api_keys_revoke_for_member",
    "api_keys_warn_expiring",
    "credentials_revoke_all",
    "email_mark_verified",
    "email_verified",
    "invitation_accept",
    "invitation_create",
    "invitation_revoke",
    "member_add",
    "member_sessions_revoke",
    "member_update",
    "organization_create",
    "password_change",
    "service_account_create",
    "session_revoke",
    "sessions_clean",
    "sessions_revoke_others",
    "user_create",
]
