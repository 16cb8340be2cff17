from django.urls import path

from accounts.api import api_keys, auth, mfa, portability, privacy, sessions, sso, views

org = "orgs/<slug:org_slug>/"

api_key_list = api_keys.ApiKeyViewSet.as_view({"get": "list", "post": "create"})
api_key_detail = api_keys.ApiKeyViewSet.as_view({"get": "retrieve", "delete": "destroy"})
api_key_rotate = api_keys.ApiKeyViewSet.as_view({"post": "rotate"})
service_accounts = api_keys.ServiceAccountViewSet.as_view({"get": "list", "post": "create"})
member_sessions = sessions.MemberSessionsViewSet.as_view({"delete": "destroy"})
member_mfa_reset = mfa.MemberMfaResetViewSet.as_view({"post": "reset"})
security_policy = mfa.SecurityPolicyViewSet.as_view({"get": "list", "patch": "partial_update"})
invitation_list = mfa.InvitationViewSet.as_view({"get": "list", "post": "create"})
invitation_detail = mfa.InvitationViewSet.as_view({"delete": "destroy"})
idp_list = sso.IdentityProviderViewSet.as_view({"get": "list", "post": "create"})
idp_detail = sso.IdentityProviderViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)
sso_enforcement = sso.SsoEnforcementViewSet.as_view({"get": "list", "patch": "partial_update"})
domain_list = sso.DomainClaimViewSet.as_view({"get": "list", "post": "create"})
domain_detail = sso.DomainClaimViewSet.as_view({"get": "retrieve", "delete": "destroy"})
domain_verify = sso.DomainClaimViewSet.as_view({"post": "verify"})

urlpatterns = [
    path("me", views.MeView.as_view(), name="me"),
    path("me/api-keys", api_keys.MyApiKeysView.as_view(), name="me-api-keys"),
    path("me/data-export", privacy.MyDataExportView.as_view(), name="me-data-export"),
    path("me/erasure-request", privacy.MyErasureRequestView.as_view(), name="me-erasure-request"),
    path("me/sessions", sessions.MySessionsView.as_view(), name="me-sessions"),
    path("me/sessions/revoke-others", sessions.RevokeOtherSessionsView.as_view(), name="me-sessions-revoke-others"),
    path("me/sessions/<int:pk>", sessions.MySessionView.as_view(), name="me-session-detail"),
    path("me/mfa", mfa.MyMfaView.as_view(), name="me-mfa"),
    path("me/mfa/totp", mfa.MyTotpView.as_view(), name="me-mfa-totp"),
    path("me/mfa/totp/confirm", mfa.MyTotpConfirmView.as_view(), name="me-mfa-totp-confirm"),
    path("me/mfa/webauthn/begin", mfa.MyWebAuthnBeginView.as_view(), name="me-mfa-webauthn-begin"),
    path("me/mfa/webauthn/finish", mfa.MyWebAuthnFinishView.as_view(), name="me-mfa-webauthn-finish"),
    path("me/mfa/recovery-codes", mfa.MyRecoveryCodesView.as_view(), name="me-mfa-recovery-codes"),
    path("me/mfa/devices/<str:kind>/<int:pk>", mfa.MyDeviceView.as_view(), name="me-mfa-device"),
    path("auth/session", auth.SessionView.as_view(), name="auth-session"),
    path("auth/session/mfa", auth.SessionMfaView.as_view(), name="auth-session-mfa"),
    path("auth/session/mfa/totp", auth.SessionTotpView.as_view(), name="auth-session-mfa-totp"),
    path("auth/session/mfa/totp/confirm", auth.SessionTotpConfirmView.as_view(), name="auth-session-mfa-totp-confirm"),
    path("auth/session/webauthn/begin", auth.SessionWebAuthnBeginView.as_view(), name="auth-session-webauthn-begin"),
    path("auth/session/webauthn/finish", auth.SessionWebAuthnFinishView.as_view(), name="auth-session-webauthn-finish"),
    path("auth/reverify", auth.ReverifyView.as_view(), name="auth-reverify"),
    path("auth/password-reset", auth.PasswordResetView.as_view(), name="auth-password-reset"),
    path("auth/reverify/webauthn", auth.ReverifyWebAuthnView.as_view(), name="auth-reverify-webauthn"),
    path("auth/sso-discovery", sso.SsoDiscoveryView.as_view(), name="auth-sso-discovery"),
    path("auth/sso-handoff", auth.SsoHandoffView.as_view(), name="auth-sso-handoff"),
    path(f"{org}members/", views.MemberViewSet.as_view({"get": "list"}), name="member-list"),
    path(f"{org}members/<int:user_id>/sessions", member_sessions, name="member-sessions"),
    path(f"{org}members/<int:pk>/mfa-reset", member_mfa_reset, name="member-mfa-reset"),
    path(f"{org}security-policy", security_policy, name="security-policy"),
    path(f"{org}invitations/", invitation_list, name="invitation-list"),
    path(f"{org}invitations/<int:pk>", invitation_detail, name="invitation-detail"),
    path(f"{org}api-keys/", api_key_list, name="api-key-list"),
    path(f"{org}api-keys/<int:pk>/", api_key_detail, name="api-key-detail"),
    path(f"{org}api-keys/<int:pk>/rotate", api_key_rotate, name="api-key-rotate"),
    path(f"{org}service-accounts/", service_accounts, name="service-account-list"),
    path(f"{org}identity-providers/", idp_list, name="identity-provider-list"),
    path(f"{org}identity-providers/<int:pk>/", idp_detail, name="identity-provider-detail"),
    path(
        f"{org}identity-providers/<int:pk>/saml-metadata",
        sso.SamlMetadataImportView.as_view({"post": "create"}),
        name="identity-provider-saml-metadata",
    ),
    path(f"{org}sso-enforcement", sso_enforcement, name="sso-enforcement"),
    path(f"{org}sso-domains/", domain_list, name="sso-domain-list"),
    path(f"{org}sso-domains/<int:pk>/", domain_detail, name="sso-domain-detail"),
    path(f"{org}sso-domains/<int:pk>/verify", domain_verify, name="sso-domain-verify"),
    *portability.urlpatterns(org),
]
