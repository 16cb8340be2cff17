from audit.registry import Category, declare

USER_CREATED = declare(300, "user.created", Category.DATA_CHANGE, "{actor} created user {target}")
ORG_CREATED = declare(301, "org.created", Category.DATA_CHANGE, "{actor} created organization {target}")
MEMBER_ADDED = declare(302, "member.added", Category.DATA_CHANGE, "{actor} added {target} to the organization")
MEMBER_UPDATED = declare(303, "member.updated", Category.DATA_CHANGE, "{actor} changed the membership of {target}")
LOGIN_SUCCEEDED = declare(310, "auth.login", Category.SECURITY, "{actor} logged in")
LOGIN_FAILED = declare(311, "auth.login_failed", Category.SECURITY, "a login as {actor} failed")
LOGGED_OUT = declare(312, "auth.logout", Category.SECURITY, "{actor} logged out")
LOGIN_LOCKED_OUT = declare(313, "auth.locked_out", Category.SECURITY, "logins as {actor} are locked out")
LOCKOUT_CLEARED = declare(314, "auth.lockout_cleared", Category.SECURITY, "{actor} unlocked the login of {target}")
PASSWORD_CHANGED = declare(315, "auth.password_changed", Category.SECURITY, "{actor} changed the password of {target}")
EMAIL_VERIFIED = declare(317, "auth.email_verified", Category.SECURITY, "{target} verified their e-mail address")
MFA_ENROLLED = declare(320, "mfa.enrolled", Category.SECURITY, "{actor} enrolled a second factor ({target})")
MFA_REMOVED = declare(321, "mfa.removed", Category.SECURITY, "{actor} removed a second factor ({target})")
MFA_FAILED = declare(322, "mfa.failed", Category.SECURITY, "a second-factor check of {actor} failed")
MFA_VERIFIED = declare(323, "mfa.verified", Category.SECURITY, "{actor} passed a second-factor check")
MFA_RESET = declare(324, "mfa.reset", Category.SECURITY, "{actor} reset the second factors of {target}")
MFA_RECOVERY_REGENERATED = declare(
    325, "mfa.recovery_codes_regenerated", Category.SECURITY, "{actor} generated new recovery codes"
)
MFA_RECOVERY_USED = declare(326, "mfa.recovery_code_used", Category.SECURITY, "{actor} signed in with a recovery code")
SECURITY_POLICY_UPDATED = declare(
    330, "org.security_policy_updated", Category.DATA_CHANGE, "{actor} changed the organization's security policy"
)
INVITATION_SENT = declare(331, "member.invited", Category.USER_ACTION, "{actor} invited {target}")
INVITATION_ACCEPTED = declare(332, "member.invitation_accepted", Category.USER_ACTION, "{actor} accepted an invitation")
INVITATION_REVOKED = declare(
    333, "member.invitation_revoked", Category.USER_ACTION, "{actor} revoked the invitation of {target}"
)

# API keys and sessions (340-359). Secrets never appear in these events: targets name a key by its prefix.
API_KEY_CREATED = declare(340, "api_key.created", Category.SECURITY, "{actor} created API key {target}")
API_KEY_FIRST_USED = declare(
    341, "api_key.first_used", Category.SECURITY, "API key {target} was used for the first time"
)
API_KEY_ROTATED = declare(342, "api_key.rotated", Category.SECURITY, "{actor} rotated API key {target}")
API_KEY_REVOKED = declare(343, "api_key.revoked", Category.SECURITY, "{actor} revoked API key {target}")
API_KEY_EXPIRED_REFUSED = declare(
    344, "api_key.expired_use_refused", Category.SECURITY, "a request with expired API key {target} was refused"
)
API_KEY_IP_REFUSED = declare(
    345, "api_key.ip_refused", Category.SECURITY, "API key {target} was refused: address not allowed"
)
SERVICE_ACCOUNT_CREATED = declare(
    346, "service_account.created", Category.SECURITY, "{actor} created service account {target}"
)
SESSION_REVOKED = declare(350, "session.revoked", Category.SECURITY, "{actor} revoked a session of {target}")
SESSION_EXPIRED = declare(351, "session.expired", Category.SECURITY, "a session of {target} ended by policy")
CREDENTIALS_REVOKED = declare(
    352, "credentials.revoked_all", Category.SECURITY, "{actor} revoked every session and API key of {target}"
)

