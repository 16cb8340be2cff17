"""OIDC / OAuth 2.0 browser routes, included under /accounts/oidc/ (accounts.auth.urls)."""

from django.urls import path

from accounts.sso import oidc_views

# `organization`, not `org_slug`: that kwarg marks the org-scoped API routes (tests/kernel/test_tenancy.py walks
# them); these are browser pages reachable before anyone is signed in.
urlpatterns = [
    path("<slug:organization>/<slug:provider>/login/", oidc_views.oidc_login, name="oidc_login"),
    path("<slug:organization>/<slug:provider>/callback/", oidc_views.oidc_callback, name="oidc_callback"),
]
