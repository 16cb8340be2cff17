"""OIDC / OAuth 2.0 browser routes, included under /accounts/oidc/ (accounts.auth.urls)."""

from django.urls import path

from accounts.sso import oidc_views

urlpatterns = [
    path("<slug:org_slug>/<slug:provider_slug>/login/", oidc_views.oidc_login, name="oidc_login"),
    path("<slug:org_slug>/<slug:provider_slug>/callback/", oidc_views.oidc_callback, name="oidc_callback"),
]