# Enterprise SSO core (360-369); the protocols declare theirs in accounts/sso/<kind>_events.py (370-399).
# Secrets never appear in these events: configuration changes name the secret fields that are set, not values.
SSO_LOGIN = declare(360, "sso.login", Category.SECURITY, "{actor} signed in through {target}")
SSO_LOGIN_FAILED = declare(361, "sso.login_failed", Category.SECURITY, "a sign-in as {actor} through {target} failed")
SSO_PROVIDER_CREATED = declare(
    362, "sso.provider_created", Category.DATA_CHANGE, "{actor} added identity provider {target}"
)
SSO_PROVIDER_UPDATED = declare(
    363, "sso.provider_updated", Category.DATA_CHANGE, "{actor} changed identity provider {target}"
)
SSO_PROVIDER_DELETED = declare(
    364, "sso.provider_deleted", Category.DATA_CHANGE, "{actor} removed identity provider {target}"
)
SSO_DEPROVISIONED = declare(
    365, "sso.deprovisioned", Category.SECURITY, "{actor} deprovisioned {target}: membership ended, credentials revoked"
)
SSO_ENFORCEMENT_UPDATED = declare(
    366, "sso.enforcement_updated", Category.SECURITY, "{actor} changed SSO enforcement or break-glass for {target}"
)
# E-mail domain claims proven by DNS (368-369, then 393-394 in the protocols' free range).
DOMAIN_CLAIMED = declare(368, "sso.domain_claimed", Category.DATA_CHANGE, "{actor} claimed the e-mail domain {target}")
DOMAIN_VERIFIED = declare(369, "sso.domain_verified", Category.SECURITY, "{actor} verified the e-mail domain {target}")
DOMAIN_VERIFICATION_FAILED = declare(
    393, "sso.domain_verification_failed", Category.SECURITY, "verifying the e-mail domain {target} failed"
)
DOMAIN_RELEASED = declare(
    394, "sso.domain_released", Category.DATA_CHANGE, "{actor} released the e-mail domain {target}"
)
SSO_LOGIN_THROTTLED = declare(
    367, "sso.login_throttled", Category.SECURITY,
    "sign-ins through {target} from one address were paused after repeated failures",
)  # fmt: skip

# Data-subject requests (460-479; 479 is audit.redacted, in audit/audit_events.py). Targets are users: after an
# erasure their label is the pseudonym.
PRIVACY_REQUEST_RECEIVED = declare(
    460, "privacy.request_received", Category.USER_ACTION, "{actor} filed a data-subject request about {target}"
)
PRIVACY_REQUEST_CANCELLED = declare(
    461, "privacy.request_cancelled", Category.USER_ACTION, "{actor} cancelled a data-subject request about {target}"
)
PRIVACY_REQUEST_COMPLETED = declare(
    462, "privacy.request_completed", Category.USER_ACTION, "{actor} completed a data-subject request about {target}"
)
PRIVACY_REQUEST_REJECTED = declare(
    463, "privacy.request_rejected", Category.USER_ACTION, "{actor} rejected a data-subject request about {target}"
)
PRIVACY_DATA_EXPORTED = declare(
    464, "privacy.data_exported", Category.SECURITY, "{actor} downloaded the personal data of {target}"
)
PRIVACY_USER_ERASED = declare(
    465, "privacy.user_erased", Category.SECURITY, "{actor} erased the personal data of {target}"
)

# Organization export and import, anonymized datasets (466-478). Events carry counts and options, never data.
ORG_EXPORT_REQUESTED = declare(
    466, "org.export_requested", Category.SECURITY, "{actor} requested an export of the organization ({target})"
)
ORG_EXPORT_FINISHED = declare(467, "org.export_finished", Category.SYSTEM_EVENT, "export {target} finished")
ORG_EXPORT_DOWNLOADED = declare(468, "org.export_downloaded", Category.SECURITY, "{actor} downloaded export {target}")
ORG_EXPORT_EXPIRED = declare(469, "org.export_expired", Category.SYSTEM_EVENT, "export {target} expired: file deleted")
ORG_IMPORTED = declare(470, "org.imported", Category.DATA_CHANGE, "{actor} imported an archive into {target}")
ORG_IMPORT_REFUSED = declare(
    471, "org.import_refused", Category.SECURITY, "{actor} tried to import an archive into {target}: refused"
)
