"""Audit events of the SAML service provider (ids 370-379). Login failures are the core's sso.login_failed (361),
recorded through accounts.services.sso.sso_failure with a SAML reason; these are the SAML-only happenings."""

from audit.registry import Category, declare

SAML_SP_KEYS_CREATED = declare(
    370, "saml.sp_keys_created", Category.SECURITY, "a SAML signing key was created for identity provider {target}"
)
SAML_METADATA_IMPORTED = declare(
    371, "saml.metadata_imported", Category.DATA_CHANGE, "{actor} imported the SAML metadata of {target}"
)
SAML_METADATA_REFRESH_FAILED = declare(
    372, "saml.metadata_refresh_failed", Category.SYSTEM_EVENT, "refreshing the SAML metadata of {target} failed"
)
SAML_CERTIFICATE_EXPIRING = declare(
    373, "saml.certificate_expiring", Category.SECURITY, "a signing certificate of {target} expires soon"
)
SAML_LOGOUT = declare(374, "saml.logout", Category.SECURITY, "{actor} was logged out through SAML ({target})")
