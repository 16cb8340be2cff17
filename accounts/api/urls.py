from django.urls import path

from accounts.api import auth, mfa, views

org = "orgs/<slug:org_slug>/"

urlpatterns = [
    path("me", views.MeView.as_view(), name="me"),
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
    path("auth/reverify/webauthn", auth.ReverifyWebAuthnView.as_view(), name="auth-reverify-webauthn"),
    path(f"{org}members/", views.MemberViewSet.as_view({"get": "list"}), name="member-list"),
    path(
        f"{org}members/<int:pk>/mfa-reset",
        mfa.MemberMfaResetViewSet.as_view({"post": "reset"}),
        name="member-mfa-reset",
    ),
    path(
        f"{org}security-policy",
        mfa.SecurityPolicyViewSet.as_view({"get": "list", "patch": "partial_update"}),
        name="security-policy",
    ),
    path(
        f"{org}invitations/", mfa.InvitationViewSet.as_view({"get": "list", "post": "create"}), name="invitation-list"
    ),
    path(f"{org}invitations/<int:pk>", mfa.InvitationViewSet.as_view({"delete": "destroy"}), name="invitation-detail"),
]
