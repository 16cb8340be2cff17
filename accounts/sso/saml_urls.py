"""SAML service-provider endpoints, one set per identity provider: /accounts/saml/<org>/<provider>/..."""

from django.urls import path

from accounts.sso import saml_views

# Not "org_slug": that name marks the API's organization routes (tests/kernel/test_tenancy.py walks them).
_base = "<slug:org>/<slug:idp>"
urlpatterns = [
    path(f"{_base}/login/", saml_views.login, name="saml_login"),
    path(f"{_base}/acs/", saml_views.acs, name="saml_acs"),
    path(f"{_base}/sls/", saml_views.sls, name="saml_sls"),
    path(f"{_base}/logout/", saml_views.logout, name="saml_logout"),
    path(f"{_base}/metadata/", saml_views.metadata, name="saml_metadata"),
    path(f"{_base}/setup/", saml_views.setup, name="saml_setup"),
]
