"""DRF authentication by API key: `Authorization: Bearer <key>`."""

import dataclasses

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from audit import context as audit_context

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate a request by API key; a request without a Bearer header is left to session auth.

    The request's user is the key's owner, capped for this request to the key's organization and scopes
    (rbac.services.limit_to), so every permission check — views, services, list filtering — sees
    scopes ∩ the owner's current permissions. `request.auth` is the ApiKey.
    """

    keyword = "bearer"

    def authenticate(self, request):
        # Imported here: DRF loads this class while rest_framework.views is importing, before our services can be.
        from accounts.services.api_keys import KeyRefused, api_key_authenticate
        from rbac.services import limit_to

        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <API key>'.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed API key.") from None
        ip = audit_context.client_ip(request._request)
        try:
            key = api_key_authenticate(token=token, ip=ip)
        except KeyRefused as refused:
            if refused.status == 403:
                raise exceptions.PermissionDenied(str(refused)) from None
            raise exceptions.AuthenticationFailed(str(refused)) from None
        if request.method not in SAFE_METHODS and not key.write:
            raise exceptions.PermissionDenied("This API key is read-only.")
        user = key.owner
        user.api_key_org_id = key.organization_id  # accounts.selectors.membership_for_slug: other orgs are 404
        limit_to(user, org_id=key.organization_id, codes=key.scopes)
        # Audit rows written during this request name the key (the audit middleware resets the context).
        audit_context._current.set(dataclasses.replace(audit_context.current(), api_key_id=str(key.pk), session_ref=""))
        return user, key

    def authenticate_header(self, request):
        # DRF takes the 401 challenge from the first class only, so this one names both ways in (RFC 9110
        # allows several challenges); a refused key gets RFC 6750's invalid_token instead.
        header = authentication.get_authorization_header(request).split()
        if header and header[0].lower() == self.keyword.encode():
            return 'Bearer realm="chatapp", error="invalid_token"'
        return 'Session realm="chatapp", Bearer realm="chatapp"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes API key authentication in the OpenAPI schema (an HTTP bearer scheme)."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer cak_…` (personal) or `cas_…` (service account).",
        }
