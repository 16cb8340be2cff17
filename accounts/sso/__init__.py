"""Enterprise SSO: the kind registry (kinds.py) and one module per protocol (saml, oidc, ldap), each registering
its kind at import. Provisioning, routing and configuration writes are in accounts.services.sso."""
