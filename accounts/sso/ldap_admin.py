"""The "Test LDAP connection" admin action for identity providers.

The core's IdentityProvider admin lists it: `actions = [check_ldap_connection]`. It binds with the service
account, searches one user and reports in a message what worked or what failed (never the bind password).
"""

from django.contrib import admin, messages

from accounts.models import IdentityProvider
from accounts.sso.ldap_sync import ldap_test_connection


@admin.action(description="Test LDAP connection (bind and search one user)")
def check_ldap_connection(modeladmin, request, queryset):
    for provider in queryset.select_related("organization"):
        if provider.kind != IdentityProvider.Kind.LDAP:
            modeladmin.message_user(request, f"{provider}: not an LDAP provider, nothing to test.", messages.INFO)
            continue
        ok, message = ldap_test_connection(provider, actor=request.user)
        modeladmin.message_user(request, f"{provider}: {message}", messages.SUCCESS if ok else messages.ERROR)
