"""Browser pages under /accounts/: allauth's (login, sign-up, verification, password reset) and ours (MFA)."""

from django.urls import include, path

from accounts.auth import sso, views

urlpatterns = [
    path("security/", views.security, name="security"),
    path("reverify/", views.reverify, name="reverify"),
    path("mfa/authenticate/", views.mfa_authenticate, name="mfa_authenticate"),
    path("mfa/enrol/", views.mfa_enrol_at_login, name="mfa_enrol_at_login"),
    path("mfa/totp/", views.totp_enrol, name="mfa_totp_enrol"),
    path("mfa/webauthn/login/begin/", views.webauthn_login_begin, name="mfa_webauthn_login_begin"),
    path("mfa/webauthn/login/finish/", views.webauthn_login_finish, name="mfa_webauthn_login_finish"),
    path("mfa/webauthn/register/begin/", views.webauthn_register_begin, name="mfa_webauthn_register_begin"),
    path("mfa/webauthn/register/finish/", views.webauthn_register_finish, name="mfa_webauthn_register_finish"),
    path("mfa/webauthn/reverify/begin/", views.webauthn_reverify_begin, name="mfa_webauthn_reverify_begin"),
    path("mfa/webauthn/reverify/finish/", views.webauthn_reverify_finish, name="mfa_webauthn_reverify_finish"),
    path("mfa/recovery-codes/", views.recovery_codes, name="mfa_recovery_codes"),
    path("mfa/devices/<str:kind>/<int:pk>/remove/", views.device_remove, name="mfa_device_remove"),
    path("sso/", sso.sso_start, name="sso_start"),
    path("sso/app/", sso.app_start, name="sso_app_start"),
    path("sso/app/finish/", sso.app_finish, name="sso_app_finish"),
    path("saml/", include("accounts.sso.saml_urls")),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("oidc/", include("accounts.sso.oidc_urls")),
    path("", include("allauth.account.urls")),
]
