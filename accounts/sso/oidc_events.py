"""Audit events of OpenID Connect / OAuth 2.0 logins (380-389).

Logins and refusals are the core's sso.login / sso.login_failed (with the reason); only what is particular to
OIDC is declared here.
"""

from audit.registry import Category, declare

# An ID token named a key the cached JWKS did not have, and the refetched JWKS did: the IdP rotated its keys.
# Worth a row because a forged token would look the same until its signature check fails.
OIDC_KEYS_REFETCHED = declare(
    380, "sso.oidc_keys_refetched", Category.SECURITY, "the signing keys of identity provider {target} were refetched"
)
